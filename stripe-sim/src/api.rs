//! The Stripe API under `/v1`: Bearer `sk_test_…` authentication, form-encoded bodies,
//! `Idempotency-Key` replay, and the routes Entitle calls.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
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

/// The secret key that authenticated the request (scopes idempotency keys).
#[derive(Debug, Clone)]
pub struct ApiKey(pub String);

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
        .route("/v1", axum::routing::any(unknown_route))
        .route("/v1/", axum::routing::any(unknown_route))
        .route("/v1/{*rest}", axum::routing::any(unknown_route))
        .layer(middleware::from_fn_with_state(app.clone(), idempotency))
        .layer(middleware::from_fn_with_state(app.clone(), inject_faults))
        .layer(middleware::from_fn(authenticate))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn(stripe_errors));
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
    req.extensions_mut().insert(ApiKey(key));
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

/// Removes an `InFlight` idempotency entry unless the request finished and stored (or
/// deliberately removed) its outcome: a handler that panics, or whose future is dropped because
/// the client went away, must not leave the key answering 409 forever.
struct InFlightGuard {
    app: App,
    key: Option<(String, String)>,
}

impl InFlightGuard {
    fn disarm(mut self) -> (String, String) {
        self.key.take().expect("armed")
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut store = self
                .app
                .idempotency
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if matches!(store.get(&key), Some(Idempotent::InFlight)) {
                store.remove(&key);
            }
        }
    }
}

/// Whether the outcome of a request that ran is saved for replay. Stripe: "results are only
/// saved if an API endpoint began executing; if incoming parameters failed validation, or the
/// request conflicted with another that was executing concurrently, no idempotent result is
/// saved". In the simulator every 4xx other than 402 is such a refusal before anything changed
/// (a missing or invalid parameter, an unknown id, a state that does not allow the action), so
/// it is not saved and the corrected request may reuse the key. Successes, 402 card declines
/// (the payment was attempted) and 5xx (Stripe saves 500s too) are saved. Faults injected
/// through `/_sim/api/chaos` happen before this layer and are never saved.
fn saved_for_replay(status: StatusCode) -> bool {
    status.is_success() || status == StatusCode::PAYMENT_REQUIRED || status.is_server_error()
}

