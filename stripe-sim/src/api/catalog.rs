//! The catalogue (`/v1/prices`, `/v1/products`) and `/v1/entitlements/active_entitlements`.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

use super::extract::Query;
use crate::App;
use crate::error::{ApiError, ApiResult};
use crate::state::params::str_param;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/v1/prices", get(list_prices))
        .route("/v1/prices/{id}", get(get_price))
        .route("/v1/products/{id}", get(get_product))
        .route(
            "/v1/entitlements/active_entitlements",
            get(list_active_entitlements),
        )
}

async fn list_prices(State(app): State<App>, Query(q): Query) -> ApiResult<Json<Value>> {
    let product = str_param(&q, "product");
    app.with(|st| {
        let ids: Vec<String> = st
            .catalog
            .prices()
            .filter(|(p, _)| product.as_ref().is_none_or(|want| &p.id == want))
            .map(|(_, price)| price.id.clone())
            .collect();
        Ok(Json(
            st.page(&q, ids, "/v1/prices", |st, id| st.render_price(id)),
        ))
    })
}

async fn get_price(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    app.with(|st| {
        if st.catalog.price(&id).is_none() {
            return Err(ApiError::missing("price", &id, Some("price")));
        }
        Ok(Json(st.render_price(&id)))
    })
}

async fn get_product(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    app.with(|st| {
        if st.catalog.product(&id).is_none() {
            return Err(ApiError::missing("product", &id, Some("id")));
        }
        Ok(Json(st.render_product(&id)))
    })
}

async fn list_active_entitlements(
    State(app): State<App>,
    Query(q): Query,
) -> ApiResult<Json<Value>> {
    app.with(|st| st.list_active_entitlements(&q)).map(Json)
}
