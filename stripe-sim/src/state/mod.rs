//! The simulator's state: customers, checkout and portal sessions, subscriptions, invoices,
//! events, webhook endpoints and the simulated clock, with every state change that Stripe would
//! report turned into an event (see `events`). All of it lives behind one mutex; no method here
//! awaits.
//!
//! This file holds the records and the [`State`] that owns them; each resource's rules live in
//! a file of their own (`customers`, `checkout`, `subscriptions`, `lifecycle`, `invoices`,
//! `entitlements`, `clock`, `endpoints`, `meters`, `meter_events`), the JSON Stripe shows of each object in `render`,
//! the reading of request parameters in `params`, and the emitting of events in `emit`.

mod checkout;
mod clock;
mod customers;
mod emit;
mod endpoints;
mod entitlements;
mod invoices;
mod lifecycle;
mod meter_events;
mod meters;
pub mod params;
mod render;
mod subscriptions;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::catalog::Catalog;
use crate::error::{ApiError, ApiResult};
use crate::events::{Chaos, EventRecord, Outbox, WebhookEndpoint};

pub const API_VERSION: &str = "2026-09-30.endive";

pub fn new_id(prefix: &str) -> String {
    let raw = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}_{}", &raw[..24])
}

/// The eight subscription statuses Stripe has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Trialing,
    Active,
    PastDue,
    Unpaid,
    Canceled,
    Incomplete,
    IncompleteExpired,
    Paused,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Trialing,
        Status::Active,
        Status::PastDue,
        Status::Unpaid,
        Status::Canceled,
        Status::Incomplete,
        Status::IncompleteExpired,
        Status::Paused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Trialing => "trialing",
            Status::Active => "active",
            Status::PastDue => "past_due",
            Status::Unpaid => "unpaid",
            Status::Canceled => "canceled",
            Status::Incomplete => "incomplete",
            Status::IncompleteExpired => "incomplete_expired",
            Status::Paused => "paused",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Statuses whose products' features count as active entitlements.
    pub fn grants_entitlements(self) -> bool {
        matches!(self, Status::Trialing | Status::Active | Status::PastDue)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Canceled | Status::IncompleteExpired)
    }
}

/// What happens to a subscription once every payment retry has failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalFailure {
    Cancel,
    Unpaid,
}

