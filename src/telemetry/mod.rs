//! Logs and metrics. Logs are human-readable in development, JSON in
//! production (`format`), one compact line per request (`app::access_log`); `RUST_LOG`
//! overrides the default filter. Nothing logs request bodies, headers or
//! query strings, which is where passwords and tokens travel. Logs go to
//! stderr, so stdout stays clean for command output (`entitle schema`),
//! through a buffer written every 50 ms (`writer`; warnings at once).

pub mod format;
pub mod metrics;
pub mod writer;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use self::format::Lines;
use crate::config::Environment;

pub fn init(env: Environment) {
    // A panic's message is printed by the default hook; the lines before it first.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        writer::flush();
        default_hook(info);
    }));
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn"));
    let lines = match env {
        Environment::Development => Lines::Text,
        Environment::Production => Lines::Json,
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(
            fmt::layer()
                .event_format(lines)
                .with_writer(writer::Buffered::stderr()),
        )
        .try_init();
}
