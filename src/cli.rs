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
    /// Exit 0 when the server at ENTITLE_BIND answers `GET /healthz` (for container healthchecks).
    Healthcheck,
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
        Command::Healthcheck => healthcheck().await,
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

/// `GET /healthz` on the address the server binds, over plain HTTP/1.0, so a
/// container image needs no curl.
async fn healthcheck() -> anyhow::Result<()> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

    use anyhow::{Context, bail};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let bind: SocketAddr = std::env::var("ENTITLE_BIND")
        .unwrap_or_else(|_| "127.0.0.1:8080".into())
        .parse()
        .context("ENTITLE_BIND must be an address such as 127.0.0.1:8080")?;
    // A wildcard bind is reached on loopback.
    let target = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), bind.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), bind.port())
        }
        _ => bind,
    };
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(target).await?;
        stream
            .write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await?;
        let mut head = vec![0u8; 64];
        let n = stream.read(&mut head).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&head[..n]).into_owned())
    };
    let head = tokio::time::timeout(std::time::Duration::from_secs(3), probe)
        .await
        .context("no answer within 3 s")?
        .with_context(|| format!("cannot reach {target}"))?;
    if head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        bail!("unhealthy: {}", head.lines().next().unwrap_or_default())
    }
}
