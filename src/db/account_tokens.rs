//! Single-use account tokens (password resets, address verifications),
//! stored by their SHA-256.

use chrono::{DateTime, Utc};
use entity::{
    TokenPurpose,
    account_tokens::{self, Column},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
    sea_query::Expr,
};
use uuid::Uuid;

pub async fn insert(
    db: &impl ConnectionTrait,
    user_id: i32,
    purpose: TokenPurpose,
    token_hash: String,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    account_tokens::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        purpose: Set(purpose),
        token_hash: Set(token_hash),
        expires_at: Set(expires_at),
        used_at: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Uses the token with this hash, if it is for `purpose`, unused and not
/// expired at `now`: one conditional update, so of two concurrent uses only
/// one gets it. The token's row when this call used it.
pub async fn consume(
    db: &impl ConnectionTrait,
    token_hash: &str,
    purpose: TokenPurpose,
    now: DateTime<Utc>,
) -> Result<Option<account_tokens::Model>, DbErr> {
    let res = account_tokens::Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(now))
        .filter(Column::TokenHash.eq(token_hash))
        .filter(Column::Purpose.eq(purpose))
        .filter(Column::UsedAt.is_null())
        .filter(Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    if res.rows_affected != 1 {
        return Ok(None);
    }
    account_tokens::Entity::find()
        .filter(Column::TokenHash.eq(token_hash))
        .one(db)
        .await
}

/// Spends every unused token of the user for `purpose` (a reset done, an
/// address verified, an account deleted).
pub async fn spend_all(
    db: &impl ConnectionTrait,
    user_id: i32,
    purpose: Option<TokenPurpose>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut q = account_tokens::Entity::update_many()
        .col_expr(Column::UsedAt, Expr::value(now))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::UsedAt.is_null());
    if let Some(p) = purpose {
        q = q.filter(Column::Purpose.eq(p));
    }
    q.exec(db).await?;
    Ok(())
}
