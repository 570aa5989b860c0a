//! The `entitle` command line: `serve` (the default), `migrate`, `schema`.

use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};

use crate::{
    Application,
    config::{self, Config},
    db, graphql,
};

#[derive(Parser)]
#[command(
    name = "entitle",
    version,
    about = "Subscription and entitlement backend for Stripe"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve {
        /// Do not apply pending migrations at start.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply, revert or list database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Print the GraphQL SDL (what `schema.graphql` holds).
    Schema,
}

#[derive(Subcommand)]
pub enum MigrateAction {
    /// Apply pending migrations (all, or the first N).
    Up {
        #[arg(long)]
        steps: Option<u32>,
    },
    /// Revert the last N applied migrations.
    Down {
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve { no_migrate: false }) {
        Command::Schema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Command::Serve { no_migrate } => {
            let mut config = Config::from_env()?;
            if no_migrate {
                config.migrate_on_start = false;
            }
            tracing::info!(
                env = ?config.env,
                database = %db::redact_url(&config.database_url),
                graphiql = config.graphiql,
                introspection = config.introspection,
                "starting entitle"
            );
            let app = Application::build(config).await?;
            app.run_until(crate::app::shutdown_signal()).await
        }
        Command::Migrate { action } => {
            let conn = db::connect(&config::database_url_from_env(), 1).await?;
            match action {
                MigrateAction::Up { steps } => Migrator::up(&conn, steps).await?,
                MigrateAction::Down { steps } => Migrator::down(&conn, Some(steps)).await?,
                MigrateAction::Status => {
                    for m in Migrator::get_migration_with_status(&conn).await? {
                        println!("{:<8} {}", m.status().to_string(), m.name());
                    }
                }
            }
            Ok(())
        }
    }
}
