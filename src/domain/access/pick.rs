//! Which of a user's subscriptions is the current one.

use chrono::{DateTime, Utc};

use super::{AccessPolicy, Decision, FreeReason, SubscriptionFacts, decide};

/// One stored subscription, as `pick` needs it.
#[derive(Clone, Copy, Debug)]
pub struct Candidate<'a> {
    pub facts: SubscriptionFacts,
    pub price_id: &'a str,
    /// When Stripe created it: the newest is the most current.
    pub created_at: DateTime<Utc>,
}

/// Which of a user's subscriptions is current, and whether it grants its plan
/// now: the granting one that runs longest; else the one Stripe created last.
/// A subscription whose price is not in the catalogue grants nothing.
pub fn pick(
    subs: &[Candidate<'_>],
    is_known_price: impl Fn(&str) -> bool,
    now: DateTime<Utc>,
    policy: &AccessPolicy,
) -> Option<(usize, Decision)> {
    let decided = subs.iter().enumerate().map(|(i, c)| {
        let d = decide(Some(&c.facts), now, policy);
        let d = if d.grants_plan() && !is_known_price(c.price_id) {
            Decision::Free(FreeReason::Status(c.facts.status))
        } else {
            d
        };
        (i, d)
    });
    let granting = decided
        .clone()
        .filter(|(_, d)| d.grants_plan())
        .max_by_key(|(i, d)| match d {
            Decision::Plan { until } => (until.is_none(), *until, subs[*i].created_at),
            Decision::Free(_) => (false, None, subs[*i].created_at),
        });
    granting.or_else(|| decided.max_by_key(|(i, _)| subs[*i].created_at))
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::domain::subscription::SubscriptionStatus::{self, *};

    fn t(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::hours(hours)
    }

    fn c(status: SubscriptionStatus, end: i64, created: i64, price: &str) -> Candidate<'_> {
        Candidate {
            facts: SubscriptionFacts {
                status,
                current_period_start: Some(t(end - 720)),
                current_period_end: Some(t(end)),
                trial_end: None,
                cancel_at_period_end: true,
                cancel_at: None,
            },
            price_id: price,
            created_at: t(created),
        }
    }

    #[test]
    fn the_current_subscription_is_the_one_that_grants_longest_else_the_newest() {
        let known = |p: &str| p != "price_gone";
        let p = AccessPolicy::default();
        assert_eq!(pick(&[], known, t(0), &p), None);
        // A newer canceled one does not hide an older active one.
        let subs = [c(Active, 10, 0, "price_a"), c(Canceled, 20, 5, "price_b")];
        assert_eq!(pick(&subs, known, t(1), &p).map(|(i, _)| i), Some(0));
        // Two granting: the one that runs longer.
        let subs = [c(Active, 10, 9, "price_a"), c(Trialing, 30, 0, "price_b")];
        assert_eq!(pick(&subs, known, t(1), &p).map(|(i, _)| i), Some(1));
        // None granting: the newest, with the reason it grants nothing.
        let subs = [c(Canceled, 10, 1, "price_a"), c(Unpaid, 10, 7, "price_b")];
        assert_eq!(
            pick(&subs, known, t(1), &p),
            Some((1, Decision::Free(FreeReason::Status(Unpaid))))
        );
        // A renewing subscription in its grace still counts as granting.
        let mut renewing = c(Active, 10, 0, "price_a");
        renewing.facts.cancel_at_period_end = false;
        let subs = [renewing, c(Canceled, 100, 9, "price_b")];
        assert_eq!(
            pick(&subs, known, t(11), &p).map(|(i, d)| (i, d.grants_plan())),
            Some((0, true))
        );
        // An unknown price grants nothing, whatever the status.
        let subs = [c(Active, 10, 0, "price_gone")];
        assert!(!pick(&subs, known, t(1), &p).unwrap().1.grants_plan());
    }
}
