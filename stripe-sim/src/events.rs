//! Events and their delivery: every event is serialised once (the bytes that are signed are
//! the bytes that are sent), queued per action, and POSTed to each endpoint that wants it with
//! a `Stripe-Signature` header; a delivery without a 2xx answer is retried with back-off.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::signature;
use crate::state::{Chaos, WebhookEndpoint};

/// An event as emitted: its envelope and the exact JSON text delivered.
#[derive(Debug)]
pub struct EventRecord {
    pub id: String,
    pub kind: String,
    pub envelope: Value,
    pub payload: String,
}

impl EventRecord {
    pub fn new(envelope: Value) -> Self {
        EventRecord {
            id: envelope["id"].as_str().unwrap_or_default().to_string(),
            kind: envelope["type"].as_str().unwrap_or_default().to_string(),
            payload: envelope.to_string(),
            envelope,
        }
    }
}

pub type Batch = Vec<(Arc<EventRecord>, Vec<WebhookEndpoint>)>;

/// Each message carries the chaos settings of the moment it was flushed: a batch is held,
/// duplicated or reordered as the settings were when its events were emitted, not when the
/// dispatcher gets to it.
pub enum Msg {
    Batch(Batch, Chaos),
    /// Deliver what `hold` kept back, under these settings.
    Release(Chaos),
}

/// Events emitted while the state is locked, sent to the dispatcher as one batch when the
/// action that produced them is over.
pub struct Outbox {
    pending: Batch,
    tx: mpsc::UnboundedSender<Msg>,
}

impl Outbox {
    pub fn new(tx: mpsc::UnboundedSender<Msg>) -> Self {
        Outbox {
            pending: Vec::new(),
            tx,
        }
    }

    pub fn push(&mut self, event: Arc<EventRecord>, endpoints: Vec<WebhookEndpoint>) {
        self.pending.push((event, endpoints));
    }

    /// Sends what was emitted since the last flush, with a snapshot of `chaos`.
    pub fn flush(&mut self, chaos: &Chaos) {
        if !self.pending.is_empty() {
            // The dispatcher only stops when the simulator does; nothing to do then.
            let _ = self
                .tx
                .send(Msg::Batch(std::mem::take(&mut self.pending), chaos.clone()));
        }
    }

    /// Flushes, then has the dispatcher deliver everything held so far under `chaos`.
    pub fn release(&mut self, chaos: &Chaos) {
        self.flush(chaos);
        let _ = self.tx.send(Msg::Release(chaos.clone()));
    }
}

/// How failed deliveries are retried. Stripe retries for three days; the simulator compresses
/// that into `max_attempts` tries `base_delay`, 2×, 4×… apart (capped at `max_delay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait after attempt number `attempt` (1-based) failed.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// One HTTP attempt to deliver one event to one endpoint.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Delivery {
    pub id: u64,
    pub event_id: String,
    pub event_type: String,
    pub endpoint_id: String,
    pub url: String,
    pub attempt: u32,
    /// The HTTP status answered, if any.
    pub status: Option<u16>,
    /// The transport error, if the request did not get an answer.
    pub error: Option<String>,
    pub succeeded: bool,
    /// Whether another attempt is scheduled after this failed one.
    pub will_retry: bool,
    /// When the delivery job began (after any `max_in_flight` wait, before `delay_ms`), in
    /// milliseconds since the Unix epoch. The same for every attempt of one job.
    pub scheduled_ms: i64,
    /// When this attempt's request was sent.
    pub started_ms: i64,
    /// When this attempt's answer (or error) came back.
    pub at_ms: i64,
    pub signature: String,
}

/// What the dispatcher needs from the simulator: the current chaos settings and endpoint
/// secrets, and a place to record deliveries.
pub trait DeliveryHost: Send + Sync + 'static {
    fn chaos(&self) -> Chaos;
    fn endpoint_secrets(&self, endpoint_id: &str) -> Option<Vec<String>>;
    fn record(&self, delivery: Delivery);
    fn next_delivery_id(&self) -> u64;
    /// The simulator was dropped: pending retries give up.
    fn is_stopped(&self) -> bool;
}

