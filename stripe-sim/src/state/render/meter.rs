use serde_json::{Value, json};

use crate::state::{MeterEvent, State};

impl State {
    pub fn render_meter(&self, id: &str) -> Value {
        let m = &self.meters[id];
        json!({
            "id": m.id,
            "object": "billing.meter",
            "created": m.created,
            "customer_mapping": {"event_payload_key": m.customer_key, "type": "by_id"},
            "default_aggregation": {"formula": m.aggregation.as_str()},
            "display_name": m.display_name,
            "event_name": m.event_name,
            "event_time_window": m.event_time_window.map(|w| w.as_str()),
            "livemode": false,
            "status": if m.active { "active" } else { "inactive" },
            "status_transitions": {"deactivated_at": m.deactivated_at},
            "updated": m.updated,
            "value_settings": {"event_payload_key": m.value_key},
        })
    }
}

pub fn render_meter_event(e: &MeterEvent) -> Value {
    json!({
        "object": "billing.meter_event",
        "created": e.created,
        "event_name": e.event_name,
        "identifier": e.identifier,
        "livemode": false,
        "payload": e.payload,
        "timestamp": e.timestamp,
    })
}

/// One `billing.meter_event_summary`: `value` aggregated over `[start, end)`.
pub fn render_summary(meter: &str, customer: &str, start: i64, end: i64, value: f64) -> Value {
    json!({
        "id": summary_id(meter, customer, start, end),
        "object": "billing.meter_event_summary",
        "aggregated_value": value,
        "end_time": end,
        "livemode": false,
        "meter": meter,
        "start_time": start,
    })
}

/// A summary's id: the same for the same meter, customer and window, so pages can be
/// walked with `starting_after`.
pub fn summary_id(meter: &str, customer: &str, start: i64, end: i64) -> String {
    let meter = meter.trim_start_matches("mtr_test_");
    let customer = customer.trim_start_matches("cus_");
    format!("mtrusg_test_{meter}{customer}{start:x}{end:x}")
}
