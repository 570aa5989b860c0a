//! Payments and invoices: whether a payment goes through (a declining card, `fail_next`, a
//! payment needing authentication), the invoice each billing makes, and paying an open one.

use serde_json::Value;

use super::emit::SUBSCRIPTION_UPDATED;
use super::{Cause, DAY, Invoice, State, Status, new_id};
use crate::error::{ApiError, ApiResult};

impl State {
    /// One payment attempt by `customer` with the customer present (checkout, resume, the
    /// hosted invoice page): false if the card declines.
    pub(crate) fn charge(&mut self, customer: &str) -> bool {
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
    pub(crate) fn charge_off_session(&mut self, customer: &str) -> bool {
        if self.requires_action_next > 0 {
            self.requires_action_next -= 1;
            self.failure_event = "invoice.payment_action_required";
            return false;
        }
        self.charge(customer)
    }

    /// Makes an invoice for the subscription's current period and emits `invoice.paid` or
    /// `invoice.payment_failed`. Returns the invoice id.
    pub(crate) fn issue_invoice(
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
    pub(crate) fn emit_invoice(&mut self, id: &str, paid: bool, cause: &Cause, at: i64) {
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
    pub(crate) fn make_invoice(
        &mut self,
        sub_id: &str,
        reason: &'static str,
        paid: bool,
        at: i64,
        period: (i64, i64),
    ) -> String {
        let sub = self.subscriptions[sub_id].clone();
        let amount = if sub.status == Status::Trialing {
            0
        } else {
            self.items_amount(&sub.items)
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
        let s = self.subscriptions.get_mut(sub_id).expect("exists");
        s.latest_invoice = Some(id.clone());
        id
    }

    pub fn invoice(&self, id: &str) -> ApiResult<&Invoice> {
        self.invoices
            .get(id)
            .ok_or_else(|| ApiError::missing("invoice", id, Some("invoice")))
    }

    /// One more attempt to pay an open invoice: paid now, or still open and tried again at
    /// `retry_at`.
    pub(crate) fn record_attempt(&mut self, id: &str, paid: bool, at: i64, retry_at: Option<i64>) {
        let inv = self.invoices.get_mut(id).expect("exists");
        inv.attempt_count += 1;
        if paid {
            inv.status = "paid";
            inv.paid_at = Some(at);
            inv.next_payment_attempt = None;
        } else {
            inv.next_payment_attempt = retry_at;
        }
    }

    /// The invoice of a subscription that ended before it was paid.
    pub(crate) fn void_invoice(&mut self, id: Option<String>) {
        if let Some(inv) = id.and_then(|id| self.invoices.get_mut(&id)) {
            inv.status = "void";
            inv.next_payment_attempt = None;
        }
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
        // An on-session attempt: a failure is `invoice.payment_failed`.
        let paid = self.charge(&inv.customer);
        self.record_attempt(id, paid, now, inv.next_payment_attempt);
        self.emit_invoice(id, paid, cause, now);
        if !paid {
            return Err(ApiError::card_declined());
        }
        let waiting = self
            .subscriptions
            .get(&inv.subscription)
            .is_some_and(|s| s.open_invoice.as_deref() == Some(id));
        if waiting {
            let sub = &inv.subscription;
            self.change_subscription(sub, SUBSCRIPTION_UPDATED, cause, now, |s| {
                if matches!(
                    s.status,
                    Status::Incomplete | Status::PastDue | Status::Unpaid
                ) {
                    s.status = Status::Active;
                }
                s.settle();
            });
            self.sync_entitlements(&inv.customer, cause, now);
        }
        Ok(self.render_invoice(id))
    }
}