pub async fn dispatch<H: DeliveryHost>(
    host: Arc<H>,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    retry: RetryPolicy,
) {
    // Stripe does not follow redirects: a 3xx answer is a failed delivery.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("a plain HTTP client builds");
    let mut held: Batch = Vec::new();
    while let Some(msg) = rx.recv().await {
        let (mut batch, chaos) = match msg {
            Msg::Batch(batch, chaos) if chaos.hold => {
                held.extend(batch);
                continue;
            }
            Msg::Batch(batch, chaos) => (batch, chaos),
            Msg::Release(chaos) => (std::mem::take(&mut held), chaos),
        };
        if chaos.reorder || chaos.shuffle {
            // Take the batches already queued too, so that the disorder spans actions.
            while let Ok(more) = rx.try_recv() {
                match more {
                    Msg::Batch(more, c) if c.hold => held.extend(more),
                    Msg::Batch(more, _) => batch.extend(more),
                    Msg::Release(_) => batch.append(&mut held),
                }
            }
        }
        let mut jobs: Vec<(Arc<EventRecord>, WebhookEndpoint)> = batch
            .into_iter()
            .flat_map(|(event, endpoints)| endpoints.into_iter().map(move |e| (event.clone(), e)))
            .collect();
        if chaos.duplicate {
            let copies = jobs.clone();
            jobs.extend(copies);
        }
        if chaos.reorder {
            jobs.reverse();
        }
        if chaos.shuffle {
            shuffle(&mut jobs);
        }
        let limit = if chaos.max_in_flight == 0 {
            tokio::sync::Semaphore::MAX_PERMITS
        } else {
            chaos.max_in_flight
        };
        let permits = Arc::new(tokio::sync::Semaphore::new(limit));
        let mut concurrent = Vec::new();
        for (event, endpoint) in jobs {
            let job = deliver(
                host.clone(),
                client.clone(),
                event,
                endpoint,
                chaos.clone(),
                retry,
            );
            if chaos.concurrent {
                let permits = permits.clone();
                concurrent.push(tokio::spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    job.await;
                }));
            } else {
                job.await;
            }
        }
        for handle in concurrent {
            let _ = handle.await;
        }
    }
}

/// Fisher–Yates with the operating system's randomness (through UUID v4).
fn shuffle<T>(items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let r = uuid::Uuid::new_v4().as_u128();
        let j = (r % (i as u128 + 1)) as usize;
        items.swap(i, j);
    }
}

/// The first attempt runs inline (so deliveries keep their order); retries run in the
/// background so one failing endpoint does not hold the others up.
async fn deliver<H: DeliveryHost>(
    host: Arc<H>,
    client: reqwest::Client,
    event: Arc<EventRecord>,
    endpoint: WebhookEndpoint,
    chaos: Chaos,
    retry: RetryPolicy,
) {
    let scheduled_ms = chrono::Utc::now().timestamp_millis();
    if chaos.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(chaos.delay_ms)).await;
    }
    let first = Attempt {
        n: 1,
        scheduled_ms,
        retry,
    };
    if attempt(&*host, &client, &event, &endpoint, &chaos, first).await {
        return;
    }
    tokio::spawn(async move {
        for n in 2..=retry.max_attempts {
            tokio::time::sleep(retry.delay_after(n - 1)).await;
            if host.is_stopped() {
                return;
            }
            let chaos = host.chaos();
            let next = Attempt {
                n,
                scheduled_ms,
                retry,
            };
            if attempt(&*host, &client, &event, &endpoint, &chaos, next).await {
                return;
            }
        }
    });
}

struct Attempt {
    n: u32,
    scheduled_ms: i64,
    retry: RetryPolicy,
}

async fn attempt<H: DeliveryHost>(
    host: &H,
    client: &reqwest::Client,
    event: &EventRecord,
    endpoint: &WebhookEndpoint,
    chaos: &Chaos,
    Attempt {
        n,
        scheduled_ms,
        retry,
    }: Attempt,
) -> bool {
    let mut secrets = host
        .endpoint_secrets(&endpoint.id)
        .unwrap_or_else(|| endpoint.secrets.clone());
    if let Some(extra) = &chaos.extra_secret {
        if chaos.only_extra_secret {
            secrets.clear();
        }
        secrets.push(extra.clone());
    }
    let timestamp = chrono::Utc::now().timestamp();
    let header = signature::header(&event.payload, &secrets, timestamp);
    let started_ms = chrono::Utc::now().timestamp_millis();
    let result = client
        .post(&endpoint.url)
        .header("content-type", "application/json; charset=utf-8")
        .header(
            "user-agent",
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        )
        .header("stripe-signature", &header)
        .body(event.payload.clone())
        .send()
        .await;
    let (status, error) = match result {
        Ok(response) => (Some(response.status().as_u16()), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let succeeded = status.is_some_and(|s| (200..300).contains(&s));
    host.record(Delivery {
        id: host.next_delivery_id(),
        event_id: event.id.clone(),
        event_type: event.kind.clone(),
        endpoint_id: endpoint.id.clone(),
        url: endpoint.url.clone(),
        attempt: n,
        status,
        error,
        succeeded,
        will_retry: !succeeded && n < retry.max_attempts,
        scheduled_ms,
        started_ms,
        at_ms: chrono::Utc::now().timestamp_millis(),
        signature: header,
    });
    succeeded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_back_off_doubles_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        let delays: Vec<u128> = (1..=6).map(|n| p.delay_after(n).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn shuffling_keeps_every_item() {
        let mut v: Vec<u32> = (0..100).collect();
        shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_ne!(v, sorted, "a 1-in-100! chance of a false failure");
    }

    #[test]
    fn event_record_keeps_the_exact_payload_it_will_sign() {
        let r = EventRecord::new(serde_json::json!({"id": "evt_1", "type": "x.y"}));
        assert_eq!(r.id, "evt_1");
        assert_eq!(r.kind, "x.y");
        let back: Value = serde_json::from_str(&r.payload).unwrap();
        assert_eq!(back, r.envelope);
    }
}
