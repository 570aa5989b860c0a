//! Comp plans given by admins.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{
    grants::{self, Column},
    users,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set, sea_query::Expr,
};
use uuid::Uuid;

pub async fn insert(db: &impl ConnectionTrait, g: grants::Model) -> Result<grants::Model, DbErr> {
    grants::ActiveModel {
        id: Set(g.id),
        user_id: Set(g.user_id),
        plan: Set(g.plan),
        starts_at: Set(g.starts_at),
        until: Set(g.until),
        reason: Set(g.reason),
        granted_by: Set(g.granted_by),
        created_at: Set(g.created_at),
        revoked_at: Set(None),
        revoked_by: Set(None),
        revoke_reason: Set(None),
    }
    .insert(db)
    .await
}

pub async fn by_id(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<grants::Model>, DbErr> {
    grants::Entity::find_by_id(id).one(db).await
}

/// The grants of each user (by public id) that are not revoked and not yet
/// over at `now`, in one query; whether each holds is decided at request time.
pub async fn live_of_pids(
    db: &impl ConnectionTrait,
    pids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<HashMap<Uuid, Vec<grants::Model>>, DbErr> {
    let rows = grants::Entity::find()
        .find_also_related(users::Entity)
        .filter(users::Column::Pid.is_in(pids.iter().copied()))
        .filter(Column::RevokedAt.is_null())
        .filter(Column::Until.gt(now))
        .all(db)
        .await?;
    let mut out: HashMap<Uuid, Vec<grants::Model>> = HashMap::new();
    for (grant, user) in rows {
        if let Some(user) = user {
            out.entry(user.pid).or_default().push(grant);
        }
    }
    Ok(out)
}

/// Every grant of the user, newest first (for the support view).
pub async fn of_user(db: &impl ConnectionTrait, user_id: i32) -> Result<Vec<grants::Model>, DbErr> {
    grants::Entity::find()
        .filter(Column::UserId.eq(user_id))
        .order_by_desc(Column::CreatedAt)
        .all(db)
        .await
}

/// Revokes a live grant; false when it was revoked already.
pub async fn revoke(
    db: &impl ConnectionTrait,
    id: Uuid,
    by: Option<Uuid>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = grants::Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .col_expr(Column::RevokedBy, Expr::value(by))
        .col_expr(Column::RevokeReason, Expr::value(reason))
        .filter(Column::Id.eq(id))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}
