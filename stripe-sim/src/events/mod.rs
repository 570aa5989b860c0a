//! Events and their delivery: every event is serialised once (the bytes that are signed are
//! the bytes that are sent), queued per action, and POSTed to each endpoint that wants it with
//! a `Stripe-Signature` header; a delivery without a 2xx answer is retried with back-off.
//!
//! `settings` holds where events go (webhook endpoints) and how (chaos); `delivery` is the
//! dispatcher that sends them. The state only ever hands events over through an [`Outbox`].

pub mod delivery;
pub mod settings;

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;

pub use settings::{Chaos, WebhookEndpoint, render_endpoint, render_new_endpoint};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_record_keeps_the_exact_payload_it_will_sign() {
        let r = EventRecord::new(serde_json::json!({"id": "evt_1", "type": "x.y"}));
        assert_eq!(r.id, "evt_1");
        assert_eq!(r.kind, "x.y");
        let back: Value = serde_json::from_str(&r.payload).unwrap();
        assert_eq!(back, r.envelope);
    }
}