/// Stripe's idempotency: a POST with an `Idempotency-Key` is executed once per API key; the
/// same key with the same endpoint and parameters replays the stored response
/// (`Idempotent-Replayed: true`), with different ones it is a 400 `idempotency_error`, and while
/// the first is still running a 409 `idempotency_key_in_use`. Keys are scoped to the secret key
/// that sent them: another API key never sees the cached response.
async fn idempotency(State(app): State<App>, req: Request, next: Next) -> Response {
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (Some(key), true) = (key, req.method() == Method::POST) else {
        return next.run(req).await;
    };
    let account = req
        .extensions()
        .get::<ApiKey>()
        .map(|k| k.0.clone())
        .unwrap_or_default();
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return body_too_large().into_response(),
    };
    let endpoint = format!("{} {}", parts.method, parts.uri.path());
    let params = match form::parse(std::str::from_utf8(&bytes).unwrap_or_default()) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let store_key = (account, key.clone());
    let guard = {
        let mut store = app.idempotency.lock().unwrap_or_else(|e| e.into_inner());
        match store.get(&store_key) {
            Some(Idempotent::InFlight) => {
                return ApiError::idempotency_key_in_use(format!(
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
                store.insert(store_key.clone(), Idempotent::InFlight);
                InFlightGuard {
                    app: app.clone(),
                    key: Some(store_key),
                }
            }
        }
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (mut parts, body) = response.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let status = parts.status;
    {
        let mut store = app.idempotency.lock().unwrap_or_else(|e| e.into_inner());
        let store_key = guard.disarm();
        if saved_for_replay(status) {
            store.insert(
                store_key,
                Idempotent::Done {
                    endpoint,
                    params,
                    status: status.as_u16(),
                    body: body.clone(),
                },
            );
        } else {
            store.remove(&store_key);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&key) {
        parts.headers.insert("idempotency-key", v);
    }
    Response::from_parts(parts, Body::from(body))
}

fn body_too_large() -> ApiError {
    ApiError::bad_request(format!(
        "Request body too large: stripe-sim accepts at most {MAX_BODY} bytes."
    ))
}

/// Whatever axum itself answers under `/v1` (405 for a method a route does not serve, 413 for
/// a body over the limit, 400/422 for a path or query it cannot extract, 415) becomes a Stripe
/// error object with a status Stripe uses, so clients report a Stripe error, not a decoding
/// failure. Stripe answers an unsupported method on a known path as an unrecognized URL (404).
async fn stripe_errors(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let text = to_bytes(response.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_FOUND => {
            ApiError::not_found_route(method.as_str(), &path)
        }
        StatusCode::PAYLOAD_TOO_LARGE => body_too_large(),
        s if s.is_server_error() => {
            let mut e = ApiError::with_status(s, format!("stripe-sim: {text}"));
            e.kind = "api_error";
            e
        }
        _ => ApiError::bad_request(if text.is_empty() {
            format!("Invalid request ({status}).")
        } else {
            format!("Invalid request: {text}")
        }),
    };
    error.into_response()
}

// ------------------------------------------------------------------ helpers

fn params(body: &Bytes) -> ApiResult<Value> {
    form::parse(std::str::from_utf8(body).unwrap_or_default())
}

fn query(q: &Option<String>) -> ApiResult<Value> {
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
    let p = params(&body)?;
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
    let p = params(&body)?;
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
    let p = params(&body)?;
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
    let q = query(&q)?;
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
    let p = params(&body)?;
    app.with(|st| st.create_portal_session(&p)).map(Json)
}

// ------------------------------------------------------------------ subscriptions

async fn list_subscriptions(
    State(app): State<App>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = query(&q)?;
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
    let p = params(&body)?;
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
    let q = query(&q)?;
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
    let p = params(&body)?;
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

async fn list_prices(State(app): State<App>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let q = query(&q)?;
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
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = query(&q)?;
    app.with(|st| st.list_active_entitlements(&q)).map(Json)
}

// ------------------------------------------------------------------ webhook endpoints, events

async fn create_webhook_endpoint(State(app): State<App>, body: Bytes) -> ApiResult<Json<Value>> {
    let p = params(&body)?;
    app.with(|st| st.create_endpoint(&p)).map(Json)
}

async fn list_webhook_endpoints(
    State(app): State<App>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = query(&q)?;
    app.with(|st| {
        let ids: Vec<String> = st.endpoints.iter().rev().map(|e| e.id.clone()).collect();
        Ok(Json(st.page(&q, ids, "/v1/webhook_endpoints", |st, id| {
            st.endpoints
                .iter()
                .find(|e| e.id == id)
                .map_or(Value::Null, state::render_endpoint)
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

async fn list_events(State(app): State<App>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let q = query(&q)?;
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

async fn unknown_route(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::not_found_route(method.as_str(), uri.path())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    async fn poll(what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn entry(app: &App, key: &str) -> Option<Idempotent> {
        app.idempotency
            .lock()
            .unwrap()
            .get(&("sk_test_guard".to_string(), key.to_string()))
            .cloned()
    }

    /// A request still running answers 409 `idempotency_key_in_use`; a handler that panics or
    /// whose future is dropped (the client went away) frees its key for a retry.
    #[tokio::test]
    async fn an_in_flight_key_is_a_409_and_is_freed_when_its_handler_panics_or_is_dropped() {
        let app = crate::test_app();
        let gate = Arc::new(tokio::sync::Notify::new());
        let runs = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let (g, r) = (gate.clone(), runs.clone());
        let router: Router = Router::new()
            .route(
                "/v1/panic",
                post(|| async {
                    panic!("a handler bug");
                    #[allow(unreachable_code)]
                    ""
                }),
            )
            .route(
                "/v1/wait",
                post(move || async move {
                    r.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    g.notified().await;
                    Json(json!({"ok": true}))
                }),
            )
            .layer(middleware::from_fn_with_state(app.clone(), idempotency))
            .layer(middleware::from_fn(authenticate));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let post = |path: &str, key: &str| {
            client
                .post(format!("{base}{path}"))
                .bearer_auth("sk_test_guard")
                .header("idempotency-key", key)
                .send()
        };

        // The handler panics: the connection dies, and the key is not left in flight.
        assert!(post("/v1/panic", "p").await.is_err());
        poll("the panicked key to be freed", || {
            entry(&app, "p").is_none()
        })
        .await;

        // While the first request runs, the same key is a 409 idempotency_key_in_use.
        let first = tokio::spawn(post("/v1/wait", "w"));
        poll("the first request to be in flight", || {
            matches!(entry(&app, "w"), Some(Idempotent::InFlight))
                && runs.load(std::sync::atomic::Ordering::SeqCst) == 1
        })
        .await;
        let second = post("/v1/wait", "w").await.unwrap();
        assert_eq!(second.status(), 409);
        let body: Value = second.json().await.unwrap();
        assert_eq!(body["error"]["code"], "idempotency_key_in_use");
        assert_eq!(body["error"]["type"], "invalid_request_error");

        // The client gives up: its handler future is dropped and the key freed.
        first.abort();
        poll("the dropped request's key to be freed", || {
            entry(&app, "w").is_none()
        })
        .await;
        // A retry runs the handler again and its result is saved.
        let retry = tokio::spawn(post("/v1/wait", "w"));
        poll("the retry to run", || {
            runs.load(std::sync::atomic::Ordering::SeqCst) == 2
        })
        .await;
        gate.notify_one();
        assert_eq!(retry.await.unwrap().unwrap().status(), 200);
        assert!(matches!(entry(&app, "w"), Some(Idempotent::Done { .. })));
        server.abort();
    }

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
