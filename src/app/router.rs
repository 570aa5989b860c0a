//! Routes and the layers around them: request ids, the access log, CORS,
//! body limits, panics turned into 500s.

use std::time::Duration;

use axum::{
    Router,
    extract::{DefaultBodyLimit, State},
    http::{HeaderValue, Method, StatusCode, header},
    routing::{get, post},
};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::CorsLayer,
    request_id::{PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
};

use super::{
    access_log::{AccessLogLayer, REQUEST_ID, RequestIds},
    state::AppState,
};
use crate::{
    db,
    graphql::{execute::internal_error_response, graphiql, http, ws},
    webhook,
};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Stripe's events are a few KiB; a megabyte is plenty and bounds a flood.
const WEBHOOK_BODY_LIMIT: usize = 1024 * 1024;

/// A panic becomes a 500 in the GraphQL error shape, with the `INTERNAL` code
/// and nothing of the panic's text.
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    tracing::error!("a request handler panicked");
    internal_error_response(StatusCode::INTERNAL_SERVER_ERROR)
}

pub fn router(state: AppState) -> Router {
    let body_limit = state.config.http.max_body_bytes;
    let cors = cors(&state.config.http.cors_origins);
    let graphiql_on = state.config.graphql.graphiql;
    let mut app = Router::new()
        .route(
            "/graphql",
            get(http::graphql_get)
                .post(http::graphql_post)
                .layer(DefaultBodyLimit::max(body_limit)),
        )
        .route("/graphql/ws", get(ws::graphql_ws))
        .route(
            "/webhooks/stripe",
            post(webhook::stripe_webhook).layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT)),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/.well-known/jwks.json", get(jwks))
        .with_state(state);
    if graphiql_on {
        app = app.route("/graphql/assets/{name}", get(graphiql::asset));
    }
    // One layer, composed once: each `Router::layer` boxes every route
    // again, and each box is cloned for every request (the profile in
    // BENCHMARKS.md). Outermost first.
    app.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, RequestIds::default()))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(AccessLogLayer)
            .layer(CatchPanicLayer::custom(panic_response))
            // A backstop: /graphql bounds its own execution with a
            // GraphQL-shaped answer. A WebSocket answers 101 at once and
            // lives on in its own task, so this bounds HTTP requests only.
            .layer(TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                REQUEST_TIMEOUT,
            ))
            .option_layer(cors),
    )
}

/// The public keys access tokens are signed with, for services that verify
/// them locally. Empty while tokens are HS256.
async fn jwks(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(state.auth.jwt.jwks()),
    )
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let ok = tokio::time::timeout(Duration::from_secs(2), db::ping(&state.db))
        .await
        .unwrap_or(false);
    if ok {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
}

fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
            .expose_headers([REQUEST_ID])
            .max_age(Duration::from_secs(600)),
    )
}
