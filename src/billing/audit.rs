//! The audit trail of subscription changes: one builder for every row, so a
//! webhook, a checkout, a sync and a deleted customer record alike.

use chrono::{DateTime, Utc};
use entity::{ChangeSource, SubscriptionStatus, audit_log, subscriptions};
use uuid::Uuid;

/// Why a sync ran, for the audit log.
#[derive(Clone, Debug)]
pub struct Cause {
    pub source: ChangeSource,
    pub event_id: Option<String>,
}

impl Cause {
    pub fn webhook(event_id: &str) -> Self {
        Self {
            source: ChangeSource::Webhook,
            event_id: Some(event_id.to_owned()),
        }
    }
    pub fn checkout() -> Self {
        Self {
            source: ChangeSource::Checkout,
            event_id: None,
        }
    }
    pub fn sync() -> Self {
        Self {
            source: ChangeSource::Sync,
            event_id: None,
        }
    }
}

/// The row recording that a subscription went from `before` (`None` when
/// new to us) to `to_status` on `to_price`.
pub fn subscription_change(
    user_id: i32,
    before: Option<&subscriptions::Model>,
    stripe_subscription_id: &str,
    to_status: SubscriptionStatus,
    to_price: &str,
    cause: &Cause,
    at: DateTime<Utc>,
) -> audit_log::Model {
    audit_log::Model {
        id: Uuid::new_v4(),
        user_id,
        stripe_subscription_id: stripe_subscription_id.to_owned(),
        stripe_event_id: cause.event_id.clone(),
        from_status: before.map(|b| b.status),
        to_status,
        from_price: before.map(|b| b.price_id.clone()),
        to_price: to_price.to_owned(),
        source: cause.source,
        at,
    }
}
