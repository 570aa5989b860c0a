//! Running one GraphQL request and shaping its answer: the same execution
//! for POST and GET, every error with a code, and the request errors that
//! happen before GraphQL runs in the GraphQL response shape.

use std::sync::Arc;

use async_graphql::{Request, ServerError, Variables};
use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use super::{
    caller::{CallerCache, RequestMeta},
    negotiate::MediaType,
    pipeline::Executed,
};
use crate::{app::state::AppState, error::code, telemetry::metrics};

/// How long one GraphQL request may run before the client gets an answer.
const EXECUTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The parameters of a GraphQL-over-HTTP request.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Params {
    pub query: String,
    #[serde(default)]
    pub operation_name: Option<String>,
    #[serde(default)]
    pub variables: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    #[allow(dead_code)] // accepted as the spec requires; no extension is supported yet
    pub extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
}

fn json_response(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Answers depend on the caller; no shared cache may keep them.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Authorization"),
    );
    res
}

/// A failure before GraphQL runs, in the GraphQL response shape, so that
/// clients parse every answer the same way.
pub fn request_error(status: StatusCode, media: MediaType, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code::BAD_USER_INPUT } }]
    });
    json_response(status, media.content_type(), body.to_string().into_bytes())
}

/// The answer to an `Accept` that allows neither GraphQL media type.
pub fn not_acceptable() -> Response {
    request_error(
        StatusCode::NOT_ACCEPTABLE,
        MediaType::Json,
        "accept application/graphql-response+json or application/json",
    )
}

/// `INTERNAL` in the GraphQL error shape, for failures outside GraphQL
/// (panics, timeouts).
pub fn internal_error_response(status: StatusCode) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": "internal error", "extensions": { "code": code::INTERNAL } }]
    });
    json_response(
        status,
        MediaType::Json.content_type(),
        body.to_string().into_bytes(),
    )
}

pub async fn execute(
    state: &AppState,
    params: Params,
    meta: RequestMeta,
    media: MediaType,
) -> Response {
    let executed = Arc::new(Executed::default());
    let mut request = Request::new(params.query)
        .data(meta)
        .data(CallerCache::default())
        .data(executed.clone());
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(vars) = params.variables {
        request = request.variables(Variables::from_json(serde_json::Value::Object(vars)));
    }
    let Ok(mut response) =
        tokio::time::timeout(EXECUTION_TIMEOUT, state.schema.execute(request)).await
    else {
        tracing::error!("a GraphQL request ran past {EXECUTION_TIMEOUT:?}");
        return internal_error_response(StatusCode::SERVICE_UNAVAILABLE);
    };
    for err in &mut response.errors {
        ensure_code(err);
    }
    metrics::graphql_operation(executed.kind(), first_code(&response.errors));
    let executed = executed.get();
    // GraphQL-over-HTTP: a request that never executed is a 4xx under
    // application/graphql-response+json.
    let status = if !executed && media == MediaType::GraphqlResponseJson {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = Body {
        data: executed.then_some(&response.data),
        errors: &response.errors,
        extensions: &response.extensions,
    };
    let bytes = match serde_json::to_vec(&body) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "serialising a GraphQL response");
            return request_error(StatusCode::INTERNAL_SERVER_ERROR, media, "internal error");
        }
    };
    let mut res = json_response(status, media.content_type(), bytes);
    res.headers_mut().extend(response.http_headers);
    res
}

/// The code of the first error, `OK` without one.
pub fn first_code(errors: &[ServerError]) -> &str {
    errors
        .first()
        .and_then(|e| e.extensions.as_ref())
        .and_then(|x| x.get("code"))
        .and_then(|c| match c {
            async_graphql::Value::String(s) => Some(s.as_str()),
            _ => None,
        })
        .unwrap_or("OK")
}

/// Errors raised by async-graphql itself (syntax, validation, limits, input
/// coercion) carry no code; they are all the client's to fix. Ours always have one.
pub fn ensure_code(err: &mut ServerError) {
    let ext = err.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        ext.set("code", code::BAD_USER_INPUT);
    }
}
