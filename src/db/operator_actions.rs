//! The operator audit trail.

use entity::operator_actions::{self, Column};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

pub async fn insert(db: &impl ConnectionTrait, a: operator_actions::Model) -> Result<(), DbErr> {
    operator_actions::ActiveModel {
        id: Set(a.id),
        actor: Set(a.actor),
        action: Set(a.action),
        target_user: Set(a.target_user),
        target: Set(a.target),
        reason: Set(a.reason),
        detail: Set(a.detail),
        at: Set(a.at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The last `limit` actions on a user (by public id), newest first.
pub async fn on_user(
    db: &impl ConnectionTrait,
    target: Uuid,
    limit: u64,
) -> Result<Vec<operator_actions::Model>, DbErr> {
    operator_actions::Entity::find()
        .filter(Column::TargetUser.eq(target))
        .order_by_desc(Column::At)
        .limit(limit)
        .all(db)
        .await
}
