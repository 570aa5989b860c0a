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
    let id = v.get("id")?.as_str()?;
    if !id.starts_with("evt_") || id.len() > 255 {
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
    Some(Envelope {
        id: id.to_owned(),
        kind: v.get("type")?.as_str()?.to_owned(),
        api_version: v
            .get("api_version")
            .and_then(Value::as_str)
            .map(str::to_owned),
        created: DateTime::from_timestamp(v.get("created")?.as_i64()?, 0)?,
        livemode: v.get("livemode").and_then(Value::as_bool).unwrap_or(false),
        customer: customer.map(str::to_owned),
    })
}
