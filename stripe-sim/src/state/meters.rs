//! Billing meters (`/v1/billing/meters`): what usage events of one `event_name` add up to,
//! per customer. A meter's settings are fixed once it is made, but for its display name; a
//! deactivated meter takes no more events.

use serde_json::Value;

use super::params::{choice_param, str_param};
use super::{Aggregation, Meter, State, TimeWindow, new_id};
use crate::error::{ApiError, ApiResult};

/// The longest `event_name` (and meter event `identifier`) Stripe accepts.
pub(crate) const MAX_NAME: usize = 100;

impl State {
    /// `POST /v1/billing/meters`.
    pub fn create_meter(&mut self, p: &Value) -> ApiResult<Value> {
        let display_name =
            str_param(p, "display_name").ok_or_else(|| ApiError::required("display_name"))?;
        let event_name =
            str_param(p, "event_name").ok_or_else(|| ApiError::required("event_name"))?;
        if event_name.chars().count() > MAX_NAME {
            return Err(ApiError::invalid(
                format!("Invalid event_name: must be at most {MAX_NAME} characters"),
                "event_name",
                "parameter_invalid_string",
            ));
        }
        if self.meters.values().any(|m| m.event_name == event_name) {
            return Err(ApiError::bad_request(format!(
                "A meter with event_name '{event_name}' already exists; an event name can \
                 only be used by one meter."
            ))
            .with_param("event_name"));
        }
        let aggregation = aggregation_param(p)?;
        let customer_key = payload_key_param(p, "customer_mapping", "stripe_customer_id")?;
        if let Some(mapping) = p.get("customer_mapping") {
            let param = "customer_mapping[type]";
            choice_param(mapping.get("type"), param, &["by_id"])?
                .ok_or_else(|| ApiError::required(param))?;
        }
        let value_key = payload_key_param(p, "value_settings", "value")?;
        let windows = ["hour", "day"];
        let event_time_window =
            choice_param(p.get("event_time_window"), "event_time_window", &windows)?
                .and_then(TimeWindow::parse);
        let now = self.now();
        let seq = self.next_seq();
        let meter = Meter {
            id: format!("mtr_test_{}", &new_id("x")[2..]),
            seq,
            created: now,
            updated: now,
            display_name,
            event_name,
            aggregation,
            customer_key,
            value_key,
            event_time_window,
            active: true,
            deactivated_at: None,
        };
        let id = meter.id.clone();
        self.meters.insert(id.clone(), meter);
        Ok(self.render_meter(&id))
    }

    pub fn meter(&self, id: &str) -> ApiResult<&Meter> {
        self.meters
            .get(id)
            .ok_or_else(|| ApiError::missing("billing.meter", id, Some("id")))
    }

    /// `GET /v1/billing/meters`: newest first, `status=active|inactive`.
    pub fn list_meters(&self, q: &Value) -> ApiResult<Value> {
        let status = choice_param(q.get("status"), "status", &["active", "inactive"])?;
        let mut meters: Vec<&Meter> = self
            .meters
            .values()
            .filter(|m| status.is_none_or(|s| (s == "active") == m.active))
            .collect();
        meters.sort_by_key(|m| std::cmp::Reverse(m.seq));
        let ids = meters.iter().map(|m| m.id.clone()).collect();
        Ok(self.page(q, ids, "/v1/billing/meters", |st, id| st.render_meter(id)))
    }

    /// `POST /v1/billing/meters/{id}`: only the display name can change.
    pub fn update_meter(&mut self, id: &str, p: &Value) -> ApiResult<Value> {
        self.meter(id)?;
        let now = self.now();
        let m = self.meters.get_mut(id).expect("checked");
        if let Some(name) = str_param(p, "display_name") {
            m.display_name = name;
            m.updated = now;
        }
        Ok(self.render_meter(id))
    }

    /// `POST /v1/billing/meters/{id}/deactivate` and `…/reactivate`; either is a no-op on a
    /// meter already in that state.
    pub fn set_meter_active(&mut self, id: &str, active: bool) -> ApiResult<Value> {
        self.meter(id)?;
        let now = self.now();
        let m = self.meters.get_mut(id).expect("checked");
        if m.active != active {
            m.active = active;
            m.deactivated_at = (!active).then_some(now);
            m.updated = now;
        }
        Ok(self.render_meter(id))
    }

    /// The active meter that counts events named `event_name`.
    pub(crate) fn active_meter(&self, event_name: &str) -> Option<&Meter> {
        self.meters
            .values()
            .find(|m| m.active && m.event_name == event_name)
    }
}

/// `default_aggregation[formula]`: required, `sum`, `count` or `last`.
fn aggregation_param(p: &Value) -> ApiResult<Aggregation> {
    let param = "default_aggregation[formula]";
    let formula = p.get("default_aggregation").and_then(|d| d.get("formula"));
    choice_param(formula, param, &["count", "last", "sum"])?
        .and_then(Aggregation::parse)
        .ok_or_else(|| ApiError::required(param))
}

/// `{object}[event_payload_key]`, `default` when the object is not given.
fn payload_key_param(p: &Value, object: &str, default: &str) -> ApiResult<String> {
    match p.get(object) {
        None => Ok(default.to_string()),
        Some(settings) => str_param(settings, "event_payload_key")
            .ok_or_else(|| ApiError::required(&format!("{object}[event_payload_key]"))),
    }
}
