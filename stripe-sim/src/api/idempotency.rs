//! Stripe's idempotency: a POST with an `Idempotency-Key` is executed once per API key; the
//! same key with the same endpoint and parameters replays the stored response
//! (`Idempotent-Replayed: true`), with different ones it is a 400 `idempotency_error`, and while
//! the first is still running a 409 `idempotency_key_in_use`. Keys are scoped to the secret key
//! that sent them: another API key never sees the cached response.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::errors::body_too_large;
use super::extract::{ApiKey, MAX_BODY};
use crate::error::ApiError;
use crate::{App, Idempotent, form};

/// The store's key: (API key, `Idempotency-Key`).
type StoreKey = (String, String);

/// Removes an `InFlight` idempotency entry unless the request finished and stored (or
/// deliberately removed) its outcome: a handler that panics, or whose future is dropped because
/// the client went away, must not leave the key answering 409 forever.
struct InFlightGuard {
    app: App,
    key: Option<StoreKey>,
}

impl InFlightGuard {
    fn disarm(mut self) -> StoreKey {
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

/// One request with an `Idempotency-Key`: what it was sent to and with.
struct Attempt {
    key: String,
    store_key: StoreKey,
    endpoint: String,
    params: Value,
}

pub(super) async fn idempotency(State(app): State<App>, req: Request, next: Next) -> Response {
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
    let params = match form::parse(std::str::from_utf8(&bytes).unwrap_or_default()) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let attempt = Attempt {
        store_key: (account, key.clone()),
        endpoint: format!("{} {}", parts.method, parts.uri.path()),
        key,
        params,
    };
    let guard = match claim(&app, &attempt) {
        Claim::Run(guard) => guard,
        Claim::Answered(answer) => return answer,
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    finish(&app, guard, attempt, response).await
}

enum Claim {
    /// The request runs; the guard frees the key if it does not finish.
    Run(InFlightGuard),
    /// The key answers for it.
    Answered(Response),
}

/// Marks the key in flight, or answers for it: a 409 while another request with it runs, the
/// stored response (or a 400, for another endpoint or other parameters) once one has finished.
fn claim(app: &App, attempt: &Attempt) -> Claim {
    let mut store = app.idempotency.lock().unwrap_or_else(|e| e.into_inner());
    let key = &attempt.key;
    match store.get(&attempt.store_key) {
        Some(Idempotent::InFlight) => Claim::Answered(
            ApiError::idempotency_key_in_use(format!(
                "There is currently another in-progress request using this Stripe token \
                 (probably the same idempotency key: '{key}'). Try again later."
            ))
            .into_response(),
        ),
        Some(Idempotent::Done {
            endpoint,
            params,
            status,
            body,
        }) => Claim::Answered(replay(attempt, endpoint, params, *status, body)),
        None => {
            store.insert(attempt.store_key.clone(), Idempotent::InFlight);
            Claim::Run(InFlightGuard {
                app: app.clone(),
                key: Some(attempt.store_key.clone()),
            })
        }
    }
}

/// The stored response (`e`, `p`: what it answered) again, if `attempt` is the request that
/// stored it.
fn replay(attempt: &Attempt, e: &str, p: &Value, status: u16, body: &Bytes) -> Response {
    let (key, endpoint) = (&attempt.key, &attempt.endpoint);
    if e != endpoint.as_str() {
        return ApiError::idempotency(format!(
            "Keys for idempotent requests can only be used for the same endpoint \
             they were first used for ('{e}' vs '{endpoint}'). Try using a key \
             other than '{key}' if you meant to execute a different request."
        ))
        .into_response();
    }
    if p != &attempt.params {
        return ApiError::idempotency(format!(
            "Keys for idempotent requests can only be used with the same parameters \
             they were first used with. Try using a key other than '{key}' if you \
             meant to execute a different request."
        ))
        .into_response();
    }
    let mut response = Response::new(Body::from(body.clone()));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    headers.insert(
        "idempotency-key",
        HeaderValue::from_str(key).unwrap_or(HeaderValue::from_static("")),
    );
    response
}

/// Saves the outcome for replay (or frees the key, see [`saved_for_replay`]) and answers.
async fn finish(app: &App, guard: InFlightGuard, attempt: Attempt, response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let body: Bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let status = parts.status;
    {
        let mut store = app.idempotency.lock().unwrap_or_else(|e| e.into_inner());
        let store_key = guard.disarm();
        if saved_for_replay(status) {
            let done = Idempotent::Done {
                endpoint: attempt.endpoint,
                params: attempt.params,
                status: status.as_u16(),
                body: body.clone(),
            };
            store.insert(store_key, done);
        } else {
            store.remove(&store_key);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&attempt.key) {
        parts.headers.insert("idempotency-key", v);
    }
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;
    use axum::{Json, Router, middleware};
    use serde_json::json;
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
            .layer(middleware::from_fn(super::super::auth::authenticate));
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
}
