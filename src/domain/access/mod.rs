//! The rules of access. [`decide`] says whether one subscription grants its
//! plan right now; [`pick`] which of a user's subscriptions is current;
//! [`resolve`] what the user may do, from their stored rows. Guards,
//! resolvers and the live push all call [`resolve`], and every rule reads
//! the clock it is given: a period that has ended loses access at request
//! time, whether or not a webhook ever says so.

mod pick;
mod resolve;

pub use self::{
    pick::{Candidate, pick},
    resolve::{Access, Rows, Source, SourceKind, grant_holds, resolve},
};

use chrono::{DateTime, Duration, Utc};

use super::subscription::SubscriptionStatus;
use entity::subscriptions;

/// What happens while a renewal payment is failing (`past_due`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PastDuePolicy {
    /// Keep the plan until the current period ends (Stripe retries meanwhile).
    UntilPeriodEnd,
    /// Drop to the free plan at the first failed payment.
    Revoke,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessPolicy {
    pub past_due: PastDuePolicy,
    /// How long a renewing (`active` or `trialing`, not cancelling)
    /// subscription keeps access past its period end while we wait to hear of
    /// the renewal. A subscription set to cancel gets none.
    pub renewal_grace: Duration,
    /// Under `UntilPeriodEnd`, the most a `past_due` subscription keeps its
    /// plan after its current period started. Stripe moves the period forward
    /// before it charges the renewal, so "until the period ends" alone would
    /// give an unpaid period away whole (a month, or a year).
    pub past_due_max: Duration,
}

impl Default for AccessPolicy {
    fn default() -> Self {
        Self {
            past_due: PastDuePolicy::UntilPeriodEnd,
            renewal_grace: Duration::hours(24),
            past_due_max: Duration::days(14),
        }
    }
}

/// The facts of one subscription that access depends on, as last synced from Stripe.
#[derive(Clone, Copy, Debug)]
pub struct SubscriptionFacts {
    pub status: SubscriptionStatus,
    pub current_period_start: Option<DateTime<Utc>>,
    pub current_period_end: Option<DateTime<Utc>>,
    pub trial_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    /// A cancellation scheduled for a given time (Stripe's `cancel_at`).
    pub cancel_at: Option<DateTime<Utc>>,
}

