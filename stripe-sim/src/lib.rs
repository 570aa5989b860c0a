//! stripe-sim: a local Stripe emulator speaking the part of the Stripe HTTP API that Entitle
//! uses, with Stripe's wire formats, signed webhooks, hosted checkout and portal pages, a
//! simulated clock and a control API under `/_sim`.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! let sim = stripe_sim::Sim::start(stripe_sim::SimConfig::default()).await?;
//! let secret = sim.add_webhook_endpoint("http://127.0.0.1:3000/webhooks/stripe", None);
//! println!("point STRIPE_API_BASE at {} (webhook secret {secret})", sim.base_url());
//! # Ok(()) }
//! ```

#![recursion_limit = "256"]

pub mod api;
pub mod catalog;
pub mod control;
pub mod error;
pub mod events;
pub mod form;
pub mod pages;
pub mod signature;
pub mod state;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use serde_json::Value;
use tokio::sync::mpsc;

pub use catalog::Catalog;
pub use events::Chaos;
pub use events::delivery::{Delivery, RetryPolicy};
pub use state::{API_VERSION, FinalFailure, MeterEvent, State, Status};

/// A webhook endpoint registered at start.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    pub url: String,
    /// The `whsec_…` signing secret; a random one when `None`.
    pub secret: Option<String>,
    /// Event types to send; all of them when empty.
    pub events: Vec<String>,
}

impl std::str::FromStr for WebhookConfig {
    type Err = String;

