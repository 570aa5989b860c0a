//! The server's background tasks: the change feed's LISTEN (PostgreSQL), the
//! webhook worker (when Stripe is configured), the outbox worker, the
//! `/metrics` listener (when configured), and the session pruner.

use tokio::task::JoinHandle;

use super::{services::Services, state::AppState};
use crate::{billing::worker, db, outbox::OutboxWorker};

pub struct Tasks(Vec<JoinHandle<()>>);

impl Tasks {
    pub fn stop(self) {
        for task in self.0 {
            task.abort();
        }
    }
}

pub fn spawn(
    state: &AppState,
    services: &Services,
    metrics: Option<tokio::net::TcpListener>,
) -> Tasks {
    let mut tasks = vec![tokio::spawn(prune_refresh_tokens(state.db.clone()))];
    if let Some(listener) = metrics {
        tasks.push(tokio::spawn(crate::telemetry::metrics::serve(
            listener,
            state.db.clone(),
        )));
    }
    // On PostgreSQL, changes made by any instance reach this one's cache
    // and entitlementsChanged subscribers through LISTEN.
    if state.db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        tasks.push(tokio::spawn(
            state
                .changes
                .clone()
                .listen(state.config.database.url.clone()),
        ));
    }
    // Stored webhook events wait for a Stripe key; without one there is
    // nothing to sync them from.
    if services.billing.is_configured() {
        tasks.push(tokio::spawn(worker::run(
            services.billing.clone(),
            state.webhook_wake.clone(),
            state.config.webhooks.lease,
            state.config.webhooks.concurrency,
        )));
    }
    tasks.push(tokio::spawn(
        OutboxWorker {
            billing: services.billing.clone(),
            mailer: services.mailer.clone(),
            wake: services.outbox_wake.clone(),
            config: state.config.outbox,
        }
        .run(),
    ));
    Tasks(tasks)
}

/// Deletes dead token families and expired refresh tokens hourly, so the
/// tables hold live sessions only. Safe on several instances: the deletes are
/// idempotent.
async fn prune_refresh_tokens(db: sea_orm::DatabaseConnection) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let now = chrono::Utc::now();
        let pruned = async {
            let families = db::token_families::delete_dead(&db, now).await?;
            let tokens = db::refresh_tokens::delete_expired(&db, now).await?;
            Ok::<_, sea_orm::DbErr>((families, tokens))
        };
        match pruned.await {
            Ok((0, 0)) => {}
            Ok((families, tokens)) => tracing::info!(families, tokens, "pruned dead sessions"),
            Err(e) => tracing::warn!(error = %e, "pruning sessions failed; will retry"),
        }
    }
}
