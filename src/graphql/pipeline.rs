//! What happens to a request between its text and its execution, in one
//! async-graphql extension (each extension costs every request, and every
//! field, a few boxed hooks): the document from the cache (`documents`),
//! or parsed and refused when its fragments expand too far (`limits`); the
//! validation result from the cache when it may be reused; and a mark,
//! [`Executed`], when the request got as far as executing.

use std::sync::{
    Arc, Mutex, PoisonError,
    atomic::{AtomicBool, AtomicU8, Ordering},
};

use async_graphql::{
    Request, Response, ServerError, ServerResult, ValidationResult,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextPrepareRequest,
        NextValidation,
    },
    parser::types::{DocumentOperations, ExecutableDocument, OperationType},
};

use super::{
    documents::{DocumentCache, Entry, MAX_TEXT_BYTES},
    limits::{MAX_RECURSIVE_DEPTH, expanded_size},
};

/// Set when a request got past parsing and validation. GraphQL-over-HTTP
/// answers a request that never executed with 4xx under
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

pub struct Pipeline {
    documents: DocumentCache,
    max_selections: usize,
}

impl Pipeline {
    /// `max_selections` bounds a document's size with its fragments expanded.
    pub fn new(max_selections: usize) -> Self {
        Self {
            documents: DocumentCache::default(),
            max_selections,
        }
    }
}

impl ExtensionFactory for Pipeline {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PipelineExt {
            documents: self.documents.clone(),
            max_selections: self.max_selections,
            request: Mutex::new(ThisRequest::default()),
        })
    }
}

/// What one request learnt in `prepare_request`, for `validation`.
#[derive(Default)]
struct ThisRequest {
    operation: Option<String>,
    /// The cached entry for the text.
    hit: Option<Arc<Entry>>,
    /// On a miss: the text and a copy of its document, kept once it validates.
    parsed: Option<(String, ExecutableDocument)>,
}

struct PipelineExt {
    documents: DocumentCache,
    max_selections: usize,
    request: Mutex<ThisRequest>,
}

