use std::sync::Arc;

use async_graphql::{Object, SimpleObject};

use crate::domain::{
    catalog::{LimitValue, Plan as PlanModel},
    subscription::BillingInterval,
};

#[derive(SimpleObject, Clone)]
pub struct PlanLimit {
    pub name: String,
    /// Null when unlimited.
    pub value: Option<i32>,
    pub unlimited: bool,
    /// Counted per period with `recordUsage` (else a cap on something held).
    pub metered: bool,
}

fn limits(plan: &PlanModel) -> Vec<PlanLimit> {
    plan.limits
        .iter()
        .map(|(name, l)| PlanLimit {
            name: name.clone(),
            value: match l.max {
                // The catalogue refuses values above i32::MAX at start.
                LimitValue::Finite(n) => Some(i32::try_from(n).unwrap_or(i32::MAX)),
                LimitValue::Unlimited => None,
            },
            unlimited: l.max == LimitValue::Unlimited,
            metered: l.metering.is_some(),
        })
        .collect()
}

// Read from the access's plan as each field is asked for, not copied out of
// it for every request.
#[derive(Clone)]
pub struct Entitlements(Arc<PlanModel>);

/// What the caller may do right now.
#[Object]
impl Entitlements {
    /// The plan the features and limits come from.
    async fn plan(&self) -> &str {
        &self.0.name
    }

    async fn features(&self) -> &[String] {
        &self.0.features
    }

    async fn limits(&self) -> Vec<PlanLimit> {
        limits(&self.0)
    }
}

impl From<&Arc<PlanModel>> for Entitlements {
    fn from(p: &Arc<PlanModel>) -> Self {
        Self(p.clone())
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
