use chrono::{DateTime, Utc};
use entity::{
    api_keys::{self, Column},
    users,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, sea_query::Expr,
};
use uuid::Uuid;

pub struct NewKey {
    pub user_id: i32,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
}

/// Locks the user's row for the rest of the transaction (PostgreSQL; SQLite
/// serialises writers anyway), so that counting keys and adding one is atomic.
pub async fn lock_owner(db: &impl ConnectionTrait, user_id: i32) -> Result<(), DbErr> {
    users::Entity::find_by_id(user_id)
        .lock_exclusive()
        .one(db)
        .await?;
    Ok(())
}

pub async fn count_active(db: &impl ConnectionTrait, user_id: i32) -> Result<u64, DbErr> {
    api_keys::Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null())
        .count(db)
        .await
}

pub async fn insert(
    db: &impl ConnectionTrait,
    k: NewKey,
    now: DateTime<Utc>,
) -> Result<api_keys::Model, DbErr> {
    api_keys::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(k.user_id),
        name: Set(k.name),
        prefix: Set(k.prefix),
        key_hash: Set(k.key_hash),
        created_at: Set(now),
        revoked_at: Set(None),
        last_used_at: Set(None),
    }
    .insert(db)
    .await
}

/// The user's keys that are not revoked, newest first.
pub async fn active_of(
    db: &impl ConnectionTrait,
    user_id: i32,
) -> Result<Vec<api_keys::Model>, DbErr> {
    api_keys::Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null())
        .order_by_desc(Column::CreatedAt)
        .all(db)
        .await
}

/// Revokes one of the user's keys; false when it is not theirs or already revoked.
pub async fn revoke(
    db: &impl ConnectionTrait,
    user_id: i32,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = api_keys::Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// The key with this hash (of any state), with its owner's public id.
pub async fn owner_by_hash(
    db: &impl ConnectionTrait,
    key_hash: &str,
) -> Result<Option<(Uuid, Uuid)>, DbErr> {
    let found = api_keys::Entity::find()
        .find_also_related(users::Entity)
        .filter(Column::KeyHash.eq(key_hash))
        .one(db)
        .await?;
    Ok(found.and_then(|(key, user)| user.map(|u| (key.id, u.pid))))
}

/// The ids of the user's keys that are not revoked (by the user's public id).
pub async fn active_ids_of_pid(db: &impl ConnectionTrait, pid: Uuid) -> Result<Vec<Uuid>, DbErr> {
    Ok(api_keys::Entity::find()
        .inner_join(users::Entity)
        .filter(users::Column::Pid.eq(pid))
        .filter(Column::RevokedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|k| k.id)
        .collect())
}

/// Records that the key was used at `now`, unless that was recorded less
/// than `every` ago (by any instance): a write about once a minute per key,
/// not one per request.
pub async fn touch(
    db: &impl ConnectionTrait,
    id: Uuid,
    now: DateTime<Utc>,
    every: chrono::Duration,
) -> Result<(), DbErr> {
    use sea_orm::Condition;
    api_keys::Entity::update_many()
        .col_expr(Column::LastUsedAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(
            Condition::any()
                .add(Column::LastUsedAt.is_null())
                .add(Column::LastUsedAt.lt(now - every)),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Revokes every live key of the user; returns how many.
pub async fn revoke_all_of_user(
    db: &impl ConnectionTrait,
    user_id: i32,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let res = api_keys::Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
