//! The outbox worker: what Entitle sends outward (meter events to Stripe,
//! mail through SMTP) is written as a row in the transaction that caused it, then
//! sent from here, by one worker at a time per row across instances (a
//! leased claim), retried with back-off, and never sent again once the
//! receiver acknowledged it. A receiver that deduplicates by the message's
//! own identifier (Stripe's meter events do) absorbs the one resend a crash
//! between its answer and our acknowledgement can cause.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use entity::{OutboxKind, outbox};
use futures_util::FutureExt;
use tokio::sync::Notify;

use crate::{
    billing::{
        Billing,
        stripe::{MeterEvent, SendFailure},
    },
    config::OutboxConfig,
    db::{self, outbox::Finish},
    mail::{Mail, Mailer},
};

/// After this many refusals in a row a row is dead: kept, not sent again.
const MAX_REFUSALS: i32 = 10;

#[derive(Clone)]
pub struct OutboxWorker {
    pub billing: Billing,
    pub mailer: Mailer,
    pub wake: Arc<Notify>,
    pub config: OutboxConfig,
}

/// Back-off after `attempts` failed tries: the base, doubling, capped at an hour.
pub fn backoff(base: Duration, attempts: i32) -> chrono::Duration {
    let exp = u32::try_from(attempts.clamp(1, 30) - 1).unwrap_or(0);
    let delay = base.saturating_mul(1u32 << exp.min(20));
    chrono::Duration::from_std(delay.min(Duration::from_secs(3600)))
        .unwrap_or(chrono::Duration::hours(1))
}

impl OutboxWorker {
    /// Runs until the process stops: wakes when a row is written here, and
    /// every second for rows of other instances and for retries.
    pub async fn run(self) {
        loop {
            if let Err(e) = self.process_due().await {
                tracing::warn!(error = %e, "outbox pass failed; will retry");
            }
            tokio::select! {
                () = self.wake.notified() => {},
                () = tokio::time::sleep(Duration::from_secs(1)) => {},
            }
        }
    }

    /// Sends every due row once; returns how many it handled.
    pub async fn process_due(&self) -> Result<usize, sea_orm::DbErr> {
        let db = self.billing.db();
        let lease = chrono::Duration::from_std(self.config.lease).unwrap_or_default();
        let mut handled = 0;
        loop {
            let ids = db::outbox::due_ids(db, Utc::now(), 50).await?;
            let mut claimed_any = false;
            for id in ids {
                let Some(row) = db::outbox::claim(db, id, Utc::now(), lease).await? else {
                    continue;
                };
                claimed_any = true;
                handled += 1;
                // A panic while sending one row must not stop the worker.
                let sent = std::panic::AssertUnwindSafe(self.send(&row))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| Err(SendFailure::Refused("sending panicked".into())));
                let (outcome, error) = self.outcome(&row, sent);
                let done = matches!(outcome, Finish::Sent | Finish::Dead);
                db::outbox::finish(db, &row, outcome, error, Utc::now()).await?;
                if done && row.kind == OutboxKind::Email {
                    // A mail carries a single-use token: once it is out (or
                    // given up on), the row keeps no copy.
                    db::outbox::erase_payload(db, row.id).await?;
                }
            }
            if !claimed_any {
                return Ok(handled);
            }
        }
    }

    fn outcome(
        &self,
        row: &outbox::Model,
        sent: Result<(), SendFailure>,
    ) -> (Finish, Option<String>) {
        let retry = || Finish::Retry(Utc::now() + backoff(self.config.retry_base, row.attempts));
        match sent {
            Ok(()) => (Finish::Sent, None),
            Err(SendFailure::Transient(why)) => {
                tracing::warn!(row = %row.id, attempts = row.attempts, error = %why, "outbox send failed; will retry");
                (retry(), Some(why))
            }
            Err(SendFailure::Refused(why)) if row.attempts >= MAX_REFUSALS => {
                tracing::error!(row = %row.id, error = %why, "outbox row refused for good");
                (Finish::Dead, Some(why))
            }
            Err(SendFailure::Refused(why)) => {
                tracing::warn!(row = %row.id, attempts = row.attempts, error = %why, "outbox send refused; will retry");
                (retry(), Some(why))
            }
        }
    }

    async fn send(&self, row: &outbox::Model) -> Result<(), SendFailure> {
        match row.kind {
            OutboxKind::MeterEvent => {
                let event: MeterEvent = serde_json::from_str(&row.payload)
                    .map_err(|e| SendFailure::Refused(format!("unreadable meter event: {e}")))?;
                self.billing.stripe().send_meter_event(&event).await
            }
            OutboxKind::Email => {
                let mail: Mail = serde_json::from_str(&row.payload)
                    .map_err(|e| SendFailure::Refused(format!("unreadable mail: {e}")))?;
                self.mailer.send(row.id, &mail).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_from_the_base_and_is_capped() {
        let base = std::time::Duration::from_millis(500);
        let ms: Vec<i64> = [1, 2, 3, 30]
            .iter()
            .map(|a| super::backoff(base, *a).num_milliseconds())
            .collect();
        assert_eq!(ms, [500, 1000, 2000, 3_600_000]);
    }
}
