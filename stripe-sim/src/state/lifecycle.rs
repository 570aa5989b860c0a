//! A subscription's life after it is made: trial ends, renewals, payment retries, past due and
//! the final failure, pauses and resumes, and its end. Each step emits the events Stripe sends,
//! in Stripe's order.

use serde_json::Value;

use super::emit::SUBSCRIPTION_UPDATED;
use super::{Cause, DAY, FinalFailure, State, Status};
use crate::error::{ApiError, ApiResult};

/// A pause and a resume are each reported twice, as Stripe does.
const PAUSED: &[&str] = &[
    "customer.subscription.paused",
    "customer.subscription.updated",
];
const RESUMED: &[&str] = &[
    "customer.subscription.resumed",
    "customer.subscription.updated",
];

impl State {
    /// Cancels now (or at `at`), voiding any invoice still being retried.
    pub(crate) fn end_subscription(
        &mut self,
        id: &str,
        at: i64,
        reason: &'static str,
        cause: &Cause,
    ) {
        let s = self.subscriptions.get_mut(id).expect("exists");
        s.status = Status::Canceled;
        s.canceled_at = Some(s.canceled_at.unwrap_or(at));
        s.ended_at = Some(at);
        s.cancellation_reason = Some(reason);
        s.next_retry_at = None;
        let open = s.open_invoice.take();
        self.void_invoice(open);
        let body = self.render_subscription(id);
        self.emit("customer.subscription.deleted", body, None, cause, at);
    }

    /// An `incomplete` subscription whose first invoice was not paid within 23 hours.
    pub(crate) fn expire_incomplete(&mut self, id: &str, at: i64, cause: &Cause) {
        let open = self.change_subscription(id, SUBSCRIPTION_UPDATED, cause, at, |s| {
            s.status = Status::IncompleteExpired;
            s.ended_at = Some(at);
            s.open_invoice.take()
        });
        self.void_invoice(open);
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
        self.change_subscription(id, PAUSED, cause, at, |s| {
            s.status = Status::Paused;
            s.next_retry_at = None;
        });
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
        let period_end = self.period_after(&sub.items, now);
        self.change_subscription(id, RESUMED, cause, now, |s| {
            s.status = Status::Active;
            s.period_start = now;
            s.period_end = period_end;
            s.billing_cycle_anchor = now;
            s.failed_attempts = 0;
        });
        self.issue_invoice(id, "subscription_update", true, now, cause);
        self.sync_entitlements(&sub.customer, cause, now);
        Ok(self.render_subscription(id))
    }

    /// Three days before a trial ends.
    pub(crate) fn trial_will_end(&mut self, id: &str, at: i64, cause: &Cause) {
        let s = self.subscriptions.get_mut(id).expect("exists");
        s.trial_will_end_sent = true;
        let body = self.render_subscription(id);
        self.emit(
            "customer.subscription.trial_will_end",
            body,
            None,
            cause,
            at,
        );
    }

    pub(crate) fn end_trial(&mut self, id: &str, at: i64, cause: &Cause) {
        let sub = self.subscriptions[id].clone();
        if sub.cancel_at_period_end {
            self.end_subscription(id, at, "cancellation_requested", cause);
            return;
        }
        let paid = self.charge_off_session(&sub.customer);
        if !paid && sub.pause_on_trial_end_failure {
            self.subscriptions.get_mut(id).expect("exists").trial_end = Some(at);
            self.set_paused(id, at, cause);
            return;
        }
        let before = self.render_subscription(id);
        let period = (sub.period_start, at);
        let status = Some(Status::Active);
        let reason = "subscription_cycle";
        self.start_period(id, at, paid, period, status, reason, before, cause);
    }

    /// A period ends: the subscription moves to the next one.
    pub(crate) fn renew(&mut self, id: &str, at: i64, cause: &Cause) {
        let sub = self.subscriptions[id].clone();
        let paid = self.charge_off_session(&sub.customer);
        let before = self.render_subscription(id);
        let period = (sub.period_start, sub.period_end);
        let reason = "subscription_cycle";
        self.start_period(id, at, paid, period, None, reason, before, cause);
    }

    /// Starts a new billing period at `at` and bills it, in Stripe's order: the subscription
    /// moves to the new period (`customer.subscription.updated`, with `status` if given), then
    /// the invoice (whose own period is `invoice_period`, the one that ended) is paid or fails,
    /// and a failure makes the subscription `past_due` (another `updated`). `before` is the
    /// subscription as last reported, for `previous_attributes`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start_period(
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
        self.emit_if_changed(SUBSCRIPTION_UPDATED, &before, after, cause, at);
        self.emit_invoice(&invoice, paid, cause, at);
        self.after_payment_attempt(id, invoice, paid, at);
        if !paid {
            self.set_status(id, Status::PastDue, cause, at);
        }
    }

    /// Changes the status and emits `customer.subscription.updated` with the old one.
    pub(crate) fn set_status(&mut self, id: &str, status: Status, cause: &Cause, at: i64) {
        self.change_subscription(id, SUBSCRIPTION_UPDATED, cause, at, |s| s.status = status);
    }

    fn after_payment_attempt(&mut self, id: &str, invoice: String, paid: bool, at: i64) {
        let first_retry = self.retry_schedule_days.first().copied();
        let s = self.subscriptions.get_mut(id).expect("exists");
        if paid {
            s.settle();
        } else {
            s.open_invoice = Some(invoice);
            s.failed_attempts = 1;
            // No retries configured: the final failure applies at once.
            s.next_retry_at = Some(first_retry.map_or(at, |d| at + i64::from(d) * DAY));
        }
    }

    /// Tries the open invoice again; after the last scheduled retry fails, the final failure.
    pub(crate) fn retry_payment(&mut self, id: &str, at: i64, cause: &Cause) {
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
        let next_attempt = next_delay.map(|d| at + i64::from(d) * DAY);
        self.record_attempt(&invoice_id, paid, at, next_attempt);
        self.emit_invoice(&invoice_id, paid, cause, at);
        self.change_subscription(id, SUBSCRIPTION_UPDATED, cause, at, |s| {
            if paid {
                s.status = Status::Active;
                s.settle();
            } else {
                s.failed_attempts += 1;
                s.next_retry_at = Some(next_attempt.unwrap_or(at));
            }
        });
        if !paid && next_delay.is_none() && sub.status == Status::PastDue {
            self.final_failure(id, at, cause);
        }
    }

    fn final_failure(&mut self, id: &str, at: i64, cause: &Cause) {
        match self.final_failure {
            FinalFailure::Cancel => self.end_subscription(id, at, "payment_failed", cause),
            FinalFailure::Unpaid => {
                self.change_subscription(id, SUBSCRIPTION_UPDATED, cause, at, |s| {
                    s.status = Status::Unpaid;
                    s.next_retry_at = None;
                });
            }
        }
    }
}
