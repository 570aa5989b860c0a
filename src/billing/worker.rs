//! The webhook worker. Events wait in `stripe_events`; the worker claims
//! due ones (a conditional update, so several instances share the work),
//! hands each to the sync engine, which re-reads the customer from Stripe
//! (Stripe is the source of truth: duplicates, reordering and missed events
//! all converge on Stripe's state), and retries failures with back-off.

use std::{collections::HashMap, sync::Arc, time::Duration};

use chrono::Utc;
use entity::{EventStatus, stripe_events};
use futures_util::StreamExt;
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
    /// Whether the customer was re-read from Stripe.
    pub reread: bool,
}

impl Outcome {
    fn processed() -> Self {
        Self {
            status: EventStatus::Processed,
            note: None,
            reread: false,
        }
    }

    fn reread() -> Self {
        Self {
            reread: true,
            ..Self::processed()
        }
    }

    fn ignored(why: &str) -> Self {
        Self {
            status: EventStatus::Ignored,
            note: Some(why.to_owned()),
            reread: false,
        }
    }
}

/// Runs until the process stops: wakes when a webhook is stored, and every
/// few seconds for retries.
pub async fn run(billing: Billing, wake: Arc<Notify>, lease: Duration, concurrency: usize) {
    let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
    loop {
        match process_due(&billing, lease, concurrency).await {
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

/// How many due events one pass reads.
const BATCH: u64 = 500;

/// Processes every due event once; returns how many it handled. Events are
/// grouped by customer: one customer's apply one at a time, in order, and
/// `concurrency` customers at once.
pub async fn process_due(
    billing: &Billing,
    lease: chrono::Duration,
    concurrency: usize,
) -> Result<usize, sea_orm::DbErr> {
    let db = billing.db();
    let mut handled = 0;
    loop {
        let due = db::stripe_events::due(db, Utc::now(), BATCH).await?;
        if due.is_empty() {
            return Ok(handled);
        }
        let mut claimed = 0;
        let mut passes = futures_util::stream::iter(by_customer(due))
            .map(|ids| apply_in_order(billing, ids, lease))
            .buffer_unordered(concurrency.max(1));
        while let Some(n) = passes.next().await {
            claimed += n?;
        }
        if claimed == 0 {
            return Ok(handled); // other workers hold all of them
        }
        handled += claimed;
    }
}

/// Event ids grouped by customer, each group in the order given (events
/// that name no customer alone).
fn by_customer(due: Vec<(String, Option<String>)>) -> Vec<Vec<String>> {
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut of_customer: HashMap<String, usize> = HashMap::new();
    for (id, customer) in due {
        match customer {
            Some(c) => match of_customer.get(&c) {
                Some(&i) => groups[i].push(id),
                None => {
                    of_customer.insert(c, groups.len());
                    groups.push(vec![id]);
                }
            },
            None => groups.push(vec![id]),
        }
    }
    groups
}

/// Applies one customer's events one after the other. Once a re-read of the
/// customer succeeded, the group's later events need none: each was stored
/// before this pass began, so Stripe's state read after that includes it.
async fn apply_in_order(
    billing: &Billing,
    ids: Vec<String>,
    lease: chrono::Duration,
) -> Result<usize, sea_orm::DbErr> {
    let db = billing.db();
    let mut claimed = 0;
    let mut reread = false;
    for id in ids {
        let Some(event) = db::stripe_events::claim(db, &id, Utc::now(), lease).await? else {
            continue; // another worker has it
        };
        claimed += 1;
        let result = if reread && needs_reread(&event.r#type) {
            Ok(Outcome::processed())
        } else {
            process(billing, &event).await
        };
        if matches!(&result, Ok(o) if o.reread) {
            reread = true;
        } else if event.r#type == "customer.deleted" {
            reread = false;
        }
        let (status, error, next) = match result {
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
    Ok(claimed)
}

/// Events that the sync engine answers by re-reading the customer.
fn needs_reread(kind: &str) -> bool {
    HANDLED.contains(&kind) && kind != "customer.deleted"
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
    Ok(Outcome::reread())
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

    #[test]
    fn events_are_grouped_by_customer_in_their_order() {
        let due = |rows: &[(&str, Option<&str>)]| {
            rows.iter()
                .map(|(id, c)| ((*id).to_owned(), c.map(str::to_owned)))
                .collect::<Vec<_>>()
        };
        type Due<'a> = &'a [(&'a str, Option<&'a str>)];
        let cases: &[(Due, &[&[&str]])] = &[
            (&[], &[]),
            (&[("e1", Some("a"))], &[&["e1"]]),
            (
                &[("e1", Some("a")), ("e2", Some("b")), ("e3", Some("a"))],
                &[&["e1", "e3"], &["e2"]],
            ),
            // No customer: each alone, never merged with another.
            (
                &[
                    ("e1", None),
                    ("e2", Some("a")),
                    ("e3", None),
                    ("e4", Some("a")),
                ],
                &[&["e1"], &["e2", "e4"], &["e3"]],
            ),
        ];
        for (rows, want) in cases {
            let got = super::by_customer(due(rows));
            let want: Vec<Vec<String>> = want
                .iter()
                .map(|g| g.iter().map(|s| (*s).to_owned()).collect())
                .collect();
            assert_eq!(got, want, "{rows:?}");
        }
    }

    #[test]
    fn only_re_read_events_are_coalesced() {
        assert!(super::needs_reread("customer.subscription.updated"));
        assert!(super::needs_reread("invoice.paid"));
        assert!(!super::needs_reread("customer.deleted"));
        assert!(!super::needs_reread("charge.refunded"));
    }
}
