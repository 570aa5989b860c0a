//! `/v1/invoices`.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

use crate::App;
use crate::error::{ApiError, ApiResult};
use crate::state::Cause;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/v1/invoices/{id}", get(get_invoice))
        .route("/v1/invoices/{id}/pay", post(pay_invoice))
}

async fn get_invoice(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    app.with(|st| {
        if !st.invoices.contains_key(&id) {
            return Err(ApiError::missing("invoice", &id, Some("id")));
        }
        Ok(Json(st.render_invoice(&id)))
    })
}

async fn pay_invoice(
    State(app): State<App>,
    cause: Cause,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    app.with(|st| st.pay_invoice(&id, &cause)).map(Json)
}
