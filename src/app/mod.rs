//! The application: state, router, and the server lifecycle. `Application::build`
//! binds its own listener, so tests start it on port 0.

pub mod router;
pub mod state;

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use tokio::net::TcpListener;

pub use state::AppState;

use crate::{
    auth::{Accounts, JwtKeys},
    config::Config,
    db,
    domain::Catalog,
    graphql::{api_keys, build_schema, guards, schema::SchemaDeps},
};

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Loads the catalogue, connects to the database, applies migrations when
    /// configured to, and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let catalog = Catalog::load(&config.plans_path)?;
        catalog
            .check_requirements(
                guards::GUARDED_FEATURES,
                &[(guards::API_ACCESS, api_keys::API_KEYS_LIMIT)],
            )
            .map_err(|e| anyhow::anyhow!("plans file {}: {e}", config.plans_path.display()))?;
        let catalog = Arc::new(catalog);
        let conn = db::connect(&config.database_url, config.db_max_connections).await?;
        if config.migrate_on_start {
            Migrator::up(&conn, None)
                .await
                .context("applying database migrations")?;
        }
        let jwt = JwtKeys::from_config(&config);
        let accounts = Accounts::new(conn.clone(), jwt.clone(), &config).await?;
        let billing = crate::billing::Billing::new(&config, conn.clone(), catalog.clone())?;
        let schema = build_schema(
            SchemaDeps {
                db: conn.clone(),
                accounts,
                catalog,
                billing: billing.clone(),
            },
            &config,
        );
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let state = AppState {
            config: Arc::new(config),
            db: conn,
            jwt,
            schema,
            billing,
            webhook_wake: Arc::new(tokio::sync::Notify::new()),
            recent_events: Arc::new(crate::webhook::recent::RecentEvents::new(65_536)),
        };
        Ok(Self { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` resolves, then finishes the requests in flight.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.local_addr();
        let app = router::router(self.state.clone());
        let pruner = tokio::spawn(prune_refresh_tokens(self.state.db.clone()));
        // On PostgreSQL, changes made by any instance reach this one's
        // entitlementsChanged subscribers through LISTEN.
        let listener = (self.state.db.get_database_backend() == sea_orm::DatabaseBackend::Postgres)
            .then(|| {
                tokio::spawn(
                    self.state
                        .billing
                        .changes()
                        .clone()
                        .listen(self.state.config.database_url.clone()),
                )
            });
        // Stored webhook events wait for a Stripe key; without one there is
        // nothing to sync them from.
        let worker = self.state.billing.is_configured().then(|| {
            tokio::spawn(crate::billing::worker::run(
                self.state.billing.clone(),
                self.state.webhook_wake.clone(),
                self.state.config.webhook_lease,
            ))
        });
        tracing::info!(%addr, "listening");
        axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .context("server")?;
        pruner.abort();
        if let Some(l) = listener {
            l.abort();
        }
        if let Some(w) = worker {
            w.abort();
        }
        self.state.db.clone().close().await.ok();
        tracing::info!("stopped");
        Ok(())
    }
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

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received; finishing requests in flight");
}
