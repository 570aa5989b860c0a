//! Stripe → our table. A Stripe subscription object is stored as is (status,
//! price, period, trial, cancellation); access is decided from it at request
//! time.

use chrono::{DateTime, Utc};
use entity::{SubscriptionStatus, subscriptions};
use sea_orm::ConnectionTrait;
use stripe_billing::Subscription;
use uuid::Uuid;

use super::customer_id;
use crate::{
    billing::audit::{self, Cause},
    db,
    error::ApiError,
};

fn at(ts: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(ts, 0)
}

/// Our row for a Stripe subscription object. A status this version does not
/// know is refused rather than stored: no rule says what it grants, and the
/// event's retries and `last_error` make it visible to an operator.
fn row_of(
    user_id: i32,
    sub: &Subscription,
    now: DateTime<Utc>,
) -> Result<subscriptions::Model, ApiError> {
    let status = SubscriptionStatus::from_stripe(sub.status.as_str()).ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!(
            "Stripe sent subscription status `{}`, which this version does not know",
            sub.status.as_str()
        ))
    })?;
    // Since API version 2025-03-31 the billing period lives on the items.
    let item = sub.items.data.first();
    Ok(subscriptions::Model {
        id: Uuid::new_v4(),
        user_id,
        stripe_subscription_id: sub.id.as_str().to_owned(),
        stripe_customer_id: customer_id(&sub.customer),
        status,
        price_id: item
            .map(|i| i.price.id.as_str().to_owned())
            .unwrap_or_default(),
        current_period_start: item.and_then(|i| at(i.current_period_start)),
        current_period_end: item.and_then(|i| at(i.current_period_end)),
        trial_end: sub.trial_end.and_then(at),
        cancel_at_period_end: sub.cancel_at_period_end,
        cancel_at: sub.cancel_at.and_then(at),
        canceled_at: sub.canceled_at.and_then(at),
        created_at: at(sub.created).unwrap_or(now),
        updated_at: now,
        synced_at: now,
    })
}

/// The times access depends on, besides status and price.
fn timing(s: &subscriptions::Model) -> impl PartialEq + use<> {
    (
        s.current_period_start,
        s.current_period_end,
        s.trial_end,
        s.cancel_at_period_end,
        s.cancel_at,
        s.canceled_at,
    )
}

/// Upserts the row of one Stripe subscription for the user, and writes an
/// audit row when its status or price really changed. The `bool` says
/// whether anything access depends on changed (periods and cancellation
/// too), for the change feed to evict cached rows and tell subscribers.
/// Callers serialise syncs per customer, so each real change is recorded once.
pub async fn store_subscription(
    db: &impl ConnectionTrait,
    user_id: i32,
    sub: &Subscription,
    cause: &Cause,
) -> Result<(subscriptions::Model, bool), ApiError> {
    let before = db::subscriptions::by_stripe_id(db, sub.id.as_str()).await?;
    let now = Utc::now();
    let row = row_of(user_id, sub, now)?;
    let changed = before
        .as_ref()
        .is_none_or(|b| b.status != row.status || b.price_id != row.price_id);
    let visible = changed || before.as_ref().is_some_and(|b| timing(b) != timing(&row));
    let audit = changed.then(|| {
        audit::subscription_change(
            user_id,
            before.as_ref(),
            &row.stripe_subscription_id,
            row.status,
            &row.price_id,
            cause,
            now,
        )
    });
    db::subscriptions::upsert(db, row).await?;
    if let Some(audit) = audit {
        tracing::info!(
            subscription = %audit.stripe_subscription_id,
            from = ?audit.from_status,
            to = %audit.to_status,
            source = audit.source.as_str(),
            "subscription changed"
        );
        db::audit_log::insert(db, audit).await?;
    }
    let stored = db::subscriptions::by_stripe_id(db, sub.id.as_str())
        .await?
        .ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!("subscription row vanished after upsert"))
        })?;
    Ok((stored, visible))
}
