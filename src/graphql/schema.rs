//! Schema assembly, apart from HTTP wiring: the same schema serves POST, GET,
//! WebSocket and `entitle schema`.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicU8, Ordering},
};

use async_graphql::{
    MergedObject, Request, Response, Schema, SchemaBuilder, ServerResult,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest},
    parser::types::{DocumentOperations, ExecutableDocument, OperationType},
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
        // "Did you mean …?" would rebuild the schema field by field.
        b = b.disable_introspection().disable_suggestions();
    }
    b.finish()
}

/// Set by [`ExecutionMarker`] when a request got past parsing and validation.
/// GraphQL-over-HTTP answers a request that never executed with 4xx under
/// `application/graphql-response+json`, and async-graphql's `Response` does
/// not tell the two apart by itself. It also keeps the operation's type, for
/// the metrics.
#[derive(Default)]
pub struct Executed {
    executed: AtomicBool,
    /// 0 unknown, 1 query, 2 mutation, 3 subscription.
    kind: AtomicU8,
}

impl Executed {
    pub fn get(&self) -> bool {
        self.executed.load(Ordering::Relaxed)
    }

    /// `query`, `mutation`, `subscription`, or `invalid` when the document
    /// did not parse or named no operation.
    pub fn kind(&self) -> &'static str {
        match self.kind.load(Ordering::Relaxed) {
            1 => "query",
            2 => "mutation",
            3 => "subscription",
            _ => "invalid",
        }
    }
}

/// The type of the operation a request runs, if the document names one.
pub fn operation_type(doc: &ExecutableDocument, name: Option<&str>) -> Option<OperationType> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        _ => None,
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
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // The request's own data: it joins the context only once it executes.
        let flag = request
            .data
            .get(&std::any::TypeId::of::<Arc<Executed>>())
            .and_then(|d| d.downcast_ref::<Arc<Executed>>())
            .cloned();
        if let Some(flag) = flag {
            let name = request.operation_name.clone();
            // Parsed once: the limit before us parsed and kept it already.
            let kind = match operation_type(request.parsed_query()?, name.as_deref()) {
                Some(OperationType::Query) => 1,
                Some(OperationType::Mutation) => 2,
                Some(OperationType::Subscription) => 3,
                None => 0,
            };
            flag.kind.store(kind, Ordering::Relaxed);
        }
        next.run(ctx, request).await
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(flag) = ctx.data_opt::<Arc<Executed>>() {
            flag.executed.store(true, Ordering::Relaxed);
        }
        next.run(ctx, operation_name).await
    }
}
