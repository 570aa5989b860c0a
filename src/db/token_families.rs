use chrono::{DateTime, Utc};
use entity::token_families::{self, Column};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    Set, sea_query::Expr,
};
use uuid::Uuid;

pub async fn insert(
    db: &impl ConnectionTrait,
    id: Uuid,
    user_id: i32,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<token_families::Model, DbErr> {
    token_families::ActiveModel {
        id: Set(id),
        user_id: Set(user_id),
        created_at: Set(now),
        last_used_at: Set(now),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
    }
    .insert(db)
    .await
}

/// Marks a live family as used and extends it to `expires_at`. Returns false
/// when the family is revoked (or gone). Inside a transaction this takes the
/// family's row lock, which a concurrent revocation also needs: a rotation
/// and a revocation of one family are serialised on every database.
pub async fn touch_live(
    db: &impl ConnectionTrait,
    id: Uuid,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = token_families::Entity::update_many()
        .col_expr(Column::LastUsedAt, Expr::value(now))
        .col_expr(Column::ExpiresAt, Expr::value(expires_at))
        .filter(Column::Id.eq(id))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Revokes a family; returns whether it was live until now.
pub async fn revoke(
    db: &impl ConnectionTrait,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = token_families::Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Deletes families that can no longer be used (expired or revoked), and
/// their tokens with them. A token of a deleted family is simply unknown.
pub async fn delete_dead(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let res = token_families::Entity::delete_many()
        .filter(
            Condition::any()
                .add(Column::ExpiresAt.lt(now))
                .add(Column::RevokedAt.is_not_null()),
        )
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Revokes every live family of the user (every session); returns how many.
pub async fn revoke_all_of_user(
    db: &impl ConnectionTrait,
    user_id: i32,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let res = token_families::Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Revokes every live family of the user but `keep` (the session asking).
pub async fn revoke_all_but(
    db: &impl ConnectionTrait,
    user_id: i32,
    keep: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let res = token_families::Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Id.ne(keep))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
