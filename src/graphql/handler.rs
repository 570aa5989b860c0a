//! GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/) and
//! graphql-transport-ws. We do not use `async_graphql_axum::GraphQL`: it
//! answers `application/graphql-response+json` to clients that accept only
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

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
};

use async_graphql::{
    Data, ErrorExtensions, Request, ServerError, Variables,
    http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource},
    parser::types::{DocumentOperations, OperationType},
};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    body::Bytes,
    extract::{ConnectInfo, RawQuery, State, WebSocketUpgrade, rejection::BytesRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use super::{RequestMeta, loaders::Loaders, schema::Executed, viewer::AccessCache};
use crate::{app::AppState, auth::Caller, error::code};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaType {
    GraphqlResponseJson,
    Json,
}

impl MediaType {
    fn content_type(self) -> &'static str {
        match self {
            Self::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }
}

/// Picks the response media type from `Accept`. With no `Accept`, the
/// specification (after its 2025-01-01 watershed) says to assume
/// `application/graphql-response+json`; on a tie it is preferred too.
/// `None` when the client accepts neither.
pub fn negotiate(accept: Option<&str>) -> Option<MediaType> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Some(MediaType::GraphqlResponseJson);
    };
    // For each candidate: the q of the most specific matching range.
    let mut best: [(u8, f32); 2] = [(0, 0.0), (0, 0.0)];
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").map(|v| v.trim().parse::<f32>()))
            .next()
            .map_or(1.0, |v| v.unwrap_or(0.0));
        for (i, candidate) in ["application/graphql-response+json", "application/json"]
            .iter()
            .enumerate()
        {
            let specificity = if media == *candidate {
                3
            } else if media == "application/*" {
                2
            } else if media == "*/*" {
                1
            } else {
                0
            };
            if specificity > best[i].0 {
                best[i] = (specificity, q);
            }
        }
    }
    let (gql, json) = (best[0].1, best[1].1);
    if gql <= 0.0 && json <= 0.0 {
        None
    } else if gql >= json {
        Some(MediaType::GraphqlResponseJson)
    } else {
        Some(MediaType::Json)
    }
}

/// The parameters of a GraphQL-over-HTTP request.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params {
    query: String,
    #[serde(default)]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    #[allow(dead_code)] // accepted as the spec requires; no extension is supported yet
    extensions: Option<serde_json::Map<String, serde_json::Value>>,
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
fn request_error(status: StatusCode, media: MediaType, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code::BAD_USER_INPUT } }]
    });
    json_response(status, media.content_type(), body.to_string().into_bytes())
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

/// How long one GraphQL request may run before the client gets an answer.
const EXECUTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

fn client_ip(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> std::net::IpAddr {
    if state.config.trust_proxy
        && let Some(ip) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return ip;
    }
    peer.ip()
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The caller an `Authorization` header names. One that is present but not
/// text (bytes outside visible ASCII) is a broken token, refused like any
/// other, not an anonymous caller.
fn caller(state: &AppState, headers: &HeaderMap) -> Caller {
    match headers.get(header::AUTHORIZATION).map(HeaderValue::to_str) {
        None => Caller::Anonymous,
        Some(Ok(value)) => state.jwt.caller_from_header(Some(value)),
        Some(Err(_)) => Caller::InvalidToken,
    }
}

fn is_json_content_type(value: &str) -> bool {
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or_default().trim();
    media.eq_ignore_ascii_case("application/json")
        && parts.all(|p| match p.trim().split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => {
                v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            }
            _ => true,
        })
}

pub async fn graphql_post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(media) = negotiate(header_str(&headers, header::ACCEPT)) else {
        return request_error(
            StatusCode::NOT_ACCEPTABLE,
            MediaType::Json,
            "accept application/graphql-response+json or application/json",
        );
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
    let params: Params = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(_) => {
            return request_error(
                StatusCode::BAD_REQUEST,
                media,
                "the body must be a JSON object with a string `query`, and optional \
                 `operationName`, `variables` and `extensions`",
            );
        }
    };
    let meta = RequestMeta {
        caller: caller(&state, &headers),
        client_ip: client_ip(&state, &headers, peer),
    };
    execute(&state, params, meta, media).await
}

