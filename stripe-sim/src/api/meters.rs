//! `/v1/billing/meters` and `/v1/billing/meter_events`.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use super::extract::{Form, Query};
use crate::App;
use crate::error::ApiResult;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/v1/billing/meters", get(list_meters).post(create_meter))
        .route("/v1/billing/meters/{id}", get(get_meter).post(update_meter))
        .route("/v1/billing/meters/{id}/deactivate", post(deactivate_meter))
        .route("/v1/billing/meters/{id}/reactivate", post(reactivate_meter))
        .route(
            "/v1/billing/meters/{id}/event_summaries",
            get(list_event_summaries),
        )
        .route("/v1/billing/meter_events", post(create_meter_event))
}

async fn create_meter(State(app): State<App>, Form(p): Form) -> ApiResult<Json<Value>> {
    app.with(|st| st.create_meter(&p)).map(Json)
}

async fn list_meters(State(app): State<App>, Query(q): Query) -> ApiResult<Json<Value>> {
    app.with(|st| st.list_meters(&q)).map(Json)
}

async fn get_meter(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    app.with(|st| {
        st.meter(&id)?;
        Ok(Json(st.render_meter(&id)))
    })
}

async fn update_meter(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(p): Form,
) -> ApiResult<Json<Value>> {
    app.with(|st| st.update_meter(&id, &p)).map(Json)
}

async fn deactivate_meter(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    app.with(|st| st.set_meter_active(&id, false)).map(Json)
}

async fn reactivate_meter(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    app.with(|st| st.set_meter_active(&id, true)).map(Json)
}

async fn list_event_summaries(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(q): Query,
) -> ApiResult<Json<Value>> {
    app.with(|st| st.list_meter_event_summaries(&id, &q))
        .map(Json)
}

async fn create_meter_event(State(app): State<App>, Form(p): Form) -> ApiResult<Json<Value>> {
    app.with(|st| st.create_meter_event(&p)).map(Json)
}
