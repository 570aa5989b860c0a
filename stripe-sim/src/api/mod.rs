//! The Stripe API under `/v1`: Bearer `sk_test_…` authentication, form-encoded bodies,
//! `Idempotency-Key` replay, and the routes Entitle calls.
//!
//! Each resource's routes and handlers are in a file of their own; the layers every request
//! goes through are `errors` (Stripe errors for what the HTTP layer refuses), `auth`,
//! `faults` (injected outages) and `idempotency`, outermost first.

mod auth;
mod catalog;
mod checkout;
mod customers;
mod errors;
mod expand;
pub mod extract;
mod faults;
mod idempotency;
mod invoices;
mod meters;
mod subscriptions;
mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::any;

use crate::App;

pub fn router(app: App) -> Router {
    Router::new()
        .merge(customers::routes())
        .merge(checkout::routes())
        .merge(subscriptions::routes())
        .merge(invoices::routes())
        .merge(catalog::routes())
        .merge(meters::routes())
        .merge(webhooks::routes())
        .route("/v1", any(errors::unknown_route))
        .route("/v1/", any(errors::unknown_route))
        .route("/v1/{*rest}", any(errors::unknown_route))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            idempotency::idempotency,
        ))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            faults::inject_faults,
        ))
        .layer(middleware::from_fn(auth::authenticate))
        .layer(DefaultBodyLimit::max(extract::MAX_BODY))
        .layer(middleware::from_fn(errors::stripe_errors))
        .with_state(app)
}
