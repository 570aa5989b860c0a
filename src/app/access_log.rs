//! One compact line per request, at info: method, route (the matched
//! pattern, never the raw path or its query string, which could carry
//! variables), status, latency, request id, each once. Events logged while
//! the request runs (an internal error's cause) carry the request id from
//! the span around it.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request},
    http::HeaderName,
    middleware::Next,
    response::Response,
};
use tracing::Instrument;

/// Set on every request that lacks one and echoed on the response, so a
/// client's report can be found in the log.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub async fn access_log(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let span = tracing::info_span!("request", request_id = %id);
    let res = next.run(req).instrument(span).await;
    let latency = start.elapsed();
    crate::telemetry::metrics::http_request(&route, res.status().as_u16(), latency);
    tracing::info!(
        target: "entitle::access",
        method = %method,
        route,
        status = res.status().as_u16(),
        latency_ms = (latency.as_secs_f64() * 1000.0),
        request_id = %id,
    );
    res
}
