//! The application: its wiring ([`services`]), state, router, background
//! tasks and lifecycle. `Application::build` binds its own listener, so tests
//! start it on port 0.

mod access_log;
pub mod router;
pub mod services;
pub mod state;
mod tasks;

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use tokio::net::TcpListener;

use self::{services::Services, state::AppState};
use crate::{
    config::Config,
    graphql::{build_schema, caller::AccessRules, schema::SchemaDeps},
    webhook::recent::RecentEvents,
};

/// How many recently stored webhook event ids are answered from memory.
const RECENT_EVENTS: usize = 65_536;

pub struct Application {
    listener: TcpListener,
    /// `/metrics`, when `ENTITLE_METRICS_BIND` is set.
    metrics: Option<TcpListener>,
    state: AppState,
    services: Services,
}

impl Application {
    /// Loads the catalogue, connects to the database, applies migrations when
    /// configured to, and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let services = Services::build(&config, config.database.max_connections).await?;
        let schema = build_schema(
            SchemaDeps {
                db: services.db.clone(),
                accounts: services.accounts.clone(),
                catalog: services.catalog.clone(),
                rules: AccessRules {
                    catalog: services.catalog.clone(),
                    policy: config.access.policy,
                    feature_source: config.access.feature_source,
                },
                billing: services.billing.clone(),
                changes: services.changes.clone(),
                keys: services.auth.keys.clone(),
                metering: services.metering.clone(),
                operators: services.operators.clone(),
            },
            &config.graphql,
        );
        let listener = TcpListener::bind(config.http.bind)
            .await
            .with_context(|| format!("cannot listen on {}", config.http.bind))?;
        let metrics = match config.http.metrics_bind {
            Some(addr) => Some(crate::telemetry::metrics::bind(addr).await?),
            None => None,
        };
        let state = AppState {
            config: Arc::new(config),
            db: services.db.clone(),
            auth: services.auth.clone(),
            schema,
            changes: services.changes.clone(),
            webhook_wake: services.webhook_wake.clone(),
            recent_events: Arc::new(RecentEvents::new(RECENT_EVENTS)),
        };
        Ok(Self {
            listener,
            metrics,
            state,
            services,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Where `/metrics` listens, when it does.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` resolves, then finishes the requests in flight.
    pub async fn run_until(
        mut self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.local_addr();
        let app = router::router(self.state.clone());
        let tasks = tasks::spawn(&self.state, &self.services, self.metrics.take());
        tracing::info!(%addr, "listening");
        axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .context("server")?;
        tasks.stop();
        self.state.db.clone().close().await.ok();
        tracing::info!("stopped");
        Ok(())
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
