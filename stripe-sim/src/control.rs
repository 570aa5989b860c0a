//! The control API under `/_sim`, for tests and for people: do without a browser what the
//! hosted pages do, move the simulated clock, make payments fail, inspect events and webhook
//! deliveries, and turn on delivery chaos. Bodies may be JSON or form-encoded; no auth.

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, RawQuery, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::events::{Chaos, render_new_endpoint};
use crate::state::params::{number_param, parse_bool, parse_u64, str_param};
use crate::state::{Cause, FinalFailure};
use crate::{App, form};

pub fn router(app: App) -> Router {
    Router::new()
        .route("/_sim/health", get(|| async { Json(json!({"ok": true})) }))
        .route(
            "/_sim/checkout/sessions/{id}/complete",
            post(complete_checkout),
        )
        .route("/_sim/checkout/sessions/{id}/fail", post(fail_checkout))
        .route("/_sim/clock", get(clock))
        .route("/_sim/clock/advance", post(advance_clock))
        .route("/_sim/payments/fail_next", post(fail_next))
        .route("/_sim/payments/require_action", post(require_action))
        .route("/_sim/customers/{id}/card", post(customer_card))
        .route("/_sim/subscriptions/{id}/pause", post(pause))
        .route("/_sim/subscriptions/{id}/resume", post(resume))
        .route("/_sim/settings", get(get_settings).post(set_settings))
        .route("/_sim/chaos", get(get_chaos).post(set_chaos))
        .route("/_sim/deliveries/release", post(release_held))
        .route("/_sim/api/chaos", get(get_api_chaos).post(set_api_chaos))
        .route("/_sim/events", get(list_events))
        .route("/_sim/events/{id}/resend", post(resend_event))
        .route("/_sim/deliveries", get(list_deliveries))
        .route("/_sim/meter_events", get(list_meter_events))
        .route("/_sim/webhook_endpoints", post(add_endpoint))
        .route(
            "/_sim/webhook_endpoints/{id}/roll_secret",
            post(roll_secret),
        )
        .with_state(app)
}

/// The body: JSON if it looks like JSON, form-encoded otherwise; an empty body is `{}`.
struct Body(Value);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        body(&headers, &bytes)
            .map(Body)
            .map_err(IntoResponse::into_response)
    }
}

/// JSON if it looks like JSON, form-encoded otherwise; an empty body is `{}`.
fn body(headers: &HeaderMap, bytes: &Bytes) -> ApiResult<Value> {
    let text = std::str::from_utf8(bytes).unwrap_or_default().trim();
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"))
        || text.starts_with('{');
    if text.is_empty() {
        Ok(json!({}))
    } else if is_json {
        serde_json::from_str(text)
            .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))
    } else {
        form::parse(text)
    }
}

fn control_cause() -> Cause {
    Cause::request(None)
}

async fn complete_checkout(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let cause = control_cause();
    app.with(|st| st.complete_checkout(&id, &cause)).map(Json)
}

async fn fail_checkout(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    app.with(|st| st.decline_checkout(&id)).map(Json)
}

async fn clock(State(app): State<App>) -> Json<Value> {
    app.with(|st| Json(json!({"now": st.now(), "offset_seconds": st.clock_offset})))
}

/// `{"seconds": n}`, `{"days": n}` or `{"to": unix}`.
async fn advance_clock(State(app): State<App>, Body(p): Body) -> ApiResult<Json<Value>> {
    let too_far = || {
        ApiError::bad_request(format!(
            "The simulated clock cannot go past {} (the year 9999).",
            crate::state::MAX_TIME
        ))
    };
    let number = |key: &str| {
        number_param(&p, key, parse_u64, || {
            format!("{key}: a whole, non-negative number")
        })
    };
    let to = number("to")?;
    let seconds = number("seconds")?.unwrap_or(0);
    let days = number("days")?.unwrap_or(0);
    app.with(|st| {
        let now = st.now();
        let target = match to {
            Some(to) => i64::try_from(to).map_err(|_| too_far())?,
            None => days
                .checked_mul(86_400)
                .and_then(|d| d.checked_add(seconds))
                .and_then(|s| i64::try_from(s).ok())
                .and_then(|s| now.checked_add(s))
                .ok_or_else(too_far)?,
        };
        if target > crate::state::MAX_TIME {
            return Err(too_far());
        }
        if target < now {
            return Err(ApiError::bad_request(
                "The simulated clock only moves forward.",
            ));
        }
        let applied = st.advance_to(target)?;
        Ok(Json(json!({"now": st.now(), "applied": applied})))
    })
}

/// `{"count": n}` (default 1): the next n payment attempts are declined, whoever pays.
async fn fail_next(State(app): State<App>, Body(p): Body) -> Json<Value> {
    set_counter(&app, &p, "fail_next_payments", |st| {
        &mut st.fail_next_payments
    })
}

