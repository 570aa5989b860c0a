//! What a user may do now, from their stored rows: the one function that
//! guards, resolvers and the live push share.

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Utc};
use entity::{grants, subscriptions};

use super::{AccessPolicy, Candidate, Decision, SubscriptionFacts, pick};
use crate::domain::catalog::{Catalog, Plan};

/// What the caller may do now, and why.
#[derive(Clone, Debug)]
pub struct Access {
    /// The features and limits that apply: the subscription's plan (or the
    /// free plan), with every comp grant that holds added to it.
    pub plan: Arc<Plan>,
    /// The current subscription and what it decides, when there is one.
    pub subscription: Option<(subscriptions::Model, Decision)>,
    /// Where the features and limits come from, for operators.
    pub sources: Vec<Source>,
}

/// One origin of what a user may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub kind: SourceKind,
    /// The plan it gives (for Stripe entitlements, the subscription's plan).
    pub plan: String,
    pub features: Vec<String>,
    /// Until when, when known.
    pub until: Option<DateTime<Utc>>,
    /// The subscription or grant id.
    pub reference: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Subscription,
    Grant,
    /// Stripe's Entitlements API (`ENTITLE_FEATURE_SOURCE=stripe`).
    StripeEntitlements,
}

impl Access {
    /// Everyone without a subscription that grants access, anonymous callers too.
    pub fn free(catalog: &Catalog) -> Self {
        Self {
            plan: catalog.free_plan().clone(),
            subscription: None,
            sources: Vec::new(),
        }
    }
}

/// A user's stored rows that access is decided from.
#[derive(Clone, Copy, Default)]
pub struct Rows<'a> {
    pub subscriptions: &'a [subscriptions::Model],
    pub grants: &'a [grants::Model],
    /// With features from Stripe: the stored active entitlements by customer.
    pub stripe_features: Option<&'a HashMap<String, Vec<String>>>,
}

/// Whether a grant holds at `now`.
pub fn grant_holds(g: &grants::Model, now: DateTime<Utc>) -> bool {
    g.revoked_at.is_none() && g.starts_at <= now && now < g.until
}

/// What a user's rows grant at `now`. With features from Stripe, the plan's
/// features are those of the granting subscription's customer, and only
/// while it grants, so the access rules still decide when. Each comp grant
/// that holds adds its plan: the union of the features, the highest value
/// of each limit.
pub fn resolve(
    catalog: &Catalog,
    rows: Rows<'_>,
    now: DateTime<Utc>,
    policy: &AccessPolicy,
) -> Access {
    let mut access = from_subscriptions(catalog, rows, now, policy);
    let mut holding: Vec<&grants::Model> =
        rows.grants.iter().filter(|g| grant_holds(g, now)).collect();
    holding.sort_by_key(|g| std::cmp::Reverse(g.until));
    let subscribed = access
        .subscription
        .as_ref()
        .is_some_and(|(_, d)| d.grants_plan());
    for (i, grant) in holding.into_iter().enumerate() {
        let Some(plan) = catalog.plan(&grant.plan) else {
            continue; // a plan since removed from plans.toml grants nothing
        };
        if i == 0 && !subscribed {
            Arc::make_mut(&mut access.plan).name = plan.name.clone();
        }
        add(Arc::make_mut(&mut access.plan), plan);
        access.sources.push(Source {
            kind: SourceKind::Grant,
            plan: plan.name.clone(),
            features: plan.features.clone(),
            until: Some(grant.until),
            reference: grant.id.to_string(),
        });
    }
    access
}

/// The union of features, and the highest value of each limit.
fn add(to: &mut Plan, from: &Plan) {
    for f in &from.features {
        if !to.has_feature(f) {
            to.features.push(f.clone());
        }
    }
    for (name, limit) in &from.limits {
        match to.limits.get(name) {
            Some(ours) if ours.max >= limit.max => {}
            _ => {
                to.limits.insert(name.clone(), limit.clone());
            }
        }
    }
}

fn from_subscriptions(
    catalog: &Catalog,
    rows: Rows<'_>,
    now: DateTime<Utc>,
    policy: &AccessPolicy,
) -> Access {
    let subs = rows.subscriptions;
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
    let mut access = Access::free(catalog);
    if let (Decision::Plan { until }, Some((plan, _))) =
        (decision, catalog.plan_for_price(&sub.price_id))
    {
        access.plan = plan.clone();
        let mut source = Source {
            kind: SourceKind::Subscription,
            plan: plan.name.clone(),
            features: plan.features.clone(),
            until,
            reference: sub.stripe_subscription_id.clone(),
        };
        if let Some(features) = rows.stripe_features {
            Arc::make_mut(&mut access.plan).features = features
                .get(&sub.stripe_customer_id)
                .cloned()
                .unwrap_or_default();
            source.kind = SourceKind::StripeEntitlements;
            source.features = access.plan.features.clone();
        }
        access.sources.push(source);
    }
    access.subscription = Some((sub.clone(), decision));
    access
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
