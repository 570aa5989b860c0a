use async_graphql::{Enum, ID, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::{Catalog, access::Decision, subscription::BillingInterval};

/// The eight statuses a Stripe subscription can have.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::SubscriptionStatus")]
pub enum SubscriptionStatus {
    Trialing,
    Active,
    PastDue,
    Unpaid,
    Canceled,
    Incomplete,
    IncompleteExpired,
    Paused,
}

/// A Stripe subscription as Entitle last saw it. Named apart from the root
/// `Subscription` type of GraphQL subscriptions, which codegen also sees.
#[derive(SimpleObject, Clone)]
pub struct BillingSubscription {
    /// Stripe's subscription id (`sub_…`).
    pub id: ID,
    pub status: SubscriptionStatus,
    pub plan: String,
    pub interval: Option<BillingInterval>,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    /// When a cancellation scheduled for a given time takes effect.
    pub cancel_at: Option<DateTime<Utc>>,
    pub trial_end: Option<DateTime<Utc>>,
    /// Whether it grants its plan right now (by status, period and policy).
    pub grants_access: bool,
}

impl BillingSubscription {
    /// A stored subscription, with what the access rules decided of it.
    pub fn new(row: &entity::subscriptions::Model, catalog: &Catalog, decision: Decision) -> Self {
        let priced = catalog.plan_for_price(&row.price_id);
        Self {
            id: ID(row.stripe_subscription_id.clone()),
            status: row.status.into(),
            plan: priced.map_or_else(|| "unknown".to_owned(), |(p, _)| p.name.clone()),
            interval: priced.map(|(_, i)| i),
            current_period_end: row.current_period_end,
            cancel_at_period_end: row.cancel_at_period_end,
            cancel_at: row.cancel_at,
            trial_end: row.trial_end,
            grants_access: decision.grants_plan() && priced.is_some(),
        }
    }
}

#[derive(SimpleObject)]
pub struct CheckoutSession {
    /// Send the user here (Stripe's hosted checkout page).
    pub url: String,
    /// Stripe's id (`cs_…`); pass it to `syncCheckout` from the success page.
    pub session_id: String,
}

#[derive(SimpleObject)]
pub struct PortalSession {
    /// Send the user here (Stripe's hosted customer portal).
    pub url: String,
}

/// One change of the caller's subscription status or plan.
#[derive(SimpleObject)]
pub struct BillingChange {
    pub at: DateTime<Utc>,
    /// Stripe's subscription id.
    pub subscription_id: ID,
    /// Null when the subscription was new.
    pub from_status: Option<SubscriptionStatus>,
    pub to_status: Option<SubscriptionStatus>,
    /// Plan names from `plans.toml`; `unknown` for a price it does not list.
    pub from_plan: Option<String>,
    pub to_plan: String,
    /// What recorded it: `webhook`, `checkout` or `sync`.
    pub source: String,
    /// The Stripe event behind it, for webhooks.
    pub event_id: Option<String>,
}

impl BillingChange {
    pub fn new(row: entity::audit_log::Model, catalog: &Catalog) -> Self {
        let plan = |price: &str| {
            catalog
                .plan_for_price(price)
                .map_or_else(|| "unknown".to_owned(), |(p, _)| p.name.clone())
        };
        Self {
            at: row.at,
            subscription_id: ID(row.stripe_subscription_id),
            from_status: row.from_status.map(Into::into),
            to_status: Some(row.to_status.into()),
            from_plan: row.from_price.as_deref().map(plan),
            to_plan: plan(&row.to_price),
            source: row.source.as_str().to_owned(),
            event_id: row.stripe_event_id,
        }
    }
}
