//! Stripe itself down or slow, as set through `/_sim/api/chaos`.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::App;

/// Stripe being slow or down, as set through `/_sim/api/chaos`: an injected failure is an
/// `api_error` with `Stripe-Should-Retry: true`, and changes nothing. With a `path_prefix`
/// only the requests whose path starts with it are slowed or failed (and counted).
pub(super) async fn inject_faults(State(app): State<App>, req: Request, next: Next) -> Response {
    let (latency, fail) = {
        let mut chaos = app.api_chaos.lock().unwrap_or_else(|e| e.into_inner());
        if !chaos.applies_to(req.uri().path()) {
            (0, None)
        } else {
            let fail = if chaos.fail_next > 0 {
                chaos.fail_next -= 1;
                Some(chaos.fail_status.unwrap_or(500))
            } else {
                None
            };
            (chaos.latency_ms, fail)
        }
    };
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    if let Some(status) = fail {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (
            status,
            Json(json!({"error": {
                "type": "api_error",
                "message": "stripe-sim: an injected failure (see /_sim/api/chaos)."
            }})),
        )
            .into_response();
        response
            .headers_mut()
            .insert("stripe-should-retry", HeaderValue::from_static("true"));
        return response;
    }
    next.run(req).await
}
