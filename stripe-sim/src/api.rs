//! The Stripe API under `/v1`: Bearer `sk_test_…` authentication, form-encoded bodies,
//! `Idempotency-Key` replay, and the routes Entitle calls.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::state::{self, Cause, str_param};
use crate::{App, Idempotent, form};

const MAX_BODY: usize = 1 << 20;

/// The id Stripe gives each request (`Request-Id` header, `event.request.id`).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub fn router(app: App) -> Router {
    let v1 = Router::new()
        .route("/v1/customers", post(create_customer))
        .route(
            "/v1/customers/{id}",
            get(get_customer)
                .post(update_customer)
                .delete(delete_customer),
        )
        .route("/v1/checkout/sessions", post(create_checkout_session))
        .route("/v1/checkout/sessions/{id}", get(get_checkout_session))
        .route(
            "/v1/checkout/sessions/{id}/expire",
            post(expire_checkout_session),
        )
        .route("/v1/billing_portal/sessions", post(create_portal_session))
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
        .route("/v1/invoices/{id}", get(get_invoice))
        .route("/v1/invoices/{id}/pay", post(pay_invoice))
        .route("/v1/prices", get(list_prices))
        .route("/v1/prices/{id}", get(get_price))
        .route("/v1/products/{id}", get(get_product))
        .route(
            "/v1/entitlements/active_entitlements",
            get(list_active_entitlements),
        )
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
        .route("/v1/{*rest}", axum::routing::any(unknown_route))
        .layer(middleware::from_fn_with_state(app.clone(), idempotency))
        .layer(middleware::from_fn_with_state(app.clone(), inject_faults))
        .layer(middleware::from_fn(authenticate));
    v1.with_state(app)
}

// ------------------------------------------------------------------ middleware

/// Stripe answers 401 with an `invalid_request_error` when the key is missing or not a key.
async fn authenticate(mut req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let key = match header.and_then(api_key) {
        Some(k) => k,
        None => {
            return ApiError::unauthorized(
                "You did not provide an API key. You need to provide your API key in the \
                 Authorization header, using Bearer auth (e.g. 'Authorization: Bearer \
                 YOUR_SECRET_KEY').",
            )
            .into_response();
        }
    };
    if !(key.starts_with("sk_test_") || key.starts_with("rk_test_")) || key.len() <= 8 {
        let shown: String = key.chars().take(8).collect();
        return ApiError::unauthorized(format!(
            "Invalid API Key provided: {shown}***. stripe-sim accepts test-mode secret keys \
             (sk_test_…)."
        ))
        .into_response();
    }
    let request_id = state::new_id("req");
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let mut response = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("request-id", v);
    }
    response.headers_mut().insert(
        "stripe-version",
        HeaderValue::from_static(state::API_VERSION),
    );
    response
}

/// Stripe being slow or down, as set through `/_sim/api/chaos`: an injected failure is an
/// `api_error` with `Stripe-Should-Retry: true`, and changes nothing.
async fn inject_faults(State(app): State<App>, req: Request, next: Next) -> Response {
    let (latency, fail) = {
        let mut chaos = app.api_chaos.lock().unwrap_or_else(|e| e.into_inner());
        let fail = if chaos.fail_next > 0 {
            chaos.fail_next -= 1;
            Some(chaos.fail_status.unwrap_or(500))
        } else {
            None
        };
        (chaos.latency_ms, fail)
    };
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    if let Some(status) = fail {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (
            status,
            Json(json!({"error": {
                "type": "api_error",
                "message": "stripe-sim: an injected failure (see /_sim/api/chaos)."
            }})),
        )
            .into_response();
        response
            .headers_mut()
            .insert("stripe-should-retry", HeaderValue::from_static("true"));
        return response;
    }
    next.run(req).await
}

/// The key from `Bearer <key>`, or from Basic auth with the key as user name (`curl -u
/// sk_test_…:`), both of which Stripe accepts.
fn api_key(header: &str) -> Option<String> {
    use base64::Engine;
    if let Some(key) = header.strip_prefix("Bearer ") {
        return Some(key.trim().to_string()).filter(|k| !k.is_empty());
    }
    let encoded = header.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let user = text.split(':').next().unwrap_or_default();
    Some(user.to_string()).filter(|k| !k.is_empty())
}

