//! What a user may do now, from their stored rows: the one function that
//! guards, resolvers and the live push share.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::subscriptions;

use super::{AccessPolicy, Candidate, Decision, SubscriptionFacts, pick};
use crate::domain::catalog::{Catalog, Plan};

/// What the caller may do now, and why.
#[derive(Clone, Debug)]
pub struct Access {
    /// The features and limits that apply.
    pub plan: Plan,
    /// The current subscription and what it decides, when there is one.
    pub subscription: Option<(subscriptions::Model, Decision)>,
}

impl Access {
    /// Everyone without a subscription that grants access, anonymous callers too.
    pub fn free(catalog: &Catalog) -> Self {
        Self {
            plan: catalog.free_plan().clone(),
            subscription: None,
        }
    }
}

/// What a user's stored subscriptions grant at `now`. With features from
/// Stripe (`stripe_features`, the stored active entitlements by customer),
/// the plan's features are those of the granting subscription's customer,
/// and only while it grants, so the access rules still decide when.
pub fn resolve(
    catalog: &Catalog,
    subs: &[subscriptions::Model],
    stripe_features: Option<&HashMap<String, Vec<String>>>,
    now: DateTime<Utc>,
    policy: &AccessPolicy,
) -> Access {
    let candidates: Vec<Candidate<'_>> = subs
        .iter()
        .map(|s| Candidate {
            facts: SubscriptionFacts::from(s),
            price_id: &s.price_id,
            created_at: s.created_at,
        })
        .collect();
    let known = |price: &str| catalog.plan_for_price(price).is_some();
    let Some((i, decision)) = pick(&candidates, known, now, policy) else {
        return Access::free(catalog);
    };
    let sub = &subs[i];
    let mut plan = match decision {
        Decision::Plan { .. } => catalog
            .plan_for_price(&sub.price_id)
            .map_or_else(|| catalog.free_plan().clone(), |(p, _)| p.clone()),
        Decision::Free(_) => catalog.free_plan().clone(),
    };
    if let Some(features) = stripe_features
        && decision.grants_plan()
    {
        plan.features = features
            .get(&sub.stripe_customer_id)
            .cloned()
            .unwrap_or_default();
    }
    Access {
        plan,
        subscription: Some((sub.clone(), decision)),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use entity::SubscriptionStatus;
    use uuid::Uuid;

    use super::*;

    const PLANS: &str = include_str!("../../../plans.toml");

    fn t(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::hours(hours)
    }

    fn row(status: SubscriptionStatus, price: &str, end: i64) -> subscriptions::Model {
        subscriptions::Model {
            id: Uuid::new_v4(),
            user_id: 1,
            stripe_subscription_id: format!("sub_{}", Uuid::new_v4().simple()),
            stripe_customer_id: "cus_1".into(),
            status,
            price_id: price.into(),
            current_period_start: Some(t(end - 24)),
            current_period_end: Some(t(end)),
            trial_end: None,
            cancel_at_period_end: false,
            cancel_at: None,
            canceled_at: None,
            created_at: t(-100),
            updated_at: t(-100),
            synced_at: t(-100),
        }
    }

    #[test]
    fn the_granting_subscription_gives_its_plan_and_an_ended_one_the_free_plan() {
        let catalog = Catalog::parse(PLANS).unwrap();
        let policy = AccessPolicy::default();
        assert_eq!(
            resolve(&catalog, &[], None, t(0), &policy).plan.name,
            "free"
        );

        let active = row(SubscriptionStatus::Active, "price_pro_monthly", 10);
        let access = resolve(&catalog, std::slice::from_ref(&active), None, t(0), &policy);
        assert_eq!(access.plan.name, "pro");
        assert!(access.subscription.unwrap().1.grants_plan());

        let ended = row(SubscriptionStatus::Canceled, "price_pro_monthly", 10);
        let access = resolve(&catalog, &[ended], None, t(0), &policy);
        assert_eq!(access.plan.name, "free");
        assert!(!access.subscription.unwrap().1.grants_plan());
    }

    #[test]
    fn features_from_stripe_replace_the_plans_only_while_it_grants() {
        let catalog = Catalog::parse(PLANS).unwrap();
        let policy = AccessPolicy::default();
        let stripe = HashMap::from([("cus_1".to_owned(), vec!["from_stripe".to_owned()])]);
        let active = row(SubscriptionStatus::Active, "price_pro_monthly", 10);
        let access = resolve(&catalog, &[active], Some(&stripe), t(0), &policy);
        assert_eq!(access.plan.features, ["from_stripe"]);
        // No entitlements stored for the customer: none.
        let other = HashMap::new();
        let active = row(SubscriptionStatus::Active, "price_pro_monthly", 10);
        let access = resolve(&catalog, &[active], Some(&other), t(0), &policy);
        assert!(access.plan.features.is_empty());
        // Not granting: the free plan's own features.
        let unpaid = row(SubscriptionStatus::Unpaid, "price_pro_monthly", 10);
        let access = resolve(&catalog, &[unpaid], Some(&stripe), t(0), &policy);
        assert_eq!(access.plan.features, catalog.free_plan().features);
    }
}
