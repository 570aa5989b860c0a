//! The `entitle` command line: `serve` (the default), `migrate`, `schema`,
//! `healthcheck`, `events`, `sync`, `users`; one file per subcommand.

mod events;
mod healthcheck;
mod migrate;
mod serve;
mod sync;
mod users;

use clap::{Parser, Subcommand};

use crate::graphql;

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
    /// Operators' roles: bootstrap the first admin, list who has a role.
    Users {
        #[command(subcommand)]
        action: UsersAction,
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
pub enum UsersAction {
    /// Give a user a role: user, support or admin (bootstraps the first admin).
    SetRole {
        email: String,
        #[arg(value_parser = users::parse_role)]
        role: entity::Role,
    },
    /// List users, optionally of one role.
    List {
        #[arg(long, value_parser = users::parse_role)]
        role: Option<entity::Role>,
    },
}

#[derive(Subcommand)]
pub enum EventsAction {
    /// The newest events, optionally of one status (pending, processing, processed, failed, ignored).
    List {
        #[arg(long, value_parser = events::parse_status)]
        status: Option<entity::EventStatus>,
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
        Command::Serve { no_migrate } => serve::run(no_migrate).await,
        Command::Migrate { action } => migrate::run(action).await,
        Command::Schema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Command::Healthcheck => healthcheck::run().await,
        Command::Events { action } => events::run(action).await,
        Command::Sync { customer, all } => sync::run(customer, all).await,
        Command::Users { action } => users::run(action).await,
    }
}
