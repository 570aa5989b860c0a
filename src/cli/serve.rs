//! `entitle serve` (the default): the server, until SIGINT or SIGTERM.

use crate::{Application, app::shutdown_signal, config::Config, db};

pub async fn run(no_migrate: bool) -> anyhow::Result<()> {
    let mut config = Config::from_env()?;
    if no_migrate {
        config.database.migrate_on_start = false;
    }
    tracing::info!(
        env = ?config.env,
        database = %db::redact_url(&config.database.url),
        graphiql = config.graphql.graphiql,
        introspection = config.graphql.introspection,
        "starting entitle"
    );
    let app = Application::build(config).await?;
    app.run_until(shutdown_signal()).await
}
