//! Fuzzes the webhook event decoder. The input is used twice: as a raw body,
//! and as the source of an event we build ourselves and expect read back.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use chrono::DateTime;
use entitle_fuzz::envelope::envelope;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

#[derive(Arbitrary, Debug)]
struct Event {
    id_suffix: String,
    kind: String,
    api_version: Option<String>,
    created: i64,
    livemode: Option<bool>,
    object: Object,
}

/// The shapes of `data.object` that carry (or do not carry) a customer.
#[derive(Arbitrary, Debug)]
enum Object {
    /// An object without a customer, such as a product.
    Other { kind: String },
    /// A subscription, invoice…: `"customer": "cus_…"`.
    CustomerId { kind: String, customer: String },
    /// The same with the customer expanded: `"customer": {"id": …}`.
    CustomerExpanded { kind: String, customer: String },
    /// The customer itself (`customer.*` events).
    Customer { id: String },
}

impl Object {
    /// The JSON of `data.object` and the customer `envelope` should find in it.
    fn to_json(&self) -> (Value, Option<&str>) {
        match self {
            // A customer object's own `customer` field is not read: its `id` is.
            Object::Other { kind }
            | Object::CustomerId { kind, .. }
            | Object::CustomerExpanded { kind, .. }
                if kind == "customer" =>
            {
                (json!({ "object": kind, "customer": "cus_ignored" }), None)
            }
            Object::Other { kind } => (json!({ "object": kind }), None),
            Object::CustomerId { kind, customer } => (
                json!({ "object": kind, "customer": customer }),
                Some(customer.as_str()),
            ),
            Object::CustomerExpanded { kind, customer } => (
                json!({ "object": kind, "customer": { "id": customer, "object": "customer" } }),
                Some(customer.as_str()),
            ),
            Object::Customer { id } => {
                (json!({ "object": "customer", "id": id }), Some(id.as_str()))
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Some(env) = envelope(data) {
        assert!(env.id.starts_with("evt_"), "{:?}", env.id);
        assert!(env.id.len() <= 255, "{} bytes", env.id.len());
        assert!(!env.kind.contains('\0') && !env.customer.unwrap_or_default().contains('\0'));
    }

    let Ok(event) = Event::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let id = format!("evt_{}", event.id_suffix);
    // chrono's range is about ±8.2e12 s; most i64s are outside it, so bring
    // them near it to test both sides of the edge.
    let created = event.created % 10_000_000_000_000;
    let (object, customer) = event.object.to_json();
    let mut body = json!({
        "id": id,
        "object": "event",
        "type": event.kind,
        "created": created,
        "data": { "object": object, "previous_attributes": {} },
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
    });
    if let Some(v) = &event.api_version {
        body["api_version"] = json!(v);
    }
    if let Some(live) = event.livemode {
        body["livemode"] = json!(live);
    }
    let raw = serde_json::to_vec(&body).unwrap();
    let got = envelope(&raw);

    let created = DateTime::from_timestamp(created, 0);
    // Stripe's ids, types and versions: 1..=255 bytes of visible ASCII; an
    // event id only letters, digits and `_` after `evt_`.
    let stripe_token =
        |s: &str| !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| (0x21..=0x7e).contains(&b));
    let id_ok = id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let refused = !id_ok
        || created.is_none()
        || !stripe_token(&event.kind)
        || customer.is_some_and(|c| !stripe_token(c))
        || event
            .api_version
            .as_deref()
            .is_some_and(|v| !stripe_token(v));
    if refused {
        assert!(got.is_none(), "{got:?} from {body}");
        return;
    }
    let env = got.unwrap_or_else(|| panic!("no envelope from {body}"));
    assert_eq!(env.id, id);
    assert_eq!(env.kind, event.kind);
    assert_eq!(env.api_version, event.api_version);
    assert_eq!(Some(env.created), created);
    assert_eq!(env.livemode, event.livemode.unwrap_or(false));
    assert_eq!(env.customer.as_deref(), customer);
});
