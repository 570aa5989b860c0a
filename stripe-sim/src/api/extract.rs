//! What the handlers take from a request: the authenticated key and request id (set by
//! `auth`), the form-encoded body and query string as JSON (see `form`), and the [`Cause`]
//! that events caused by the request carry.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::ApiError;
use crate::form;
use crate::state::Cause;

/// The largest request body accepted.
pub const MAX_BODY: usize = 1 << 20;

/// The secret key that authenticated the request (scopes idempotency keys).
#[derive(Debug, Clone)]
pub struct ApiKey(pub String);

/// The id Stripe gives each request (`Request-Id` header, `event.request.id`).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The form-encoded body, parsed. A body the HTTP layer refuses (too large) is answered as
/// it would answer it, and turned into a Stripe error by `errors::stripe_errors`.
pub struct Form(pub Value);

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        form::parse(std::str::from_utf8(&bytes).unwrap_or_default())
            .map(Form)
            .map_err(IntoResponse::into_response)
    }
}

/// The query string, parsed with the same bracket syntax as a body.
pub struct Query(pub Value);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        form::parse(parts.uri.query().unwrap_or_default()).map(Query)
    }
}

/// The request's id and `Idempotency-Key`, for the events it causes.
impl<S: Send + Sync> FromRequestParts<S> for Cause {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Cause {
            request_id: parts.extensions.get::<RequestId>().map(|r| r.0.clone()),
            idempotency_key: parts
                .headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        })
    }
}