impl PipelineExt {
    fn this(&self) -> std::sync::MutexGuard<'_, ThisRequest> {
        self.request.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands the request its document: a copy of the cached one, or parsed
    /// now and checked (a cached one passed the check when it was parsed).
    /// Returns the type of the operation it will run.
    fn document(&self, request: &mut Request) -> ServerResult<Option<OperationType>> {
        let mut this = self.this();
        this.operation.clone_from(&request.operation_name);
        let cacheable = request.query.len() <= MAX_TEXT_BYTES;
        if cacheable && let Some(entry) = self.documents.get(&request.query) {
            let kind = operation_type(&entry.doc, this.operation.as_deref());
            request.set_parsed_query(entry.doc.clone());
            this.hit = Some(entry);
            return Ok(kind);
        }
        let text = cacheable.then(|| request.query.clone());
        let doc = request.parsed_query()?;
        expanded_size(doc, self.max_selections, MAX_RECURSIVE_DEPTH)
            .map_err(|message| ServerError::new(message, None))?;
        let kind = operation_type(doc, this.operation.as_deref());
        this.parsed = text.map(|text| (text, doc.clone()));
        Ok(kind)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for PipelineExt {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let kind = self.document(&mut request)?;
        // The request's own data: it joins the context only once it executes.
        let flag = request
            .data
            .get(&std::any::TypeId::of::<Arc<Executed>>())
            .and_then(|d| d.downcast_ref::<Arc<Executed>>());
        if let Some(flag) = flag {
            let kind = match kind {
                Some(OperationType::Query) => 1,
                Some(OperationType::Mutation) => 2,
                Some(OperationType::Subscription) => 3,
                None => 0,
            };
            flag.kind.store(kind, Ordering::Relaxed);
        }
        next.run(ctx, request).await
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let (hit, operation) = {
            let this = self.this();
            (this.hit.clone(), this.operation.clone())
        };
        if let Some(result) = hit.as_ref().and_then(|e| e.validated(operation.as_deref())) {
            return Ok(result);
        }
        let result = next.run(ctx).await?;
        let entry = hit.or_else(|| {
            let (text, doc) = self.this().parsed.take()?;
            Some(self.documents.insert(&text, doc))
        });
        if let Some(entry) = entry {
            entry.remember(operation.as_deref(), result);
        }
        Ok(result)
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

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    use super::*;

    struct Query;

    #[Object]
    impl Query {
        async fn twice(&self, n: i32) -> i32 {
            n * 2
        }
    }

    fn schema(pipeline: Pipeline) -> Schema<Query, EmptyMutation, EmptySubscription> {
        Schema::build(Query, EmptyMutation, EmptySubscription)
            .extension(pipeline)
            .finish()
    }

    async fn run(
        schema: &Schema<Query, EmptyMutation, EmptySubscription>,
        query: &str,
        vars: serde_json::Value,
    ) -> serde_json::Value {
        let req = Request::new(query).variables(async_graphql::Variables::from_json(vars));
        serde_json::to_value(schema.execute(req).await).unwrap()
    }

    #[tokio::test]
    async fn a_cached_document_answers_as_a_fresh_one_would() {
        let pipeline = Pipeline::new(2000);
        let cache = pipeline.documents.clone();
        let schema = schema(pipeline);
        let fixed = "{ twice(n: 21) }";
        let with_var = "query($n: Int!) { twice(n: $n) }";
        for _ in 0..3 {
            assert_eq!(
                run(&schema, fixed, serde_json::json!({})).await["data"]["twice"],
                42
            );
            assert_eq!(
                run(&schema, with_var, serde_json::json!({"n": 4})).await["data"]["twice"],
                8
            );
            // The variables are checked on every request, cached or not.
            let bad = run(&schema, with_var, serde_json::json!({"n": "four"})).await;
            assert!(
                bad["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("Int"),
                "{bad}"
            );
        }
        assert_eq!(cache.entries(), 2);
        // Documents that fail parsing or validation are not kept.
        for broken in ["{ twice(n: 1) ", "{ nope }", "{ twice(n: \"x\") }"] {
            assert!(run(&schema, broken, serde_json::json!({})).await["errors"].is_array());
            assert!(run(&schema, broken, serde_json::json!({})).await["errors"].is_array());
        }
        assert_eq!(cache.entries(), 2);
    }

    #[tokio::test]
    async fn a_fragment_bomb_is_refused_every_time_and_never_kept() {
        let pipeline = Pipeline::new(50);
        let cache = pipeline.documents.clone();
        let schema = schema(pipeline);
        let mut bomb = String::from("{ ...F3 } fragment F0 on Query { twice(n: 1) }");
        for i in 1..=3 {
            bomb.push_str(&format!(" fragment F{i} on Query {{"));
            for _ in 0..10 {
                bomb.push_str(&format!(" ...F{}", i - 1));
            }
            bomb.push_str(" }");
        }
        for _ in 0..2 {
            let out = run(&schema, &bomb, serde_json::json!({})).await;
            assert!(
                out["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("too large"),
                "{out}"
            );
        }
        assert_eq!(cache.entries(), 0);
    }

    #[tokio::test]
    async fn the_cache_stays_bounded() {
        let pipeline = Pipeline::new(2000);
        let cache = pipeline.documents.clone();
        let schema = schema(pipeline);
        for i in 0..(crate::graphql::documents::MAX_ENTRIES + 10) {
            let q = format!("{{ twice(n: {i}) }}");
            assert_eq!(
                run(&schema, &q, serde_json::json!({})).await["data"]["twice"],
                i * 2
            );
        }
        assert!(cache.entries() <= crate::graphql::documents::MAX_ENTRIES);
        let long = format!("{{ twice(n: 1) {} }}", " ".repeat(MAX_TEXT_BYTES));
        let before = cache.entries();
        assert_eq!(
            run(&schema, &long, serde_json::json!({})).await["data"]["twice"],
            2
        );
        assert_eq!(cache.entries(), before);
    }
}
