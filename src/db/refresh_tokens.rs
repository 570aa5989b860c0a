use chrono::{DateTime, Utc};
use entity::refresh_tokens::{self, Column};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
    sea_query::Expr,
};
use uuid::Uuid;

pub struct NewToken {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: i32,
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(
    db: &impl ConnectionTrait,
    t: NewToken,
    now: DateTime<Utc>,
) -> Result<refresh_tokens::Model, DbErr> {
    refresh_tokens::ActiveModel {
        id: Set(t.id),
        family_id: Set(t.family_id),
        user_id: Set(t.user_id),
        token_hash: Set(t.token_hash),
        expires_at: Set(t.expires_at),
        created_at: Set(now),
        used_at: Set(None),
        replaced_by: Set(None),
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

/// Spends a token if nobody has yet. Returns whether this call spent it: of
/// two concurrent spends of one token exactly one wins.
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
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Deletes tokens past their expiry: an expired token is refused whatever its
/// state, so its row no longer serves reuse detection either. (On SQLite the
/// timestamps are RFC 3339 text, which sorts in time order.)
pub async fn delete_expired(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let res = refresh_tokens::Entity::delete_many()
        .filter(Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
