//! Stripe's error objects for whatever the HTTP layer itself refuses under `/v1`.

use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::extract::MAX_BODY;
use crate::error::ApiError;

pub(super) fn body_too_large() -> ApiError {
    ApiError::bad_request(format!(
        "Request body too large: stripe-sim accepts at most {MAX_BODY} bytes."
    ))
}

/// Whatever axum itself answers under `/v1` (405 for a method a route does not serve, 413 for
/// a body over the limit, 400/422 for a path or query it cannot extract, 415) becomes a Stripe
/// error object with a status Stripe uses, so clients report a Stripe error, not a decoding
/// failure. Stripe answers an unsupported method on a known path as an unrecognized URL (404).
pub(super) async fn stripe_errors(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let text = to_bytes(response.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_FOUND => {
            ApiError::not_found_route(method.as_str(), &path)
        }
        StatusCode::PAYLOAD_TOO_LARGE => body_too_large(),
        s if s.is_server_error() => {
            let mut e = ApiError::with_status(s, format!("stripe-sim: {text}"));
            e.kind = "api_error";
            e
        }
        _ => ApiError::bad_request(if text.is_empty() {
            format!("Invalid request ({status}).")
        } else {
            format!("Invalid request: {text}")
        }),
    };
    error.into_response()
}

pub(super) async fn unknown_route(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::not_found_route(method.as_str(), uri.path())
}
