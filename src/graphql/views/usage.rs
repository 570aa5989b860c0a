use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};

#[derive(SimpleObject)]
pub struct LimitUsage {
    pub name: String,
    /// Null when Entitle does not measure it (your product reports it).
    pub used: Option<i32>,
    /// Null when unlimited.
    pub limit: Option<i32>,
    /// For a metered limit, when its period ends and the count starts again.
    pub resets_at: Option<DateTime<Utc>>,
}

#[derive(SimpleObject)]
pub struct Usage {
    /// The current billing period, when subscribed.
    pub period_start: Option<DateTime<Utc>>,
    pub period_end: Option<DateTime<Utc>>,
    pub limits: Vec<LimitUsage>,
}

/// What `recordUsage` counted (or, for a repeated idempotency key, what the
/// first call counted).
#[derive(SimpleObject)]
pub struct UsageRecord {
    /// The limit's name.
    pub limit: String,
    /// Counted in the period, this call included.
    pub used: i32,
    /// Null when unlimited.
    pub max: Option<i32>,
    /// When the period ends and the count starts from zero.
    pub resets_at: DateTime<Utc>,
    /// How much of `used` is past `max`, billed as overage (zero unless the
    /// limit allows overage).
    pub overage: i32,
}

/// GraphQL's `Int` is 32 bits: counts past it read as its largest value.
pub fn int(n: i64) -> i32 {
    i32::try_from(n.max(0)).unwrap_or(i32::MAX)
}

impl From<entity::usage_records::Model> for UsageRecord {
    fn from(r: entity::usage_records::Model) -> Self {
        Self {
            limit: r.limit_name,
            used: int(r.used),
            max: r.max.map(int),
            resets_at: r.resets_at,
            overage: int(r.overage),
        }
    }
}