impl From<&subscriptions::Model> for SubscriptionFacts {
    fn from(s: &subscriptions::Model) -> Self {
        Self {
            status: s.status,
            current_period_start: s.current_period_start,
            current_period_end: s.current_period_end,
            trial_end: s.trial_end,
            cancel_at_period_end: s.cancel_at_period_end,
            cancel_at: s.cancel_at,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeReason {
    NoSubscription,
    /// The status grants nothing (`canceled`, `unpaid`, `paused`, `incomplete*`,
    /// or `past_due` under `PastDuePolicy::Revoke`).
    Status(SubscriptionStatus),
    PeriodEnded,
    TrialEnded,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The subscription's plan applies, until `until` when known.
    Plan {
        until: Option<DateTime<Utc>>,
    },
    Free(FreeReason),
}

impl Decision {
    pub fn grants_plan(self) -> bool {
        matches!(self, Decision::Plan { .. })
    }
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

pub fn decide(
    sub: Option<&SubscriptionFacts>,
    now: DateTime<Utc>,
    policy: &AccessPolicy,
) -> Decision {
    use SubscriptionStatus::*;
    let Some(sub) = sub else {
        return Decision::Free(FreeReason::NoSubscription);
    };
    // A subscription that is set to end renews no more: no grace.
    let grace = if sub.cancel_at_period_end || sub.cancel_at.is_some() {
        Duration::zero()
    } else {
        policy.renewal_grace
    };
    let (end, ended) = match sub.status {
        Trialing => (
            sub.trial_end.or(sub.current_period_end).map(|e| e + grace),
            FreeReason::TrialEnded,
        ),
        Active => (
            sub.current_period_end.map(|e| e + grace),
            FreeReason::PeriodEnded,
        ),
        PastDue if policy.past_due == PastDuePolicy::UntilPeriodEnd => {
            // Already failing to renew: no grace, and at most `past_due_max`
            // into the period that is not paid for.
            let capped = sub.current_period_start.map(|s| s + policy.past_due_max);
            (
                earliest(sub.current_period_end, capped),
                FreeReason::PeriodEnded,
            )
        }
        status => return Decision::Free(FreeReason::Status(status)),
    };
    let end = earliest(end, sub.cancel_at);
    match end {
        Some(until) if now >= until => Decision::Free(ended),
        until => Decision::Plan { until },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SubscriptionStatus::*;

    fn t(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::hours(hours)
    }

    fn facts(
        status: SubscriptionStatus,
        period_end: i64,
        trial_end: Option<i64>,
        cancel: bool,
    ) -> SubscriptionFacts {
        SubscriptionFacts {
            status,
            // A short period, so that past_due_max never binds unless a case says so.
            current_period_start: Some(t(period_end - 7 * 24)),
            current_period_end: Some(t(period_end)),
            trial_end: trial_end.map(t),
            cancel_at_period_end: cancel,
            cancel_at: None,
        }
    }

    #[test]
    fn every_status_before_the_period_ends() {
        let policy = AccessPolicy::default();
        let now = t(0);
        let cases = [
            (Trialing, true),
            (Active, true),
            (PastDue, true),
            (Unpaid, false),
            (Canceled, false),
            (Incomplete, false),
            (IncompleteExpired, false),
            (Paused, false),
        ];
        assert_eq!(cases.len(), SubscriptionStatus::ALL.len());
        for (status, paid) in cases {
            let d = decide(Some(&facts(status, 24, Some(24), false)), now, &policy);
            assert_eq!(d.grants_plan(), paid, "{status:?}: {d:?}");
            if !paid {
                assert_eq!(d, Decision::Free(FreeReason::Status(status)));
            }
        }
        assert_eq!(
            decide(None, now, &policy),
            Decision::Free(FreeReason::NoSubscription)
        );
    }

    #[test]
    fn the_time_edges() {
        let policy = AccessPolicy::default();
        let grace = policy.renewal_grace.num_hours();
        // (facts, now in hours, grants the plan)
        let cases = [
            // Cancelling at period end: exactly until the end, not a second more.
            (facts(Active, 10, None, true), 9, true),
            (facts(Active, 10, None, true), 10, false),
            (facts(Active, 10, None, true), 11, false),
            // Renewing: the grace covers a late renewal webhook, then it ends.
            (facts(Active, 10, None, false), 10, true),
            (facts(Active, 10, None, false), 10 + grace - 1, true),
            (facts(Active, 10, None, false), 10 + grace, false),
            // past_due keeps the plan until the period ends, with no grace…
            (facts(PastDue, 10, None, false), 9, true),
            (facts(PastDue, 10, None, false), 10, false),
            // …but at most 14 days into a period that was not paid for.
            (
                SubscriptionFacts {
                    current_period_start: Some(t(0)),
                    ..facts(PastDue, 30 * 24, None, false)
                },
                14 * 24 - 1,
                true,
            ),
            (
                SubscriptionFacts {
                    current_period_start: Some(t(0)),
                    ..facts(PastDue, 30 * 24, None, false)
                },
                14 * 24,
                false,
            ),
            // A trial without trial_end runs to the period end.
            (
                SubscriptionFacts {
                    trial_end: None,
                    ..facts(Trialing, 10, None, true)
                },
                9,
                true,
            ),
            (
                SubscriptionFacts {
                    trial_end: None,
                    ..facts(Trialing, 10, None, true)
                },
                10,
                false,
            ),
            // A cancellation scheduled with cancel_at ends access then, with no grace.
            (
                SubscriptionFacts {
                    cancel_at: Some(t(5)),
                    ..facts(Active, 10, None, false)
                },
                4,
                true,
            ),
            (
                SubscriptionFacts {
                    cancel_at: Some(t(5)),
                    ..facts(Active, 10, None, false)
                },
                5,
                false,
            ),
            (
                SubscriptionFacts {
                    cancel_at: Some(t(50)),
                    ..facts(Active, 10, None, false)
                },
                10,
                false,
            ),
            // A trial runs to trial_end; a cancelled trial stops there.
            (facts(Trialing, 100, Some(10), true), 9, true),
            (facts(Trialing, 100, Some(10), true), 10, false),
            (facts(Trialing, 100, Some(10), false), 10 + grace - 1, true),
            (facts(Trialing, 100, Some(10), false), 10 + grace, false),
            // Canceled is free even inside a period that has not ended.
            (facts(Canceled, 100, None, false), 0, false),
        ];
        for (sub, now, paid) in cases {
            let d = decide(Some(&sub), t(now), &policy);
            assert_eq!(d.grants_plan(), paid, "{sub:?} at {now}h: {d:?}");
        }
        let ended = decide(Some(&facts(Active, 10, None, true)), t(10), &policy);
        assert_eq!(ended, Decision::Free(FreeReason::PeriodEnded));
        let trial = decide(Some(&facts(Trialing, 100, Some(10), true)), t(10), &policy);
        assert_eq!(trial, Decision::Free(FreeReason::TrialEnded));
    }

    #[test]
    fn past_due_can_revoke_at_once() {
        let policy = AccessPolicy {
            past_due: PastDuePolicy::Revoke,
            ..AccessPolicy::default()
        };
        let d = decide(Some(&facts(PastDue, 24, None, false)), t(0), &policy);
        assert_eq!(d, Decision::Free(FreeReason::Status(PastDue)));
    }

    #[test]
    fn a_subscription_without_a_known_end_grants_its_plan() {
        let sub = SubscriptionFacts {
            status: Active,
            current_period_start: None,
            current_period_end: None,
            trial_end: None,
            cancel_at_period_end: false,
            cancel_at: None,
        };
        assert_eq!(
            decide(Some(&sub), t(0), &AccessPolicy::default()),
            Decision::Plan { until: None }
        );
    }
}
