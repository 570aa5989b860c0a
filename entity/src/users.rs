//! An account. `id` is internal (foreign keys); `pid` is the public id that
//! appears in tokens and in the API.

use sea_orm::entity::prelude::*;

use crate::status::Role;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub pid: Uuid,
    /// Normalised (trimmed, lower-cased) before it is stored.
    #[sea_orm(unique)]
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    #[sea_orm(unique)]
    pub stripe_customer_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// What the account may do as an operator.
    pub role: Role,
    /// When the address was confirmed through a link sent to it.
    pub email_verified_at: Option<DateTimeUtc>,
    /// A deleted account's tombstone: email and password erased, the row
    /// kept so audit rows keep their (pseudonymous) reference.
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::token_families::Entity")]
    TokenFamilies,
    #[sea_orm(has_many = "super::subscriptions::Entity")]
    Subscriptions,
    #[sea_orm(has_many = "super::api_keys::Entity")]
    ApiKeys,
    #[sea_orm(has_many = "super::grants::Entity")]
    Grants,
}

impl Related<super::grants::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Grants.def()
    }
}

impl Related<super::api_keys::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ApiKeys.def()
    }
}

impl Related<super::subscriptions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Subscriptions.def()
    }
}

impl Related<super::token_families::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::TokenFamilies.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
