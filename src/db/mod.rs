//! Database access. Every query is a function taking `&impl ConnectionTrait`,
//! so it runs on the pool or inside a transaction alike.

pub mod account_tokens;
pub mod api_keys;
pub mod audit_log;
pub mod grants;
pub mod lease;
pub mod operator_actions;
pub mod outbox;
pub mod refresh_tokens;
pub mod stripe_entitlements;
pub mod stripe_events;
pub mod subscriptions;
pub mod token_families;
pub mod usage;
pub mod users;

use std::time::Duration;

use anyhow::Context;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, SqlErr};

pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(max_connections)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        // Statements are logged by our own spans; sqlx's log repeats bound values.
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            // WAL lets readers run beside the writer; FULL keeps a committed
            // transaction on disk across a power loss, not just a crash.
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
        });
    let db = Database::connect(opts)
        .await
        .with_context(|| format!("cannot connect to the database at {}", redact_url(url)))?;
    Ok(db)
}

/// Begins a transaction that writes. On SQLite it takes the write lock at
/// `BEGIN` (IMMEDIATE), so two such transactions queue on the busy timeout
/// instead of one failing when it upgrades from reading to writing.
pub async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Whether the database answers, for `/readyz`.
pub async fn ping(db: &impl ConnectionTrait) -> bool {
    db.execute_unprepared("SELECT 1").await.is_ok()
}

pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// A database URL with its password replaced, fit for a log line.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}://{user}:***@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_urls_lose_their_password() {
        assert_eq!(
            super::redact_url("postgres://app:hunter2@db:5432/entitle"),
            "postgres://app:***@db:5432/entitle"
        );
        assert_eq!(
            super::redact_url("sqlite://entitle.db?mode=rwc"),
            "sqlite://entitle.db?mode=rwc"
        );
    }
}
