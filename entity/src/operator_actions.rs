//! The operator audit trail: who did what to whom, why, and when. Accounts
//! are named by their public (pseudonymous) ids, without foreign keys, so
//! the rows outlive the accounts; no email or other PII is kept here.

use sea_orm::entity::prelude::*;

use crate::status::OperatorAction;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "operator_actions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The operator's public id; `None` from the command line.
    pub actor: Option<Uuid>,
    pub action: OperatorAction,
    /// The user acted on (public id), when there is one.
    pub target_user: Option<Uuid>,
    /// What else was acted on: a grant id, a Stripe event id.
    pub target: Option<String>,
    pub reason: Option<String>,
    /// The action's particulars as JSON (a plan, a role, a count).
    pub detail: String,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
