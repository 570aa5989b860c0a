use chrono::Duration;
use entity::SubscriptionStatus;
use uuid::Uuid;

use super::*;
use crate::domain::catalog::LimitValue;

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

fn grant(plan: &str, from: i64, until: i64) -> grants::Model {
    grants::Model {
        id: Uuid::new_v4(),
        user_id: 1,
        plan: plan.into(),
        starts_at: t(from),
        until: t(until),
        reason: "partner".into(),
        granted_by: None,
        created_at: t(from),
        revoked_at: None,
        revoked_by: None,
        revoke_reason: None,
    }
}

fn subs(s: &[subscriptions::Model]) -> Rows<'_> {
    Rows {
        subscriptions: s,
        ..Rows::default()
    }
}

#[test]
fn the_granting_subscription_gives_its_plan_and_an_ended_one_the_free_plan() {
    let catalog = Catalog::parse(PLANS).unwrap();
    let policy = AccessPolicy::default();
    assert_eq!(
        resolve(&catalog, Rows::default(), t(0), &policy).plan.name,
        "free"
    );

    let active = [row(SubscriptionStatus::Active, "price_pro_monthly", 10)];
    let access = resolve(&catalog, subs(&active), t(0), &policy);
    assert_eq!(access.plan.name, "pro");
    assert!(access.subscription.unwrap().1.grants_plan());
    assert_eq!(access.sources.len(), 1);
    assert_eq!(access.sources[0].kind, SourceKind::Subscription);

    let ended = [row(SubscriptionStatus::Canceled, "price_pro_monthly", 10)];
    let access = resolve(&catalog, subs(&ended), t(0), &policy);
    assert_eq!(access.plan.name, "free");
    assert!(!access.subscription.unwrap().1.grants_plan());
    assert!(access.sources.is_empty());
}

#[test]
fn features_from_stripe_replace_the_plans_only_while_it_grants() {
    let catalog = Catalog::parse(PLANS).unwrap();
    let policy = AccessPolicy::default();
    let stripe = HashMap::from([("cus_1".to_owned(), vec!["from_stripe".to_owned()])]);
    let active = [row(SubscriptionStatus::Active, "price_pro_monthly", 10)];
    let rows = Rows {
        stripe_features: Some(&stripe),
        ..subs(&active)
    };
    let access = resolve(&catalog, rows, t(0), &policy);
    assert_eq!(access.plan.features, ["from_stripe"]);
    assert_eq!(access.sources[0].kind, SourceKind::StripeEntitlements);
    // No entitlements stored for the customer: none.
    let other = HashMap::new();
    let rows = Rows {
        stripe_features: Some(&other),
        ..subs(&active)
    };
    assert!(
        resolve(&catalog, rows, t(0), &policy)
            .plan
            .features
            .is_empty()
    );
    // Not granting: the free plan's own features.
    let unpaid = [row(SubscriptionStatus::Unpaid, "price_pro_monthly", 10)];
    let rows = Rows {
        stripe_features: Some(&stripe),
        ..subs(&unpaid)
    };
    let access = resolve(&catalog, rows, t(0), &policy);
    assert_eq!(access.plan.features, catalog.free_plan().features);
}

#[test]
fn a_grant_holds_from_its_start_until_its_end_or_revocation() {
    let catalog = Catalog::parse(PLANS).unwrap();
    let policy = AccessPolicy::default();
    let g = [grant("pro", 0, 10)];
    let rows = Rows {
        grants: &g,
        ..Rows::default()
    };
    for (now, plan) in [(-1, "free"), (0, "pro"), (9, "pro"), (10, "free")] {
        assert_eq!(
            resolve(&catalog, rows, t(now), &policy).plan.name,
            plan,
            "at {now}h"
        );
    }
    let mut revoked = grant("pro", 0, 10);
    revoked.revoked_at = Some(t(1));
    let g = [revoked];
    let rows = Rows {
        grants: &g,
        ..Rows::default()
    };
    assert_eq!(resolve(&catalog, rows, t(2), &policy).plan.name, "free");
    // A plan no longer in the catalogue grants nothing.
    let g = [grant("gone", 0, 10)];
    let rows = Rows {
        grants: &g,
        ..Rows::default()
    };
    assert_eq!(resolve(&catalog, rows, t(1), &policy).plan.name, "free");
}

#[test]
fn a_grant_and_a_subscription_give_the_union_and_the_highest_limits() {
    let catalog = Catalog::parse(PLANS).unwrap();
    let policy = AccessPolicy::default();
    let active = [row(SubscriptionStatus::Active, "price_pro_monthly", 10)];
    let g = [grant("studio", -5, 50)];
    let rows = Rows {
        grants: &g,
        ..subs(&active)
    };
    let access = resolve(&catalog, rows, t(0), &policy);
    assert_eq!(access.plan.name, "pro", "the subscription names the plan");
    let studio = catalog.plan("studio").unwrap();
    for f in &studio.features {
        assert!(access.plan.has_feature(f), "{f}");
    }
    assert_eq!(access.plan.max("api_keys"), Some(LimitValue::Finite(50)));
    assert_eq!(
        access.plan.max("monthly_requests"),
        Some(LimitValue::Unlimited)
    );
    let kinds: Vec<SourceKind> = access.sources.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [SourceKind::Subscription, SourceKind::Grant]);
    // A lower grant adds nothing to a higher subscription's limits.
    let g = [grant("free", -5, 50)];
    let rows = Rows {
        grants: &g,
        ..subs(&active)
    };
    let access = resolve(&catalog, rows, t(0), &policy);
    assert_eq!(access.plan.max("api_keys"), Some(LimitValue::Finite(5)));
    // Without a subscription, the grant names the plan.
    let g = [grant("pro", -5, 50)];
    let rows = Rows {
        grants: &g,
        ..Rows::default()
    };
    assert_eq!(resolve(&catalog, rows, t(0), &policy).plan.name, "pro");
}
