//! The JSON Stripe shows of each object, in API version `2026-09-30.endive`, and list pages.
//!
//! async-stripe's parser is strict: every field that is not optional in its structs must be
//! present. Where an object has many fields the simulator never varies (taxes, shipping,
//! payment method settings…) they stand in a table of their own beside the renderer and are
//! merged into what varies.

mod catalog;
mod checkout;
mod customer;
mod entitlements;
mod invoice;
pub(super) mod meter;
mod subscription;

use serde_json::{Value, json};

use super::State;
use super::params::{parse_u64, str_param};

impl State {
    /// A Stripe list page over `ids` (newest first), honouring `limit` and `starting_after`.
    pub fn page(
        &self,
        q: &Value,
        ids: Vec<String>,
        url: &str,
        render: impl Fn(&State, &str) -> Value,
    ) -> Value {
        let limit = q
            .get("limit")
            .and_then(parse_u64)
            .unwrap_or(10)
            .clamp(1, 100) as usize;
        let start = match str_param(q, "starting_after") {
            Some(after) => ids.iter().position(|i| *i == after).map_or(0, |p| p + 1),
            None => 0,
        };
        let window: Vec<&String> = ids.iter().skip(start).take(limit).collect();
        let has_more = start + window.len() < ids.len();
        json!({
            "object": "list",
            "data": window.iter().map(|id| render(self, id)).collect::<Vec<_>>(),
            "has_more": has_more,
            "url": url,
        })
    }
}

/// `varying` with the keys of `fixed` added.
fn merged(mut varying: Value, fixed: Value) -> Value {
    if let (Value::Object(object), Value::Object(fixed)) = (&mut varying, fixed) {
        object.extend(fixed);
    }
    varying
}

/// A feature's display name from its lookup key: `api_access` → `Api access`.
fn feature_name(key: &str) -> String {
    let mut name = key.replace('_', " ");
    if let Some(first) = name.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    name
}
