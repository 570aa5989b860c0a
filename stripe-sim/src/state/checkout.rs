//! Checkout sessions (`mode=subscription`) from creation to payment or expiry, and billing
//! portal sessions.

use serde_json::{Value, json};

use super::params::{
    IntoMetadata, bool_param, metadata_param, price_lines, str_param, trial_days_param,
};
use super::subscriptions::NewSubscription;
use super::{Cause, CheckoutSession, DAY, LineItem, PortalSession, State, Status, new_id};
use crate::error::{ApiError, ApiResult};

impl State {
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
        let line_items: Vec<LineItem> = price_lines(p, "line_items", &self.catalog)?
            .into_iter()
            .map(|(price, quantity)| LineItem { price, quantity })
            .collect();
        self.total_amount(line_items.iter().map(|li| (li.price.as_str(), li.quantity)))?;
        let sub_data = p.get("subscription_data").cloned().unwrap_or(Value::Null);
        let trial_param = "subscription_data[trial_period_days]";
        let trial_period_days = trial_days_param(&sub_data, "trial_period_days", trial_param)?;
        let allow_promotion_codes = bool_param(p, "allow_promotion_codes")?;
        let now = self.now();
        let seq = self.next_seq();
        let session = CheckoutSession {
            id: format!("cs_test_{}", &new_id("x")[2..]),
            seq,
            created: now,
            expires_at: now + DAY,
            created_customer: customer.is_none(),
            customer,
            customer_email: str_param(p, "customer_email"),
            client_reference_id: str_param(p, "client_reference_id"),
            line_items,
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

    /// A session that can still be paid (or declined).
    fn open_session(&self, id: &str) -> ApiResult<&CheckoutSession> {
        let s = self.session(id)?;
        if s.status != "open" {
            return Err(ApiError::bad_request(format!(
                "This Checkout Session is no longer open (status: {}).",
                s.status
            )));
        }
        Ok(s)
    }

    /// Validated when the session was made; saturates rather than panics regardless.
    pub(crate) fn session_amount(&self, s: &CheckoutSession) -> i64 {
        self.total_amount(
            s.line_items
                .iter()
                .map(|li| (li.price.as_str(), li.quantity)),
        )
        .unwrap_or(i64::MAX)
    }

    /// Pays for an open checkout session: the customer (if new), the subscription, its first
    /// invoice and the events Stripe sends for them. A declined payment leaves the session open.
    pub fn complete_checkout(&mut self, id: &str, cause: &Cause) -> ApiResult<Value> {
        let session = self.open_session(id)?.clone();
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
        let customer_id = self.checkout_customer(&session, cause)?;
        let (sub_id, invoice) = self.checkout_subscription(&session, &customer_id, cause, now);
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

    /// The session's customer, or one made now from its email if it has none.
    fn checkout_customer(&mut self, session: &CheckoutSession, cause: &Cause) -> ApiResult<String> {
        if let Some(c) = &session.customer {
            return Ok(c.clone());
        }
        let email = session.customer_email.clone().unwrap_or_else(|| {
            format!(
                "{}@checkout.stripe-sim.test",
                session.client_reference_id.as_deref().unwrap_or("customer")
            )
        });
        let body = self.create_customer(&json!({"email": email}), cause)?;
        Ok(body["id"].as_str().expect("id").to_string())
    }

    /// The paid session's subscription and first invoice, with their events. Stripe creates a
    /// paid Checkout subscription `incomplete` and activates it once its first invoice is paid;
    /// a trial starts `trialing` with a $0 invoice.
    fn checkout_subscription(
        &mut self,
        session: &CheckoutSession,
        customer: &str,
        cause: &Cause,
        now: i64,
    ) -> (String, String) {
        let trial = session.trial_period_days.is_some();
        let items: Vec<(String, u64)> = session
            .line_items
            .iter()
            .map(|li| (li.price.clone(), li.quantity))
            .collect();
        let new = NewSubscription {
            customer,
            items: &items,
            trial_days: session.trial_period_days,
            metadata: session.subscription_metadata.clone(),
            status: if trial {
                Status::Trialing
            } else {
                Status::Incomplete
            },
            pause_on_trial_end_failure: false,
        };
        let (sub_id, invoice) = self.open_subscription(new, true, cause, now);
        if !trial {
            self.set_status(&sub_id, Status::Active, cause, now);
        }
        (sub_id, invoice)
    }

    /// A declined card on the hosted page: the session stays open and nothing is emitted.
    pub fn decline_checkout(&mut self, id: &str) -> ApiResult<Value> {
        self.open_session(id)?;
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
        Ok(self.mark_expired(id, cause, now))
    }

    /// A session left open for 24 hours expires by itself.
    pub(crate) fn expire_session_at(&mut self, id: &str, at: i64) {
        self.clock_at_least(at);
        self.mark_expired(id, &Cause::automatic(), at);
    }

    fn mark_expired(&mut self, id: &str, cause: &Cause, at: i64) -> Value {
        self.sessions.get_mut(id).expect("exists").status = "expired";
        let body = self.render_session(id);
        self.emit("checkout.session.expired", body.clone(), None, cause, at);
        body
    }

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
}
