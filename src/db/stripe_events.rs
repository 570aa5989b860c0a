use chrono::{DateTime, Utc};
use entity::{
    EventStatus,
    stripe_events::{self, Column},
};
use sea_orm::{ColumnTrait, Condition, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr};

use super::lease::Queue;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set, sea_query::OnConflict};

/// Stores an event unless its id is stored already. Returns false for a duplicate.
pub async fn insert_new(db: &impl ConnectionTrait, e: stripe_events::Model) -> Result<bool, DbErr> {
    let row = stripe_events::ActiveModel {
        id: Set(e.id),
        r#type: Set(e.r#type),
        api_version: Set(e.api_version),
        created: Set(e.created),
        livemode: Set(e.livemode),
        customer_id: Set(e.customer_id),
        payload: Set(e.payload),
        received_at: Set(e.received_at),
        status: Set(e.status),
        attempts: Set(e.attempts),
        last_error: Set(e.last_error),
        next_attempt_at: Set(e.next_attempt_at),
        locked_until: Set(e.locked_until),
        processed_at: Set(e.processed_at),
    };
    let inserted = stripe_events::Entity::insert(row)
        .on_conflict(OnConflict::column(Column::Id).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}

pub async fn by_id(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<stripe_events::Model>, DbErr> {
    stripe_events::Entity::find_by_id(id.to_owned())
        .one(db)
        .await
}

/// Stored events wait pending (or failed, for a retry) and are processed.
const QUEUE: Queue<Column, EventStatus> = Queue {
    status: Column::Status,
    attempts: Column::Attempts,
    next_attempt_at: Column::NextAttemptAt,
    locked_until: Column::LockedUntil,
    waiting: &[EventStatus::Pending, EventStatus::Failed],
    working: EventStatus::Processing,
};

/// Events due for processing, oldest first: their ids and customers.
pub async fn due(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<(String, Option<String>)>, DbErr> {
    stripe_events::Entity::find()
        .select_only()
        .column(Column::Id)
        .column(Column::CustomerId)
        .filter(QUEUE.due(now))
        .order_by_asc(Column::Created)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// Claims a due event for one worker (across instances: the update is
/// conditional). Returns the event when this caller got it.
pub async fn claim(
    db: &impl ConnectionTrait,
    id: &str,
    now: DateTime<Utc>,
    lease: chrono::Duration,
) -> Result<Option<stripe_events::Model>, DbErr> {
    let which = Condition::all().add(Column::Id.eq(id));
    if QUEUE
        .claim::<stripe_events::Entity>(db, which, now, lease)
        .await?
    {
        by_id(db, id).await
    } else {
        Ok(None)
    }
}

/// Records the outcome of a processing attempt, if this worker still holds
/// the claim (`attempts` as claimed): a worker whose lease ran out and whose
/// event was claimed again writes nothing.
pub async fn finish(
    db: &impl ConnectionTrait,
    id: &str,
    claimed_attempts: i32,
    status: EventStatus,
    error: Option<String>,
    next_attempt_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    stripe_events::Entity::update_many()
        .col_expr(Column::Status, Expr::value(status))
        .col_expr(Column::LastError, Expr::value(error))
        .col_expr(Column::NextAttemptAt, Expr::value(next_attempt_at))
        .col_expr(
            Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            Column::ProcessedAt,
            Expr::value(if status == EventStatus::Failed {
                None
            } else {
                Some(now)
            }),
        )
        .filter(Column::Id.eq(id))
        .filter(Column::Status.eq(EventStatus::Processing))
        .filter(Column::Attempts.eq(claimed_attempts))
        .exec(db)
        .await?;
    Ok(())
}

/// The newest events, for `entitle events list`.
pub async fn newest(
    db: &impl ConnectionTrait,
    status: Option<EventStatus>,
    limit: u64,
) -> Result<Vec<stripe_events::Model>, DbErr> {
    let mut q = stripe_events::Entity::find();
    if let Some(s) = status {
        q = q.filter(Column::Status.eq(s));
    }
    q.order_by_desc(Column::ReceivedAt)
        .limit(limit)
        .all(db)
        .await
}

/// Queues one event (by id), or every failed one, to be processed again now,
/// unless a worker holds it at this moment. The back-off starts over.
pub async fn requeue(db: &impl ConnectionTrait, id: Option<&str>) -> Result<u64, DbErr> {
    let now = Utc::now();
    let mut q = stripe_events::Entity::update_many()
        .col_expr(Column::Status, Expr::value(EventStatus::Pending))
        .col_expr(Column::NextAttemptAt, Expr::value(now))
        .col_expr(Column::Attempts, Expr::value(0))
        .col_expr(
            Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(
            Condition::any()
                .add(Column::Status.ne(EventStatus::Processing))
                .add(Column::LockedUntil.lt(now)),
        );
    q = match id {
        Some(id) => q.filter(Column::Id.eq(id)),
        None => q.filter(Column::Status.eq(EventStatus::Failed)),
    };
    Ok(q.exec(db).await?.rows_affected)
}

/// Where a page of events starts: after this event, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventCursor {
    pub received_at: DateTime<Utc>,
    pub id: String,
}

/// Up to `first` events (optionally of one status) received before the
/// cursor, newest first, in a stable order (received_at, then id).
pub async fn page(
    db: &impl ConnectionTrait,
    status: Option<EventStatus>,
    after: Option<&EventCursor>,
    first: u64,
) -> Result<Vec<stripe_events::Model>, DbErr> {
    let mut q = stripe_events::Entity::find();
    if let Some(s) = status {
        q = q.filter(Column::Status.eq(s));
    }
    if let Some(c) = after {
        q = q.filter(
            Condition::any()
                .add(Column::ReceivedAt.lt(c.received_at))
                .add(
                    Condition::all()
                        .add(Column::ReceivedAt.eq(c.received_at))
                        .add(Column::Id.lt(c.id.clone())),
                ),
        );
    }
    q.order_by_desc(Column::ReceivedAt)
        .order_by_desc(Column::Id)
        .limit(first)
        .all(db)
        .await
}

/// The last `limit` events about a Stripe customer, newest first.
pub async fn of_customer(
    db: &impl ConnectionTrait,
    customer: &str,
    limit: u64,
) -> Result<Vec<stripe_events::Model>, DbErr> {
    stripe_events::Entity::find()
        .filter(Column::CustomerId.eq(customer))
        .order_by_desc(Column::ReceivedAt)
        .limit(limit)
        .all(db)
        .await
}

/// How many events wait to be applied (pending, failed, being applied), and
/// when the oldest of them arrived.
pub async fn backlog(db: &impl ConnectionTrait) -> Result<(u64, Option<DateTime<Utc>>), DbErr> {
    use sea_orm::PaginatorTrait;
    let waiting = || {
        stripe_events::Entity::find().filter(Column::Status.is_in([
            EventStatus::Pending,
            EventStatus::Failed,
            EventStatus::Processing,
        ]))
    };
    let count = waiting().count(db).await?;
    let oldest = waiting()
        .order_by_asc(Column::ReceivedAt)
        .one(db)
        .await?
        .map(|e| e.received_at);
    Ok((count, oldest))
}
