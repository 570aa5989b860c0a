//! The outbox: rows to send outward, claimed by one worker at a time across
//! instances (a conditional update), like the webhook inbox.

use chrono::{DateTime, Utc};
use entity::{
    OutboxKind, OutboxStatus,
    outbox::{self, Column},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, sea_query::Expr,
};
use uuid::Uuid;

use super::lease::Queue;

/// Writes a message to send, inside the caller's transaction.
pub async fn enqueue(
    db: &impl ConnectionTrait,
    id: Uuid,
    kind: OutboxKind,
    payload: String,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    outbox::ActiveModel {
        id: Set(id),
        kind: Set(kind),
        payload: Set(payload),
        status: Set(OutboxStatus::Pending),
        attempts: Set(0),
        last_error: Set(None),
        next_attempt_at: Set(now),
        locked_until: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Messages wait pending (also between retries) and are sent.
const QUEUE: Queue<Column, OutboxStatus> = Queue {
    status: Column::Status,
    attempts: Column::Attempts,
    next_attempt_at: Column::NextAttemptAt,
    locked_until: Column::LockedUntil,
    waiting: &[OutboxStatus::Pending],
    working: OutboxStatus::Sending,
};

/// Ids of rows due to be sent, oldest first.
pub async fn due_ids(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Uuid>, DbErr> {
    Ok(outbox::Entity::find()
        .filter(QUEUE.due(now))
        .order_by_asc(Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect())
}

/// Claims a due row for this worker until `now + lease`; the row when this
/// caller got it.
pub async fn claim(
    db: &impl ConnectionTrait,
    id: Uuid,
    now: DateTime<Utc>,
    lease: chrono::Duration,
) -> Result<Option<outbox::Model>, DbErr> {
    let which = Condition::all().add(Column::Id.eq(id));
    if QUEUE.claim::<outbox::Entity>(db, which, now, lease).await? {
        outbox::Entity::find_by_id(id).one(db).await
    } else {
        Ok(None)
    }
}

/// How one attempt ended.
pub enum Finish {
    Sent,
    /// Try again at this time.
    Retry(DateTime<Utc>),
    /// Refused for good.
    Dead,
}

/// Records the outcome of an attempt, if this worker still holds the claim
/// (`attempts` as claimed).
pub async fn finish(
    db: &impl ConnectionTrait,
    row: &outbox::Model,
    outcome: Finish,
    error: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let (status, next, sent) = match outcome {
        Finish::Sent => (OutboxStatus::Sent, now, Some(now)),
        Finish::Retry(at) => (OutboxStatus::Pending, at, None),
        Finish::Dead => (OutboxStatus::Dead, now, None),
    };
    outbox::Entity::update_many()
        .col_expr(Column::Status, Expr::value(status))
        .col_expr(Column::LastError, Expr::value(error))
        .col_expr(Column::NextAttemptAt, Expr::value(next))
        .col_expr(
            Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(Column::SentAt, Expr::value(sent))
        .filter(Column::Id.eq(row.id))
        .filter(Column::Status.eq(OutboxStatus::Sending))
        .filter(Column::Attempts.eq(row.attempts))
        .exec(db)
        .await?;
    Ok(())
}

/// Rows of a kind, oldest first (for tests and operators).
pub async fn of_kind(
    db: &impl ConnectionTrait,
    kind: OutboxKind,
) -> Result<Vec<outbox::Model>, DbErr> {
    outbox::Entity::find()
        .filter(Column::Kind.eq(kind))
        .order_by_asc(Column::CreatedAt)
        .all(db)
        .await
}

/// How many messages wait to be sent (or are being sent).
pub async fn backlog(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    outbox::Entity::find()
        .filter(Column::Status.is_in([OutboxStatus::Pending, OutboxStatus::Sending]))
        .count(db)
        .await
}

/// Replaces a row's payload with an empty object (a sent mail's token goes).
pub async fn erase_payload(db: &impl ConnectionTrait, id: Uuid) -> Result<(), DbErr> {
    outbox::Entity::update_many()
        .col_expr(Column::Payload, Expr::value("{}"))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
