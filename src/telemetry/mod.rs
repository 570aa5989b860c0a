//! Logs and metrics. Logs are human-readable in development, JSON in
//! production, one compact line per request (`app::access_log`); `RUST_LOG`
//! overrides the default filter. Nothing logs request bodies, headers or
//! query strings, which is where passwords and tokens travel. Logs go to
//! stderr, so stdout stays clean for command output (`entitle schema`).

pub mod metrics;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::Environment;

pub fn init(env: Environment) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match env {
        Environment::Development => registry.with(fmt::layer()).try_init(),
        // The event's own fields at the top level, and the innermost span
        // (the request id) once; not the list of every span again.
        Environment::Production => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
    };
}
