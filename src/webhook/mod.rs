//! `POST /webhooks/stripe`: the REST boundary Stripe calls. An event is
//! verified, stored raw in `stripe_events`, and only then acknowledged; a
//! duplicate is acknowledged and not stored again. Processing happens after
//! the answer (the billing worker), so a slow Stripe or a crash never costs
//! an event.

pub mod envelope;
pub mod recent;
pub mod signature;

use axum::{
    Json,
    body::Bytes,
    extract::{State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use chrono::Utc;
use serde_json::json;

use self::envelope::{Envelope, envelope};
use crate::{app::state::AppState, db, telemetry::metrics};

/// The REST boundary's errors; the status tells Stripe whether to retry.
#[derive(Debug)]
pub enum WebhookError {
    /// Missing, malformed, stale or unmatched signature: 400, nothing stored.
    BadSignature(signature::SignatureError),
    /// Signed, but not a Stripe event: 400.
    NotAnEvent,
    /// Over the body limit (or unreadable): Stripe's events are far smaller.
    BadBody(StatusCode),
    /// No signing secret configured, or the database is down: 503, so Stripe retries.
    Unavailable(&'static str),
}

impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            WebhookError::BadSignature(_) => (StatusCode::BAD_REQUEST, "invalid Stripe-Signature"),
            WebhookError::NotAnEvent => (StatusCode::BAD_REQUEST, "the body is not a Stripe event"),
            WebhookError::BadBody(status) if *status == StatusCode::PAYLOAD_TOO_LARGE => {
                (*status, "the body is too large")
            }
            WebhookError::BadBody(status) => (*status, "the body could not be read"),
            WebhookError::Unavailable(why) => (StatusCode::SERVICE_UNAVAILABLE, *why),
        };
        tracing::warn!(?self, "webhook refused");
        crate::telemetry::metrics::webhook_event("refused");
        (status, Json(json!({ "error": message }))).into_response()
    }
}

pub async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, WebhookError> {
    let body = body.map_err(|e| WebhookError::BadBody(e.status()))?;
    let secrets = &state.config.webhooks.secrets;
    if secrets.is_empty() {
        return Err(WebhookError::Unavailable(
            "no webhook signing secret is configured",
        ));
    }
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    signature::verify(
        header,
        &body,
        secrets,
        Utc::now().timestamp(),
        state.config.webhooks.tolerance_secs,
    )
    .map_err(WebhookError::BadSignature)?;
    let env = envelope(&body).ok_or(WebhookError::NotAnEvent)?;
    if state.recent_events.contains(&env.id) {
        tracing::info!(event = %env.id, kind = %env.kind, "duplicate webhook acknowledged");
        metrics::webhook_event("duplicate");
        return Ok(received(true));
    }
    let fresh = store(&state, &env, &body).await?;
    // Committed (or already there): from now on a repeat is answered from memory.
    state.recent_events.stored(&env.id);
    if fresh {
        tracing::info!(event = %env.id, kind = %env.kind, "webhook stored");
        metrics::webhook_event("stored");
        state.webhook_wake.notify_one();
    } else {
        tracing::info!(event = %env.id, kind = %env.kind, "duplicate webhook acknowledged");
        metrics::webhook_event("duplicate");
    }
    Ok(received(!fresh))
}

/// Stores the event unless it is there already; false for a duplicate.
async fn store(state: &AppState, env: &Envelope, body: &[u8]) -> Result<bool, WebhookError> {
    let payload = String::from_utf8(body.to_vec()).map_err(|_| WebhookError::NotAnEvent)?;
    let now = Utc::now();
    let row = entity::stripe_events::Model {
        id: env.id.clone(),
        r#type: env.kind.clone(),
        api_version: env.api_version.clone(),
        created: env.created,
        livemode: env.livemode,
        customer_id: env.customer.clone(),
        payload,
        received_at: now,
        status: entity::EventStatus::Pending,
        attempts: 0,
        last_error: None,
        next_attempt_at: now,
        locked_until: None,
        processed_at: None,
    };
    db::stripe_events::insert_new(&state.db, row)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "storing a webhook event");
            WebhookError::Unavailable("the event could not be stored; retry")
        })
}

fn received(duplicate: bool) -> Response {
    (
        StatusCode::OK,
        Json(json!({ "received": true, "duplicate": duplicate })),
    )
        .into_response()
}
