//! The webhook inbox: every verified Stripe event, stored raw before it is
//! acknowledged, then processed (and retried) by the worker.

use sea_orm::entity::prelude::*;

use crate::status::EventStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stripe_events")]
pub struct Model {
    /// Stripe's event id (`evt_…`): duplicates are caught by this key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(column_name = "type")]
    pub r#type: String,
    pub api_version: Option<String>,
    pub created: DateTimeUtc,
    pub livemode: bool,
    /// The Stripe customer the event is about, when it names one.
    pub customer_id: Option<String>,
    /// The body exactly as Stripe sent it.
    pub payload: String,
    pub received_at: DateTimeUtc,
    pub status: EventStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTimeUtc,
    /// A worker's claim; past it, another worker may take the event.
    pub locked_until: Option<DateTimeUtc>,
    pub processed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
