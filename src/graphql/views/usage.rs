use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};

#[derive(SimpleObject)]
pub struct LimitUsage {
    pub name: String,
    /// Null when Entitle does not measure it (your product reports it).
    pub used: Option<i32>,
    /// Null when unlimited.
    pub limit: Option<i32>,
}

#[derive(SimpleObject)]
pub struct Usage {
    /// The current billing period, when subscribed.
    pub period_start: Option<DateTime<Utc>>,
    pub period_end: Option<DateTime<Utc>>,
    pub limits: Vec<LimitUsage>,
}
