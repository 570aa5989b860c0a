//! A customer's active entitlements as Stripe's Entitlements API last
//! reported them (used when `ENTITLE_FEATURE_SOURCE=stripe`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stripe_entitlements")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub customer_id: String,
    /// Feature lookup keys, newline-separated and sorted.
    pub features: String,
    pub synced_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
