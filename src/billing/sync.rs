//! Stripe → our table. A Stripe subscription object is stored as is (status,
//! price, period, trial, cancellation); access is decided from it at request
//! time. The success page (`syncCheckout`) and, later, webhook processing and
//! `entitle sync` all store through `store_subscription`.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use stripe_billing::Subscription;
use stripe_types::Expandable;
use uuid::Uuid;

use crate::{db, error::ApiError};

fn at(ts: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(ts, 0)
}

pub fn customer_id(customer: &Expandable<stripe_core::Customer>) -> String {
    match customer {
        Expandable::Id(id) => id.as_str().to_owned(),
        Expandable::Object(c) => c.id.as_str().to_owned(),
    }
}

/// Why a sync ran, for the audit log.
#[derive(Clone, Debug)]
pub struct Cause {
    /// `webhook`, `checkout` or `sync`.
    pub source: &'static str,
    pub event_id: Option<String>,
}

impl Cause {
    pub fn webhook(event_id: &str) -> Self {
        Self {
            source: "webhook",
            event_id: Some(event_id.to_owned()),
        }
    }
    pub fn checkout() -> Self {
        Self {
            source: "checkout",
            event_id: None,
        }
    }
    pub fn sync() -> Self {
        Self {
            source: "sync",
            event_id: None,
        }
    }
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
) -> Result<(entity::subscriptions::Model, bool), ApiError> {
    let before = db::subscriptions::by_stripe_id(db, sub.id.as_str()).await?;
    // Since API version 2025-03-31 the billing period lives on the items.
    let item = sub.items.data.first();
    let now = Utc::now();
    let row = entity::subscriptions::Model {
        id: Uuid::new_v4(),
        user_id,
        stripe_subscription_id: sub.id.as_str().to_owned(),
        stripe_customer_id: customer_id(&sub.customer),
        status: sub.status.as_str().to_owned(),
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
    };
    let changed = before
        .as_ref()
        .is_none_or(|b| b.status != row.status || b.price_id != row.price_id);
    let visible = changed
        || before.as_ref().is_some_and(|b| {
            (
                b.current_period_start,
                b.current_period_end,
                b.trial_end,
                b.cancel_at_period_end,
                b.cancel_at,
                b.canceled_at,
            ) != (
                row.current_period_start,
                row.current_period_end,
                row.trial_end,
                row.cancel_at_period_end,
                row.cancel_at,
                row.canceled_at,
            )
        });
    let audit = changed.then(|| entity::audit_log::Model {
        id: Uuid::new_v4(),
        user_id,
        stripe_subscription_id: row.stripe_subscription_id.clone(),
        stripe_event_id: cause.event_id.clone(),
        from_status: before.as_ref().map(|b| b.status.clone()),
        to_status: row.status.clone(),
        from_price: before.as_ref().map(|b| b.price_id.clone()),
        to_price: row.price_id.clone(),
        source: cause.source.to_owned(),
        at: now,
    });
    db::subscriptions::upsert(db, row).await?;
    if let Some(audit) = audit {
        tracing::info!(
            subscription = %audit.stripe_subscription_id,
            from = ?audit.from_status,
            to = %audit.to_status,
            source = audit.source,
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
