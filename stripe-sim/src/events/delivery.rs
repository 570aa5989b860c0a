//! The dispatcher: delivers each batch of events to the endpoints that want them, in order
//! or in the disorder chaos asks for, signs every attempt, records it, and retries a delivery
//! without a 2xx answer in the background.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;

use super::{Batch, Chaos, EventRecord, Msg, WebhookEndpoint};
use crate::signature;

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
        let Some((batch, chaos)) = next_batch(msg, &mut rx, &mut held) else {
            continue;
        };
        let jobs = jobs(batch, &chaos);
        run(&host, &client, jobs, &chaos, retry).await;
    }
}

/// What `msg` asks to deliver now, under which settings; `None` when it is held.
fn next_batch(
    msg: Msg,
    rx: &mut mpsc::UnboundedReceiver<Msg>,
    held: &mut Batch,
) -> Option<(Batch, Chaos)> {
    let (mut batch, chaos) = match msg {
        Msg::Batch(batch, chaos) if chaos.hold => {
            held.extend(batch);
            return None;
        }
        Msg::Batch(batch, chaos) => (batch, chaos),
        Msg::Release(chaos) => (std::mem::take(held), chaos),
    };
    if chaos.reorder || chaos.shuffle {
        // Take the batches already queued too, so that the disorder spans actions.
        while let Ok(more) = rx.try_recv() {
            match more {
                Msg::Batch(more, c) if c.hold => held.extend(more),
                Msg::Batch(more, _) => batch.extend(more),
                Msg::Release(_) => batch.append(held),
            }
        }
    }
    Some((batch, chaos))
}

type Job = (Arc<EventRecord>, WebhookEndpoint);

/// One job per event and endpoint, duplicated, reversed or shuffled as `chaos` says.
fn jobs(batch: Batch, chaos: &Chaos) -> Vec<Job> {
    let mut jobs: Vec<Job> = batch
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
    jobs
}

/// Delivers the jobs one after the other, or with `concurrent` all at once (at most
/// `max_in_flight` at a time), and returns when every first attempt is over.
async fn run<H: DeliveryHost>(
    host: &Arc<H>,
    client: &reqwest::Client,
    jobs: Vec<Job>,
    chaos: &Chaos,
    retry: RetryPolicy,
) {
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
}
