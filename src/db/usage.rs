//! Metered usage: the counters and the records of accepted calls.

use chrono::{DateTime, Utc};
use entity::{usage_counters, usage_records};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DbErr, EntityTrait,
    QueryFilter, Set, Statement,
};

use crate::domain::usage::Period;

/// Adds `amount` to the user's counter for the period, only if the result
/// stays within `bound` (`None`: no bound), creating the counter at zero
/// first. One statement: the database decides, so concurrent calls can
/// neither overshoot nor lose an increment. Returns the new count, or `None`
/// when the bound refused it (nothing changed).
pub async fn increment(
    db: &impl ConnectionTrait,
    user_id: i32,
    limit: &str,
    period: Period,
    amount: u32,
    bound: Option<u64>,
    now: DateTime<Utc>,
) -> Result<Option<i64>, DbErr> {
    let backend = db.get_database_backend();
    // The same text on both databases but for the placeholders: SQLite's ?N
    // may be repeated like PostgreSQL's $N. The INSERT's own WHERE refuses a
    // first call that is already over the bound; the upsert's WHERE every other.
    let sql = "INSERT INTO usage_counters (user_id, limit_name, period_start, period_end, used, updated_at) \
               SELECT $1, $2, $3, $4, $5, $6 WHERE $5 <= $7 \
               ON CONFLICT (user_id, limit_name, period_start) DO UPDATE \
               SET used = usage_counters.used + excluded.used, updated_at = excluded.updated_at \
               WHERE usage_counters.used + excluded.used <= $7 \
               RETURNING used";
    let sql = match backend {
        DatabaseBackend::Sqlite => sql.replace('$', "?"),
        _ => sql.to_owned(),
    };
    let bound = bound.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                user_id.into(),
                limit.into(),
                period.start.into(),
                period.end.into(),
                i64::from(amount).into(),
                now.into(),
                bound.into(),
            ],
        ))
        .await?;
    row.map(|r| r.try_get::<i64>("", "used")).transpose()
}

/// The user's count for the period (zero when nothing was recorded).
pub async fn used(
    db: &impl ConnectionTrait,
    user_id: i32,
    limit: &str,
    period_start: DateTime<Utc>,
) -> Result<i64, DbErr> {
    use usage_counters::Column as C;
    Ok(usage_counters::Entity::find()
        .filter(C::UserId.eq(user_id))
        .filter(C::LimitName.eq(limit))
        .filter(C::PeriodStart.eq(period_start))
        .one(db)
        .await?
        .map_or(0, |c| c.used))
}

/// The user's counts of every limit for the period, by limit name.
pub async fn used_in_period(
    db: &impl ConnectionTrait,
    user_id: i32,
    period_start: DateTime<Utc>,
) -> Result<std::collections::HashMap<String, i64>, DbErr> {
    use usage_counters::Column as C;
    Ok(usage_counters::Entity::find()
        .filter(C::UserId.eq(user_id))
        .filter(C::PeriodStart.eq(period_start))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.limit_name, c.used))
        .collect())
}

/// Records an accepted call. A unique violation means the user used this
/// idempotency key already.
pub async fn insert_record(
    db: &impl ConnectionTrait,
    r: usage_records::Model,
) -> Result<(), DbErr> {
    usage_records::ActiveModel {
        id: Set(r.id),
        user_id: Set(r.user_id),
        idempotency_key: Set(r.idempotency_key),
        limit_name: Set(r.limit_name),
        amount: Set(r.amount),
        used: Set(r.used),
        max: Set(r.max),
        overage: Set(r.overage),
        period_start: Set(r.period_start),
        resets_at: Set(r.resets_at),
        created_at: Set(r.created_at),
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn record_by_key(
    db: &impl ConnectionTrait,
    user_id: i32,
    idempotency_key: &str,
) -> Result<Option<usage_records::Model>, DbErr> {
    use usage_records::Column as C;
    usage_records::Entity::find()
        .filter(C::UserId.eq(user_id))
        .filter(C::IdempotencyKey.eq(idempotency_key))
        .one(db)
        .await
}
