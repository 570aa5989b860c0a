//! `/v1/customers`.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use super::extract::Form;
use crate::App;
use crate::error::ApiResult;
use crate::state::Cause;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/v1/customers", post(create_customer))
        .route(
            "/v1/customers/{id}",
            get(get_customer)
                .post(update_customer)
                .delete(delete_customer),
        )
}

async fn create_customer(
    State(app): State<App>,
    cause: Cause,
    Form(p): Form,
) -> ApiResult<Json<Value>> {
    app.with(|st| st.create_customer(&p, &cause)).map(Json)
}

async fn get_customer(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    app.with(|st| {
        st.customer(&id)?;
        Ok(Json(st.render_customer(&id)))
    })
}

async fn update_customer(
    State(app): State<App>,
    cause: Cause,
    Path(id): Path<String>,
    Form(p): Form,
) -> ApiResult<Json<Value>> {
    app.with(|st| st.update_customer(&id, &p, &cause)).map(Json)
}

async fn delete_customer(
    State(app): State<App>,
    cause: Cause,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    app.with(|st| st.delete_customer(&id, &cause)).map(Json)
}
