use chrono::{DateTime, Utc};
use entity::refresh_tokens::{self, Column};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
    sea_query::Expr,
};
use uuid::Uuid;

pub async fn insert(
    db: &impl ConnectionTrait,
    id: Uuid,
    user_id: i32,
    family_id: Uuid,
    token_hash: String,
    expires_at: DateTime<Utc>,
) -> Result<refresh_tokens::Model, DbErr> {
    refresh_tokens::ActiveModel {
        id: Set(id),
        user_id: Set(user_id),
        family_id: Set(family_id),
        token_hash: Set(token_hash),
        expires_at: Set(expires_at),
        created_at: Set(Utc::now()),
        used_at: Set(None),
        replaced_by: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await
}

pub async fn by_hash(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<refresh_tokens::Model>, DbErr> {
    refresh_tokens::Entity::find()
        .filter(Column::TokenHash.eq(token_hash))
        .one(db)
        .await
}

/// Spends a token, if nobody has spent or revoked it yet. Returns whether this
/// call was the one that spent it: of two concurrent refreshes with one token,
/// exactly one wins, and the other is treated as reuse.
pub async fn spend(
    db: &impl ConnectionTrait,
    id: Uuid,
    replaced_by: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = refresh_tokens::Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(now))
        .col_expr(Column::ReplacedBy, Expr::value(replaced_by))
        .filter(Column::Id.eq(id))
        .filter(Column::UsedAt.is_null())
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn revoke_family(
    db: &impl ConnectionTrait,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let res = refresh_tokens::Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .filter(Column::FamilyId.eq(family_id))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Deletes tokens past their expiry. An expired token is refused whatever its
/// state, so its row no longer serves reuse detection either.
pub async fn delete_expired(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let res = refresh_tokens::Entity::delete_many()
        .filter(Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