/// Stripe's idempotency: a POST with an `Idempotency-Key` is executed once; the same key with
/// the same endpoint and parameters replays the stored response (`Idempotent-Replayed: true`),
/// with different ones it is a 400 `idempotency_error`, and while the first is still running a
/// 409. Validation errors are not stored, so the request can be fixed and retried.
async fn idempotency(State(app): State<App>, req: Request, next: Next) -> Response {
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (Some(key), true) = (key, req.method() == Method::POST) else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return ApiError::bad_request("Request body too large.").into_response(),
    };
    let endpoint = format!("{} {}", parts.method, parts.uri.path());
    let params = form::parse(std::str::from_utf8(&bytes).unwrap_or_default());
    {
        let mut store = app.idempotency.lock().unwrap_or_else(|e| e.into_inner());
        match store.get(&key) {
            Some(Idempotent::InFlight) => {
                return ApiError::conflict(format!(
                    "There is currently another in-progress request using this Stripe token \
                     (probably the same idempotency key: '{key}'). Try again later."
                ))
                .into_response();
            }
            Some(Idempotent::Done {
                endpoint: e,
                params: p,
                status,
                body,
            }) => {
                if *e != endpoint {
                    return ApiError::idempotency(format!(
                        "Keys for idempotent requests can only be used for the same endpoint \
                         they were first used for ('{e}' vs '{endpoint}'). Try using a key \
                         other than '{key}' if you meant to execute a different request."
                    ))
                    .into_response();
                }
                if *p != params {
                    return ApiError::idempotency(format!(
                        "Keys for idempotent requests can only be used with the same parameters \
                         they were first used with. Try using a key other than '{key}' if you \
                         meant to execute a different request."
                    ))
                    .into_response();
                }
                let mut response = Response::new(Body::from(body.clone()));
                *response.status_mut() = StatusCode::from_u16(*status).unwrap_or(StatusCode::OK);
                let headers = response.headers_mut();
                headers.insert("content-type", HeaderValue::from_static("application/json"));
                headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
                headers.insert(
                    "idempotency-key",
                    HeaderValue::from_str(&key).unwrap_or(HeaderValue::from_static("")),
                );
                return response;
            }
            None => {
                store.insert(key.clone(), Idempotent::InFlight);
            }
        }
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (mut parts, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let status = parts.status.as_u16();
    let keep = parts.status.is_success() || status == 402;
    {
        let mut store = app.idempotency.lock().unwrap_or_else(|e| e.into_inner());
        if keep {
            store.insert(
                key.clone(),
                Idempotent::Done {
                    endpoint,
                    params,
                    status,
                    body: body.clone(),
                },
            );
        } else {
            store.remove(&key);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&key) {
        parts.headers.insert("idempotency-key", v);
    }
    Response::from_parts(parts, Body::from(body))
}

// ------------------------------------------------------------------ helpers

fn params(body: &Bytes) -> Value {
    form::parse(std::str::from_utf8(body).unwrap_or_default())
}

fn query(q: &Option<String>) -> Value {
    form::parse(q.as_deref().unwrap_or_default())
}

fn cause(headers: &HeaderMap, request_id: &RequestId) -> Cause {
    Cause {
        request_id: Some(request_id.0.clone()),
        idempotency_key: headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    }
}

fn expand_list(p: &Value) -> Vec<String> {
    match p.get("expand") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Replaces ids by objects for the `expand[]` paths the simulator knows.
fn expand(st: &state::State, mut obj: Value, p: &Value) -> Value {
    for path in expand_list(p) {
        match path.as_str() {
            "customer" => {
                if let Some(id) = obj["customer"].as_str().map(str::to_string)
                    && st.customers.contains_key(&id)
                {
                    obj["customer"] = st.render_customer(&id);
                }
            }
            "subscription" => {
                if let Some(id) = obj["subscription"].as_str().map(str::to_string)
                    && st.subscriptions.contains_key(&id)
                {
                    obj["subscription"] = st.render_subscription(&id);
                }
            }
            "latest_invoice" | "invoice" => {
                if let Some(id) = obj[&path].as_str().map(str::to_string)
                    && st.invoices.contains_key(&id)
                {
                    obj[&path] = st.render_invoice(&id);
                }
            }
            "items.data.price.product" | "data.items.data.price.product" => {
                let targets: Vec<&mut Value> = if path.starts_with("data.") {
                    obj["data"]
                        .as_array_mut()
                        .map(|a| a.iter_mut().collect())
                        .unwrap_or_default()
                } else {
                    vec![&mut obj]
                };
                for sub in targets {
                    if let Some(items) = sub["items"]["data"].as_array_mut() {
                        for item in items {
                            if let Some(pid) = item["price"]["product"].as_str().map(str::to_string)
                                && st.catalog.product(&pid).is_some()
                            {
                                item["price"]["product"] = st.render_product(&pid);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    obj
}

// ------------------------------------------------------------------ customers

async fn create_customer(
    State(app): State<App>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let p = params(&body);
    let cause = cause(&headers, &rid);
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
    Extension(rid): Extension<RequestId>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let p = params(&body);
    let cause = cause(&headers, &rid);
    app.with(|st| st.update_customer(&id, &p, &cause)).map(Json)
}

async fn delete_customer(
    State(app): State<App>,
    Extension(rid): Extension<RequestId>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let cause = cause(&headers, &rid);
    app.with(|st| st.delete_customer(&id, &cause)).map(Json)
}

// ------------------------------------------------------------------ checkout and portal

async fn create_checkout_session(State(app): State<App>, body: Bytes) -> ApiResult<Json<Value>> {
    let p = params(&body);
    app.with(|st| {
        let s = st.create_checkout_session(&p)?;
        Ok(Json(expand(st, s, &p)))
    })
}

async fn get_checkout_session(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = query(&q);
    app.with(|st| {
        st.session(&id)?;
        Ok(Json(expand(st, st.render_session(&id), &q)))
    })
}

async fn expire_checkout_session(
    State(app): State<App>,
    Extension(rid): Extension<RequestId>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let cause = cause(&headers, &rid);
    app.with(|st| st.expire_checkout(&id, &cause)).map(Json)
}

async fn create_portal_session(State(app): State<App>, body: Bytes) -> ApiResult<Json<Value>> {
    let p = params(&body);
    app.with(|st| st.create_portal_session(&p)).map(Json)
}

// ------------------------------------------------------------------ subscriptions

async fn list_subscriptions(
    State(app): State<App>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = query(&q);
    app.with(|st| {
        let list = st.list_subscriptions(&q)?;
        Ok(Json(expand(st, list, &q)))
    })
}

async fn create_subscription(
    State(app): State<App>,
    Extension(rid): Extension<RequestId>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let p = params(&body);
    let cause = cause(&headers, &rid);
    app.with(|st| {
        let s = st.create_subscription(&p, &cause)?;
        Ok(Json(expand(st, s, &p)))
    })
}

async fn get_subscription(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = query(&q);
    app.with(|st| {
        st.subscription(&id)?;
        Ok(Json(expand(st, st.render_subscription(&id), &q)))
    })
}

async fn update_subscription(
    State(app): State<App>,
    Extension(rid): Extension<RequestId>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let p = params(&body);
    let cause = cause(&headers, &rid);
    app.with(|st| {
        let s = st.update_subscription(&id, &p, &cause)?;
        Ok(Json(expand(st, s, &p)))
    })
}

async fn cancel_subscription(
    State(app): State<App>,
    Extension(rid): Extension<RequestId>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let cause = cause(&headers, &rid);
    app.with(|st| st.cancel_subscription(&id, &cause)).map(Json)
}

async fn resume_subscription(
    State(app): State<App>,
    Extension(rid): Extension<RequestId>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let cause = cause(&headers, &rid);
    app.with(|st| st.resume_subscription(&id, &cause)).map(Json)
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
    Extension(rid): Extension<RequestId>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let cause = cause(&headers, &rid);
    app.with(|st| st.pay_invoice(&id, &cause)).map(Json)
}

// ------------------------------------------------------------------ catalogue

async fn list_prices(State(app): State<App>, RawQuery(q): RawQuery) -> Json<Value> {
    let q = query(&q);
    let product = str_param(&q, "product");
    app.with(|st| {
        let ids: Vec<String> = st
            .catalog
            .prices()
            .filter(|(p, _)| product.as_ref().is_none_or(|want| &p.id == want))
            .map(|(_, price)| price.id.clone())
            .collect();
        Json(st.page(&q, ids, "/v1/prices", |st, id| st.render_price(id)))
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
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = query(&q);
    app.with(|st| st.list_active_entitlements(&q)).map(Json)
}

// ------------------------------------------------------------------ webhook endpoints, events

async fn create_webhook_endpoint(State(app): State<App>, body: Bytes) -> ApiResult<Json<Value>> {
    let p = params(&body);
    app.with(|st| st.create_endpoint(&p)).map(Json)
}

async fn list_webhook_endpoints(State(app): State<App>, RawQuery(q): RawQuery) -> Json<Value> {
    let q = query(&q);
    app.with(|st| {
        let ids: Vec<String> = st.endpoints.iter().rev().map(|e| e.id.clone()).collect();
        Json(st.page(&q, ids, "/v1/webhook_endpoints", |st, id| {
            st.endpoints
                .iter()
                .find(|e| e.id == id)
                .map_or(Value::Null, state::render_endpoint)
        }))
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
            .map(|e| Json(state::render_endpoint(e)))
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

async fn list_events(State(app): State<App>, RawQuery(q): RawQuery) -> Json<Value> {
    let q = query(&q);
    let kind = str_param(&q, "type");
    app.with(|st| {
        let ids: Vec<String> = st
            .events
            .iter()
            .rev()
            .filter(|e| kind.as_ref().is_none_or(|k| k == &e.kind))
            .map(|e| e.id.clone())
            .collect();
        Json(st.page(&q, ids, "/v1/events", |st, id| {
            st.render_event(id).unwrap_or(Value::Null)
        }))
    })
}

async fn get_event(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    app.with(|st| st.render_event(&id)).map(Json)
}

async fn unknown_route(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::not_found_route(method.as_str(), uri.path())
}

#[cfg(test)]
mod tests {
    use super::api_key;

    #[test]
    fn the_api_key_comes_from_bearer_or_basic_auth() {
        assert_eq!(api_key("Bearer sk_test_1").as_deref(), Some("sk_test_1"));
        // base64("sk_test_2:")
        assert_eq!(
            api_key("Basic c2tfdGVzdF8yOg==").as_deref(),
            Some("sk_test_2")
        );
        assert_eq!(api_key("Bearer "), None);
        assert_eq!(api_key("Token sk_test_1"), None);
    }
}
