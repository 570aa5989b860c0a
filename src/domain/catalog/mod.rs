//! The plan catalogue from `plans.toml`: Stripe price ids → plans → features
//! and limits. Code asks "may this user do X?", never "is this user on plan Y?".
//! The file is validated as a whole at start; every problem is reported.

mod parse;
#[cfg(test)]
mod tests;

use std::{collections::BTreeMap, path::Path, sync::Arc};

use super::subscription::BillingInterval;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LimitValue {
    Finite(u32),
    Unlimited,
}

impl LimitValue {
    /// Whether `n` stays within it.
    pub fn allows(self, n: u64) -> bool {
        match self {
            Self::Finite(max) => n <= u64::from(max),
            Self::Unlimited => true,
        }
    }
}

/// One limit of a plan: a cap on something held (`api_keys = 5`), or a
/// metered allowance counted per period (`{ max = 1000, metered = true }`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limit {
    pub max: LimitValue,
    /// `Some` for a metered limit.
    pub metering: Option<Metering>,
}

impl Limit {
    pub fn cap(max: LimitValue) -> Self {
        Self {
            max,
            metering: None,
        }
    }
}

/// How a metered limit is counted and billed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metering {
    /// The Stripe Billing Meter (its `event_name`) every recorded unit is
    /// reported to.
    pub meter: Option<String>,
    /// Past `max` a call is counted and billed as overage instead of refused.
    pub overage: bool,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub name: String,
    pub features: Vec<String>,
    /// Sorted by name, so responses are stable.
    pub limits: BTreeMap<String, Limit>,
    pub prices: BTreeMap<BillingInterval, String>,
    pub trial_days: Option<u32>,
}

impl Plan {
    pub fn has_feature(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }

    /// The most of `limit` this plan allows; `None` when it sets no such limit.
    pub fn max(&self, limit: &str) -> Option<LimitValue> {
        self.limits.get(limit).map(|l| l.max)
    }
}

#[derive(Clone, Debug)]
pub struct Catalog {
    /// Shared, so that an [`Access`](crate::domain::access::Access) holds
    /// its plan without copying it for every request.
    plans: Vec<Arc<Plan>>,
    /// The index of the free plan in `plans`.
    free: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("{}", .problems.join("; "))]
pub struct CatalogError {
    pub problems: Vec<String>,
}

impl Catalog {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read plans file {}: {e}", path.display()))?;
        Self::parse(&text)
            .map_err(|e| anyhow::anyhow!("invalid plans file {}: {e}", path.display()))
    }

    /// Parses and validates a whole catalogue; every problem is reported.
    pub fn parse(text: &str) -> Result<Self, CatalogError> {
        parse::catalog(text)
    }

    /// Checks the catalogue against what the code needs: every feature that a
    /// guard requires is granted by some plan, and every plan granting a
    /// feature sets the limits that cap it (`(feature, limit)` pairs).
    pub fn check_requirements(
        &self,
        guarded: &[&str],
        capped_by: &[(&str, &str)],
    ) -> Result<(), CatalogError> {
        let mut problems = Vec::new();
        for feature in guarded {
            if self.plans_with_feature(feature).next().is_none() {
                problems.push(format!(
                    "feature `{feature}` is required by the API but no plan grants it"
                ));
            }
        }
        for (feature, limit) in capped_by {
            for plan in self.plans_with_feature(feature) {
                if !plan.limits.contains_key(*limit) {
                    problems.push(format!(
                        "plan `{}` grants `{feature}` but sets no `{limit}` limit",
                        plan.name
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(CatalogError { problems })
        }
    }

    pub fn plans(&self) -> impl Iterator<Item = &Plan> {
        self.plans.iter().map(|p| &**p)
    }

    /// The plan of everyone without a subscription that grants access.
    pub fn free_plan(&self) -> &Arc<Plan> {
        &self.plans[self.free]
    }

    pub fn plan(&self, name: &str) -> Option<&Arc<Plan>> {
        self.plans.iter().find(|p| p.name == name)
    }

    pub fn plan_for_price(&self, price_id: &str) -> Option<(&Arc<Plan>, BillingInterval)> {
        self.plans.iter().find_map(|p| {
            p.prices
                .iter()
                .find(|(_, id)| id.as_str() == price_id)
                .map(|(interval, _)| (p, *interval))
        })
    }

    /// Whether some plan meters `limit` (the catalogue checks they all agree).
    pub fn is_metered(&self, limit: &str) -> Option<bool> {
        self.plans
            .iter()
            .find_map(|p| p.limits.get(limit))
            .map(|l| l.metering.is_some())
    }

    /// The plans that grant `feature`, for upgrade prompts.
    pub fn plans_with_feature<'a>(&'a self, feature: &'a str) -> impl Iterator<Item = &'a Plan> {
        self.plans().filter(move |p| p.has_feature(feature))
    }
}
