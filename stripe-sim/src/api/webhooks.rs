//! `/v1/webhook_endpoints` and `/v1/events`.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::extract::{Form, Query};
use crate::App;
use crate::error::{ApiError, ApiResult};
use crate::events::render_endpoint;
use crate::state::params::str_param;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route(
            "/v1/webhook_endpoints",
            get(list_webhook_endpoints).post(create_webhook_endpoint),
        )
        .route(
            "/v1/webhook_endpoints/{id}",
            get(get_webhook_endpoint).delete(delete_webhook_endpoint),
        )
        .route("/v1/events", get(list_events))
        .route("/v1/events/{id}", get(get_event))
}

async fn create_webhook_endpoint(State(app): State<App>, Form(p): Form) -> ApiResult<Json<Value>> {
    app.with(|st| st.create_endpoint(&p)).map(Json)
}

async fn list_webhook_endpoints(State(app): State<App>, Query(q): Query) -> ApiResult<Json<Value>> {
    app.with(|st| {
        let ids: Vec<String> = st.endpoints.iter().rev().map(|e| e.id.clone()).collect();
        Ok(Json(st.page(&q, ids, "/v1/webhook_endpoints", |st, id| {
            st.endpoints
                .iter()
                .find(|e| e.id == id)
                .map_or(Value::Null, render_endpoint)
        })))
    })
}

async fn get_webhook_endpoint(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    app.with(|st| {
        st.endpoints
            .iter()
            .find(|e| e.id == id)
            .map(|e| Json(render_endpoint(e)))
            .ok_or_else(|| ApiError::missing("webhook_endpoint", &id, Some("id")))
    })
}

async fn delete_webhook_endpoint(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    app.with(|st| {
        let before = st.endpoints.len();
        st.endpoints.retain(|e| e.id != id);
        if st.endpoints.len() == before {
            return Err(ApiError::missing("webhook_endpoint", &id, Some("id")));
        }
        Ok(Json(
            json!({"id": id, "object": "webhook_endpoint", "deleted": true}),
        ))
    })
}

async fn list_events(State(app): State<App>, Query(q): Query) -> ApiResult<Json<Value>> {
    let kind = str_param(&q, "type");
    app.with(|st| {
        let ids: Vec<String> = st
            .events
            .iter()
            .rev()
            .filter(|e| kind.as_ref().is_none_or(|k| k == &e.kind))
            .map(|e| e.id.clone())
            .collect();
        Ok(Json(st.page(&q, ids, "/v1/events", |st, id| {
            st.render_event(id).unwrap_or(Value::Null)
        })))
    })
}

async fn get_event(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    app.with(|st| st.render_event(&id)).map(Json)
}
