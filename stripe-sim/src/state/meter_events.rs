//! Meter events (`POST /v1/billing/meter_events`) and what they add up to
//! (`GET /v1/billing/meters/{id}/event_summaries`).
//!
//! An event names its meter by `event_name` and its customer and value by the meter's payload
//! keys. An `identifier` seen in the last 24 hours of simulated time is refused, so a retried
//! event is never counted twice; after 24 hours it may be used again, as Stripe only promises
//! uniqueness "within a rolling period of at least 24 hours".

use std::collections::BTreeMap;

use serde_json::Value;

use super::meters::MAX_NAME;
use super::params::{choice_param, int_param, parse_i64, str_param};
use super::render::meter::{render_meter_event, render_summary, summary_id};
use super::{Aggregation, DAY, Meter, MeterEvent, State, TimeWindow};
use crate::error::{ApiError, ApiResult};

/// How far back an event's `timestamp` may be: 35 days.
const MAX_AGE: i64 = 35 * DAY;
/// How far ahead: 5 minutes (clock drift).
const MAX_AHEAD: i64 = 300;
/// How long an identifier is remembered.
const DEDUPLICATION: i64 = DAY;

impl State {
    /// `POST /v1/billing/meter_events`.
    pub fn create_meter_event(&mut self, p: &Value) -> ApiResult<Value> {
        let event_name =
            str_param(p, "event_name").ok_or_else(|| ApiError::required("event_name"))?;
        let payload = payload_param(p)?;
        let identifier = identifier_param(p)?;
        let now = self.now();
        let timestamp = self.timestamp_param(p, now)?;
        let meter = self.active_meter(&event_name).cloned().ok_or_else(|| {
            ApiError::bad_request(format!(
                "No active meter was found for event_name '{event_name}'."
            ))
            .with_param("event_name")
        })?;
        let customer = self.event_customer(&meter, &payload)?;
        let value = event_value(&meter, &payload)?;
        if self
            .meter_identifiers
            .get(&identifier)
            .is_some_and(|seen| now - seen < DEDUPLICATION)
        {
            return Err(ApiError::bad_request(format!(
                "An event already exists with identifier {identifier}"
            )));
        }
        self.meter_identifiers.insert(identifier.clone(), now);
        let event = MeterEvent {
            identifier,
            event_name,
            meter: meter.id,
            customer,
            value,
            timestamp,
            created: now,
            payload,
        };
        let body = render_meter_event(&event);
        self.meter_events.push(event);
        Ok(body)
    }

    /// `timestamp`, by default now: at most 35 days back and 5 minutes ahead.
    fn timestamp_param(&self, p: &Value, now: i64) -> ApiResult<i64> {
        let Some(t) = int_param(p, "timestamp")? else {
            return Ok(now);
        };
        if t < now - MAX_AGE {
            return Err(ApiError::bad_request(format!(
                "The event timestamp cannot be more than 35 days in past. Expected a timestamp \
                 greater than or equal to {}.",
                now - MAX_AGE
            ))
            .with_param("timestamp"));
        }
        if t > now + MAX_AHEAD {
            return Err(ApiError::bad_request(format!(
                "The event timestamp cannot be more than 5 minutes in the future. Expected a \
                 timestamp less than or equal to {}.",
                now + MAX_AHEAD
            ))
            .with_param("timestamp"));
        }
        Ok(t)
    }

    /// The customer the meter's customer key names: one that exists and is not deleted.
    fn event_customer(
        &self,
        meter: &Meter,
        payload: &BTreeMap<String, String>,
    ) -> ApiResult<String> {
        let param = format!("payload[{}]", meter.customer_key);
        let customer = payload
            .get(&meter.customer_key)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ApiError::required(&param))?;
        // A parameter naming a missing object is a 400 `resource_missing` at Stripe.
        let mut missing = ApiError::missing("customer", customer, Some(&param));
        missing.status = axum::http::StatusCode::BAD_REQUEST;
        self.live_customer(customer, &param).map_err(|_| missing)?;
        Ok(customer.clone())
    }

    /// `GET /v1/billing/meters/{id}/event_summaries`: the meter's events for `customer` in
    /// `[start_time, end_time)`, aggregated once or per `value_grouping_window` (newest window
    /// first, windows without events left out).
    pub fn list_meter_event_summaries(&self, id: &str, q: &Value) -> ApiResult<Value> {
        let meter = self.meter(id)?;
        let customer = str_param(q, "customer").ok_or_else(|| ApiError::required("customer"))?;
        self.customer(&customer)
            .map_err(|_| ApiError::missing("customer", &customer, Some("customer")))?;
        let (start, end, window) = summary_range(q)?;
        let events: Vec<&MeterEvent> = self
            .meter_events
            .iter()
            .filter(|e| e.meter == meter.id && e.customer == customer)
            .filter(|e| start <= e.timestamp && e.timestamp < end)
            .collect();
        let windows = match window {
            None => vec![(start, end, aggregate(meter, events))],
            Some(w) => grouped(meter, events, start, end, w.seconds()),
        };
        let summaries: BTreeMap<String, Value> = windows
            .iter()
            .map(|(s, e, v)| {
                let id = summary_id(&meter.id, &customer, *s, *e);
                (id, render_summary(&meter.id, &customer, *s, *e, *v))
            })
            .collect();
        let ids = windows
            .iter()
            .map(|(s, e, _)| summary_id(&meter.id, &customer, *s, *e))
            .collect();
        let url = format!("/v1/billing/meters/{id}/event_summaries");
        Ok(self.page(q, ids, &url, |_, id| summaries[id].clone()))
    }
}

