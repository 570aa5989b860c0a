//! Subscriptions as the API makes and changes them: `POST /v1/subscriptions`, the list with
//! Stripe's filters, updates (price swaps, `cancel_at_period_end`, metadata, `trial_end=now`)
//! and `DELETE`. What the clock does to them is in `lifecycle`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::emit::SUBSCRIPTION_UPDATED;
use super::params::{
    IntoMetadata, bool_param, merge_metadata, metadata_param, parse_bool, price_lines,
    quantity_param, str_param, trial_days_param,
};
use super::{Cause, DAY, State, Status, Subscription, SubscriptionItem, new_id};
use crate::error::{ApiError, ApiResult};

/// What a new subscription starts with.
pub(crate) struct NewSubscription<'a> {
    pub customer: &'a str,
    /// `(price, quantity)` lines.
    pub items: &'a [(String, u64)],
    pub trial_days: Option<u32>,
    pub metadata: BTreeMap<String, String>,
    pub status: Status,
    pub pause_on_trial_end_failure: bool,
}

/// Which statuses `GET /v1/subscriptions` lists.
enum StatusFilter {
    /// Without a status, Stripe lists every subscription that is not canceled.
    NotCanceled,
    All,
    Only(Vec<Status>),
}

impl StatusFilter {
    fn parse(status: Option<&str>) -> ApiResult<Self> {
        Ok(match status {
            None => StatusFilter::NotCanceled,
            Some("all") => StatusFilter::All,
            Some("ended") => StatusFilter::Only(vec![Status::Canceled, Status::IncompleteExpired]),
            Some(s) => match Status::parse(s) {
                Some(st) => StatusFilter::Only(vec![st]),
                None => {
                    return Err(ApiError::invalid(
                        "Invalid status: must be one of active, all, canceled, ended, incomplete, incomplete_expired, past_due, paused, trialing, or unpaid",
                        "status",
                        "parameter_invalid_string",
                    ));
                }
            },
        })
    }

    fn matches(&self, status: Status) -> bool {
        match self {
            StatusFilter::NotCanceled => status != Status::Canceled,
            StatusFilter::All => true,
            StatusFilter::Only(wanted) => wanted.contains(&status),
        }
    }
}

impl State {
    fn create_subscription_record(&mut self, new: NewSubscription, now: i64) -> String {
        let id = new_id("sub");
        let items: Vec<SubscriptionItem> = new
            .items
            .iter()
            .map(|(price, quantity)| SubscriptionItem {
                id: new_id("si"),
                created: now,
                price: price.clone(),
                quantity: *quantity,
                metadata: BTreeMap::new(),
            })
            .collect();
        let (trial_start, trial_end) = match new.trial_days {
            Some(d) => (Some(now), Some(now + i64::from(d) * DAY)),
            None => (None, None),
        };
        let period_end = trial_end.unwrap_or_else(|| self.period_after(&items, now));
        let seq = self.next_seq();
        let subscription = Subscription {
            id: id.clone(),
            seq,
            customer: new.customer.to_string(),
            status: new.status,
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
            pause_on_trial_end_failure: new.pause_on_trial_end_failure,
            metadata: new.metadata,
            latest_invoice: None,
            open_invoice: None,
            next_retry_at: None,
            failed_attempts: 0,
        };
        self.subscriptions.insert(id.clone(), subscription);
        id
    }

    /// Makes the subscription and its first invoice (paid or not) and emits
    /// `customer.subscription.created` and the invoice's event. Returns both ids.
    pub(crate) fn open_subscription(
        &mut self,
        new: NewSubscription,
        paid: bool,
        cause: &Cause,
        now: i64,
    ) -> (String, String) {
        let id = self.create_subscription_record(new, now);
        let invoice = self.make_invoice(&id, "subscription_create", paid, now, (now, now));
        let body = self.render_subscription(&id);
        self.emit("customer.subscription.created", body, None, cause, now);
        self.emit_invoice(&invoice, paid, cause, now);
        (id, invoice)
    }

