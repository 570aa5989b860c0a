//! Schema assembly, apart from HTTP wiring: the same schema serves POST, GET,
//! WebSocket and `entitle schema`.

use std::sync::Arc;

use async_graphql::{MergedObject, Schema, SchemaBuilder};
use sea_orm::DatabaseConnection;

use super::{
    caller::AccessRules,
    limits::MAX_RECURSIVE_DEPTH,
    loaders::Loaders,
    pipeline::Pipeline,
    resolvers::{
        account::AccountMutation,
        api_keys::{ApiKeyMutation, ApiKeyQuery},
        billing::BillingMutation,
        catalog::CatalogQuery,
        history::HistoryQuery,
        live::SubscriptionRoot,
        operators::{OperatorMutation, OperatorQuery},
        recovery::RecoveryMutation,
        usage::{UsageMutation, UsageQuery},
        viewer::ViewerQuery,
    },
};
use crate::{
    auth::{Accounts, api_keys::ApiKeys},
    billing::Billing,
    changes::ChangeFeed,
    config::GraphqlConfig,
    domain::Catalog,
    metering::Metering,
    operators::Operators,
};

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    ViewerQuery,
    CatalogQuery,
    ApiKeyQuery,
    HistoryQuery,
    UsageQuery,
    OperatorQuery,
);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    AccountMutation,
    RecoveryMutation,
    BillingMutation,
    ApiKeyMutation,
    UsageMutation,
    OperatorMutation,
);

pub type EntitleSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
}

/// The SDL that `schema.graphql` holds.
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// What resolvers reach through the context.
pub struct SchemaDeps {
    pub db: DatabaseConnection,
    pub accounts: Accounts,
    pub catalog: Arc<Catalog>,
    pub rules: AccessRules,
    pub billing: Billing,
    pub changes: ChangeFeed,
    pub keys: ApiKeys,
    pub metering: Metering,
    pub operators: Operators,
}

pub fn build_schema(deps: SchemaDeps, config: &GraphqlConfig) -> EntitleSchema {
    let loaders = Loaders::new(&deps.db, deps.changes.cache());
    let mut b = builder()
        .data(loaders)
        .data(deps.db)
        .data(deps.accounts)
        .data(deps.catalog)
        .data(deps.rules)
        .data(deps.billing)
        .data(deps.changes)
        .data(deps.keys)
        .data(deps.metering)
        .data(deps.operators)
        .limit_depth(config.max_query_depth)
        .limit_complexity(config.max_query_complexity)
        .limit_recursive_depth(MAX_RECURSIVE_DEPTH)
        .limit_directives(16)
        .extension(Pipeline::new(
            // Room for spreads and `__typename`s around a query at the
            // complexity limit (GraphiQL's introspection query fits well).
            config.max_query_complexity.saturating_mul(4),
        ));
    if !config.introspection {
        // "Did you mean …?" would rebuild the schema field by field.
        b = b.disable_introspection().disable_suggestions();
    }
    b.finish()
}