/// `payload[…]`: required, an object of strings.
fn payload_param(p: &Value) -> ApiResult<BTreeMap<String, String>> {
    match p.get("payload") {
        Some(Value::Object(m)) if !m.is_empty() => Ok(m
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect()),
        _ => Err(ApiError::required("payload")),
    }
}

/// `identifier`, at most 100 characters; one is made up when it is not given.
fn identifier_param(p: &Value) -> ApiResult<String> {
    match str_param(p, "identifier") {
        Some(id) if id.chars().count() > MAX_NAME => Err(ApiError::invalid(
            format!("Invalid identifier: must be at most {MAX_NAME} characters"),
            "identifier",
            "parameter_invalid_string",
        )),
        Some(id) => Ok(id),
        None => Ok(uuid::Uuid::new_v4().to_string()),
    }
}

/// The value under the meter's value key: a whole number, required but for `count` meters.
fn event_value(meter: &Meter, payload: &BTreeMap<String, String>) -> ApiResult<Option<i64>> {
    let param = format!("payload[{}]", meter.value_key);
    match payload.get(&meter.value_key) {
        None if meter.aggregation == Aggregation::Count => Ok(None),
        None => Err(ApiError::required(&param)),
        Some(v) => parse_i64(&Value::String(v.clone()))
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid(
                    format!("Invalid {param}: the value must be a whole number."),
                    &param,
                    "parameter_invalid_integer",
                )
            }),
    }
}

/// `start_time`, `end_time` (minute boundaries, start before end) and
/// `value_grouping_window`, whose boundaries they must then fall on.
fn summary_range(q: &Value) -> ApiResult<(i64, i64, Option<TimeWindow>)> {
    let start = int_param(q, "start_time")?.ok_or_else(|| ApiError::required("start_time"))?;
    let end = int_param(q, "end_time")?.ok_or_else(|| ApiError::required("end_time"))?;
    let window = choice_param(
        q.get("value_grouping_window"),
        "value_grouping_window",
        &["hour", "day"],
    )?
    .and_then(TimeWindow::parse);
    if start >= end {
        return Err(
            ApiError::bad_request("start_time must be before end_time.").with_param("start_time")
        );
    }
    let (align, unit) = window.map_or((60, "minute"), |w| (w.seconds(), w.as_str()));
    for (t, param) in [(start, "start_time"), (end, "end_time")] {
        if t.rem_euclid(align) != 0 {
            return Err(ApiError::bad_request(format!(
                "{param} must be aligned with {unit} boundaries."
            ))
            .with_param(param));
        }
    }
    Ok((start, end, window))
}

/// The events that count: with an `event_time_window` (pre-aggregated events) only the last
/// one received in each window.
fn counted<'a>(meter: &Meter, events: Vec<&'a MeterEvent>) -> Vec<&'a MeterEvent> {
    let Some(window) = meter.event_time_window else {
        return events;
    };
    let mut last: BTreeMap<i64, &MeterEvent> = BTreeMap::new();
    for e in events {
        last.insert(e.timestamp.div_euclid(window.seconds()), e);
    }
    last.into_values().collect()
}

/// The meter's formula over `events` (in the order received).
fn aggregate(meter: &Meter, events: Vec<&MeterEvent>) -> f64 {
    let events = counted(meter, events);
    match meter.aggregation {
        Aggregation::Sum => events
            .iter()
            .filter_map(|e| e.value)
            .map(|v| v as f64)
            .sum(),
        Aggregation::Count => events.len() as f64,
        // The latest by timestamp; of two at the same time, the one received last.
        Aggregation::Last => events
            .iter()
            .max_by_key(|e| e.timestamp)
            .and_then(|e| e.value)
            .map_or(0.0, |v| v as f64),
    }
}

/// One `(start, end, value)` per window of `size` seconds from `start` that has events,
/// newest first.
fn grouped(
    meter: &Meter,
    events: Vec<&MeterEvent>,
    start: i64,
    end: i64,
    size: i64,
) -> Vec<(i64, i64, f64)> {
    let mut windows: BTreeMap<i64, Vec<&MeterEvent>> = BTreeMap::new();
    for e in events {
        windows
            .entry((e.timestamp - start) / size)
            .or_default()
            .push(e);
    }
    windows
        .into_iter()
        .rev()
        .map(|(n, events)| {
            let from = start + n * size;
            (from, (from + size).min(end), aggregate(meter, events))
        })
        .collect()
}
