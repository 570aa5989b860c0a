//! The rules of metered usage: which period a call counts in, what a call
//! may ask for, and what it answers. The count itself is the database's
//! (one conditional increment); nothing here reads or writes it.

use chrono::{DateTime, Datelike, TimeZone, Utc};

use super::{
    access::{Access, Decision},
    catalog::{Limit, LimitValue},
};

/// The most one `recordUsage` call may add.
pub const MAX_AMOUNT: u32 = 1_000_000;
/// The longest idempotency key, in bytes.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The period a metered limit is counted in: `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The calendar month (UTC) that holds `now`.
pub fn calendar_month(now: DateTime<Utc>) -> Period {
    let first = |year: i32, month: u32| {
        Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0)
            .single()
            .expect("the first of a month at midnight UTC exists")
    };
    let start = first(now.year(), now.month());
    let end = if now.month() == 12 {
        first(now.year() + 1, 1)
    } else {
        first(now.year(), now.month() + 1)
    };
    Period { start, end }
}

/// The subscription's current billing period while it grants its plan; the
/// calendar month otherwise (the free plan, or a subscription whose period
/// Stripe has not told us).
pub fn period(access: &Access, now: DateTime<Utc>) -> Period {
    match &access.subscription {
        Some((sub, Decision::Plan { .. })) => {
            match (sub.current_period_start, sub.current_period_end) {
                (Some(start), Some(end)) if start < end => Period { start, end },
                _ => calendar_month(now),
            }
        }
        _ => calendar_month(now),
    }
}

/// How a call against a metered limit is decided, as the counter's
/// conditional increment needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allowance {
    /// The most the counter may reach; `None` when there is no bound (an
    /// unlimited plan, or a limit that bills overage).
    pub bound: Option<u64>,
    /// The plan's `max`, for the answer; `None` when unlimited.
    pub max: Option<u64>,
}

impl Allowance {
    /// For a metered limit of the caller's plan; a plan without the limit
    /// allows none of it.
    pub fn of(limit: Option<&Limit>) -> Self {
        let max = match limit.map(|l| l.max) {
            Some(LimitValue::Finite(n)) => Some(u64::from(n)),
            Some(LimitValue::Unlimited) => None,
            None => Some(0),
        };
        let overage = limit
            .and_then(|l| l.metering.as_ref())
            .is_some_and(|m| m.overage);
        Self {
            bound: if overage { None } else { max },
            max,
        }
    }

    /// How much of `used` is past `max`.
    pub fn overage(&self, used: u64) -> u64 {
        self.max.map_or(0, |max| used.saturating_sub(max))
    }
}

/// Why an amount or an idempotency key is refused, for `BAD_USER_INPUT`.
pub fn check_amount(amount: i64) -> Result<u32, String> {
    match u32::try_from(amount) {
        Ok(n) if (1..=MAX_AMOUNT).contains(&n) => Ok(n),
        _ => Err(format!("amount must be between 1 and {MAX_AMOUNT}")),
    }
}

pub fn check_idempotency_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY {
        return Err(format!(
            "idempotencyKey must be 1 to {MAX_IDEMPOTENCY_KEY} bytes"
        ));
    }
    if key.chars().any(char::is_control) {
        return Err("idempotencyKey must not contain control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::Metering;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_free_plan_counts_by_calendar_month_in_utc() {
        let cases = [
            (
                "2026-12-02T05:00:00Z",
                "2026-12-01T00:00:00Z",
                "2027-01-01T00:00:00Z",
            ),
            (
                "2026-12-31T23:59:59Z",
                "2026-12-01T00:00:00Z",
                "2027-01-01T00:00:00Z",
            ),
            (
                "2027-01-01T00:00:00Z",
                "2027-01-01T00:00:00Z",
                "2027-02-01T00:00:00Z",
            ),
            (
                "2028-02-29T12:00:00Z",
                "2028-02-01T00:00:00Z",
                "2028-03-01T00:00:00Z",
            ),
        ];
        for (now, start, end) in cases {
            assert_eq!(
                calendar_month(at(now)),
                Period {
                    start: at(start),
                    end: at(end)
                },
                "{now}"
            );
        }
    }

    #[test]
    fn allowances_bound_the_counter_unless_overage_is_billed() {
        let metered = |max, meter: Option<&str>, overage| Limit {
            max,
            metering: Some(Metering {
                meter: meter.map(Into::into),
                overage,
            }),
        };
        let capped = Allowance::of(Some(&metered(LimitValue::Finite(50), None, false)));
        assert_eq!((capped.bound, capped.max), (Some(50), Some(50)));
        assert_eq!(capped.overage(50), 0);
        let billed = Allowance::of(Some(&metered(LimitValue::Finite(50), Some("m"), true)));
        assert_eq!((billed.bound, billed.max), (None, Some(50)));
        assert_eq!(billed.overage(57), 7);
        let unlimited = Allowance::of(Some(&metered(LimitValue::Unlimited, None, false)));
        assert_eq!((unlimited.bound, unlimited.max), (None, None));
        assert_eq!(unlimited.overage(u64::MAX), 0);
        let absent = Allowance::of(None);
        assert_eq!((absent.bound, absent.max), (Some(0), Some(0)));
    }

    #[test]
    fn amounts_and_keys_are_bounded() {
        for (amount, ok) in [
            (0, false),
            (-1, false),
            (1, true),
            (1_000_000, true),
            (1_000_001, false),
            (i64::MAX, false),
        ] {
            assert_eq!(check_amount(amount).is_ok(), ok, "{amount}");
        }
        assert!(check_idempotency_key("").is_err());
        assert!(check_idempotency_key(&"k".repeat(255)).is_ok());
        assert!(check_idempotency_key(&"k".repeat(10 * 1024)).is_err());
        assert!(check_idempotency_key("a\u{0}b").is_err());
        assert!(check_idempotency_key("order-42/line-1").is_ok());
    }
}
