//! The simulator's state: customers, checkout and portal sessions, subscriptions, invoices,
//! events, webhook endpoints and the simulated clock, with every state change that Stripe would
//! report turned into an event (see `events`). All of it lives behind one mutex; no method here
//! awaits.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value, json};

use crate::catalog::{Catalog, Interval};
use crate::error::{ApiError, ApiResult};
use crate::events::{EventRecord, Outbox};

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
/// The quantities Stripe accepts on a line item or subscription item.
pub const MAX_QUANTITY: u64 = 999_999;

/// `unit_amount × quantity`, `None` on overflow.
pub fn line_amount(unit_amount: i64, quantity: u64) -> Option<i64> {
    i64::try_from(quantity)
        .ok()
        .and_then(|q| unit_amount.checked_mul(q))
}

/// A quantity parameter: a whole number in 1..=999,999.
fn quantity_param(item: &Value, param: &str) -> ApiResult<Option<u64>> {
    match item.get("quantity") {
        None => Ok(None),
        Some(q) => parse_u64(q)
            .filter(|q| (1..=MAX_QUANTITY).contains(q))
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid(
                    format!("Invalid {param}: must be an integer between 1 and {MAX_QUANTITY}."),
                    param,
                    "parameter_invalid_integer",
                )
            }),
    }
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

    /// Applies whatever fell due by the simulated now (called on every access to the state).
    /// At most [`MAX_STEPS`] things at a time; the rest is applied on the next access.
    pub fn catch_up(&mut self) {
        let now = self.now();
        let _ = self.advance_to(now);
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

    /// Moves the simulated clock so that `now()` is at least `at`; it never goes back.
    fn clock_at_least(&mut self, at: i64) {
        let offset = at.saturating_sub(chrono::Utc::now().timestamp());
        self.clock_offset = self.clock_offset.max(offset);
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    // ---------------------------------------------------------------- customers

    pub fn customer(&self, id: &str) -> ApiResult<&Customer> {
        self.customers
            .get(id)
            .ok_or_else(|| ApiError::missing("customer", id, Some("id")))
    }

    fn live_customer(&self, id: &str, param: &str) -> ApiResult<&Customer> {
        match self.customers.get(id) {
            Some(c) if !c.deleted => Ok(c),
            _ => Err(ApiError::missing("customer", id, Some(param))),
        }
    }

    pub fn create_customer(&mut self, p: &Value, cause: &Cause) -> ApiResult<Value> {
        let now = self.now();
        let seq = self.next_seq();
        let customer = Customer {
            id: new_id("cus"),
            seq,
            created: now,
            email: str_param(p, "email"),
            name: str_param(p, "name"),
            description: str_param(p, "description"),
            metadata: metadata_param(p, "metadata")?.into_metadata(),
            deleted: false,
            card_declines: false,
            reported_entitlements: BTreeSet::new(),
        };
        let id = customer.id.clone();
        self.customers.insert(id.clone(), customer);
        let body = self.render_customer(&id);
        self.emit("customer.created", body.clone(), None, cause, now);
        Ok(body)
    }

    pub fn update_customer(&mut self, id: &str, p: &Value, cause: &Cause) -> ApiResult<Value> {
        self.live_customer(id, "id")?;
        let before = self.render_customer(id);
        let metadata = metadata_param(p, "metadata")?;
        let c = self.customers.get_mut(id).expect("checked above");
        if let Some(email) = p.get("email") {
            c.email = email.as_str().filter(|s| !s.is_empty()).map(str::to_string);
        }
        if let Some(name) = p.get("name") {
            c.name = name.as_str().filter(|s| !s.is_empty()).map(str::to_string);
        }
        if let Some(d) = p.get("description") {
            c.description = d.as_str().filter(|s| !s.is_empty()).map(str::to_string);
        }
        if let Some(metadata) = metadata {
            merge_metadata(&mut c.metadata, metadata);
        }
        let after = self.render_customer(id);
        let previous = diff(&before, &after);
        if !previous.is_empty() {
            let now = self.now();
            self.emit(
                "customer.updated",
                after.clone(),
                Some(Value::Object(previous)),
                cause,
                now,
            );
        }
        Ok(after)
    }

    /// Deleting a customer cancels its subscriptions at once, as Stripe does.
    pub fn delete_customer(&mut self, id: &str, cause: &Cause) -> ApiResult<Value> {
        self.live_customer(id, "id")?;
        let now = self.now();
        let subs: Vec<String> = self
            .subscriptions
            .values()
            .filter(|s| s.customer == id && !s.status.is_terminal())
            .map(|s| s.id.clone())
            .collect();
        for sub in subs {
            self.end_subscription(&sub, now, "cancellation_requested", cause);
        }
        let body = self.render_customer(id);
        self.customers.get_mut(id).expect("checked").deleted = true;
        self.emit("customer.deleted", body, None, cause, now);
        Ok(json!({"id": id, "object": "customer", "deleted": true}))
    }

    pub fn render_customer(&self, id: &str) -> Value {
        let c = &self.customers[id];
        if c.deleted {
            return json!({"id": c.id, "object": "customer", "deleted": true});
        }
        json!({
            "id": c.id,
            "object": "customer",
            "address": null,
            "balance": 0,
            "created": c.created,
            "currency": self.catalog.currency,
            "default_source": null,
            "delinquent": self.subscriptions.values().any(|s| s.customer == c.id
                && matches!(s.status, Status::PastDue | Status::Unpaid)),
            "description": c.description,
            "discount": null,
            "email": c.email,
            "invoice_prefix": c.id[4..12].to_uppercase(),
            "invoice_settings": {
                "custom_fields": null,
                "default_payment_method": null,
                "footer": null,
                "rendering_options": null
            },
            "livemode": false,
            "metadata": c.metadata,
            "name": c.name,
            "next_invoice_sequence": 1,
            "phone": null,
            "preferred_locales": [],
            "shipping": null,
            "tax_exempt": "none",
            "test_clock": null
        })
    }

    // ---------------------------------------------------------------- checkout

    pub fn create_checkout_session(&mut self, p: &Value) -> ApiResult<Value> {
        let mode = str_param(p, "mode").ok_or_else(|| ApiError::required("mode"))?;
        if mode != "subscription" {
            return Err(ApiError::invalid(
                format!("stripe-sim supports only mode=subscription, not '{mode}'."),
                "mode",
                "parameter_invalid_string",
            ));
        }
        let customer = str_param(p, "customer");
        if let Some(c) = &customer {
            self.live_customer(c, "customer")?;
        }
        let line_items = match p.get("line_items") {
            Some(Value::Array(items)) if !items.is_empty() => items,
            _ => return Err(ApiError::required("line_items")),
        };
        let mut items = Vec::new();
        for (i, item) in line_items.iter().enumerate() {
            let param = format!("line_items[{i}][price]");
            let price = str_param(item, "price").ok_or_else(|| ApiError::required(&param))?;
            if self.catalog.price(&price).is_none() {
                return Err(ApiError::missing("price", &price, Some(&param)));
            }
            let quantity =
                quantity_param(item, &format!("line_items[{i}][quantity]"))?.unwrap_or(1);
            items.push(LineItem { price, quantity });
        }
        self.total_amount(items.iter().map(|li| (li.price.as_str(), li.quantity)))?;
        let sub_data = p.get("subscription_data").cloned().unwrap_or(Value::Null);
        let trial_period_days = match sub_data.get("trial_period_days") {
            None => None,
            Some(v) => Some(
                parse_u64(v)
                    .filter(|d| (1..=730).contains(d))
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "subscription_data[trial_period_days] must be between 1 and 730.",
                            "subscription_data[trial_period_days]",
                            "parameter_invalid_integer",
                        )
                    })? as u32,
            ),
        };
        let allow_promotion_codes = match p.get("allow_promotion_codes") {
            None => None,
            Some(v) => Some(parse_bool(v).ok_or_else(|| {
                ApiError::invalid(
                    "Invalid boolean",
                    "allow_promotion_codes",
                    "parameter_invalid_boolean",
                )
            })?),
        };
        let now = self.now();
        let seq = self.next_seq();
        let created_customer = customer.is_none();
        let session = CheckoutSession {
            id: format!("cs_test_{}", &new_id("x")[2..]),
            seq,
            created: now,
            expires_at: now + DAY,
            customer,
            customer_email: str_param(p, "customer_email"),
            client_reference_id: str_param(p, "client_reference_id"),
            line_items: items,
            success_url: str_param(p, "success_url"),
            cancel_url: str_param(p, "cancel_url"),
            metadata: metadata_param(p, "metadata")?.into_metadata(),
            subscription_metadata: metadata_param(&sub_data, "metadata")?.into_metadata(),
            trial_period_days,
            allow_promotion_codes,
            status: "open",
            payment_status: "unpaid",
            subscription: None,
            invoice: None,
            last_payment_error: None,
            created_customer,
        };
        let id = session.id.clone();
        self.sessions.insert(id.clone(), session);
        Ok(self.render_session(&id))
    }

    pub fn session(&self, id: &str) -> ApiResult<&CheckoutSession> {
        self.sessions
            .get(id)
            .ok_or_else(|| ApiError::missing("checkout.session", id, Some("session")))
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

    /// Validated when the session was made; saturates rather than panics regardless.
    fn session_amount(&self, s: &CheckoutSession) -> i64 {
        self.total_amount(
            s.line_items
                .iter()
                .map(|li| (li.price.as_str(), li.quantity)),
        )
        .unwrap_or(i64::MAX)
    }

    pub fn render_session(&self, id: &str) -> Value {
        let s = &self.sessions[id];
        let amount = self.session_amount(s);
        let customer_details = if s.status == "complete" {
            let email = s
                .customer
                .as_ref()
                .and_then(|c| self.customers.get(c))
                .and_then(|c| c.email.clone())
                .or_else(|| s.customer_email.clone());
            json!({"address": null, "email": email, "name": null, "phone": null,
                   "tax_exempt": "none", "tax_ids": []})
        } else {
            Value::Null
        };
        json!({
            "id": s.id,
            "object": "checkout.session",
            "adaptive_pricing": null,
            "after_expiration": null,
            "allow_promotion_codes": s.allow_promotion_codes,
            "amount_subtotal": amount,
            "amount_total": amount,
            "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
            "billing_address_collection": null,
            "cancel_url": s.cancel_url,
            "client_reference_id": s.client_reference_id,
            "client_secret": null,
            "consent": null,
            "consent_collection": null,
            "created": s.created,
            "currency": self.catalog.currency,
            "currency_conversion": null,
            "custom_fields": [],
            "custom_text": {"after_submit": null, "shipping_address": null, "submit": null,
                            "terms_of_service_acceptance": null},
            "customer": s.customer,
            "customer_creation": if s.created_customer { json!("always") } else { Value::Null },
            "customer_details": customer_details,
            "customer_email": s.customer_email,
            "discounts": [],
            "expires_at": s.expires_at,
            "invoice": s.invoice,
            "invoice_creation": null,
            "livemode": false,
            "locale": null,
            "metadata": s.metadata,
            "mode": "subscription",
            "payment_intent": null,
            "payment_link": null,
            "payment_method_collection": "always",
            "payment_method_configuration_details": null,
            "payment_method_options": null,
            "payment_method_types": ["card"],
            "payment_status": s.payment_status,
            "phone_number_collection": {"enabled": false},
            "recovered_from": null,
            "saved_payment_method_options": null,
            "setup_intent": null,
            "shipping_address_collection": null,
            "shipping_cost": null,
            "shipping_options": [],
            "status": s.status,
            "submit_type": null,
            "subscription": s.subscription,
            "success_url": s.success_url,
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted_page",
            "url": if s.status == "open" { json!(format!("{}/checkout/{}", self.public_url, s.id)) } else { Value::Null },
            "wallet_options": null,
        })
    }

    /// Pays for an open checkout session: the customer (if new), the subscription, its first
    /// invoice and the events Stripe sends for them. A declined payment leaves the session open.
    pub fn complete_checkout(&mut self, id: &str, cause: &Cause) -> ApiResult<Value> {
        let session = self.session(id)?.clone();
        if session.status != "open" {
            return Err(ApiError::bad_request(format!(
                "This Checkout Session is no longer open (status: {}).",
                session.status
            )));
        }
        let now = self.now();
        if session.expires_at <= now {
            self.expire_checkout(id, cause)?;
            return Err(ApiError::bad_request("This Checkout Session has expired."));
        }
        let trial = session.trial_period_days.is_some();
        // Charge before anything else exists: a declined card creates no customer.
        let payer = session.customer.clone().unwrap_or_default();
        if !trial && !self.charge(&payer) {
            let s = self.sessions.get_mut(id).expect("exists");
            s.last_payment_error = Some("Your card was declined.".into());
            return Err(ApiError::card_declined());
        }
        let customer_id = match &session.customer {
            Some(c) => c.clone(),
            None => {
                let email = session.customer_email.clone().unwrap_or_else(|| {
                    format!(
                        "{}@checkout.stripe-sim.test",
                        session.client_reference_id.as_deref().unwrap_or("customer")
                    )
                });
                let body = self.create_customer(&json!({"email": email}), cause)?;
                body["id"].as_str().expect("id").to_string()
            }
        };
        let items: Vec<(String, u64)> = session
            .line_items
            .iter()
            .map(|li| (li.price.clone(), li.quantity))
            .collect();
        let sub_id = self.create_subscription_record(
            &customer_id,
            &items,
            session.trial_period_days,
            session.subscription_metadata.clone(),
            // Stripe creates a paid Checkout subscription `incomplete` and activates it once
            // its first invoice is paid; a trial starts `trialing` with a $0 invoice.
            if trial {
                Status::Trialing
            } else {
                Status::Incomplete
            },
            now,
        );
        let invoice = self.make_invoice(&sub_id, "subscription_create", true, now, (now, now));
        let sub = self.render_subscription(&sub_id);
        self.emit("customer.subscription.created", sub, None, cause, now);
        self.emit_invoice(&invoice, true, cause, now);
        if !trial {
            self.set_status(&sub_id, Status::Active, cause, now);
        }
        {
            let s = self.sessions.get_mut(id).expect("exists");
            s.customer = Some(customer_id.clone());
            s.status = "complete";
            s.payment_status = if trial { "no_payment_required" } else { "paid" };
            s.subscription = Some(sub_id);
            s.invoice = Some(invoice);
            s.last_payment_error = None;
        }
        let body = self.render_session(id);
        self.emit("checkout.session.completed", body.clone(), None, cause, now);
        self.sync_entitlements(&customer_id, cause, now);
        Ok(body)
    }

    /// A declined card on the hosted page: the session stays open and nothing is emitted.
    pub fn decline_checkout(&mut self, id: &str) -> ApiResult<Value> {
        let s = self.session(id)?;
        if s.status != "open" {
            return Err(ApiError::bad_request(format!(
                "This Checkout Session is no longer open (status: {}).",
                s.status
            )));
        }
        let s = self.sessions.get_mut(id).expect("exists");
        s.last_payment_error = Some("Your card was declined.".into());
        Ok(self.render_session(id))
    }

    pub fn expire_checkout(&mut self, id: &str, cause: &Cause) -> ApiResult<Value> {
        let s = self.session(id)?;
        if s.status != "open" {
            return Err(ApiError::bad_request(format!(
                "Only Checkout Sessions with a status of 'open' can be expired (status: {}).",
                s.status
            )));
        }
        let now = self.now();
        self.sessions.get_mut(id).expect("exists").status = "expired";
        let body = self.render_session(id);
        self.emit("checkout.session.expired", body.clone(), None, cause, now);
        Ok(body)
    }

    // ---------------------------------------------------------------- portal

    pub fn create_portal_session(&mut self, p: &Value) -> ApiResult<Value> {
        let customer = str_param(p, "customer").ok_or_else(|| ApiError::required("customer"))?;
        self.live_customer(&customer, "customer")?;
        let session = PortalSession {
            id: new_id("bps"),
            created: self.now(),
            customer,
            return_url: str_param(p, "return_url"),
        };
        let id = session.id.clone();
        self.portal_sessions.insert(id.clone(), session);
        Ok(self.render_portal_session(&id))
    }

    pub fn render_portal_session(&self, id: &str) -> Value {
        let s = &self.portal_sessions[id];
        json!({
            "id": s.id,
            "object": "billing_portal.session",
            "configuration": "bpc_stripe_sim_default",
            "created": s.created,
            "customer": s.customer,
            "flow": null,
            "livemode": false,
            "locale": null,
            "on_behalf_of": null,
            "return_url": s.return_url,
            "url": format!("{}/portal/{}", self.public_url, s.id),
        })
    }

    // ---------------------------------------------------------------- subscriptions

    fn create_subscription_record(
        &mut self,
        customer: &str,
        items: &[(String, u64)],
        trial_days: Option<u32>,
        metadata: BTreeMap<String, String>,
        status: Status,
        now: i64,
    ) -> String {
        let id = new_id("sub");
        let items: Vec<SubscriptionItem> = items
            .iter()
            .map(|(price, quantity)| SubscriptionItem {
                id: new_id("si"),
                created: now,
                price: price.clone(),
                quantity: *quantity,
                metadata: BTreeMap::new(),
            })
            .collect();
        let (trial_start, trial_end) = match trial_days {
            Some(d) => (Some(now), Some(now + i64::from(d) * DAY)),
            None => (None, None),
        };
        let period_end = trial_end.unwrap_or_else(|| self.period_after(&items, now));
        let seq = self.next_seq();
        self.subscriptions.insert(
            id.clone(),
            Subscription {
                id: id.clone(),
                seq,
                customer: customer.to_string(),
                status,
                items,
                created: now,
                start_date: now,
                billing_cycle_anchor: trial_end.unwrap_or(now),
                period_start: now,
                period_end,
                cancel_at_period_end: false,
                canceled_at: None,
                ended_at: None,
                cancellation_reason: None,
                trial_start,
                trial_end,
                trial_will_end_sent: false,
                pause_on_trial_end_failure: false,
                metadata,
                latest_invoice: None,
                open_invoice: None,
                next_retry_at: None,
                failed_attempts: 0,
            },
        );
        id
    }

    /// The end of a billing period that starts at `start`, by the first item's price.
    fn period_after(&self, items: &[SubscriptionItem], start: i64) -> i64 {
        let (interval, count) = items
            .first()
            .and_then(|i| self.catalog.price(&i.price))
            .map(|(_, p)| (p.interval, p.interval_count))
            .unwrap_or((Interval::Month, 1));
        add_interval(start, interval, count)
    }

    /// `POST /v1/subscriptions`: a subscription created directly, charged at once unless it
    /// starts with a trial. A declined first payment leaves it `incomplete` for 23 hours.
    pub fn create_subscription(&mut self, p: &Value, cause: &Cause) -> ApiResult<Value> {
        let customer = str_param(p, "customer").ok_or_else(|| ApiError::required("customer"))?;
        self.live_customer(&customer, "customer")?;
        let items = match p.get("items") {
            Some(Value::Array(items)) if !items.is_empty() => items.clone(),
            _ => return Err(ApiError::required("items")),
        };
        let mut parsed = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let param = format!("items[{i}][price]");
            let price = str_param(item, "price").ok_or_else(|| ApiError::required(&param))?;
            if self.catalog.price(&price).is_none() {
                return Err(ApiError::missing("price", &price, Some(&param)));
            }
            let quantity = quantity_param(item, &format!("items[{i}][quantity]"))?.unwrap_or(1);
            parsed.push((price, quantity));
        }
        self.total_amount(parsed.iter().map(|(p, q)| (p.as_str(), *q)))?;
        let trial_days = match p.get("trial_period_days") {
            None => None,
            Some(v) => Some(
                parse_u64(v)
                    .filter(|d| (1..=730).contains(d))
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "trial_period_days must be between 1 and 730.",
                            "trial_period_days",
                            "parameter_invalid_integer",
                        )
                    })? as u32,
            ),
        };
        let pause_on_failure = p
            .pointer("/trial_settings/end_behavior/missing_payment_method")
            .and_then(Value::as_str)
            == Some("pause");
        let metadata = metadata_param(p, "metadata")?.into_metadata();
        let now = self.now();
        let paid = trial_days.is_some() || self.charge_off_session(&customer);
        let status = match (trial_days, paid) {
            (Some(_), _) => Status::Trialing,
            (None, true) => Status::Active,
            (None, false) => Status::Incomplete,
        };
        let id =
            self.create_subscription_record(&customer, &parsed, trial_days, metadata, status, now);
        self.subscriptions
            .get_mut(&id)
            .expect("just made")
            .pause_on_trial_end_failure = pause_on_failure;
        let invoice = self.make_invoice(&id, "subscription_create", paid, now, (now, now));
        let body = self.render_subscription(&id);
        self.emit("customer.subscription.created", body, None, cause, now);
        self.emit_invoice(&invoice, paid, cause, now);
        if !paid {
            let s = self.subscriptions.get_mut(&id).expect("exists");
            s.open_invoice = Some(invoice);
            s.failed_attempts = 1;
        }
        self.sync_entitlements(&customer, cause, now);
        Ok(self.render_subscription(&id))
    }

    pub fn subscription(&self, id: &str) -> ApiResult<&Subscription> {
        self.subscriptions
            .get(id)
            .ok_or_else(|| ApiError::missing("subscription", id, Some("id")))
    }

    pub fn list_subscriptions(&self, q: &Value) -> ApiResult<Value> {
        let customer = str_param(q, "customer");
        let price = str_param(q, "price");
        let status = str_param(q, "status");
        let status_filter = match status.as_deref() {
            None => None,
            Some("all") => Some(None),
            Some("ended") => Some(Some(vec![Status::Canceled, Status::IncompleteExpired])),
            Some(s) => match Status::parse(s) {
                Some(st) => Some(Some(vec![st])),
                None => {
                    return Err(ApiError::invalid(
                        "Invalid status: must be one of active, all, canceled, ended, incomplete, incomplete_expired, past_due, paused, trialing, or unpaid",
                        "status",
                        "parameter_invalid_string",
                    ));
                }
            },
        };
        let mut subs: Vec<&Subscription> = self
            .subscriptions
            .values()
            .filter(|s| customer.as_ref().is_none_or(|c| &s.customer == c))
            .filter(|s| {
                price
                    .as_ref()
                    .is_none_or(|p| s.items.iter().any(|i| &i.price == p))
            })
            .filter(|s| match &status_filter {
                // Without a status, Stripe lists every subscription that is not canceled.
                None => s.status != Status::Canceled,
                Some(None) => true,
                Some(Some(wanted)) => wanted.contains(&s.status),
            })
            .collect();
        subs.sort_by_key(|s| std::cmp::Reverse(s.seq));
        let ids: Vec<String> = subs.iter().map(|s| s.id.clone()).collect();
        Ok(self.page(q, ids, "/v1/subscriptions", |st, id| {
            st.render_subscription(id)
        }))
    }

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

    pub fn render_price(&self, price_id: &str) -> Value {
        let (product, price) = self.catalog.price(price_id).expect("catalogue price");
        json!({
            "id": price.id,
            "object": "price",
            "active": true,
            "billing_scheme": "per_unit",
            "created": 1_700_000_000,
            "currency": self.catalog.currency,
            "custom_unit_amount": null,
            "livemode": false,
            "lookup_key": price.lookup_key,
            "metadata": {},
            "nickname": price.nickname,
            "product": product.id,
            "recurring": {
                "interval": price.interval.as_str(),
                "interval_count": price.interval_count,
                "meter": null,
                "trial_period_days": null,
                "usage_type": "licensed"
            },
            "tax_behavior": "unspecified",
            "tiers_mode": null,
            "transform_quantity": null,
            "type": "recurring",
            "unit_amount": price.unit_amount,
            "unit_amount_decimal": price.unit_amount.to_string(),
        })
    }

    fn render_plan(&self, price_id: &str) -> Value {
        let (product, price) = self.catalog.price(price_id).expect("catalogue price");
        json!({
            "id": price.id,
            "object": "plan",
            "active": true,
            "amount": price.unit_amount,
            "amount_decimal": price.unit_amount.to_string(),
            "billing_scheme": "per_unit",
            "created": 1_700_000_000,
            "currency": self.catalog.currency,
            "interval": price.interval.as_str(),
            "interval_count": price.interval_count,
            "livemode": false,
            "metadata": {},
            "meter": null,
            "nickname": price.nickname,
            "product": product.id,
            "tiers_mode": null,
            "transform_usage": null,
            "trial_period_days": null,
            "usage_type": "licensed",
        })
    }

    pub fn render_product(&self, product_id: &str) -> Value {
        let p = self.catalog.product(product_id).expect("catalogue product");
        json!({
            "id": p.id,
            "object": "product",
            "active": true,
            "created": 1_700_000_000,
            "default_price": p.prices.first().map(|pr| pr.id.clone()),
            "description": p.description,
            "images": [],
            "livemode": false,
            "marketing_features": p.features.iter().map(|f| json!({"name": feature_name(f)})).collect::<Vec<_>>(),
            "metadata": {},
            "name": p.name,
            "package_dimensions": null,
            "shippable": null,
            "statement_descriptor": null,
            "tax_code": null,
            "type": "service",
            "unit_label": null,
            "updated": 1_700_000_000,
            "url": null,
        })
    }

    fn render_item(&self, sub: &Subscription, item: &SubscriptionItem) -> Value {
        json!({
            "id": item.id,
            "object": "subscription_item",
            "billing_thresholds": null,
            "created": item.created,
            "current_period_end": sub.period_end,
            "current_period_start": sub.period_start,
            "discounts": [],
            "metadata": item.metadata,
            "plan": self.render_plan(&item.price),
            "price": self.render_price(&item.price),
            "quantity": item.quantity,
            "subscription": sub.id,
            "tax_rates": [],
        })
    }

    pub fn render_subscription(&self, id: &str) -> Value {
        let s = &self.subscriptions[id];
        let items: Vec<Value> = s.items.iter().map(|i| self.render_item(s, i)).collect();
        json!({
            "id": s.id,
            "object": "subscription",
            "application": null,
            "application_fee_percent": null,
            "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null},
            "billing_cycle_anchor": s.billing_cycle_anchor,
            "billing_cycle_anchor_config": null,
            "billing_mode": {"type": "classic"},
            "billing_schedules": [],
            "billing_thresholds": null,
            "cancel_at": if s.cancel_at_period_end { json!(s.period_end) } else { Value::Null },
            "cancel_at_period_end": s.cancel_at_period_end,
            "canceled_at": s.canceled_at,
            "cancellation_details": {
                "comment": null,
                "feedback": null,
                "reason": s.cancellation_reason,
            },
            "collection_method": "charge_automatically",
            "created": s.created,
            "currency": self.catalog.currency,
            "customer": s.customer,
            "days_until_due": null,
            "default_payment_method": null,
            "default_source": null,
            "default_tax_rates": [],
            "description": null,
            "discounts": [],
            "ended_at": s.ended_at,
            "invoice_settings": {"account_tax_ids": null, "issuer": {"type": "self"}},
            "items": {
                "object": "list",
                "data": items,
                "has_more": false,
                "total_count": s.items.len(),
                "url": format!("/v1/subscription_items?subscription={}", s.id),
            },
            "latest_invoice": s.latest_invoice,
            "livemode": false,
            "metadata": s.metadata,
            "next_pending_invoice_item_invoice": null,
            "on_behalf_of": null,
            "pause_collection": null,
            "payment_settings": {
                "payment_method_options": null,
                "payment_method_types": null,
                "save_default_payment_method": "off"
            },
            "pending_invoice_item_interval": null,
            "pending_setup_intent": null,
            "pending_update": null,
            "schedule": null,
            "start_date": s.start_date,
            "status": s.status.as_str(),
            "test_clock": null,
            "transfer_data": null,
            "trial_end": s.trial_end,
            "trial_settings": {"end_behavior": {"missing_payment_method":
                if s.pause_on_trial_end_failure { "pause" } else { "create_invoice" }}},
            "trial_start": s.trial_start,
        })
    }

    /// `POST /v1/subscriptions/{id}`: price swaps through `items`, `cancel_at_period_end`,
    /// `metadata`, `trial_end=now`.
    pub fn update_subscription(&mut self, id: &str, p: &Value, cause: &Cause) -> ApiResult<Value> {
        let sub = self.subscription(id)?.clone();
        if sub.status.is_terminal() {
            return Err(ApiError::bad_request(format!(
                "A canceled subscription can only update its cancellation_details and metadata. (subscription {id} is {})",
                sub.status.as_str()
            )));
        }
        let mut next = sub.clone();
        if let Some(v) = p.get("cancel_at_period_end") {
            next.cancel_at_period_end = parse_bool(v).ok_or_else(|| {
                ApiError::invalid(
                    "Invalid boolean",
                    "cancel_at_period_end",
                    "parameter_invalid_boolean",
                )
            })?;
            if next.cancel_at_period_end {
                next.canceled_at = Some(self.now());
                next.cancellation_reason = Some("cancellation_requested");
            } else {
                next.canceled_at = None;
                next.cancellation_reason = None;
            }
        }
        if let Some(metadata) = metadata_param(p, "metadata")? {
            merge_metadata(&mut next.metadata, metadata);
        }
        if let Some(items) = p.get("items") {
            let Value::Array(items) = items else {
                return Err(ApiError::invalid(
                    "Invalid array",
                    "items",
                    "parameter_invalid_array",
                ));
            };
            let now = self.now();
            for (i, item) in items.iter().enumerate() {
                let price = str_param(item, "price");
                if let Some(price) = &price
                    && self.catalog.price(price).is_none()
                {
                    return Err(ApiError::missing(
                        "price",
                        price,
                        Some(&format!("items[{i}][price]")),
                    ));
                }
                let quantity = quantity_param(item, &format!("items[{i}][quantity]"))?;
                let deleted = item.get("deleted").and_then(parse_bool).unwrap_or(false);
                match str_param(item, "id") {
                    Some(item_id) => {
                        let Some(pos) = next.items.iter().position(|x| x.id == item_id) else {
                            return Err(ApiError::missing(
                                "subscription_item",
                                &item_id,
                                Some(&format!("items[{i}][id]")),
                            ));
                        };
                        if deleted {
                            next.items.remove(pos);
                        } else {
                            if let Some(price) = price {
                                next.items[pos].price = price;
                            }
                            if let Some(q) = quantity {
                                next.items[pos].quantity = q;
                            }
                        }
                    }
                    None => {
                        let Some(price) = price else {
                            return Err(ApiError::required(&format!("items[{i}][price]")));
                        };
                        next.items.push(SubscriptionItem {
                            id: new_id("si"),
                            created: now,
                            price,
                            quantity: quantity.unwrap_or(1),
                            metadata: BTreeMap::new(),
                        });
                    }
                }
            }
            if next.items.is_empty() {
                return Err(ApiError::invalid(
                    "A subscription must have at least one active plan.",
                    "items",
                    "parameter_invalid_array",
                ));
            }
            self.total_amount(next.items.iter().map(|i| (i.price.as_str(), i.quantity)))?;
        }
        let end_trial_now = str_param(p, "trial_end").as_deref() == Some("now");
        // A swap to a price with another interval (monthly ↔ yearly) resets the billing cycle:
        // the new period starts now and is invoiced at once, as Stripe does. A swap within the
        // same interval keeps the period.
        let interval = |items: &[SubscriptionItem]| {
            items
                .first()
                .and_then(|i| self.catalog.price(&i.price))
                .map(|(_, p)| (p.interval, p.interval_count))
        };
        let resets_cycle =
            sub.status == Status::Active && interval(&sub.items) != interval(&next.items);
        let before = self.render_subscription(id);
        self.subscriptions.insert(id.to_string(), next);
        let now = self.now();
        if end_trial_now && sub.status == Status::Trialing {
            self.end_trial(id, now, cause);
        } else if resets_cycle {
            let paid = self.charge_off_session(&sub.customer);
            let period = (now, now);
            let reason = "subscription_update";
            self.start_period(id, now, paid, period, None, reason, before, cause);
        } else {
            let after = self.render_subscription(id);
            let previous = diff(&before, &after);
            if !previous.is_empty() {
                self.emit(
                    "customer.subscription.updated",
                    after,
                    Some(Value::Object(previous)),
                    cause,
                    now,
                );
            }
        }
        self.sync_entitlements(&sub.customer, cause, now);
        Ok(self.render_subscription(id))
    }

    /// `DELETE /v1/subscriptions/{id}`: cancels at once.
    pub fn cancel_subscription(&mut self, id: &str, cause: &Cause) -> ApiResult<Value> {
        let sub = self.subscription(id)?;
        if sub.status.is_terminal() {
            // Stripe answers a cancel of an ended subscription as if it did not exist.
            return Err(ApiError::missing("subscription", id, Some("id")));
        }
        let customer = sub.customer.clone();
        let now = self.now();
        self.end_subscription(id, now, "cancellation_requested", cause);
        self.sync_entitlements(&customer, cause, now);
        Ok(self.render_subscription(id))
    }

    fn end_subscription(&mut self, id: &str, at: i64, reason: &'static str, cause: &Cause) {
        let s = self.subscriptions.get_mut(id).expect("exists");
        s.status = Status::Canceled;
        s.canceled_at = Some(s.canceled_at.unwrap_or(at));
        s.ended_at = Some(at);
        s.cancellation_reason = Some(reason);
        s.next_retry_at = None;
        if let Some(inv) = s.open_invoice.take()
            && let Some(inv) = self.invoices.get_mut(&inv)
        {
            inv.status = "void";
            inv.next_payment_attempt = None;
        }
        let body = self.render_subscription(id);
        self.emit("customer.subscription.deleted", body, None, cause, at);
    }

    /// Pauses a subscription (as Stripe does when a trial ends without a payment method).
    pub fn pause_subscription(&mut self, id: &str, cause: &Cause) -> ApiResult<Value> {
        let sub = self.subscription(id)?;
        if sub.status.is_terminal() || sub.status == Status::Paused {
            return Err(ApiError::bad_request(format!(
                "Subscription {id} cannot be paused from status {}.",
                sub.status.as_str()
            )));
        }
        let customer = sub.customer.clone();
        let now = self.now();
        self.set_paused(id, now, cause);
        self.sync_entitlements(&customer, cause, now);
        Ok(self.render_subscription(id))
    }

    fn set_paused(&mut self, id: &str, at: i64, cause: &Cause) {
        let before = self.render_subscription(id);
        let s = self.subscriptions.get_mut(id).expect("exists");
        s.status = Status::Paused;
        s.next_retry_at = None;
        let after = self.render_subscription(id);
        let previous = Value::Object(diff(&before, &after));
        self.emit(
            "customer.subscription.paused",
            after.clone(),
            Some(previous.clone()),
            cause,
            at,
        );
        self.emit(
            "customer.subscription.updated",
            after,
            Some(previous),
            cause,
            at,
        );
    }

    /// `POST /v1/subscriptions/{id}/resume`: a paused subscription starts a new period now and
    /// pays for it; a declined payment leaves it paused (402).
    pub fn resume_subscription(&mut self, id: &str, cause: &Cause) -> ApiResult<Value> {
        let sub = self.subscription(id)?.clone();
        if sub.status != Status::Paused {
            return Err(ApiError::bad_request(format!(
                "Subscription {id} is not paused (status: {}).",
                sub.status.as_str()
            )));
        }
        if !self.charge(&sub.customer) {
            return Err(ApiError::card_declined());
        }
        let now = self.now();
        let before = self.render_subscription(id);
        let period_end = self.period_after(&sub.items, now);
        {
            let s = self.subscriptions.get_mut(id).expect("exists");
            s.status = Status::Active;
            s.period_start = now;
            s.period_end = period_end;
            s.billing_cycle_anchor = now;
            s.failed_attempts = 0;
        }
        let after = self.render_subscription(id);
        let previous = Value::Object(diff(&before, &after));
        self.emit(
            "customer.subscription.resumed",
            after.clone(),
            Some(previous.clone()),
            cause,
            now,
        );
        self.emit(
            "customer.subscription.updated",
            after,
            Some(previous),
            cause,
            now,
        );
        self.issue_invoice(id, "subscription_update", true, now, cause);
        self.sync_entitlements(&sub.customer, cause, now);
        Ok(self.render_subscription(id))
    }

    // ---------------------------------------------------------------- payments and invoices

    /// One payment attempt by `customer` with the customer present (checkout, resume, the
    /// hosted invoice page): false if the card declines.
    fn charge(&mut self, customer: &str) -> bool {
        self.failure_event = "invoice.payment_failed";
        if self
            .customers
            .get(customer)
            .is_some_and(|c| c.card_declines)
        {
            return false;
        }
        if self.fail_next_payments > 0 {
            self.fail_next_payments -= 1;
            return false;
        }
        true
    }

    /// A payment without the customer (renewals, trial ends, retries, API-created
    /// subscriptions): it may also need the customer to authenticate (3-D Secure), which
    /// fails it with `invoice.payment_action_required` until paid on the hosted invoice page.
    fn charge_off_session(&mut self, customer: &str) -> bool {
        if self.requires_action_next > 0 {
            self.requires_action_next -= 1;
            self.failure_event = "invoice.payment_action_required";
            return false;
        }
        self.charge(customer)
    }

    /// Makes an invoice for the subscription's current period and emits `invoice.paid` or
    /// `invoice.payment_failed`. Returns the invoice id.
    fn issue_invoice(
        &mut self,
        sub_id: &str,
        reason: &'static str,
        paid: bool,
        at: i64,
        cause: &Cause,
    ) -> String {
        let id = self.make_invoice(sub_id, reason, paid, at, (at, at));
        self.emit_invoice(&id, paid, cause, at);
        id
    }

    /// Emits `invoice.paid`, or the failure event of the last payment attempt.
    fn emit_invoice(&mut self, id: &str, paid: bool, cause: &Cause, at: i64) {
        let body = self.render_invoice(id);
        let kind = if paid {
            "invoice.paid"
        } else {
            self.failure_event
        };
        self.emit(kind, body, None, cause, at);
    }

    /// Makes the subscription's invoice and makes it its `latest_invoice`, without an event.
    /// Its lines pay for the subscription's current period; `period` is the invoice-level
    /// period (Stripe: for a renewal the period that ended; for a first invoice, `at`–`at`).
    fn make_invoice(
        &mut self,
        sub_id: &str,
        reason: &'static str,
        paid: bool,
        at: i64,
        period: (i64, i64),
    ) -> String {
        let sub = self.subscriptions[sub_id].clone();
        let in_trial = sub.status == Status::Trialing;
        let amount: i64 = if in_trial {
            0
        } else {
            self.total_amount(sub.items.iter().map(|i| (i.price.as_str(), i.quantity)))
                .unwrap_or(i64::MAX)
        };
        let id = new_id("in");
        let seq = self.next_seq();
        let lines = sub
            .items
            .iter()
            .map(|i| (new_id("il"), i.clone()))
            .collect();
        let next_retry = if paid {
            None
        } else {
            self.retry_schedule_days
                .first()
                .map(|d| at + i64::from(*d) * DAY)
        };
        let invoice = Invoice {
            id: id.clone(),
            seq,
            customer: sub.customer.clone(),
            subscription: sub.id.clone(),
            created: at,
            status: if paid { "paid" } else { "open" },
            billing_reason: reason,
            amount,
            period_start: period.0,
            period_end: period.1,
            line_period: (sub.period_start, sub.period_end),
            attempt_count: 1,
            paid_at: paid.then_some(at),
            next_payment_attempt: next_retry,
            lines,
        };
        self.invoices.insert(id.clone(), invoice);
        self.subscriptions
            .get_mut(sub_id)
            .expect("exists")
            .latest_invoice = Some(id.clone());
        id
    }

    pub fn invoice(&self, id: &str) -> ApiResult<&Invoice> {
        self.invoices
            .get(id)
            .ok_or_else(|| ApiError::missing("invoice", id, Some("invoice")))
    }

    /// `POST /v1/invoices/{id}/pay` and the hosted invoice page: pays an open invoice now. A
    /// subscription waiting on it (`incomplete`, `past_due`, `unpaid`) becomes `active`.
    pub fn pay_invoice(&mut self, id: &str, cause: &Cause) -> ApiResult<Value> {
        let inv = self.invoice(id)?.clone();
        if inv.status != "open" {
            return Err(ApiError::invalid(
                format!("Invoice is already {}.", inv.status),
                "invoice",
                "invoice_not_open",
            ));
        }
        let now = self.now();
        let paid = self.charge(&inv.customer);
        {
            let i = self.invoices.get_mut(id).expect("exists");
            i.attempt_count += 1;
            if paid {
                i.status = "paid";
                i.paid_at = Some(now);
                i.next_payment_attempt = None;
            }
        }
        let body = self.render_invoice(id);
        if !paid {
            self.emit("invoice.payment_failed", body, None, cause, now);
            return Err(ApiError::card_declined());
        }
        self.emit("invoice.paid", body, None, cause, now);
        let waiting = self
            .subscriptions
            .get(&inv.subscription)
            .is_some_and(|s| s.open_invoice.as_deref() == Some(id));
        if waiting {
            let before = self.render_subscription(&inv.subscription);
            let s = self
                .subscriptions
                .get_mut(&inv.subscription)
                .expect("exists");
            if matches!(
                s.status,
                Status::Incomplete | Status::PastDue | Status::Unpaid
            ) {
                s.status = Status::Active;
            }
            s.open_invoice = None;
            s.next_retry_at = None;
            s.failed_attempts = 0;
            let after = self.render_subscription(&inv.subscription);
            let previous = diff(&before, &after);
            if !previous.is_empty() {
                self.emit(
                    "customer.subscription.updated",
                    after,
                    Some(Value::Object(previous)),
                    cause,
                    now,
                );
            }
            self.sync_entitlements(&inv.customer, cause, now);
        }
        Ok(self.render_invoice(id))
    }

    pub fn render_invoice(&self, id: &str) -> Value {
        let inv = &self.invoices[id];
        let lines: Vec<Value> = inv
            .lines
            .iter()
            .map(|(line_id, item)| {
                let amount = if inv.amount == 0 {
                    0
                } else {
                    self.catalog
                        .price(&item.price)
                        .and_then(|(_, p)| line_amount(p.unit_amount, item.quantity))
                        .unwrap_or(i64::MAX)
                };
                json!({
                    "id": line_id,
                    "object": "line_item",
                    "amount": amount,
                    "currency": self.catalog.currency,
                    "description": format!("{} × {}", item.quantity, self.catalog.price(&item.price).map_or("", |(p, _)| p.name.as_str())),
                    "discount_amounts": [],
                    "discountable": true,
                    "discounts": [],
                    "invoice": inv.id,
                    "livemode": false,
                    "metadata": {},
                    "parent": {
                        "type": "subscription_item_details",
                        "invoice_item_details": null,
                        "subscription_item_details": {
                            "invoice_item": null,
                            "proration": false,
                            "proration_details": {"credited_items": null},
                            "subscription": inv.subscription,
                            "subscription_item": item.id,
                        }
                    },
                    "period": {"end": inv.line_period.1, "start": inv.line_period.0},
                    "pretax_credit_amounts": [],
                    "pricing": {
                        "type": "price_details",
                        "price_details": {"price": item.price, "product": self.catalog.price(&item.price).map(|(p, _)| p.id.clone())},
                        "unit_amount_decimal": self.catalog.price(&item.price).map(|(_, p)| p.unit_amount.to_string()),
                    },
                    "quantity": item.quantity,
                    "subtotal": amount,
                    "taxes": [],
                })
            })
            .collect();
        let paid = inv.status == "paid";
        json!({
            "id": inv.id,
            "object": "invoice",
            "account_country": "US",
            "account_name": "stripe-sim",
            "amount_due": inv.amount,
            "amount_overpaid": 0,
            "amount_paid": if paid { inv.amount } else { 0 },
            "amount_remaining": if paid { 0 } else { inv.amount },
            "amount_shipping": 0,
            "application": null,
            "attempt_count": inv.attempt_count,
            "attempted": true,
            "auto_advance": !paid && inv.status == "open",
            "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null, "provider": null, "status": null},
            "billing_reason": inv.billing_reason,
            "collection_method": "charge_automatically",
            "created": inv.created,
            "currency": self.catalog.currency,
            "custom_fields": null,
            "customer": inv.customer,
            "customer_address": null,
            "customer_email": self.customers.get(&inv.customer).and_then(|c| c.email.clone()),
            "customer_name": self.customers.get(&inv.customer).and_then(|c| c.name.clone()),
            "customer_phone": null,
            "customer_shipping": null,
            "customer_tax_exempt": "none",
            "default_payment_method": null,
            "default_source": null,
            "default_tax_rates": [],
            "description": null,
            "discounts": [],
            "due_date": null,
            "effective_at": inv.created,
            "ending_balance": 0,
            "footer": null,
            "from_invoice": null,
            "hosted_invoice_url": format!("{}/invoice/{}", self.public_url, inv.id),
            "invoice_pdf": null,
            "issuer": {"type": "self"},
            "last_finalization_error": null,
            "latest_revision": null,
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": false,
                "total_count": inv.lines.len(),
                "url": format!("/v1/invoices/{}/lines", inv.id),
            },
            "livemode": false,
            "metadata": {},
            "next_payment_attempt": inv.next_payment_attempt,
            "number": format!("SIM-{:06}", inv.seq),
            "on_behalf_of": null,
            "parent": {
                "type": "subscription_details",
                "quote_details": null,
                "subscription_details": {
                    "metadata": self.subscriptions.get(&inv.subscription).map(|s| s.metadata.clone()),
                    "subscription": inv.subscription,
                }
            },
            "payment_settings": {"default_mandate": null, "payment_method_options": null, "payment_method_types": null},
            "period_end": inv.period_end,
            "period_start": inv.period_start,
            "post_payment_credit_notes_amount": 0,
            "pre_payment_credit_notes_amount": 0,
            "receipt_number": null,
            "rendering": null,
            "shipping_cost": null,
            "shipping_details": null,
            "starting_balance": 0,
            "statement_descriptor": null,
            "status": inv.status,
            "status_transitions": {
                "finalized_at": inv.created,
                "marked_uncollectible_at": null,
                "paid_at": inv.paid_at,
                "voided_at": null
            },
            "subtotal": inv.amount,
            "subtotal_excluding_tax": inv.amount,
            "test_clock": null,
            "total": inv.amount,
            "total_discount_amounts": [],
            "total_excluding_tax": inv.amount,
            "total_pretax_credit_amounts": [],
            "total_taxes": [],
            "webhooks_delivered_at": inv.created,
        })
    }

    // ---------------------------------------------------------------- clock

    /// Moves the simulated clock forward to `target`, applying everything that falls due on
    /// the way, earliest first, each at its own time. The clock never moves back (`target` in
    /// the past only applies what is overdue). Past [`MAX_STEPS`] things it stops, with the
    /// clock at the last one applied, and says so: nothing is skipped, a later call (or the
    /// next access, which catches up) goes on from there.
    pub fn advance_to(&mut self, target: i64) -> ApiResult<usize> {
        let mut applied = 0;
        loop {
            if applied == MAX_STEPS {
                return Err(ApiError::bad_request(format!(
                    "Too much falls due before {target}: stripe-sim applied {MAX_STEPS} renewals, \
                     retries and expiries and stopped the clock at {}. Advance again to go on.",
                    self.now()
                )));
            }
            let subscription = self.next_due(target);
            let session = self.next_session_expiry(target);
            match (subscription, session) {
                (Some((_, sub_due, _)), Some((id, due))) if due < sub_due => {
                    self.expire_session_at(&id, due)
                }
                (None, Some((id, due))) => self.expire_session_at(&id, due),
                (Some((sub_id, due, action)), _) => {
                    self.clock_at_least(due);
                    self.apply_due(&sub_id, due, action);
                }
                (None, None) => break,
            }
            applied += 1;
        }
        self.clock_at_least(target);
        Ok(applied)
    }

    /// The open checkout session that expires first, by `target`.
    fn next_session_expiry(&self, target: i64) -> Option<(String, i64)> {
        self.sessions
            .values()
            .filter(|s| s.status == "open" && s.expires_at <= target)
            .min_by_key(|s| (s.expires_at, s.seq))
            .map(|s| (s.id.clone(), s.expires_at))
    }

    fn expire_session_at(&mut self, id: &str, at: i64) {
        self.clock_at_least(at);
        self.sessions.get_mut(id).expect("exists").status = "expired";
        let body = self.render_session(id);
        self.emit(
            "checkout.session.expired",
            body,
            None,
            &Cause::automatic(),
            at,
        );
    }

    fn next_due(&self, target: i64) -> Option<(String, i64, Due)> {
        let mut best: Option<(String, i64, Due, u64)> = None;
        for s in self.subscriptions.values() {
            let candidate = match s.status {
                Status::Trialing => {
                    let trial_end = s.trial_end.unwrap_or(s.period_end);
                    if !s.trial_will_end_sent && trial_end - 3 * DAY <= target {
                        Some(((trial_end - 3 * DAY).max(s.created), Due::TrialWillEnd))
                    } else {
                        Some((trial_end, Due::TrialEnd))
                    }
                }
                Status::Active => Some((s.period_end, Due::PeriodEnd)),
                Status::PastDue | Status::Incomplete if s.next_retry_at.is_some() => {
                    Some((s.next_retry_at.expect("checked"), Due::Retry))
                }
                Status::Incomplete => Some((s.created + 23 * 3600, Due::IncompleteExpiry)),
                Status::PastDue | Status::Unpaid if s.cancel_at_period_end => {
                    Some((s.period_end, Due::PeriodEnd))
                }
                _ => None,
            };
            if let Some((due, action)) = candidate
                && due <= target
                && best.as_ref().is_none_or(|b| (due, s.seq) < (b.1, b.3))
            {
                best = Some((s.id.clone(), due, action, s.seq));
            }
        }
        best.map(|(id, due, action, _)| (id, due, action))
    }

    fn apply_due(&mut self, id: &str, at: i64, action: Due) {
        let cause = Cause::automatic();
        let customer = self.subscriptions[id].customer.clone();
        match action {
            Due::TrialWillEnd => {
                self.subscriptions
                    .get_mut(id)
                    .expect("exists")
                    .trial_will_end_sent = true;
                let body = self.render_subscription(id);
                self.emit(
                    "customer.subscription.trial_will_end",
                    body,
                    None,
                    &cause,
                    at,
                );
            }
            Due::TrialEnd => self.end_trial(id, at, &cause),
            Due::PeriodEnd => {
                if self.subscriptions[id].cancel_at_period_end {
                    self.end_subscription(id, at, "cancellation_requested", &cause);
                } else {
                    self.renew(id, at, &cause);
                }
            }
            Due::Retry => self.retry_payment(id, at, &cause),
            Due::IncompleteExpiry => {
                let before = self.render_subscription(id);
                let s = self.subscriptions.get_mut(id).expect("exists");
                s.status = Status::IncompleteExpired;
                s.ended_at = Some(at);
                if let Some(inv) = s.open_invoice.take()
                    && let Some(inv) = self.invoices.get_mut(&inv)
                {
                    inv.status = "void";
                    inv.next_payment_attempt = None;
                }
                let after = self.render_subscription(id);
                let previous = diff(&before, &after);
                self.emit(
                    "customer.subscription.updated",
                    after,
                    Some(Value::Object(previous)),
                    &cause,
                    at,
                );
            }
        }
        self.sync_entitlements(&customer, &cause, at);
    }

    fn end_trial(&mut self, id: &str, at: i64, cause: &Cause) {
        let sub = self.subscriptions[id].clone();
        if sub.cancel_at_period_end {
            self.end_subscription(id, at, "cancellation_requested", cause);
            return;
        }
        let paid = self.charge_off_session(&sub.customer);
        if !paid && sub.pause_on_trial_end_failure {
            {
                let s = self.subscriptions.get_mut(id).expect("exists");
                s.trial_end = Some(at);
            }
            self.set_paused(id, at, cause);
            return;
        }
        let before = self.render_subscription(id);
        let period = (sub.period_start, at);
        let status = Some(Status::Active);
        self.start_period(
            id,
            at,
            paid,
            period,
            status,
            "subscription_cycle",
            before,
            cause,
        );
    }

    /// A period ends: the subscription moves to the next one.
    fn renew(&mut self, id: &str, at: i64, cause: &Cause) {
        let sub = self.subscriptions[id].clone();
        let paid = self.charge_off_session(&sub.customer);
        let before = self.render_subscription(id);
        let period = (sub.period_start, sub.period_end);
        self.start_period(
            id,
            at,
            paid,
            period,
            None,
            "subscription_cycle",
            before,
            cause,
        );
    }

    /// Starts a new billing period at `at` and bills it, in Stripe's order: the subscription
    /// moves to the new period (`customer.subscription.updated`, with `status` if given), then
    /// the invoice (whose own period is `invoice_period`, the one that ended) is paid or fails,
    /// and a failure makes the subscription `past_due` (another `updated`). `before` is the
    /// subscription as last reported, for `previous_attributes`.
    #[allow(clippy::too_many_arguments)]
    fn start_period(
        &mut self,
        id: &str,
        at: i64,
        paid: bool,
        invoice_period: (i64, i64),
        status: Option<Status>,
        reason: &'static str,
        before: Value,
        cause: &Cause,
    ) {
        let sub = self.subscriptions[id].clone();
        let period_end = self.period_after(&sub.items, at);
        {
            let s = self.subscriptions.get_mut(id).expect("exists");
            if let Some(status) = status {
                s.status = status;
            }
            if sub.status == Status::Trialing {
                s.trial_end = Some(at);
                s.billing_cycle_anchor = at;
            }
            if reason == "subscription_update" {
                s.billing_cycle_anchor = at;
            }
            s.period_start = at;
            s.period_end = period_end;
        }
        let invoice = self.make_invoice(id, reason, paid, at, invoice_period);
        let after = self.render_subscription(id);
        let previous = diff(&before, &after);
        self.emit(
            "customer.subscription.updated",
            after,
            Some(Value::Object(previous)),
            cause,
            at,
        );
        self.emit_invoice(&invoice, paid, cause, at);
        self.after_payment_attempt(id, invoice, paid, at);
        if !paid {
            self.set_status(id, Status::PastDue, cause, at);
        }
    }

    /// Changes the status and emits `customer.subscription.updated` with the old one.
    fn set_status(&mut self, id: &str, status: Status, cause: &Cause, at: i64) {
        let before = self.render_subscription(id);
        self.subscriptions.get_mut(id).expect("exists").status = status;
        let after = self.render_subscription(id);
        let previous = diff(&before, &after);
        if !previous.is_empty() {
            self.emit(
                "customer.subscription.updated",
                after,
                Some(Value::Object(previous)),
                cause,
                at,
            );
        }
    }

    fn after_payment_attempt(&mut self, id: &str, invoice: String, paid: bool, at: i64) {
        let first_retry = self.retry_schedule_days.first().copied();
        let s = self.subscriptions.get_mut(id).expect("exists");
        if paid {
            s.open_invoice = None;
            s.next_retry_at = None;
            s.failed_attempts = 0;
        } else {
            s.open_invoice = Some(invoice);
            s.failed_attempts = 1;
            s.next_retry_at = first_retry.map(|d| at + i64::from(d) * DAY);
            if s.next_retry_at.is_none() {
                // No retries configured: the final failure applies at once.
                s.next_retry_at = Some(at);
            }
        }
    }

    fn retry_payment(&mut self, id: &str, at: i64, cause: &Cause) {
        let sub = self.subscriptions[id].clone();
        let Some(invoice_id) = sub.open_invoice.clone() else {
            self.subscriptions
                .get_mut(id)
                .expect("exists")
                .next_retry_at = None;
            return;
        };
        let attempts_made = sub.failed_attempts as usize;
        let retries_allowed = self.retry_schedule_days.len();
        if sub.status == Status::PastDue && attempts_made > retries_allowed {
            self.final_failure(id, at, cause);
            return;
        }
        let paid = self.charge_off_session(&sub.customer);
        let next_delay = self.retry_schedule_days.get(attempts_made).copied();
        {
            let inv = self.invoices.get_mut(&invoice_id).expect("exists");
            inv.attempt_count += 1;
            if paid {
                inv.status = "paid";
                inv.paid_at = Some(at);
                inv.next_payment_attempt = None;
            } else {
                inv.next_payment_attempt = next_delay.map(|d| at + i64::from(d) * DAY);
            }
        }
        let body = self.render_invoice(&invoice_id);
        let kind = if paid {
            "invoice.paid"
        } else {
            self.failure_event
        };
        self.emit(kind, body, None, cause, at);
        let before = self.render_subscription(id);
        {
            let s = self.subscriptions.get_mut(id).expect("exists");
            if paid {
                s.status = Status::Active;
                s.open_invoice = None;
                s.next_retry_at = None;
                s.failed_attempts = 0;
            } else {
                s.failed_attempts += 1;
                s.next_retry_at = Some(next_delay.map_or(at, |d| at + i64::from(d) * DAY));
            }
        }
        let after = self.render_subscription(id);
        let previous = diff(&before, &after);
        if !previous.is_empty() {
            self.emit(
                "customer.subscription.updated",
                after,
                Some(Value::Object(previous)),
                cause,
                at,
            );
        }
        if !paid && next_delay.is_none() && sub.status == Status::PastDue {
            self.final_failure(id, at, cause);
        }
    }

    fn final_failure(&mut self, id: &str, at: i64, cause: &Cause) {
        match self.final_failure {
            FinalFailure::Cancel => self.end_subscription(id, at, "payment_failed", cause),
            FinalFailure::Unpaid => {
                let before = self.render_subscription(id);
                let s = self.subscriptions.get_mut(id).expect("exists");
                s.status = Status::Unpaid;
                s.next_retry_at = None;
                let after = self.render_subscription(id);
                let previous = diff(&before, &after);
                self.emit(
                    "customer.subscription.updated",
                    after,
                    Some(Value::Object(previous)),
                    cause,
                    at,
                );
            }
        }
    }

    // ---------------------------------------------------------------- entitlements

    /// The feature lookup keys a customer is entitled to now.
    pub fn entitlement_keys(&self, customer: &str) -> BTreeSet<String> {
        self.subscriptions
            .values()
            .filter(|s| s.customer == customer && s.status.grants_entitlements())
            .flat_map(|s| s.items.iter())
            .filter_map(|i| self.catalog.price(&i.price).map(|(product, _)| product))
            .flat_map(|p| p.features.iter().cloned())
            .collect()
    }

    fn render_entitlement(&self, customer: &str, key: &str) -> Value {
        json!({
            "id": format!("ent_test_{}_{}", &customer[4..], key),
            "object": "entitlements.active_entitlement",
            "feature": format!("feat_{key}"),
            "livemode": false,
            "lookup_key": key,
        })
    }

    pub fn render_feature(&self, key: &str) -> Value {
        json!({
            "id": format!("feat_{key}"),
            "object": "entitlements.feature",
            "active": true,
            "livemode": false,
            "lookup_key": key,
            "metadata": {},
            "name": feature_name(key),
        })
    }

    fn entitlement_list(&self, customer: &str, keys: &BTreeSet<String>) -> Value {
        json!({
            "object": "list",
            "data": keys.iter().map(|k| self.render_entitlement(customer, k)).collect::<Vec<_>>(),
            "has_more": false,
            "url": format!("/v1/customer/{customer}/entitlements"),
        })
    }

    pub fn list_active_entitlements(&self, q: &Value) -> ApiResult<Value> {
        let customer = str_param(q, "customer").ok_or_else(|| ApiError::required("customer"))?;
        self.customer(&customer)
            .map_err(|_| ApiError::missing("customer", &customer, Some("customer")))?;
        let keys: Vec<String> = self.entitlement_keys(&customer).into_iter().collect();
        let mut page = self.page(q, keys, "/v1/entitlements/active_entitlements", |st, k| {
            st.render_entitlement(&customer, k)
        });
        if let Some(expand) = q.get("expand").and_then(Value::as_array)
            && expand.iter().any(|e| e == "data.feature")
            && let Some(data) = page["data"].as_array_mut()
        {
            for ent in data {
                let key = ent["lookup_key"].as_str().unwrap_or_default().to_string();
                ent["feature"] = self.render_feature(&key);
            }
        }
        Ok(page)
    }

    /// Emits `entitlements.active_entitlement_summary.updated` if the customer's features
    /// changed since the last summary.
    fn sync_entitlements(&mut self, customer: &str, cause: &Cause, at: i64) {
        let keys = self.entitlement_keys(customer);
        let Some(c) = self.customers.get(customer) else {
            return;
        };
        if c.reported_entitlements == keys {
            return;
        }
        let previous = self.entitlement_list(customer, &c.reported_entitlements);
        let body = json!({
            "object": "entitlements.active_entitlement_summary",
            "customer": customer,
            "entitlements": self.entitlement_list(customer, &keys),
            "livemode": false,
        });
        self.customers
            .get_mut(customer)
            .expect("exists")
            .reported_entitlements = keys;
        self.emit(
            "entitlements.active_entitlement_summary.updated",
            body,
            Some(json!({"entitlements": previous})),
            cause,
            at,
        );
    }

    // ---------------------------------------------------------------- webhook endpoints

    pub fn add_endpoint(
        &mut self,
        url: String,
        secret: Option<String>,
        enabled_events: Vec<String>,
    ) -> WebhookEndpoint {
        let endpoint = WebhookEndpoint {
            id: new_id("we"),
            created: self.now(),
            url,
            enabled_events,
            description: None,
            metadata: BTreeMap::new(),
            secrets: vec![
                secret.unwrap_or_else(|| format!("whsec_{}", uuid::Uuid::new_v4().simple())),
            ],
            api_version: Some(API_VERSION.into()),
        };
        self.endpoints.push(endpoint.clone());
        endpoint
    }

    pub fn create_endpoint(&mut self, p: &Value) -> ApiResult<Value> {
        let url = str_param(p, "url").ok_or_else(|| ApiError::required("url"))?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ApiError::invalid(
                "Invalid URL: URL must be a valid http(s) URL.",
                "url",
                "url_invalid",
            ));
        }
        let events: Vec<String> = match p.get("enabled_events") {
            Some(Value::Array(a)) if !a.is_empty() => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => return Err(ApiError::required("enabled_events")),
        };
        let mut endpoint = self.add_endpoint(url, None, events);
        endpoint.description = str_param(p, "description");
        endpoint.metadata = metadata_param(p, "metadata")?.into_metadata();
        if let Some(v) = str_param(p, "api_version") {
            endpoint.api_version = Some(v);
        }
        let last = self.endpoints.last_mut().expect("just pushed");
        *last = endpoint.clone();
        let mut body = render_endpoint(&endpoint);
        // Stripe shows the secret only in the response that creates the endpoint.
        body["secret"] = json!(endpoint.secrets[0]);
        Ok(body)
    }

    // ---------------------------------------------------------------- events

    fn emit(&mut self, kind: &str, object: Value, previous: Option<Value>, cause: &Cause, at: i64) {
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

    pub fn render_event(&self, id: &str) -> ApiResult<Value> {
        self.events
            .iter()
            .find(|e| e.id == id)
            .map(|e| e.envelope.clone())
            .ok_or_else(|| ApiError::missing("event", id, Some("id")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    TrialWillEnd,
    TrialEnd,
    PeriodEnd,
    Retry,
    IncompleteExpiry,
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

fn feature_name(key: &str) -> String {
    let mut name = key.replace('_', " ");
    if let Some(first) = name.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    name
}

pub fn add_interval(start: i64, interval: Interval, count: u32) -> i64 {
    use chrono::{DateTime, Months};
    let Some(t) = DateTime::from_timestamp(start, 0) else {
        return start + 30 * DAY;
    };
    let next = match interval {
        Interval::Day => Some(t + chrono::Duration::days(i64::from(count))),
        Interval::Week => Some(t + chrono::Duration::weeks(i64::from(count))),
        Interval::Month => t.checked_add_months(Months::new(count)),
        Interval::Year => t.checked_add_months(Months::new(count.saturating_mul(12))),
    };
    next.map_or(start + 30 * DAY, |n| n.timestamp())
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

pub fn str_param(p: &Value, key: &str) -> Option<String> {
    p.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

pub fn parse_u64(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

pub fn parse_bool(v: &Value) -> Option<bool> {
    match v {
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

/// `metadata[k]=v` pairs; an empty string value unsets a key (Stripe's convention), and
/// `metadata=` (empty) clears all of them.
fn metadata_param(p: &Value, key: &str) -> ApiResult<Option<BTreeMap<String, Option<String>>>> {
    match p.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(Some(BTreeMap::new())),
        Some(Value::Object(m)) => Ok(Some(
            m.iter()
                .map(|(k, v)| {
                    let v = v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
                    (k.clone(), v)
                })
                .collect(),
        )),
        Some(_) => Err(ApiError::invalid(
            "Invalid object",
            key,
            "parameter_invalid_object",
        )),
    }
}

fn merge_metadata(target: &mut BTreeMap<String, String>, update: BTreeMap<String, Option<String>>) {
    if update.is_empty() {
        target.clear();
    }
    for (k, v) in update {
        match v {
            Some(v) => {
                target.insert(k, v);
            }
            None => {
                target.remove(&k);
            }
        }
    }
}

trait IntoMetadata {
    fn into_metadata(self) -> BTreeMap<String, String>;
}

impl IntoMetadata for Option<BTreeMap<String, Option<String>>> {
    fn into_metadata(self) -> BTreeMap<String, String> {
        self.map(|m| {
            m.into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect()
        })
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monthly_periods_follow_the_calendar() {
        // 2026-01-31 → 2026-02-28
        let jan31 = 1_769_817_600;
        let next = add_interval(jan31, Interval::Month, 1);
        assert_eq!(
            chrono::DateTime::from_timestamp(next, 0)
                .unwrap()
                .format("%Y-%m-%d")
                .to_string(),
            "2026-02-28"
        );
    }

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

    #[test]
    fn metadata_with_an_empty_value_unsets_the_key() {
        let mut m: BTreeMap<String, String> =
            [("a".to_string(), "1".to_string()), ("b".into(), "2".into())].into();
        let update = metadata_param(&json!({"metadata": {"a": "", "c": "3"}}), "metadata")
            .unwrap()
            .unwrap();
        merge_metadata(&mut m, update);
        assert_eq!(
            m,
            [("b".to_string(), "2".to_string()), ("c".into(), "3".into())].into()
        );
    }

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