pub async fn graphql_get(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let accept = header_str(&headers, header::ACCEPT);
    if state.config.graphiql && accept.is_some_and(|a| a.contains("text/html")) {
        let mut res = Html(
            GraphiQLSource::build()
                .endpoint("/graphql")
                .subscription_endpoint("/graphql/ws")
                .title("Entitle GraphiQL")
                .finish(),
        )
        .into_response();
        // The same URL answers JSON to other Accept headers.
        res.headers_mut().insert(
            header::VARY,
            HeaderValue::from_static("Accept, Authorization"),
        );
        return res;
    }
    let Some(media) = negotiate(accept) else {
        return request_error(
            StatusCode::NOT_ACCEPTABLE,
            MediaType::Json,
            "accept application/graphql-response+json or application/json",
        );
    };
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct GetParams {
        query: String,
        operation_name: Option<String>,
        variables: Option<String>,
        extensions: Option<String>,
    }
    let parsed = serde_urlencoded::from_str::<GetParams>(raw.as_deref().unwrap_or_default())
        .ok()
        .and_then(|p| {
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
        });
    let Some(params) = parsed else {
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
    let meta = RequestMeta {
        caller: caller(&state, &headers),
        client_ip: client_ip(&state, &headers, peer),
    };
    execute(&state, params, meta, media).await
}

/// Whether the operation a GET would run is a mutation. A document that does
/// not parse is left to the executor, which reports it properly.
fn is_mutation(params: &Params) -> bool {
    let Ok(doc) = async_graphql::parser::parse_query(&params.query) else {
        return false;
    };
    let ty = match (&doc.operations, params.operation_name.as_deref()) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        _ => None,
    };
    ty == Some(OperationType::Mutation)
}

async fn execute(
    state: &AppState,
    params: Params,
    meta: RequestMeta,
    media: MediaType,
) -> Response {
    let executed = Arc::new(Executed::default());
    let mut request = Request::new(params.query)
        .data(meta)
        .data(Loaders::new(&state.db, state.billing.changes().cache()))
        .data(AccessCache::default())
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
    let executed = executed.get();
    for err in &mut response.errors {
        ensure_code(err);
    }
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

/// Errors raised by async-graphql itself (syntax, validation, limits, input
/// coercion) carry no code; they are all the client's to fix. Ours always have one.
pub fn ensure_code(err: &mut ServerError) {
    let ext = err.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        ext.set("code", code::BAD_USER_INPUT);
    }
}

/// graphql-transport-ws. The access token comes in `connectionParams` as
/// `{ "authorization": "Bearer …" }` or `{ "authToken": "…" }`; an invalid one
/// refuses the connection, so the client refreshes and reconnects. Once the
/// token expires, new operations on the connection are refused the same way.
pub async fn graphql_ws(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let client_ip = client_ip(&state, &headers, peer);
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        // The same bound as an HTTP body.
        .max_message_size(state.config.max_body_bytes)
        .on_upgrade(move |stream| {
            let caller = Arc::new(OnceLock::new());
            let executor = WsExecutor {
                schema: state.schema.clone(),
                caller: caller.clone(),
            };
            GraphQLWebSocket::new(stream, executor, protocol)
                .on_connection_init(move |params| async move {
                    let found = caller_from_params(&state.jwt, &params);
                    if found == Caller::InvalidToken {
                        return Err(async_graphql::Error::new("invalid or expired access token")
                            .extend_with(|_, e| e.set("code", code::UNAUTHENTICATED)));
                    }
                    let _ = caller.set(found);
                    let mut data = Data::default();
                    data.insert(RequestMeta {
                        caller: found,
                        client_ip,
                    });
                    data.insert(Loaders::new(&state.db, state.billing.changes().cache()));
                    Ok(data)
                })
                .serve()
        })
}

