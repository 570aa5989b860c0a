//! The simulated clock: the wall clock plus an offset that only grows, and everything that
//! falls due as it moves (renewals, trial ends and their warnings, payment retries, expiries),
//! applied earliest first, each at its own time. Also the calendar of billing periods.

use crate::catalog::Interval;
use crate::error::{ApiError, ApiResult};

use super::{Cause, DAY, MAX_STEPS, State, Status, SubscriptionItem};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    TrialWillEnd,
    TrialEnd,
    PeriodEnd,
    Retry,
    IncompleteExpiry,
}

impl State {
    /// Applies whatever fell due by the simulated now (called on every access to the state).
    /// At most [`MAX_STEPS`] things at a time; the rest is applied on the next access.
    pub fn catch_up(&mut self) {
        let now = self.now();
        let _ = self.advance_to(now);
    }

    /// Moves the simulated clock so that `now()` is at least `at`; it never goes back.
    pub(crate) fn clock_at_least(&mut self, at: i64) {
        let offset = at.saturating_sub(chrono::Utc::now().timestamp());
        self.clock_offset = self.clock_offset.max(offset);
    }

    /// Moves the simulated clock forward to `target`, applying everything that falls due on
    /// the way, earliest first, each at its own time. The clock never moves back (`target` in
    /// the past only applies what is overdue). Past [`MAX_STEPS`] things it stops, with the
    /// clock at the last one applied, and says so: nothing is skipped, a later call (or the
    /// next access, which catches up) goes on from there.
    pub fn advance_to(&mut self, target: i64) -> ApiResult<usize> {
        let mut applied = 0;
        loop {
            if applied == MAX_STEPS {
                return Err(ApiError::bad_request(format!(
                    "Too much falls due before {target}: stripe-sim applied {MAX_STEPS} renewals, \
                     retries and expiries and stopped the clock at {}. Advance again to go on.",
                    self.now()
                )));
            }
            let subscription = self.next_due(target);
            let session = self.next_session_expiry(target);
            match (subscription, session) {
                (Some((_, sub_due, _)), Some((id, due))) if due < sub_due => {
                    self.expire_session_at(&id, due)
                }
                (None, Some((id, due))) => self.expire_session_at(&id, due),
                (Some((sub_id, due, action)), _) => {
                    self.clock_at_least(due);
                    self.apply_due(&sub_id, due, action);
                }
                (None, None) => break,
            }
            applied += 1;
        }
        self.clock_at_least(target);
        Ok(applied)
    }

    /// The open checkout session that expires first, by `target`.
    fn next_session_expiry(&self, target: i64) -> Option<(String, i64)> {
        self.sessions
            .values()
            .filter(|s| s.status == "open" && s.expires_at <= target)
            .min_by_key(|s| (s.expires_at, s.seq))
            .map(|s| (s.id.clone(), s.expires_at))
    }

    /// What falls due first, by `target`, of every subscription (the oldest first on a tie).
    fn next_due(&self, target: i64) -> Option<(String, i64, Due)> {
        let mut best: Option<(String, i64, Due, u64)> = None;
        for s in self.subscriptions.values() {
            let candidate = match s.status {
                Status::Trialing => {
                    let trial_end = s.trial_end.unwrap_or(s.period_end);
                    if !s.trial_will_end_sent && trial_end - 3 * DAY <= target {
                        Some(((trial_end - 3 * DAY).max(s.created), Due::TrialWillEnd))
                    } else {
                        Some((trial_end, Due::TrialEnd))
                    }
                }
                Status::Active => Some((s.period_end, Due::PeriodEnd)),
                Status::PastDue | Status::Incomplete if s.next_retry_at.is_some() => {
                    Some((s.next_retry_at.expect("checked"), Due::Retry))
                }
                Status::Incomplete => Some((s.created + 23 * 3600, Due::IncompleteExpiry)),
                Status::PastDue | Status::Unpaid if s.cancel_at_period_end => {
                    Some((s.period_end, Due::PeriodEnd))
                }
                _ => None,
            };
            if let Some((due, action)) = candidate
                && due <= target
                && best.as_ref().is_none_or(|b| (due, s.seq) < (b.1, b.3))
            {
                best = Some((s.id.clone(), due, action, s.seq));
            }
        }
        best.map(|(id, due, action, _)| (id, due, action))
    }

    fn apply_due(&mut self, id: &str, at: i64, action: Due) {
        let cause = Cause::automatic();
        let customer = self.subscriptions[id].customer.clone();
        match action {
            Due::TrialWillEnd => self.trial_will_end(id, at, &cause),
            Due::TrialEnd => self.end_trial(id, at, &cause),
            Due::PeriodEnd if self.subscriptions[id].cancel_at_period_end => {
                self.end_subscription(id, at, "cancellation_requested", &cause)
            }
            Due::PeriodEnd => self.renew(id, at, &cause),
            Due::Retry => self.retry_payment(id, at, &cause),
            Due::IncompleteExpiry => self.expire_incomplete(id, at, &cause),
        }
        self.sync_entitlements(&customer, &cause, at);
    }

    /// The interval the items bill at: the first item's price's.
    pub(crate) fn billing_interval(&self, items: &[SubscriptionItem]) -> Option<(Interval, u32)> {
        items
            .first()
            .and_then(|i| self.catalog.price(&i.price))
            .map(|(_, p)| (p.interval, p.interval_count))
    }

    /// The end of a billing period that starts at `start`, by the first item's price.
    pub(crate) fn period_after(&self, items: &[SubscriptionItem], start: i64) -> i64 {
        let (interval, count) = self.billing_interval(items).unwrap_or((Interval::Month, 1));
        add_interval(start, interval, count)
    }
}

pub fn add_interval(start: i64, interval: Interval, count: u32) -> i64 {
    use chrono::{DateTime, Months};
    let Some(t) = DateTime::from_timestamp(start, 0) else {
        return start + 30 * DAY;
    };
    let next = match interval {
        Interval::Day => Some(t + chrono::Duration::days(i64::from(count))),
        Interval::Week => Some(t + chrono::Duration::weeks(i64::from(count))),
        Interval::Month => t.checked_add_months(Months::new(count)),
        Interval::Year => t.checked_add_months(Months::new(count.saturating_mul(12))),
    };
    next.map_or(start + 30 * DAY, |n| n.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monthly_periods_follow_the_calendar() {
        // 2026-01-31 → 2026-02-28
        let jan31 = 1_769_817_600;
        let next = add_interval(jan31, Interval::Month, 1);
        assert_eq!(
            chrono::DateTime::from_timestamp(next, 0)
                .unwrap()
                .format("%Y-%m-%d")
                .to_string(),
            "2026-02-28"
        );
    }
}
