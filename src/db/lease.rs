//! The leased work queue that the webhook inbox and the outbox share: a row
//! is due when it waits and its time has come, or when the worker that
//! claimed it let its lease run out (it died); a worker claims a due row
//! with one conditional update, so instances share the work without locks.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Value,
    sea_query::{Expr, ExprTrait},
};

/// The columns a queue table has, and the states it moves through.
pub struct Queue<C, S: 'static> {
    pub status: C,
    pub attempts: C,
    pub next_attempt_at: C,
    pub locked_until: C,
    /// States of a row waiting for (another) attempt.
    pub waiting: &'static [S],
    /// The state of a claimed row.
    pub working: S,
}

impl<C: ColumnTrait, S: Into<Value> + Copy + 'static> Queue<C, S> {
    pub fn due(&self, now: DateTime<Utc>) -> Condition {
        Condition::any()
            .add(
                Condition::all()
                    .add(self.status.is_in(self.waiting.iter().copied()))
                    .add(self.next_attempt_at.lte(now)),
            )
            // A claim whose worker died.
            .add(
                Condition::all()
                    .add(self.status.eq(self.working))
                    .add(self.locked_until.lt(now)),
            )
    }

    /// Claims the row `which` picks if it is due, for `lease`: true when
    /// this caller got it (the claim counts as an attempt).
    pub async fn claim<E: EntityTrait<Column = C>>(
        &self,
        db: &impl ConnectionTrait,
        which: Condition,
        now: DateTime<Utc>,
        lease: chrono::Duration,
    ) -> Result<bool, DbErr> {
        let res = E::update_many()
            .col_expr(self.status, Expr::value(self.working))
            .col_expr(self.locked_until, Expr::value(now + lease))
            .col_expr(self.attempts, Expr::col(self.attempts).add(1))
            .filter(which)
            .filter(self.due(now))
            .exec(db)
            .await?;
        Ok(res.rows_affected == 1)
    }
}
