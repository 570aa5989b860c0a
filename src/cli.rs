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
    /// List stored Stripe webhook events, or queue them to be processed again.
    Events {
        #[command(subcommand)]
        action: EventsAction,
    },
    /// Re-read subscriptions from Stripe and store them (heals missed webhooks).
    Sync {
        /// One Stripe customer (`cus_…`).
        #[arg(long, conflicts_with = "all")]
        customer: Option<String>,
        /// Every user with a Stripe customer.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand)]
pub enum EventsAction {
    /// The newest events, optionally of one status (pending, processing, processed, failed, ignored).
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Queue events to be processed again by the running server: one by id, or every failed one.
    Replay {
        id: Option<String>,
        #[arg(long, conflicts_with = "id")]
        failed: bool,
    },
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
        Command::Events { action } => {
            let conn = db::connect(&config::database_url_from_env(), 1).await?;
            match action {
                EventsAction::List { status, limit } => {
                    let rows = db::stripe_events::newest(&conn, status.as_deref(), limit).await?;
                    println!(
                        "{:<32} {:<48} {:<10} {:>8}  last error",
                        "id", "type", "status", "attempts"
                    );
                    for r in rows {
                        println!(
                            "{:<32} {:<48} {:<10} {:>8}  {}",
                            r.id,
                            r.r#type,
                            r.status,
                            r.attempts,
                            r.last_error
                                .unwrap_or_default()
                                .chars()
                                .take(120)
                                .collect::<String>()
                        );
                    }
                }
                EventsAction::Replay { id, failed } => {
                    let n = match (id, failed) {
                        (Some(id), _) => db::stripe_events::requeue(&conn, Some(&id)).await?,
                        (None, true) => db::stripe_events::requeue(&conn, None).await?,
                        (None, false) => anyhow::bail!("give an event id or --failed"),
                    };
                    println!("{n} event(s) queued; the running server processes them shortly");
                }
            }
            Ok(())
        }
        Command::Sync { customer, all } => {
            let config = Config::from_env()?;
            let conn = db::connect(&config.database_url, 2).await?;
            let catalog = std::sync::Arc::new(crate::domain::Catalog::load(&config.plans_path)?);
            let billing = crate::billing::Billing::new(&config, conn.clone(), catalog)?;
            anyhow::ensure!(
                billing.is_configured(),
                "STRIPE_SECRET_KEY is not set: nothing to sync from"
            );
            let users = match (customer, all) {
                (Some(c), _) => db::users::by_stripe_customer(&conn, &c)
                    .await?
                    .map(|u| vec![u])
                    .ok_or_else(|| anyhow::anyhow!("no user has the Stripe customer {c}"))?,
                (None, true) => db::users::with_stripe_customer(&conn).await?,
                (None, false) => anyhow::bail!("give --customer cus_… or --all"),
            };
            let (mut ok, mut failed) = (0, 0);
            for user in users {
                let Some(customer) = user.stripe_customer_id.as_deref() else {
                    continue;
                };
                match billing
                    .sync_customer(user.id, customer, &crate::billing::sync::Cause::sync())
                    .await
                {
                    Ok(n) => {
                        ok += 1;
                        println!("{customer}: {n} subscription(s) stored");
                    }
                    Err(e) => {
                        failed += 1;
                        eprintln!("{customer}: {}", e.message());
                    }
                }
            }
            println!("synced {ok} customer(s), {failed} failed");
            anyhow::ensure!(failed == 0, "{failed} customer(s) could not be synced");
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
