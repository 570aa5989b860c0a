//! Output types. Built from models, never the models themselves: hashes,
//! tokens and internal ids stay out of the schema.

use async_graphql::{ID, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::{
    catalog::{LimitValue, Plan as PlanModel},
    subscription::{BillingInterval, SubscriptionStatus},
};

#[derive(SimpleObject, Clone)]
pub struct User {
    /// The public id; the same as the access token's `sub`.
    pub id: ID,
    pub email: String,
    pub created_at: DateTime<Utc>,
}

impl From<&entity::users::Model> for User {
    fn from(m: &entity::users::Model) -> Self {
        Self {
            id: ID(m.pid.to_string()),
            email: m.email.clone(),
            created_at: m.created_at,
        }
    }
}

/// What `register`, `login` and `refresh` return.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// A JWT for the `Authorization: Bearer` header.
    pub access_token: String,
    /// Opaque; single use. Send it to `refresh` for a new pair, and keep only the newest.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i32,
    pub token_type: &'static str,
    pub user: User,
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

#[derive(SimpleObject, Clone)]
pub struct PlanLimit {
    pub name: String,
    /// Null when unlimited.
    pub value: Option<i32>,
    pub unlimited: bool,
}

fn limits(plan: &PlanModel) -> Vec<PlanLimit> {
    plan.limits
        .iter()
        .map(|(name, v)| PlanLimit {
            name: name.clone(),
            value: match v {
                // The catalogue refuses values above i32::MAX at start.
                LimitValue::Finite(n) => Some(i32::try_from(*n).unwrap_or(i32::MAX)),
                LimitValue::Unlimited => None,
            },
            unlimited: matches!(v, LimitValue::Unlimited),
        })
        .collect()
}

/// What the caller may do right now.
#[derive(SimpleObject, Clone)]
pub struct Entitlements {
    /// The plan the features and limits come from.
    pub plan: String,
    pub features: Vec<String>,
    pub limits: Vec<PlanLimit>,
}

impl From<&PlanModel> for Entitlements {
    fn from(p: &PlanModel) -> Self {
        Self {
            plan: p.name.clone(),
            features: p.features.clone(),
            limits: limits(p),
        }
    }
}

#[derive(SimpleObject, Clone)]
pub struct PlanPrice {
    pub interval: BillingInterval,
    /// The Stripe price id (`price_…`).
    pub price_id: String,
}

#[derive(SimpleObject, Clone)]
pub struct Plan {
    pub name: String,
    pub features: Vec<String>,
    pub limits: Vec<PlanLimit>,
    /// Empty for the free plan.
    pub prices: Vec<PlanPrice>,
    pub trial_days: Option<i32>,
}

impl From<&PlanModel> for Plan {
    fn from(p: &PlanModel) -> Self {
        Self {
            name: p.name.clone(),
            features: p.features.clone(),
            limits: limits(p),
            prices: p
                .prices
                .iter()
                .map(|(interval, id)| PlanPrice {
                    interval: *interval,
                    price_id: id.clone(),
                })
                .collect(),
            trial_days: p.trial_days.map(|d| i32::try_from(d).unwrap_or(i32::MAX)),
        }
    }
}
