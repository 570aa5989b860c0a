//! One real change of a user's subscription status or price, with what
//! caused it (a webhook event, the success page, or `entitle sync`).

use sea_orm::entity::prelude::*;

use crate::status::{ChangeSource, SubscriptionStatus};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: i32,
    pub stripe_subscription_id: String,
    pub stripe_event_id: Option<String>,
    /// `None` when the subscription is new to us.
    pub from_status: Option<SubscriptionStatus>,
    pub to_status: SubscriptionStatus,
    pub from_price: Option<String>,
    pub to_price: String,
    pub source: ChangeSource,
    pub at: DateTimeUtc,
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