#[derive(Debug, Clone)]
pub struct Customer {
    pub id: String,
    pub seq: u64,
    pub created: i64,
    pub email: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub deleted: bool,
    /// Every payment of this customer is declined (a card that always fails).
    pub card_declines: bool,
    /// The feature lookup keys last reported in an entitlement summary event.
    pub reported_entitlements: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub struct LineItem {
    pub price: String,
    pub quantity: u64,
}

#[derive(Debug, Clone)]
pub struct CheckoutSession {
    pub id: String,
    pub seq: u64,
    pub created: i64,
    pub expires_at: i64,
    pub customer: Option<String>,
    pub customer_email: Option<String>,
    pub client_reference_id: Option<String>,
    pub line_items: Vec<LineItem>,
    pub success_url: Option<String>,
    pub cancel_url: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub subscription_metadata: BTreeMap<String, String>,
    pub trial_period_days: Option<u32>,
    pub allow_promotion_codes: Option<bool>,
    pub status: &'static str,
    pub payment_status: &'static str,
    pub subscription: Option<String>,
    pub invoice: Option<String>,
    pub last_payment_error: Option<String>,
    /// The session was created without a customer, so completing it makes one.
    pub created_customer: bool,
}

#[derive(Debug, Clone)]
pub struct PortalSession {
    pub id: String,
    pub created: i64,
    pub customer: String,
    pub return_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SubscriptionItem {
    pub id: String,
    pub created: i64,
    pub price: String,
    pub quantity: u64,
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub seq: u64,
    pub customer: String,
    pub status: Status,
    pub items: Vec<SubscriptionItem>,
    pub created: i64,
    pub start_date: i64,
    pub billing_cycle_anchor: i64,
    pub period_start: i64,
    pub period_end: i64,
    pub cancel_at_period_end: bool,
    pub canceled_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub cancellation_reason: Option<&'static str>,
    pub trial_start: Option<i64>,
    pub trial_end: Option<i64>,
    pub trial_will_end_sent: bool,
    /// At trial end without a successful payment: pause instead of going past due.
    pub pause_on_trial_end_failure: bool,
    pub metadata: BTreeMap<String, String>,
    pub latest_invoice: Option<String>,
    /// The invoice being retried while past due / incomplete.
    pub open_invoice: Option<String>,
    pub next_retry_at: Option<i64>,
    pub failed_attempts: u32,
}

impl Subscription {
    /// Its open invoice was paid: nothing is retried any more.
    fn settle(&mut self) {
        self.open_invoice = None;
        self.next_retry_at = None;
        self.failed_attempts = 0;
    }
}

#[derive(Debug, Clone)]
pub struct Invoice {
    pub id: String,
    pub seq: u64,
    pub customer: String,
    pub subscription: String,
    pub created: i64,
    pub status: &'static str,
    pub billing_reason: &'static str,
    pub amount: i64,
    /// The invoice-level period: for a renewal, the period that just ended.
    pub period_start: i64,
    pub period_end: i64,
    /// The period the line items pay for: for a renewal, the one that starts.
    pub line_period: (i64, i64),
    pub attempt_count: u64,
    pub paid_at: Option<i64>,
    pub next_payment_attempt: Option<i64>,
    pub lines: Vec<(String, SubscriptionItem)>,
}

/// How a meter aggregates its events over a period (`default_aggregation[formula]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    Sum,
    Count,
    /// The value of the latest event.
    Last,
}

impl Aggregation {
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregation::Sum => "sum",
            Aggregation::Count => "count",
            Aggregation::Last => "last",
        }
    }

    pub fn parse(s: &str) -> Option<Aggregation> {
        [Aggregation::Sum, Aggregation::Count, Aggregation::Last]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// An hour or a UTC day: a meter's `event_time_window` or a summary's `value_grouping_window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeWindow {
    Hour,
    Day,
}

impl TimeWindow {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeWindow::Hour => "hour",
            TimeWindow::Day => "day",
        }
    }

    pub fn parse(s: &str) -> Option<TimeWindow> {
        [TimeWindow::Hour, TimeWindow::Day]
            .into_iter()
            .find(|w| w.as_str() == s)
    }

    pub fn seconds(self) -> i64 {
        match self {
            TimeWindow::Hour => 3_600,
            TimeWindow::Day => DAY,
        }
    }
}

/// A billing meter: what usage events named `event_name` add up to, per customer.
#[derive(Debug, Clone)]
pub struct Meter {
    pub id: String,
    pub seq: u64,
    pub created: i64,
    pub updated: i64,
    pub display_name: String,
    pub event_name: String,
    pub aggregation: Aggregation,
    /// The payload key that names the customer (`customer_mapping[event_payload_key]`).
    pub customer_key: String,
    /// The payload key that holds the value (`value_settings[event_payload_key]`).
    pub value_key: String,
    /// Pre-aggregated events: only the last one received in each window counts.
    pub event_time_window: Option<TimeWindow>,
    pub active: bool,
    pub deactivated_at: Option<i64>,
}

/// A meter event the simulator accepted (`POST /v1/billing/meter_events`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MeterEvent {
    pub identifier: String,
    pub event_name: String,
    /// The meter it was counted on.
    pub meter: String,
    pub customer: String,
    /// The payload's value; `None` for a `count` meter's event sent without one.
    pub value: Option<i64>,
    /// When the usage happened (the event's `timestamp`).
    pub timestamp: i64,
    /// When the simulator received it (simulated time).
    pub created: i64,
    pub payload: BTreeMap<String, String>,
}

/// Who caused a change: the API request (its id and idempotency key) or the clock.
#[derive(Debug, Clone, Default)]
pub struct Cause {
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
}

impl Cause {
    pub fn request(idempotency_key: Option<String>) -> Self {
        Cause {
            request_id: Some(new_id("req")),
            idempotency_key,
        }
    }

    pub fn automatic() -> Self {
        Cause::default()
    }
}

