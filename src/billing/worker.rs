//! The webhook worker. Events wait in `stripe_events`; the worker claims
//! due ones (a conditional update, so several instances share the work),
//! hands each to the sync engine, which re-reads the customer from Stripe
//! (Stripe is the source of truth: duplicates, reordering and missed events
//! all converge on Stripe's state), and retries failures with back-off.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use entity::{EventStatus, stripe_events};
use serde_json::Value;
use tokio::sync::Notify;

use super::{Billing, sync::Cause};
use crate::{db, error::ApiError};

/// Events that can change what a customer may do: each triggers a sync.
const HANDLED: &[&str] = &[
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "customer.subscription.trial_will_end",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.payment_action_required",
    "customer.deleted",
    "entitlements.active_entitlement_summary.updated",
];

/// Back-off after `attempts` failed tries: 5 s, 10 s, 20 s … capped at an hour.
pub fn backoff(attempts: i32) -> chrono::Duration {
    let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    chrono::Duration::seconds((5i64 << exp.min(10)).min(3600))
}

/// How processing one event ended.
pub struct Outcome {
    pub status: EventStatus,
    pub note: Option<String>,
}

impl Outcome {
    fn processed() -> Self {
        Self {
            status: EventStatus::Processed,
            note: None,
        }
    }

    fn ignored(why: &str) -> Self {
        Self {
            status: EventStatus::Ignored,
            note: Some(why.to_owned()),
        }
    }
}

/// Runs until the process stops: wakes when a webhook is stored, and every
/// few seconds for retries.
pub async fn run(billing: Billing, wake: Arc<Notify>, lease: Duration) {
    let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
    loop {
        match process_due(&billing, lease).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(processed = n, "webhook events processed"),
            Err(e) => tracing::warn!(error = %e, "webhook worker pass failed; will retry"),
        }
        tokio::select! {
            () = wake.notified() => {},
            () = tokio::time::sleep(Duration::from_secs(2)) => {},
        }
    }
}

/// Processes every due event once; returns how many it handled.
pub async fn process_due(
    billing: &Billing,
    lease: chrono::Duration,
) -> Result<usize, sea_orm::DbErr> {
    let db = billing.db();
    let mut handled = 0;
    loop {
        let ids = db::stripe_events::due_ids(db, Utc::now(), 50).await?;
        if ids.is_empty() {
            return Ok(handled);
        }
        let mut claimed_any = false;
        for id in ids {
            let Some(event) = db::stripe_events::claim(db, &id, Utc::now(), lease).await? else {
                continue; // another worker has it
            };
            claimed_any = true;
            handled += 1;
            let (status, error, next) = match process(billing, &event).await {
                Ok(outcome) => (outcome.status, outcome.note, Utc::now()),
                Err(e) => {
                    let reason = describe(&e);
                    tracing::warn!(event = %event.id, attempts = event.attempts, error = %reason, "webhook processing failed");
                    (
                        EventStatus::Failed,
                        Some(reason),
                        Utc::now() + backoff(event.attempts),
                    )
                }
            };
            crate::telemetry::metrics::webhook_event(status.as_str());
            db::stripe_events::finish(db, &event.id, event.attempts, status, error, next).await?;
        }
        if !claimed_any {
            return Ok(handled);
        }
    }
}

/// What an operator reads in `last_error`: the whole cause chain.
fn describe(e: &ApiError) -> String {
    match e {
        ApiError::StripeUnavailable(cause) | ApiError::Internal(cause) => format!("{cause:#}"),
        other => other.message(),
    }
}

/// Applies one event. Unhandled types and customers we do not know are
/// recorded as `ignored`, with the reason.
pub async fn process(billing: &Billing, event: &stripe_events::Model) -> Result<Outcome, ApiError> {
    if !HANDLED.contains(&event.r#type.as_str()) {
        tracing::info!(event = %event.id, kind = %event.r#type, "webhook type not handled");
        return Ok(Outcome::ignored("event type not handled"));
    }
    let Some(customer) = event.customer_id.as_deref() else {
        return Ok(Outcome::ignored("the event names no customer"));
    };
    let Some(user) = owner(billing, event, customer).await? else {
        return Ok(Outcome::ignored("no user has this Stripe customer"));
    };
    if event.r#type == "customer.deleted" {
        billing.customer_deleted(&user, customer, &event.id).await?;
        return Ok(Outcome::processed());
    }
    let n = billing
        .sync_customer(user.id, customer, &Cause::webhook(&event.id))
        .await?;
    tracing::info!(event = %event.id, kind = %event.r#type, user = %user.pid, subscriptions = n, "webhook applied");
    Ok(Outcome::processed())
}

/// The user whose Stripe customer the event is about. A checkout that
/// finished before our own record of its customer (the success page never
/// ran) names our user in the session, and links the customer. Only a
/// checkout may link one, so a late event of a deleted customer cannot link
/// it again.
async fn owner(
    billing: &Billing,
    event: &stripe_events::Model,
    customer: &str,
) -> Result<Option<entity::users::Model>, ApiError> {
    let db = billing.db();
    let user = db::users::by_stripe_customer(db, customer).await?;
    if user.is_some() || !event.r#type.starts_with("checkout.session.") {
        return Ok(user);
    }
    let payload: Value = serde_json::from_str(&event.payload).unwrap_or_default();
    let object = &payload["data"]["object"];
    let pid = object["client_reference_id"]
        .as_str()
        .or_else(|| object["metadata"]["user_id"].as_str())
        .and_then(|s| uuid::Uuid::parse_str(s).ok());
    let Some(pid) = pid else {
        return Ok(None);
    };
    let Some(u) = db::users::by_pids(db, &[pid]).await?.into_iter().next() else {
        return Ok(None);
    };
    db::users::set_stripe_customer(db, u.id, customer).await?;
    Ok(db::users::by_id(db, u.id).await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_and_is_capped() {
        let secs: Vec<i64> = [1, 2, 3, 4, 10, 50]
            .iter()
            .map(|a| super::backoff(*a).num_seconds())
            .collect();
        assert_eq!(secs, [5, 10, 20, 40, 2560, 3600]);
    }
}
