//! The change feed behind `entitlementsChanged`: "this user's subscription
//! changed". On PostgreSQL it goes through `NOTIFY` inside the transaction
//! that wrote the change (so it is sent only if the change commits) and every
//! instance `LISTEN`s, so a change processed by one instance reaches clients
//! of all of them. On SQLite (one process) it is an in-process broadcast.

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement};
use tokio::sync::broadcast;
use uuid::Uuid;

pub const CHANNEL: &str = "entitle_entitlements";

#[derive(Clone)]
pub struct ChangeFeed {
    tx: broadcast::Sender<Uuid>,
}

impl Default for ChangeFeed {
    fn default() -> Self {
        // A slow subscriber that falls this far behind skips ahead; it then
        // re-reads the current state anyway.
        Self {
            tx: broadcast::channel(1024).0,
        }
    }
}

impl ChangeFeed {
    pub fn subscribe(&self) -> broadcast::Receiver<Uuid> {
        self.tx.subscribe()
    }

    /// Announces a change of the user's subscription, through `db` (the
    /// connection or transaction that wrote it).
    pub async fn publish(&self, db: &impl ConnectionTrait, user: Uuid) -> Result<(), DbErr> {
        if db.get_database_backend() == DatabaseBackend::Postgres {
            db.execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [CHANNEL.into(), user.to_string().into()],
            ))
            .await?;
        } else {
            // No receiver is not an error.
            let _ = self.tx.send(user);
        }
        Ok(())
    }

    /// Forwards PostgreSQL notifications (from any instance) to local
    /// subscribers until the process stops; reconnects when the connection drops.
    pub async fn listen(self, database_url: String) {
        use sea_orm::sqlx::postgres::PgListener;
        loop {
            let mut listener = match PgListener::connect(&database_url).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "change feed: cannot connect; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    continue;
                }
            };
            if let Err(e) = listener.listen(CHANNEL).await {
                tracing::warn!(error = %e, "change feed: LISTEN failed; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                continue;
            }
            loop {
                match listener.recv().await {
                    Ok(n) => {
                        if let Ok(user) = Uuid::parse_str(n.payload()) {
                            let _ = self.tx.send(user);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "change feed: connection lost; reconnecting");
                        break;
                    }
                }
            }
        }
    }
}
