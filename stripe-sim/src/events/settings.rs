//! Where events go and how: the webhook endpoints registered with the simulator and the chaos
//! settings their deliveries follow.

use std::collections::BTreeMap;

use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    pub id: String,
    pub created: i64,
    pub url: String,
    pub enabled_events: Vec<String>,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// The active signing secrets; more than one during a rotation.
    pub secrets: Vec<String>,
    pub api_version: Option<String>,
}

impl WebhookEndpoint {
    pub fn wants(&self, event_type: &str) -> bool {
        self.enabled_events
            .iter()
            .any(|e| e == "*" || e == event_type)
    }
}

pub fn render_endpoint(e: &WebhookEndpoint) -> Value {
    json!({
        "id": e.id,
        "object": "webhook_endpoint",
        "api_version": e.api_version,
        "application": null,
        "created": e.created,
        "description": e.description,
        "enabled_events": e.enabled_events,
        "livemode": false,
        "metadata": e.metadata,
        "status": "enabled",
        "url": e.url,
    })
}

/// The endpoint as the response that creates it shows it: with its signing secret, which
/// Stripe shows only then.
pub fn render_new_endpoint(e: &WebhookEndpoint) -> Value {
    let mut body = render_endpoint(e);
    body["secret"] = json!(e.secrets[0]);
    body
}

/// Chaos settings for webhook delivery; all off by default.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize, PartialEq)]
#[serde(default)]
pub struct Chaos {
    /// Deliver every event twice.
    pub duplicate: bool,
    /// Deliver each batch of events (those produced by one action, and any queued behind
    /// them) in reverse order.
    pub reorder: bool,
    /// Deliver each batch in a random order.
    pub shuffle: bool,
    /// Wait this long before each delivery.
    pub delay_ms: u64,
    /// Deliver a batch all at once instead of one after the other.
    pub concurrent: bool,
    /// With `concurrent`, at most this many deliveries in flight (0: no limit).
    pub max_in_flight: usize,
    /// Keep events instead of delivering them, until `/_sim/deliveries/release` or until
    /// `hold` is turned off; they are then delivered as one batch, under the chaos settings of
    /// that moment. Every other setting applies as it was when the events were emitted.
    pub hold: bool,
    /// Sign additionally with this secret (a rotation in progress). With `only_extra_secret`,
    /// sign with it alone, as if the endpoint's secret had been rolled without telling anyone.
    pub extra_secret: Option<String>,
    pub only_extra_secret: bool,
}