/// `{"count": n}` (default 1): the next n off-session payments (renewals, trial ends,
/// retries, `POST /v1/subscriptions`) need authentication: `invoice.payment_action_required`.
async fn require_action(State(app): State<App>, Body(p): Body) -> Json<Value> {
    set_counter(&app, &p, "requires_action_next", |st| {
        &mut st.requires_action_next
    })
}

/// Sets the payment counter `name` to the body's `count` (default 1).
fn set_counter(
    app: &App,
    p: &Value,
    name: &str,
    counter: fn(&mut crate::State) -> &mut u32,
) -> Json<Value> {
    let count = p.get("count").and_then(parse_u64).unwrap_or(1) as u32;
    app.with(|st| *counter(st) = count);
    let mut answer = serde_json::Map::new();
    answer.insert(name.to_string(), json!(count));
    Json(Value::Object(answer))
}

/// `{"declines": true}`: every payment of this customer fails until set back to false.
async fn customer_card(
    State(app): State<App>,
    Path(id): Path<String>,
    Body(p): Body,
) -> ApiResult<Json<Value>> {
    let declines = p.get("declines").and_then(parse_bool).unwrap_or(true);
    app.with(|st| {
        st.customer(&id)?;
        st.customers.get_mut(&id).expect("checked").card_declines = declines;
        Ok(Json(json!({"customer": id, "declines": declines})))
    })
}

async fn pause(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let cause = control_cause();
    app.with(|st| st.pause_subscription(&id, &cause)).map(Json)
}

async fn resume(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let cause = control_cause();
    app.with(|st| st.resume_subscription(&id, &cause)).map(Json)
}

fn settings_json(st: &crate::State) -> Value {
    json!({
        "retry_schedule_days": st.retry_schedule_days,
        "final_failure": st.final_failure,
        "fail_next_payments": st.fail_next_payments,
        "requires_action_next": st.requires_action_next,
    })
}

async fn get_settings(State(app): State<App>) -> Json<Value> {
    app.with(|st| Json(settings_json(st)))
}

/// `{"retry_schedule_days": [3,5,7], "final_failure": "cancel" | "unpaid"}`.
async fn set_settings(State(app): State<App>, Body(p): Body) -> ApiResult<Json<Value>> {
    let schedule = match p.get("retry_schedule_days") {
        None => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|v| parse_u64(v).map(|d| d as u32))
                .collect::<Option<Vec<u32>>>()
                .ok_or_else(|| ApiError::bad_request("retry_schedule_days: whole days"))?,
        ),
        Some(_) => return Err(ApiError::bad_request("retry_schedule_days: an array")),
    };
    let final_failure = match str_param(&p, "final_failure").as_deref() {
        None => None,
        Some("cancel") => Some(FinalFailure::Cancel),
        Some("unpaid") => Some(FinalFailure::Unpaid),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "final_failure: 'cancel' or 'unpaid', not '{other}'"
            )));
        }
    };
    Ok(app.with(|st| {
        if let Some(s) = schedule {
            st.retry_schedule_days = s;
        }
        if let Some(f) = final_failure {
            st.final_failure = f;
        }
        Json(settings_json(st))
    }))
}

async fn get_chaos(State(app): State<App>) -> Json<Value> {
    app.with(|st| Json(json!(st.chaos)))
}

/// Replaces the chaos settings; `{}` turns chaos off.
async fn set_chaos(State(app): State<App>, Body(p): Body) -> ApiResult<Json<Value>> {
    let p = normalise(p);
    let chaos: Chaos = serde_json::from_value(p)
        .map_err(|e| ApiError::bad_request(format!("Invalid chaos settings: {e}")))?;
    Ok(app.with(|st| {
        st.set_chaos(chaos);
        Json(json!(st.chaos))
    }))
}

async fn release_held(State(app): State<App>) -> Json<Value> {
    app.with(|st| st.release_held());
    Json(json!({"released": true}))
}

async fn get_api_chaos(State(app): State<App>) -> Json<Value> {
    Json(json!(
        *app.api_chaos.lock().unwrap_or_else(|e| e.into_inner())
    ))
}

/// `{"fail_next": n, "fail_status": 500, "latency_ms": 0, "path_prefix": "/v1/…"?}`; `{}`
/// turns it off.
async fn set_api_chaos(State(app): State<App>, Body(p): Body) -> ApiResult<Json<Value>> {
    let p = normalise(p);
    let chaos: crate::ApiChaos = serde_json::from_value(p)
        .map_err(|e| ApiError::bad_request(format!("Invalid API chaos settings: {e}")))?;
    *app.api_chaos.lock().unwrap_or_else(|e| e.into_inner()) = chaos.clone();
    Ok(Json(json!(chaos)))
}

