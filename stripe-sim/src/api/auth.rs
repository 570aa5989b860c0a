//! Stripe's authentication: `Authorization: Bearer sk_test_…` (or Basic auth with the key as
//! user name); anything else is a 401. Each authenticated request gets its id here.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::extract::{ApiKey, RequestId};
use crate::error::ApiError;
use crate::state;

/// Stripe answers 401 with an `invalid_request_error` when the key is missing or not a key.
pub(super) async fn authenticate(mut req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let key = match header.and_then(api_key) {
        Some(k) => k,
        None => {
            return ApiError::unauthorized(
                "You did not provide an API key. You need to provide your API key in the \
                 Authorization header, using Bearer auth (e.g. 'Authorization: Bearer \
                 YOUR_SECRET_KEY').",
            )
            .into_response();
        }
    };
    if !(key.starts_with("sk_test_") || key.starts_with("rk_test_")) || key.len() <= 8 {
        let shown: String = key.chars().take(8).collect();
        return ApiError::unauthorized(format!(
            "Invalid API Key provided: {shown}***. stripe-sim accepts test-mode secret keys \
             (sk_test_…)."
        ))
        .into_response();
    }
    let request_id = state::new_id("req");
    req.extensions_mut().insert(RequestId(request_id.clone()));
    req.extensions_mut().insert(ApiKey(key));
    let mut response = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("request-id", v);
    }
    response.headers_mut().insert(
        "stripe-version",
        HeaderValue::from_static(state::API_VERSION),
    );
    response
}

/// The key from `Bearer <key>`, or from Basic auth with the key as user name (`curl -u
/// sk_test_…:`), both of which Stripe accepts.
fn api_key(header: &str) -> Option<String> {
    use base64::Engine;
    if let Some(key) = header.strip_prefix("Bearer ") {
        return Some(key.trim().to_string()).filter(|k| !k.is_empty());
    }
    let encoded = header.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let user = text.split(':').next().unwrap_or_default();
    Some(user.to_string()).filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_key_comes_from_bearer_or_basic_auth() {
        assert_eq!(api_key("Bearer sk_test_1").as_deref(), Some("sk_test_1"));
        // base64("sk_test_2:")
        assert_eq!(
            api_key("Basic c2tfdGVzdF8yOg==").as_deref(),
            Some("sk_test_2")
        );
        assert_eq!(api_key("Bearer "), None);
        assert_eq!(api_key("Token sk_test_1"), None);
    }
}
