//! Schema assembly, apart from HTTP wiring: the same schema serves POST, GET,
//! WebSocket and `entitle schema`.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use async_graphql::{
    MergedObject, Response, Schema, SchemaBuilder,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute},
};
use sea_orm::DatabaseConnection;

use super::{
    caller::AccessRules,
    limits::{ExpandedSizeLimit, MAX_RECURSIVE_DEPTH},
    resolvers::{
        account::AccountMutation,
        api_keys::{ApiKeyMutation, ApiKeyQuery},
        billing::BillingMutation,
        catalog::CatalogQuery,
        history::HistoryQuery,
        live::SubscriptionRoot,
        operators::{OperatorMutation, OperatorQuery},
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
    let mut b = builder()
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
        .extension(ExpandedSizeLimit {
            // Room for spreads and `__typename`s around a query at the
            // complexity limit (GraphiQL's introspection query fits well).
            max_selections: config.max_query_complexity.saturating_mul(4),
        })
        .extension(ExecutionMarker);
    if !config.introspection {
        b = b.disable_introspection();
    }
    b.finish()
}

/// Set by [`ExecutionMarker`] when a request got past parsing and validation.
/// GraphQL-over-HTTP answers a request that never executed with 4xx under
/// `application/graphql-response+json`, and async-graphql's `Response` does
/// not tell the two apart by itself.
#[derive(Default)]
pub struct Executed(AtomicBool);

impl Executed {
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

struct ExecutionMarker;

impl ExtensionFactory for ExecutionMarker {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ExecutionMarkerExt)
    }
}

struct ExecutionMarkerExt;

#[async_graphql::async_trait::async_trait]
impl Extension for ExecutionMarkerExt {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(flag) = ctx.data_opt::<Arc<Executed>>() {
            flag.0.store(true, Ordering::Relaxed);
        }
        next.run(ctx, operation_name).await
    }
}
