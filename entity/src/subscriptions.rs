//! A Stripe subscription as last synced from Stripe: a cache of Stripe's
//! state, never the source of truth. The plan is derived from `price_id`
//! through `plans.toml` when it is read, so a catalogue change applies at once.

use sea_orm::entity::prelude::*;

use crate::status::SubscriptionStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: i32,
    #[sea_orm(unique)]
    pub stripe_subscription_id: String,
    pub stripe_customer_id: String,
    pub status: SubscriptionStatus,
    pub price_id: String,
    pub current_period_start: Option<DateTimeUtc>,
    pub current_period_end: Option<DateTimeUtc>,
    pub trial_end: Option<DateTimeUtc>,
    pub cancel_at_period_end: bool,
    /// A cancellation scheduled for a given time.
    pub cancel_at: Option<DateTimeUtc>,
    pub canceled_at: Option<DateTimeUtc>,
    /// When Stripe created the subscription.
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When this row was last recomputed from Stripe.
    pub synced_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
