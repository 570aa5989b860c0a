//! The envelope of a Stripe event: the few fields we store beside its raw
//! body, read from untrusted JSON. Depends only on `serde_json` and `chrono`
//! so the fuzz targets in `fuzz/` can compile this file on its own.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// What we keep of an event besides its raw body.
#[derive(Debug)]
pub struct Envelope {
    pub id: String,
    pub kind: String,
    pub api_version: Option<String>,
    pub created: DateTime<Utc>,
    pub livemode: bool,
    pub customer: Option<String>,
}

/// Reads the envelope from the raw JSON rather than through a typed event:
/// a payload of another API version must still be stored and handled.
pub fn envelope(body: &[u8]) -> Option<Envelope> {
    let v: Value = serde_json::from_slice(body).ok()?;
    if v.get("object")?.as_str()? != "event" {
        return None;
    }
    let id = token(v.get("id")?.as_str()?)?;
    if !id.starts_with("evt_") || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    let object = v.get("data")?.get("object")?;
    if !object.is_object() {
        return None;
    }
    let customer = match object.get("object").and_then(Value::as_str) {
        Some("customer") => object.get("id").and_then(Value::as_str),
        _ => object
            .get("customer")
            .and_then(|c| c.as_str().or_else(|| c.get("id")?.as_str())),
    };
    let customer = match customer {
        Some(c) => Some(token(c)?),
        None => None,
    };
    let api_version = match v.get("api_version").and_then(Value::as_str) {
        Some(a) => Some(token(a)?),
        None => None,
    };
    Some(Envelope {
        id: id.to_owned(),
        kind: token(v.get("type")?.as_str()?)?.to_owned(),
        api_version: api_version.map(str::to_owned),
        created: DateTime::from_timestamp(v.get("created")?.as_i64()?, 0)?,
        livemode: v.get("livemode").and_then(Value::as_bool).unwrap_or(false),
        customer: customer.map(str::to_owned),
    })
}

/// Stripe's ids, types and versions are short runs of visible ASCII. Anything
/// else (a NUL, which PostgreSQL cannot store in text, a control character, a
/// megabyte) is not from Stripe, and is refused rather than stored.
fn token(s: &str) -> Option<&str> {
    (!s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_graphic())).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::envelope;

    fn event(id: &str, kind: &str, customer: &str) -> Vec<u8> {
        serde_json::json!({
            "id": id, "object": "event", "type": kind, "created": 1_700_000_000,
            "api_version": "2025-09-30.clover",
            "data": { "object": { "object": "subscription", "customer": customer } }
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn only_stripe_shaped_ids_types_and_customers_pass() {
        let ok = envelope(&event("evt_1AbC", "customer.subscription.updated", "cus_9")).unwrap();
        assert_eq!(
            (ok.id.as_str(), ok.kind.as_str(), ok.customer.as_deref()),
            ("evt_1AbC", "customer.subscription.updated", Some("cus_9"))
        );
        for (id, kind, customer) in [
            ("evt_a\u{0}b", "invoice.paid", "cus_1"),
            ("evt_a b", "invoice.paid", "cus_1"),
            ("evt_é", "invoice.paid", "cus_1"),
            ("evt_1", "invoice\u{0}paid", "cus_1"),
            ("evt_1", "", "cus_1"),
            ("evt_1", "invoice.paid", "cus\u{0}1"),
            ("evt_1", "invoice.paid", "cus\n1"),
            ("ev_1", "invoice.paid", "cus_1"),
        ] {
            assert!(
                envelope(&event(id, kind, customer)).is_none(),
                "{id:?} {kind:?} {customer:?}"
            );
        }
        let long = format!("evt_{}", "a".repeat(252));
        assert!(envelope(&event(&long, "invoice.paid", "cus_1")).is_none());
    }
}