/// Form bodies carry strings; turn booleans and numbers back into JSON ones.
fn normalise(p: Value) -> Value {
    let mut out = serde_json::Map::new();
    if let Value::Object(map) = p {
        for (k, v) in map {
            let v = match (&v, parse_bool(&v), parse_u64(&v)) {
                (Value::String(_), Some(b), _) => Value::Bool(b),
                (Value::String(s), _, Some(n)) if s.bytes().all(|b| b.is_ascii_digit()) => json!(n),
                _ => v,
            };
            out.insert(k, v);
        }
    }
    Value::Object(out)
}

async fn list_events(State(app): State<App>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let q = form::parse(q.as_deref().unwrap_or_default())?;
    let kind = str_param(&q, "type");
    app.with(|st| {
        let data: Vec<Value> = st
            .events
            .iter()
            .filter(|e| kind.as_ref().is_none_or(|k| k == &e.kind))
            .map(|e| e.envelope.clone())
            .collect();
        Ok(Json(json!({"data": data})))
    })
}

async fn resend_event(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    app.with(|st| {
        let event = st
            .events
            .iter()
            .find(|e| e.id == id)
            .cloned()
            .ok_or_else(|| ApiError::missing("event", &id, Some("id")))?;
        let endpoints: Vec<_> = st
            .endpoints
            .iter()
            .filter(|e| e.wants(&event.kind))
            .cloned()
            .collect();
        let count = endpoints.len();
        st.outbox.push(event, endpoints);
        Ok(Json(json!({"event": id, "endpoints": count})))
    })
}

/// Every delivery attempt, oldest first; filter with `event_id`, `type`, `endpoint_id`.
async fn list_deliveries(State(app): State<App>, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let q = form::parse(q.as_deref().unwrap_or_default())?;
    let event_id = str_param(&q, "event_id");
    let kind = str_param(&q, "type");
    let endpoint = str_param(&q, "endpoint_id");
    let data: Vec<_> = app
        .deliveries()
        .into_iter()
        .filter(|d| event_id.as_ref().is_none_or(|e| e == &d.event_id))
        .filter(|d| kind.as_ref().is_none_or(|k| k == &d.event_type))
        .filter(|d| endpoint.as_ref().is_none_or(|e| e == &d.endpoint_id))
        .collect();
    Ok(Json(json!({"data": data})))
}

/// Every accepted meter event, oldest first; filter with `event_name`, `customer`.
async fn list_meter_events(
    State(app): State<App>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = form::parse(q.as_deref().unwrap_or_default())?;
    let event_name = str_param(&q, "event_name");
    let customer = str_param(&q, "customer");
    let data: Vec<_> = app.with(|st| {
        st.meter_events
            .iter()
            .filter(|e| event_name.as_ref().is_none_or(|n| n == &e.event_name))
            .filter(|e| customer.as_ref().is_none_or(|c| c == &e.customer))
            .cloned()
            .collect()
    });
    Ok(Json(json!({"data": data})))
}

/// `{"url": ..., "secret": "whsec_..."?, "enabled_events": [...]?}`: like
/// `POST /v1/webhook_endpoints` but with a chosen secret.
async fn add_endpoint(State(app): State<App>, Body(p): Body) -> ApiResult<Json<Value>> {
    let url = str_param(&p, "url").ok_or_else(|| ApiError::required("url"))?;
    let events = match p.get("enabled_events") {
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => vec!["*".to_string()],
    };
    let secret = str_param(&p, "secret");
    Ok(app.with(|st| {
        let e = st.add_endpoint(url, secret, events);
        Json(render_new_endpoint(&e))
    }))
}

/// Starts a secret rotation: `{"secret": "whsec_..."?, "keep_old": true}`. While the old
/// secret is kept, deliveries carry a `v1` signature for each secret, as Stripe's do.
async fn roll_secret(
    State(app): State<App>,
    Path(id): Path<String>,
    Body(p): Body,
) -> ApiResult<Json<Value>> {
    let secret = str_param(&p, "secret")
        .unwrap_or_else(|| format!("whsec_{}", uuid::Uuid::new_v4().simple()));
    let keep_old = p.get("keep_old").and_then(parse_bool).unwrap_or(true);
    app.with(|st| {
        let e = st
            .endpoints
            .iter_mut()
            .find(|e| e.id == id)
            .ok_or_else(|| ApiError::missing("webhook_endpoint", &id, Some("id")))?;
        let current = e.secrets.last().cloned().filter(|_| keep_old);
        e.secrets = current.into_iter().chain([secret.clone()]).collect();
        Ok(Json(
            json!({"id": id, "secret": secret, "active_secrets": e.secrets.len()}),
        ))
    })
}
