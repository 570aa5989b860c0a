//! Test helpers: a simulator on port 0, an async-stripe client pointed at it, and a webhook
//! receiver that checks every delivery with async-stripe's own signature verifier and parser.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use stripe_sim::{RetryPolicy, Sim, SimConfig};
use stripe_webhook::{EventObject, Webhook};

pub const SECRET: &str = "whsec_test_secret_for_stripe_sim";

/// One webhook as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub kind: String,
    pub raw: Value,
    /// Which of the receiver's secrets verified the signature, or why none did.
    pub verified_by: Result<usize, String>,
    /// async-stripe parsed `data.object` into its typed struct (not `EventObject::Unknown`).
    pub typed: bool,
    pub signature: String,
}

#[derive(Clone)]
struct ReceiverState {
    secrets: Arc<Mutex<Vec<String>>>,
    received: Arc<Mutex<Vec<Received>>>,
    fail_first: Arc<AtomicU32>,
}

pub struct Receiver {
    pub url: String,
    state: ReceiverState,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(st): State<ReceiverState>, headers: HeaderMap, body: String) -> StatusCode {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let secrets = st.secrets.lock().unwrap().clone();
    let mut verified_by = Err("no secret".to_string());
    let mut typed = false;
    for (i, secret) in secrets.iter().enumerate() {
        match Webhook::construct_event(&body, &signature, secret) {
            Ok(event) => {
                typed = !matches!(event.data.object, EventObject::Unknown(_));
                verified_by = Ok(i);
                break;
            }
            Err(e) => verified_by = Err(format!("{e:?}")),
        }
    }
    let raw: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let ok = verified_by.is_ok();
    st.received.lock().unwrap().push(Received {
        id: raw["id"].as_str().unwrap_or_default().to_string(),
        kind: raw["type"].as_str().unwrap_or_default().to_string(),
        raw,
        verified_by,
        typed,
        signature,
    });
    if st
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    if ok {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    }
}

impl Receiver {
    pub async fn start(secrets: &[&str]) -> Receiver {
        let state = ReceiverState {
            secrets: Arc::new(Mutex::new(secrets.iter().map(|s| s.to_string()).collect())),
            received: Arc::default(),
            fail_first: Arc::default(),
        };
        let app = Router::new()
            .route("/webhooks/stripe", post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            url: format!("http://{addr}/webhooks/stripe"),
            state,
            task,
        }
    }

    /// Accept signatures made with `secret` too.
    pub fn add_secret(&self, secret: &str) {
        self.state.secrets.lock().unwrap().push(secret.to_string());
    }

    /// Answer 500 to the next `n` deliveries.
    pub fn fail_next(&self, n: u32) {
        self.state.fail_first.store(n, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn kinds(&self) -> Vec<String> {
        self.received().into_iter().map(|r| r.kind).collect()
    }

    /// Waits until an event of `kind` matching `pred` has arrived, and returns it.
    pub async fn wait_for(&self, kind: &str, pred: impl Fn(&Value) -> bool) -> Received {
        eventually(&format!("a {kind} webhook"), || {
            self.received()
                .into_iter()
                .find(|r| r.kind == kind && pred(&r.raw))
        })
        .await
    }

    /// Every webhook received so far was signed with one of our secrets and parsed by
    /// async-stripe into its typed object.
    pub fn assert_all_verified_and_typed(&self) {
        let received = self.received();
        assert!(!received.is_empty(), "no webhooks received");
        for r in received {
            assert!(
                r.verified_by.is_ok(),
                "{} {} failed verification: {:?}",
                r.kind,
                r.id,
                r.verified_by
            );
            assert!(
                r.typed,
                "{} {} did not parse into a typed object",
                r.kind, r.id
            );
        }
    }
}

/// Every event the simulator emitted (not only those a receiver got), signed here and checked
/// with async-stripe's `Webhook::construct_event`: each must verify and parse into its typed
/// object. Returns how many were checked.
pub fn verify_all_events(sim: &Sim) -> usize {
    let events = sim.events();
    let now = chrono::Utc::now().timestamp();
    for event in &events {
        // The bytes delivered are the envelope serialised once; serialising it again gives
        // the same text.
        let payload = event.to_string();
        let header = stripe_sim::signature::header(&payload, &[SECRET.to_string()], now);
        let parsed = Webhook::construct_event(&payload, &header, SECRET).unwrap_or_else(|e| {
            panic!(
                "{} {} does not verify or parse: {e:?}",
                event["type"], event["id"]
            )
        });
        assert!(
            !matches!(parsed.data.object, EventObject::Unknown(_)),
            "{} {} did not parse into a typed object",
            event["type"],
            event["id"]
        );
        assert_eq!(parsed.id.as_str(), event["id"].as_str().unwrap());
    }
    events.len()
}

/// Polls `f` until it returns `Some`, failing the test after a generous deadline.
pub async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
    }
}

pub async fn start_sim() -> Sim {
    Sim::start(SimConfig {
        retry: fast_retries(),
        ..SimConfig::default()
    })
    .await
    .expect("sim starts")
}

/// A simulator with one endpoint registered that delivers to a verifying receiver.
pub async fn start_with_receiver() -> (Sim, Receiver) {
    let sim = start_sim().await;
    let receiver = Receiver::start(&[SECRET]).await;
    sim.add_webhook_endpoint(&receiver.url, Some(SECRET));
    (sim, receiver)
}

pub fn client(sim: &Sim) -> stripe::Client {
    stripe::ClientBuilder::new("sk_test_stripe_sim")
        .url(sim.base_url())
        .build()
        .expect("client builds")
}

/// A plain HTTP client for the control API and the hosted pages.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub async fn control(sim: &Sim, path: &str, body: Value) -> Value {
    let response = http()
        .post(format!("{}/_sim/{path}", sim.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let value: Value = response.json().await.unwrap();
    assert!(
        status.is_success(),
        "/_sim/{path} answered {status}: {value}"
    );
    value
}

/// Creates a customer and a subscription checkout for `price`, and pays it through the
/// control API. Returns (customer id, subscription id).
pub async fn subscribe(
    sim: &Sim,
    client: &stripe::Client,
    price: &str,
    trial_days: Option<u32>,
) -> (String, String) {
    use stripe_checkout::checkout_session::{
        CreateCheckoutSession, CreateCheckoutSessionLineItems,
        CreateCheckoutSessionSubscriptionData,
    };
    let customer = stripe_core::customer::CreateCustomer::new()
        .email("ada@example.com")
        .send(client)
        .await
        .unwrap();
    let mut create = CreateCheckoutSession::new()
        .mode(stripe_checkout::CheckoutSessionMode::Subscription)
        .customer(customer.id.as_str())
        .success_url("http://127.0.0.1:1/success?session_id={CHECKOUT_SESSION_ID}")
        .line_items(vec![CreateCheckoutSessionLineItems {
            price: Some(price.to_string()),
            quantity: Some(1),
            ..Default::default()
        }]);
    if let Some(days) = trial_days {
        let mut data = CreateCheckoutSessionSubscriptionData::new();
        data.trial_period_days = Some(days);
        create = create.subscription_data(data);
    }
    let session = create.send(client).await.unwrap();
    let completed = control(
        sim,
        &format!("checkout/sessions/{}/complete", session.id.as_str()),
        serde_json::json!({}),
    )
    .await;
    let sub = completed["subscription"].as_str().unwrap().to_string();
    (customer.id.as_str().to_string(), sub)
}
