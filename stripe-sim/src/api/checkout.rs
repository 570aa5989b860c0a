//! `/v1/checkout/sessions` and `/v1/billing_portal/sessions`.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use super::expand::expand;
use super::extract::{Form, Query};
use crate::App;
use crate::error::ApiResult;
use crate::state::Cause;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/v1/checkout/sessions", post(create_checkout_session))
        .route("/v1/checkout/sessions/{id}", get(get_checkout_session))
        .route(
            "/v1/checkout/sessions/{id}/expire",
            post(expire_checkout_session),
        )
        .route("/v1/billing_portal/sessions", post(create_portal_session))
}

async fn create_checkout_session(State(app): State<App>, Form(p): Form) -> ApiResult<Json<Value>> {
    app.with(|st| {
        let s = st.create_checkout_session(&p)?;
        Ok(Json(expand(st, s, &p)))
    })
}

async fn get_checkout_session(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(q): Query,
) -> ApiResult<Json<Value>> {
    app.with(|st| {
        st.session(&id)?;
        Ok(Json(expand(st, st.render_session(&id), &q)))
    })
}

async fn expire_checkout_session(
    State(app): State<App>,
    cause: Cause,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    app.with(|st| st.expire_checkout(&id, &cause)).map(Json)
}

async fn create_portal_session(State(app): State<App>, Form(p): Form) -> ApiResult<Json<Value>> {
    app.with(|st| st.create_portal_session(&p)).map(Json)
}
