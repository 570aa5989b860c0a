//! GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/).
//! We do not use `async_graphql_axum::GraphQL`: it answers
//! `application/graphql-response+json` to clients that accept only
//! `application/json`, answers 200 to requests that fail validation, and
//! takes a POST without a content type.
//!
//! | request | `application/json` | `application/graphql-response+json` |
//! |---|---|---|
//! | body is not a GraphQL request (bad JSON, no `query`) | 400 | 400 |
//! | document fails to parse or validate (no execution) | 200 | 400, no `data` |
//! | executed, with or without field errors | 200 | 200 |
//! | unsupported `Content-Type` / no acceptable media type | 415 / 406 | 415 / 406 |
//! | mutation over GET | 405 | 405 |

use async_graphql::parser::types::OperationType;
use axum::{
    body::Bytes,
    extract::{RawQuery, State, rejection::BytesRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::Response,
};
use serde::Deserialize;

use super::{
    caller::RequestMeta,
    execute::{Params, execute, not_acceptable, request_error},
    graphiql,
    negotiate::{is_json_content_type, negotiate},
    pipeline::operation_type,
};
use crate::app::state::AppState;

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub async fn graphql_post(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(media) = negotiate(header_str(&headers, header::ACCEPT)) else {
        return not_acceptable();
    };
    match header_str(&headers, header::CONTENT_TYPE) {
        Some(ct) if is_json_content_type(ct) => {}
        _ => {
            return request_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                media,
                "send the request as Content-Type: application/json",
            );
        }
    }
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            let status = rejection.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "request body is too large"
            } else {
                "could not read the request body"
            };
            return request_error(status, media, message);
        }
    };
    let Ok(params) = serde_json::from_slice::<Params>(&body) else {
        return request_error(
            StatusCode::BAD_REQUEST,
            media,
            "the body must be a JSON object with a string `query`, and optional \
             `operationName`, `variables` and `extensions`",
        );
    };
    execute(&state, params, meta, media).await
}

pub async fn graphql_get(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let accept = header_str(&headers, header::ACCEPT);
    if state.config.graphql.graphiql && accept.is_some_and(|a| a.contains("text/html")) {
        return graphiql::page();
    }
    let Some(media) = negotiate(accept) else {
        return not_acceptable();
    };
    let Some(params) = get_params(raw.as_deref().unwrap_or_default()) else {
        return request_error(
            StatusCode::BAD_REQUEST,
            media,
            "give `query` (and optionally `operationName`, and `variables` and `extensions` \
             as JSON) in the query string",
        );
    };
    if is_mutation(&params) {
        let mut res = request_error(
            StatusCode::METHOD_NOT_ALLOWED,
            media,
            "mutations must be sent with POST",
        );
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return res;
    }
    execute(&state, params, meta, media).await
}

/// The parameters of a GET: `query`, `operationName`, and `variables` and
/// `extensions` as JSON text. `None` when they are missing or malformed.
fn get_params(raw: &str) -> Option<Params> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct GetParams {
        query: String,
        operation_name: Option<String>,
        variables: Option<String>,
        extensions: Option<String>,
    }
    let p = serde_urlencoded::from_str::<GetParams>(raw).ok()?;
    let decode = |s: Option<String>| match s.filter(|s| !s.is_empty()) {
        None => Some(None),
        Some(s) => serde_json::from_str(&s).ok().map(Some),
    };
    Some(Params {
        query: p.query,
        operation_name: p.operation_name,
        variables: decode(p.variables)?,
        extensions: decode(p.extensions)?,
    })
}

/// Whether the operation a GET would run is a mutation. A document that does
/// not parse is left to the executor, which reports it properly.
fn is_mutation(params: &Params) -> bool {
    let Ok(doc) = async_graphql::parser::parse_query(&params.query) else {
        return false;
    };
    operation_type(&doc, params.operation_name.as_deref()) == Some(OperationType::Mutation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_requests_spot_mutations() {
        let p = |q: &str, op: Option<&str>| Params {
            query: q.into(),
            operation_name: op.map(Into::into),
            variables: None,
            extensions: None,
        };
        assert!(is_mutation(&p(
            "mutation { logout(refreshToken: \"x\") }",
            None
        )));
        assert!(!is_mutation(&p("{ me { email } }", None)));
        assert!(is_mutation(&p(
            "query A { me { email } } mutation B { x }",
            Some("B")
        )));
        assert!(!is_mutation(&p(
            "query A { me { email } } mutation B { x }",
            Some("A")
        )));
        assert!(!is_mutation(&p("not graphql", None)));
    }
}
