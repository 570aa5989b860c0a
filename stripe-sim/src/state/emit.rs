//! Turning state changes into events: the envelope Stripe sends, `previous_attributes` as the
//! difference of two renderings, and handing the events to the dispatcher (with the chaos
//! settings of the moment) when an action is over.

use serde_json::{Map, Value, json};

use super::{API_VERSION, Cause, State, Subscription, new_id};
use crate::error::{ApiError, ApiResult};
use crate::events::{Chaos, EventRecord, WebhookEndpoint};

/// The event every change of a subscription sends.
pub(crate) const SUBSCRIPTION_UPDATED: &[&str] = &["customer.subscription.updated"];

impl State {
    pub(crate) fn emit(
        &mut self,
        kind: &str,
        object: Value,
        previous: Option<Value>,
        cause: &Cause,
        at: i64,
    ) {
        let endpoints: Vec<WebhookEndpoint> = self
            .endpoints
            .iter()
            .filter(|e| e.wants(kind))
            .cloned()
            .collect();
        let mut data = json!({ "object": object });
        if let Some(previous) = previous {
            data["previous_attributes"] = previous;
        }
        let envelope = json!({
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": at,
            "data": data,
            "livemode": false,
            "pending_webhooks": endpoints.len(),
            "request": {"id": cause.request_id, "idempotency_key": cause.idempotency_key},
            "type": kind,
        });
        let record = std::sync::Arc::new(EventRecord::new(envelope));
        self.events.push(record.clone());
        self.outbox.push(record, endpoints);
    }

    /// If `after` differs from `before` (two renderings of one object), emits each of `kinds`
    /// with `after` and, as `previous_attributes`, the changed keys with their old values.
    /// Returns whether anything changed.
    pub(crate) fn emit_if_changed(
        &mut self,
        kinds: &[&str],
        before: &Value,
        after: Value,
        cause: &Cause,
        at: i64,
    ) -> bool {
        let previous = diff(before, &after);
        if previous.is_empty() {
            return false;
        }
        let previous = Value::Object(previous);
        for kind in kinds {
            self.emit(kind, after.clone(), Some(previous.clone()), cause, at);
        }
        true
    }

    /// Applies `change` to the subscription and reports it as `kinds` (see
    /// [`State::emit_if_changed`]), returning what `change` returned.
    pub(crate) fn change_subscription<R>(
        &mut self,
        id: &str,
        kinds: &[&str],
        cause: &Cause,
        at: i64,
        change: impl FnOnce(&mut Subscription) -> R,
    ) -> R {
        let before = self.render_subscription(id);
        let result = change(self.subscriptions.get_mut(id).expect("exists"));
        let after = self.render_subscription(id);
        self.emit_if_changed(kinds, &before, after, cause, at);
        result
    }

    pub fn render_event(&self, id: &str) -> ApiResult<Value> {
        self.events
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.envelope.clone())
            .ok_or_else(|| ApiError::missing("event", id, Some("id")))
    }

    /// Hands what was emitted to the dispatcher, with the chaos settings of this moment.
    pub fn flush_outbox(&mut self) {
        self.outbox.flush(&self.chaos);
    }

    /// Delivers the events kept back while `hold` was on.
    pub fn release_held(&mut self) {
        self.outbox.release(&self.chaos);
    }

    /// Replaces the chaos settings. Events emitted before now keep the settings they were
    /// emitted under; turning `hold` off releases what was held.
    pub fn set_chaos(&mut self, chaos: Chaos) {
        self.flush_outbox();
        let released = self.chaos.hold && !chaos.hold;
        self.chaos = chaos;
        if released {
            self.release_held();
        }
    }
}

/// The keys whose values differ, with their values from `before`: Stripe's
/// `previous_attributes`. Nested objects hold only their changed keys (`items: {data: [...]}`,
/// `cancellation_details: {reason: ...}`); arrays, which cannot be given in part, are whole.
pub fn diff(before: &Value, after: &Value) -> Map<String, Value> {
    let (Some(b), Some(a)) = (before.as_object(), after.as_object()) else {
        return Map::new();
    };
    b.iter()
        .filter_map(|(k, v)| match (v, a.get(k)) {
            (_, Some(new)) if new == v => None,
            (Value::Object(_), Some(new @ Value::Object(_))) => {
                Some((k.clone(), Value::Object(diff(v, new))))
            }
            _ => Some((k.clone(), v.clone())),
        })
        .chain(
            a.keys()
                .filter(|k| !b.contains_key(*k))
                .map(|k| (k.clone(), Value::Null)),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_attributes_hold_only_changed_keys_with_old_values() {
        let before = json!({"a": 1, "b": {"c": 2}, "d": 3});
        let after = json!({"a": 1, "b": {"c": 5}, "d": 4});
        let d = diff(&before, &after);
        assert_eq!(Value::Object(d), json!({"b": {"c": 2}, "d": 3}));
        // Nested objects keep only their changed keys; a new key was null; arrays are whole.
        let before = json!({"items": {"object": "list", "data": [{"price": "a"}], "url": "u"},
                            "metadata": {"k": "1", "same": "s"}});
        let after = json!({"items": {"object": "list", "data": [{"price": "b"}], "url": "u"},
                           "metadata": {"k": "2", "same": "s", "new": "n"}});
        assert_eq!(
            Value::Object(diff(&before, &after)),
            json!({"items": {"data": [{"price": "a"}]}, "metadata": {"k": "1", "new": null}})
        );
    }
}
