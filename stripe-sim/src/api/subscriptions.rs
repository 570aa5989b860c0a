//! `/v1/subscriptions`.

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
        .route(
            "/v1/subscriptions",
            get(list_subscriptions).post(create_subscription),
        )
        .route(
            "/v1/subscriptions/{id}",
            get(get_subscription)
                .post(update_subscription)
                .delete(cancel_subscription),
        )
        .route("/v1/subscriptions/{id}/resume", post(resume_subscription))
}

async fn list_subscriptions(State(app): State<App>, Query(q): Query) -> ApiResult<Json<Value>> {
    app.with(|st| {
        let list = st.list_subscriptions(&q)?;
        Ok(Json(expand(st, list, &q)))
    })
}

async fn create_subscription(
    State(app): State<App>,
    cause: Cause,
    Form(p): Form,
) -> ApiResult<Json<Value>> {
    app.with(|st| {
        let s = st.create_subscription(&p, &cause)?;
        Ok(Json(expand(st, s, &p)))
    })
}

async fn get_subscription(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(q): Query,
) -> ApiResult<Json<Value>> {
    app.with(|st| {
        st.subscription(&id)?;
        Ok(Json(expand(st, st.render_subscription(&id), &q)))
    })
}

async fn update_subscription(
    State(app): State<App>,
    cause: Cause,
    Path(id): Path<String>,
    Form(p): Form,
) -> ApiResult<Json<Value>> {
    app.with(|st| {
        let s = st.update_subscription(&id, &p, &cause)?;
        Ok(Json(expand(st, s, &p)))
    })
}

async fn cancel_subscription(
    State(app): State<App>,
    cause: Cause,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    app.with(|st| st.cancel_subscription(&id, &cause)).map(Json)
}

async fn resume_subscription(
    State(app): State<App>,
    cause: Cause,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    app.with(|st| st.resume_subscription(&id, &cause)).map(Json)
}