pub struct State {
    pub catalog: Catalog,
    pub public_url: String,
    pub clock_offset: i64,
    seq: u64,
    pub customers: HashMap<String, Customer>,
    pub sessions: HashMap<String, CheckoutSession>,
    pub portal_sessions: HashMap<String, PortalSession>,
    pub subscriptions: HashMap<String, Subscription>,
    pub invoices: HashMap<String, Invoice>,
    pub meters: HashMap<String, Meter>,
    /// Every accepted meter event, in the order received.
    pub meter_events: Vec<MeterEvent>,
    /// Meter event identifiers and when they were received, for deduplication.
    meter_identifiers: HashMap<String, i64>,
    pub endpoints: Vec<WebhookEndpoint>,
    pub events: Vec<std::sync::Arc<EventRecord>>,
    pub chaos: Chaos,
    /// How many upcoming payments fail, whoever pays.
    pub fail_next_payments: u32,
    /// How many upcoming off-session payments need the customer to authenticate.
    pub requires_action_next: u32,
    /// The event a failed payment attempt sends.
    failure_event: &'static str,
    /// Days between payment retries of a past-due invoice; one entry a retry.
    pub retry_schedule_days: Vec<u32>,
    pub final_failure: FinalFailure,
    pub outbox: Outbox,
}

const DAY: i64 = 86_400;

/// The latest simulated time: 9999-12-31T23:59:59Z.
pub const MAX_TIME: i64 = 253_402_300_799;
/// The most things (renewals, retries, expiries…) one clock move applies; a move that would
/// apply more stops at the last one applied and reports it.
pub const MAX_STEPS: usize = 10_000;

/// `unit_amount × quantity`, `None` on overflow.
pub fn line_amount(unit_amount: i64, quantity: u64) -> Option<i64> {
    i64::try_from(quantity)
        .ok()
        .and_then(|q| unit_amount.checked_mul(q))
}

impl State {
    pub fn new(catalog: Catalog, public_url: String, outbox: Outbox) -> Self {
        State {
            catalog,
            public_url,
            clock_offset: 0,
            seq: 0,
            customers: HashMap::new(),
            sessions: HashMap::new(),
            portal_sessions: HashMap::new(),
            subscriptions: HashMap::new(),
            invoices: HashMap::new(),
            meters: HashMap::new(),
            meter_events: Vec::new(),
            meter_identifiers: HashMap::new(),
            endpoints: Vec::new(),
            events: Vec::new(),
            chaos: Chaos::default(),
            fail_next_payments: 0,
            requires_action_next: 0,
            failure_event: "invoice.payment_failed",
            retry_schedule_days: vec![3, 5, 7],
            final_failure: FinalFailure::Cancel,
            outbox,
        }
    }

    /// The simulated time: the wall clock moved forward by every `advance`.
    pub fn now(&self) -> i64 {
        chrono::Utc::now().timestamp() + self.clock_offset
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// The total of `(price, quantity)` lines; a 400 if it does not fit Stripe's amounts.
    fn total_amount<'a>(&self, lines: impl Iterator<Item = (&'a str, u64)>) -> ApiResult<i64> {
        let mut total: i64 = 0;
        for (price, quantity) in lines {
            let unit = self.catalog.price(price).map_or(0, |(_, p)| p.unit_amount);
            total = line_amount(unit, quantity)
                .and_then(|a| total.checked_add(a))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "The total amount is too large.",
                        "quantity",
                        "amount_too_large",
                    )
                })?;
        }
        Ok(total)
    }

    /// The total of a subscription's items, saturating (it was validated when they were set).
    fn items_amount(&self, items: &[SubscriptionItem]) -> i64 {
        self.total_amount(items.iter().map(|i| (i.price.as_str(), i.quantity)))
            .unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_trialing_active_and_past_due_grant_entitlements() {
        let granting: Vec<&str> = Status::ALL
            .into_iter()
            .filter(|s| s.grants_entitlements())
            .map(Status::as_str)
            .collect();
        assert_eq!(granting, vec!["trialing", "active", "past_due"]);
    }
}