fn caller_from_params(jwt: &crate::auth::JwtKeys, params: &serde_json::Value) -> Caller {
    let field = |name: &str| params.get(name).filter(|v| !v.is_null());
    match (
        field("authorization").or_else(|| field("Authorization")),
        field("authToken"),
    ) {
        (Some(serde_json::Value::String(h)), _) => jwt.caller_from_header(Some(h)),
        (None, Some(serde_json::Value::String(t))) => {
            jwt.caller_from_header(Some(&format!("Bearer {t}")))
        }
        (None, None) => Caller::Anonymous,
        // Present but not a string: a client bug, not an anonymous caller.
        _ => Caller::InvalidToken,
    }
}

/// Runs WebSocket operations: refuses them once the connection's token has
/// expired, and gives every error a code, as the HTTP handler does.
#[derive(Clone)]
struct WsExecutor {
    schema: crate::graphql::EntitleSchema,
    caller: Arc<OnceLock<Caller>>,
}

impl WsExecutor {
    fn expired(&self) -> bool {
        matches!(self.caller.get(), Some(Caller::User(u)) if u.is_expired())
    }
}

fn expired_response() -> async_graphql::Response {
    let mut err = ServerError::new(
        "the access token has expired; reconnect with a fresh one",
        None,
    );
    err.extensions
        .get_or_insert_with(Default::default)
        .set("code", code::UNAUTHENTICATED);
    async_graphql::Response::from_errors(vec![err])
}

fn with_codes(mut response: async_graphql::Response) -> async_graphql::Response {
    for err in &mut response.errors {
        ensure_code(err);
    }
    response
}

impl async_graphql::Executor for WsExecutor {
    async fn execute(&self, request: Request) -> async_graphql::Response {
        if self.expired() {
            return expired_response();
        }
        with_codes(self.schema.execute(request).await)
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> futures_util::stream::BoxStream<'static, async_graphql::Response> {
        use futures_util::StreamExt;
        if self.expired() {
            return futures_util::stream::once(async { expired_response() }).boxed();
        }
        self.schema
            .execute_stream_with_session_data(request, session_data.unwrap_or_default())
            .map(with_codes)
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_headers_pick_the_response_media_type() {
        use MediaType::*;
        let cases = [
            (None, Some(GraphqlResponseJson)),
            (Some(""), Some(GraphqlResponseJson)),
            (Some("application/json"), Some(Json)),
            (
                Some("application/graphql-response+json"),
                Some(GraphqlResponseJson),
            ),
            (
                Some("application/graphql-response+json, application/json;q=0.9"),
                Some(GraphqlResponseJson),
            ),
            (
                Some("application/graphql-response+json;q=0.5, application/json"),
                Some(Json),
            ),
            (Some("*/*"), Some(GraphqlResponseJson)),
            (Some("application/*"), Some(GraphqlResponseJson)),
            (Some("application/json, */*;q=0.1"), Some(Json)),
            (Some("text/html"), None),
            (Some("application/xml, text/plain"), None),
            (Some("application/json;q=0"), None),
        ];
        for (accept, want) in cases {
            assert_eq!(negotiate(accept), want, "Accept: {accept:?}");
        }
    }

    #[test]
    fn only_json_request_bodies_are_accepted() {
        for (ct, ok) in [
            ("application/json", true),
            ("application/json; charset=utf-8", true),
            ("Application/JSON;charset=\"UTF-8\"", true),
            ("application/json; charset=latin1", false),
            ("text/plain", false),
            ("application/graphql", false),
            ("multipart/form-data; boundary=x", false),
        ] {
            assert_eq!(is_json_content_type(ct), ok, "{ct}");
        }
    }

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