    /// `POST /v1/subscriptions`: a subscription created directly, charged at once unless it
    /// starts with a trial. A declined first payment leaves it `incomplete` for 23 hours.
    pub fn create_subscription(&mut self, p: &Value, cause: &Cause) -> ApiResult<Value> {
        let customer = str_param(p, "customer").ok_or_else(|| ApiError::required("customer"))?;
        self.live_customer(&customer, "customer")?;
        let items = price_lines(p, "items", &self.catalog)?;
        self.total_amount(items.iter().map(|(p, q)| (p.as_str(), *q)))?;
        let trial_days = trial_days_param(p, "trial_period_days", "trial_period_days")?;
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
        let new = NewSubscription {
            customer: &customer,
            items: &items,
            trial_days,
            metadata,
            status,
            pause_on_trial_end_failure: pause_on_failure,
        };
        let (id, invoice) = self.open_subscription(new, paid, cause, now);
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
        let status = StatusFilter::parse(str_param(q, "status").as_deref())?;
        let mut subs: Vec<&Subscription> = self
            .subscriptions
            .values()
            .filter(|s| customer.as_ref().is_none_or(|c| &s.customer == c))
            .filter(|s| {
                price
                    .as_ref()
                    .is_none_or(|p| s.items.iter().any(|i| &i.price == p))
            })
            .filter(|s| status.matches(s.status))
            .collect();
        subs.sort_by_key(|s| std::cmp::Reverse(s.seq));
        let ids: Vec<String> = subs.iter().map(|s| s.id.clone()).collect();
        Ok(self.page(q, ids, "/v1/subscriptions", |st, id| {
            st.render_subscription(id)
        }))
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
        let next = self.updated(&sub, p)?;
        let end_trial_now = str_param(p, "trial_end").as_deref() == Some("now");
        // A swap to a price with another interval (monthly ↔ yearly) resets the billing cycle:
        // the new period starts now and is invoiced at once, as Stripe does. A swap within the
        // same interval keeps the period.
        let resets_cycle = sub.status == Status::Active
            && self.billing_interval(&sub.items) != self.billing_interval(&next.items);
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
            self.emit_if_changed(SUBSCRIPTION_UPDATED, &before, after, cause, now);
        }
        self.sync_entitlements(&sub.customer, cause, now);
        Ok(self.render_subscription(id))
    }

    /// `sub` as the update `p` asks, validated, before anything is stored or billed.
    fn updated(&self, sub: &Subscription, p: &Value) -> ApiResult<Subscription> {
        let mut next = sub.clone();
        if let Some(cancel) = bool_param(p, "cancel_at_period_end")? {
            next.cancel_at_period_end = cancel;
            if cancel {
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
                self.change_item(&mut next, i, item, now)?;
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
        Ok(next)
    }

    /// `items[i]`: with an `id`, changes (`price`, `quantity`) or removes (`deleted`) that
    /// item; without one, adds an item.
    fn change_item(
        &self,
        next: &mut Subscription,
        i: usize,
        item: &Value,
        now: i64,
    ) -> ApiResult<()> {
        let price = str_param(item, "price");
        if let Some(price) = &price
            && self.catalog.price(price).is_none()
        {
            let param = format!("items[{i}][price]");
            return Err(ApiError::missing("price", price, Some(&param)));
        }
        let quantity = quantity_param(item, &format!("items[{i}][quantity]"))?;
        let deleted = item.get("deleted").and_then(parse_bool).unwrap_or(false);
        let Some(item_id) = str_param(item, "id") else {
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
            return Ok(());
        };
        let Some(pos) = next.items.iter().position(|x| x.id == item_id) else {
            let param = format!("items[{i}][id]");
            return Err(ApiError::missing(
                "subscription_item",
                &item_id,
                Some(&param),
            ));
        };
        if deleted {
            next.items.remove(pos);
            return Ok(());
        }
        if let Some(price) = price {
            next.items[pos].price = price;
        }
        if let Some(q) = quantity {
            next.items[pos].quantity = q;
        }
        Ok(())
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
}
