//! The webhook processor. Events wait in `stripe_events`; the worker claims
//! due ones (a conditional update, so several instances share the work),
//! re-reads the customer's subscriptions from Stripe and stores them
//! (DESIGN.md rule 1: duplicates, reordering and missed events all converge on
//! Stripe's state), and retries failures with back-off.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use entity::stripe_events;
use serde_json::Value;
use tokio::sync::Notify;

use super::Billing;
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

pub struct Outcome {
    pub status: &'static str,
    pub note: Option<String>,
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
                    ("failed", Some(reason), Utc::now() + backoff(event.attempts))
                }
            };
            db::stripe_events::finish(db, &event.id, event.attempts, status, error, next).await?;
        }
        if !claimed_any {
            return Ok(handled);
        }
    }
}

fn describe(e: &ApiError) -> String {
    match e {
        ApiError::StripeUnavailable(cause) | ApiError::Internal(cause) => format!("{cause:#}"),
        other => other.message(),
    }
}

/// Applies one event. Unhandled types and customers we do not know are
/// recorded as `ignored`, with the reason.
pub async fn process(billing: &Billing, event: &stripe_events::Model) -> Result<Outcome, ApiError> {
    let ignored = |why: &str| Outcome {
        status: "ignored",
        note: Some(why.to_owned()),
    };
    if !HANDLED.contains(&event.r#type.as_str()) {
        tracing::info!(event = %event.id, kind = %event.r#type, "webhook type not handled");
        return Ok(ignored("event type not handled"));
    }
    let Some(customer) = event.customer_id.as_deref() else {
        return Ok(ignored("the event names no customer"));
    };
    let db = billing.db();
    let mut user = db::users::by_stripe_customer(db, customer).await?;
    if user.is_none() && event.r#type.starts_with("checkout.session.") {
        // A checkout that finished before our own record of its customer
        // (the success page never ran): the session names our user. Only a
        // checkout may link a customer, so a late event of a deleted
        // customer cannot link it again.
        let payload: Value = serde_json::from_str(&event.payload).unwrap_or_default();
        let object = &payload["data"]["object"];
        let pid = object["client_reference_id"]
            .as_str()
            .or_else(|| object["metadata"]["user_id"].as_str())
            .and_then(|s| uuid::Uuid::parse_str(s).ok());
        if let Some(pid) = pid
            && let Some(u) = db::users::by_pids(db, &[pid]).await?.into_iter().next()
        {
            db::users::set_stripe_customer(db, u.id, customer).await?;
            user = db::users::by_id(db, u.id).await?;
        }
    }
    let Some(user) = user else {
        return Ok(ignored("no user has this Stripe customer"));
    };
    if event.r#type == "customer.deleted" {
        // Stripe cancels a deleted customer's subscriptions and has nothing
        // left to list: record the cancellations ourselves, in one transaction.
        let now = Utc::now();
        let _local = billing.sync_locks().lock(customer).await;
        let txn = match billing.customer_txn(customer).await? {
            Some(txn) => txn,
            None => db::begin_write(db).await?,
        };
        let ending = db::subscriptions::not_canceled_of_customer(&txn, customer).await?;
        for sub in &ending {
            db::audit_log::insert(
                &txn,
                entity::audit_log::Model {
                    id: uuid::Uuid::new_v4(),
                    user_id: user.id,
                    stripe_subscription_id: sub.stripe_subscription_id.clone(),
                    stripe_event_id: Some(event.id.clone()),
                    from_status: Some(sub.status.clone()),
                    to_status: "canceled".into(),
                    from_price: Some(sub.price_id.clone()),
                    to_price: sub.price_id.clone(),
                    source: "webhook".into(),
                    at: now,
                },
            )
            .await?;
        }
        db::subscriptions::cancel_all_of_customer(&txn, customer, now).await?;
        db::users::clear_stripe_customer(&txn, user.id, customer).await?;
        let local = if ending.is_empty() {
            None
        } else {
            Some(billing.changes().announce(&txn, user.pid).await?)
        };
        txn.commit().await?;
        billing.changes().committed(local);
        return Ok(Outcome {
            status: "processed",
            note: None,
        });
    }
    let n = billing
        .sync_customer(user.id, customer, &super::sync::Cause::webhook(&event.id))
        .await?;
    tracing::info!(event = %event.id, kind = %event.r#type, user = %user.pid, subscriptions = n, "webhook applied");
    Ok(Outcome {
        status: "processed",
        note: None,
    })
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
