//! The change feed: "this user's access changed" (a subscription synced,
//! and later keys, roles and grants), and the rows cache it keeps fresh. On
//! PostgreSQL a change goes through `NOTIFY` inside the transaction that
//! wrote it (so it is sent only if the change commits) and every instance
//! `LISTEN`s, so a change made by one instance reaches all of them. On SQLite
//! (one process) it is an in-process broadcast sent after the commit. Each
//! change evicts the user's rows from the process's [`UserRowsCache`]: at
//! once on the instance that made it, on the others when the notification
//! arrives. `entitlementsChanged` subscribers hear of it the same way.

pub mod cache;
mod ttl_map;

use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement};
use tokio::sync::broadcast;
use uuid::Uuid;

pub use self::cache::UserRowsCache;

pub const CHANNEL: &str = "entitle_entitlements";

#[derive(Clone)]
pub struct ChangeFeed {
    tx: broadcast::Sender<Uuid>,
    cache: Arc<UserRowsCache>,
}

/// A change announced inside a transaction, to hand to
/// [`ChangeFeed::committed`] once the transaction commits.
#[must_use]
pub struct Announced {
    user: Uuid,
    /// Sent through PostgreSQL, which delivers it to every instance's LISTEN.
    notified: bool,
}

impl ChangeFeed {
    pub fn new(cache: Arc<UserRowsCache>) -> Self {
        // A slow subscriber that falls this far behind skips ahead; it then
        // re-reads the current state anyway.
        Self {
            tx: broadcast::channel(1024).0,
            cache,
        }
    }

    /// The rows cache this feed keeps fresh.
    pub fn cache(&self) -> &Arc<UserRowsCache> {
        &self.cache
    }

    /// Receives user ids whose subscription changed; the nil id means
    /// "notifications may have been missed: everyone re-read".
    pub fn subscribe(&self) -> broadcast::Receiver<Uuid> {
        self.tx.subscribe()
    }

    /// Announces a change of the user's subscription from inside the
    /// transaction that writes it. On PostgreSQL that is a `pg_notify`, sent
    /// by the database only if the transaction commits. Pass what comes back
    /// to [`ChangeFeed::committed`] after the commit.
    pub async fn announce(
        &self,
        txn: &impl ConnectionTrait,
        user: Uuid,
    ) -> Result<Announced, DbErr> {
        let notified = txn.get_database_backend() == DatabaseBackend::Postgres;
        if notified {
            txn.execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [CHANNEL.into(), user.to_string().into()],
            ))
            .await?;
        }
        Ok(Announced { user, notified })
    }

    /// After the commit: evicts the user's cached rows here at once (the
    /// NOTIFY round trip would leave a moment where this instance serves the
    /// old state to the client that just made the change), and tells this
    /// process's subscribers unless PostgreSQL will.
    pub fn committed(&self, change: Option<Announced>) {
        if let Some(Announced { user, notified }) = change {
            self.cache.invalidate(user);
            if !notified {
                // No receiver is not an error.
                let _ = self.tx.send(user);
            }
        }
    }

    fn deliver(&self, user: Uuid) {
        self.cache.invalidate(user);
        let _ = self.tx.send(user);
    }

    /// Tells every subscriber to re-read: notifications may have been missed.
    pub fn send_everyone(&self) {
        self.cache.clear();
        let _ = self.tx.send(Uuid::nil());
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
            // Anything sent while we were not listening is lost: everyone re-reads.
            self.send_everyone();
            loop {
                match listener.try_recv().await {
                    Ok(Some(n)) => {
                        if let Ok(user) = Uuid::parse_str(n.payload()) {
                            self.deliver(user);
                        }
                    }
                    // The connection dropped: reconnect and LISTEN again
                    // here, so everyone re-reads only once we listen again
                    // (sqlx's own silent reconnect would leave a gap after
                    // the clear in which stale rows could be cached).
                    Ok(None) => {
                        tracing::warn!("change feed: connection lost; reconnecting");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "change feed: listener failed; reconnecting");
                        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                        break;
                    }
                }
            }
        }
    }
}