    /// `URL` or `URL=whsec_…` (the flag and environment form).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (url, secret) = match s.split_once("=whsec_") {
            Some((url, rest)) => (url.to_string(), Some(format!("whsec_{rest}"))),
            None => (s.to_string(), None),
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("webhook URL must be http(s): {url}"));
        }
        Ok(WebhookConfig {
            url,
            secret,
            events: Vec::new(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub catalog: Catalog,
    /// Where to listen; only loopback addresses make sense. Port 0 picks a free port.
    pub addr: SocketAddr,
    /// The URL the hosted pages are reached at, if not `http://{addr}`.
    pub public_url: Option<String>,
    pub webhooks: Vec<WebhookConfig>,
    pub retry: RetryPolicy,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            catalog: Catalog::default(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_url: None,
            webhooks: Vec::new(),
            retry: RetryPolicy::default(),
        }
    }
}

/// Stored outcome of a request made with an `Idempotency-Key`.
#[derive(Debug, Clone)]
pub(crate) enum Idempotent {
    InFlight,
    Done {
        endpoint: String,
        params: Value,
        status: u16,
        body: axum::body::Bytes,
    },
}

/// Faults injected into the Stripe API itself (`/_sim/api/chaos`): Stripe being down or slow.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, PartialEq)]
#[serde(default)]
pub struct ApiChaos {
    /// The next this-many `/v1` requests fail with `fail_status` (default 500).
    pub fail_next: u32,
    pub fail_status: Option<u16>,
    /// Every `/v1` request waits this long before it is handled.
    pub latency_ms: u64,
    /// Only requests whose path starts with this (say `/v1/billing/meter_events`) are failed,
    /// counted and slowed; every `/v1` request when `None`.
    pub path_prefix: Option<String>,
}

impl ApiChaos {
    /// Whether these faults apply to a request for `path`.
    pub fn applies_to(&self, path: &str) -> bool {
        self.path_prefix
            .as_deref()
            .is_none_or(|prefix| path.starts_with(prefix))
    }
}

/// Everything the handlers share.
pub struct Shared {
    state: Mutex<State>,
    pub(crate) api_chaos: Mutex<ApiChaos>,
    deliveries: Mutex<Vec<Delivery>>,
    delivery_seq: AtomicU64,
    stopped: std::sync::atomic::AtomicBool,
    /// Keyed by (API key, `Idempotency-Key`): keys are scoped to the account's secret key.
    pub(crate) idempotency: Mutex<HashMap<(String, String), Idempotent>>,
}

impl Shared {
    /// Runs `f` on the state, then hands the events it emitted to the dispatcher as one batch.
    ///
    /// First the state catches up with the simulated clock: whatever fell due since the last
    /// access (a renewal, a trial end, a session expiry) is applied, so reads never show a
    /// stale state.
    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut st = self.lock();
        st.catch_up();
        let r = f(&mut st);
        st.flush_outbox();
        r
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl events::delivery::DeliveryHost for Shared {
    fn chaos(&self) -> Chaos {
        self.lock().chaos.clone()
    }

    fn endpoint_secrets(&self, endpoint_id: &str) -> Option<Vec<String>> {
        self.lock()
            .endpoints
            .iter()
            .find(|e| e.id == endpoint_id)
            .map(|e| e.secrets.clone())
    }

    fn record(&self, delivery: Delivery) {
        self.deliveries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(delivery);
    }

    fn next_delivery_id(&self) -> u64 {
        self.delivery_seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }
}

pub type App = Arc<Shared>;

/// A bare simulator state with no server and no dispatcher, for unit tests of the handlers.
#[cfg(test)]
pub(crate) fn test_app() -> App {
    let (tx, _rx) = mpsc::unbounded_channel();
    Arc::new(Shared {
        state: Mutex::new(State::new(
            Catalog::default(),
            "http://127.0.0.1".into(),
            events::Outbox::new(tx),
        )),
        api_chaos: Mutex::new(ApiChaos::default()),
        deliveries: Mutex::new(Vec::new()),
        delivery_seq: AtomicU64::new(0),
        stopped: std::sync::atomic::AtomicBool::new(false),
        idempotency: Mutex::new(HashMap::new()),
    })
}

/// The whole HTTP surface: the Stripe API under `/v1`, the control API under `/_sim`, and the
/// hosted pages.
pub fn router(app: App) -> Router {
    Router::new()
        .merge(api::router(app.clone()))
        .merge(control::router(app.clone()))
        .merge(pages::router(app))
}

/// A running simulator. Dropping it stops the server and the webhook dispatcher.
pub struct Sim {
    addr: SocketAddr,
    public_url: String,
    shared: App,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Sim {
    /// Binds `config.addr` (port 0 picks one), registers the configured webhook endpoints and
    /// starts serving.
    pub async fn start(config: SimConfig) -> anyhow::Result<Sim> {
        anyhow::ensure!(
            config.addr.ip().is_loopback(),
            "stripe-sim listens on loopback addresses only, not {}",
            config.addr.ip()
        );
        let listener = tokio::net::TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_string();
        let (tx, rx) = mpsc::unbounded_channel();
        let mut state = State::new(
            config.catalog.clone(),
            public_url.clone(),
            events::Outbox::new(tx),
        );
        for hook in &config.webhooks {
            let events = if hook.events.is_empty() {
                vec!["*".to_string()]
            } else {
                hook.events.clone()
            };
            state.add_endpoint(hook.url.clone(), hook.secret.clone(), events);
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            api_chaos: Mutex::new(ApiChaos::default()),
            deliveries: Mutex::new(Vec::new()),
            delivery_seq: AtomicU64::new(0),
            stopped: std::sync::atomic::AtomicBool::new(false),
            idempotency: Mutex::new(HashMap::new()),
        });
        let dispatcher = tokio::spawn(events::delivery::dispatch(shared.clone(), rx, config.retry));
        let app = router(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "stripe-sim server stopped");
            }
        });
        tracing::info!(%addr, "stripe-sim listening");
        Ok(Sim {
            addr,
            public_url,
            shared,
            tasks: vec![dispatcher, server],
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: the API base for a Stripe client (async-stripe's
    /// `ClientBuilder::url`, Entitle's `STRIPE_API_BASE`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where hosted pages are linked from (the same as `base_url` unless configured).
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    pub fn shared(&self) -> &App {
        &self.shared
    }

    /// Registers an endpoint for every event type and returns its signing secret.
    pub fn add_webhook_endpoint(&self, url: &str, secret: Option<&str>) -> String {
        self.shared.with(|st| {
            st.add_endpoint(
                url.to_string(),
                secret.map(str::to_string),
                vec!["*".into()],
            )
            .secrets[0]
                .clone()
        })
    }

    /// Every delivery attempt so far, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.deliveries()
    }

    /// Every event emitted so far, oldest first, as delivered.
    pub fn events(&self) -> Vec<Value> {
        self.shared
            .with(|st| st.events.iter().map(|e| e.envelope.clone()).collect())
    }

    /// Moves the simulated clock forward, applying renewals, trial ends and retries. Fails
    /// (having applied what it could, with the clock at the last thing applied) if the target
    /// is past the year 9999 or more than `state::MAX_STEPS` things fall due on the way.
    pub fn advance(&self, by: std::time::Duration) -> Result<i64, error::ApiError> {
        self.shared.with(|st| {
            let target = i64::try_from(by.as_secs())
                .ok()
                .and_then(|s| st.now().checked_add(s))
                .filter(|t| *t <= state::MAX_TIME)
                .ok_or_else(|| error::ApiError::bad_request("The target time is too far."))?;
            st.advance_to(target)?;
            Ok(st.now())
        })
    }

    /// Replaces the chaos settings; turning `hold` off releases the held events.
    pub fn set_chaos(&self, chaos: Chaos) {
        self.shared.with(|st| st.set_chaos(chaos));
    }

    pub fn fail_next_payments(&self, count: u32) {
        self.shared.with(|st| st.fail_next_payments = count);
    }

    /// Makes the Stripe API itself fail or slow down.
    pub fn set_api_chaos(&self, chaos: ApiChaos) {
        *self
            .shared
            .api_chaos
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = chaos;
    }

    /// Makes a `sum` meter for `event_name` (display name the same, default payload keys
    /// `stripe_customer_id` and `value`) and returns its id.
    pub fn create_meter(&self, event_name: &str) -> Result<String, error::ApiError> {
        let params = serde_json::json!({
            "display_name": event_name,
            "event_name": event_name,
            "default_aggregation": {"formula": "sum"},
        });
        self.shared.with(|st| {
            let meter = st.create_meter(&params)?;
            Ok(meter["id"].as_str().unwrap_or_default().to_string())
        })
    }

    /// Every meter event accepted so far, oldest first: what was billed.
    pub fn meter_events(&self) -> Vec<MeterEvent> {
        self.shared.with(|st| st.meter_events.clone())
    }

    /// Delivers the events kept back while `Chaos::hold` was on.
    pub fn release_held(&self) {
        self.shared.with(|st| st.release_held());
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Relaxed);
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WebhookConfig;

    #[test]
    fn a_webhook_flag_is_a_url_with_an_optional_secret() {
        let with: WebhookConfig = "http://127.0.0.1:3000/webhooks/stripe=whsec_abc=1"
            .parse()
            .unwrap();
        assert_eq!(with.url, "http://127.0.0.1:3000/webhooks/stripe");
        assert_eq!(with.secret.as_deref(), Some("whsec_abc=1"));
        let without: WebhookConfig = "http://127.0.0.1:3000/hook?a=b".parse().unwrap();
        assert_eq!(without.url, "http://127.0.0.1:3000/hook?a=b");
        assert_eq!(without.secret, None);
        assert!("ftp://x".parse::<WebhookConfig>().is_err());
    }
}
