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

/// Upserts the row of one Stripe subscription for the user.
pub async fn store_subscription(
    db: &impl ConnectionTrait,
    user_id: i32,
    sub: &Subscription,
) -> Result<entity::subscriptions::Model, ApiError> {
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
    db::subscriptions::upsert(db, row).await?;
    db::subscriptions::by_stripe_id(db, sub.id.as_str())
        .await?
        .ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!("subscription row vanished after upsert"))
        })
}
