//! One accepted `recordUsage` call, unique on the user's idempotency key: a
//! repeat answers what the first call answered, and counts nothing. Its id
//! is what Stripe meter events are deduplicated by.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: i32,
    pub idempotency_key: String,
    pub limit_name: String,
    pub amount: i64,
    /// The counter after this call.
    pub used: i64,
    /// The limit at the time; `None` when unlimited.
    pub max: Option<i64>,
    /// How much of `used` was past `max` after this call.
    pub overage: i64,
    pub period_start: DateTimeUtc,
    pub resets_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
