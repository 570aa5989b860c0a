//! The wiring every command that does real work shares: the catalogue, the
//! database, the change feed and its rows cache, billing and accounts.
//! `serve` puts a schema and a listener around it; `entitle sync` uses its
//! billing as is.

use std::sync::Arc;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::{
    auth::{Accounts, Authenticator, JwtKeys, accounts::AccountDeps, api_keys::ApiKeys},
    billing::Billing,
    changes::{ChangeFeed, UserRowsCache},
    config::Config,
    db,
    domain::Catalog,
    graphql::{guards, resolvers::api_keys::API_KEYS_LIMIT},
    mail::Mailer,
    metering::Metering,
    operators::Operators,
};

/// How many users' rows the process keeps in memory at most.
const CACHED_USERS: usize = 100_000;

pub struct Services {
    pub catalog: Arc<Catalog>,
    pub db: DatabaseConnection,
    pub changes: ChangeFeed,
    pub billing: Billing,
    pub auth: Authenticator,
    pub accounts: Accounts,
    pub metering: Metering,
    pub operators: Operators,
    pub mailer: Mailer,
    /// Wakes the outbox worker when a row is written.
    pub outbox_wake: Arc<Notify>,
    /// Wakes the webhook worker when an event is stored (or replayed).
    pub webhook_wake: Arc<Notify>,
}

impl Services {
    /// Loads and checks the catalogue, connects to the database (with a pool
    /// of `max_connections`), applies migrations when configured to.
    pub async fn build(config: &Config, max_connections: u32) -> anyhow::Result<Self> {
        let catalog = Arc::new(load_catalog(config)?);
        let db = db::connect(&config.database.url, max_connections).await?;
        if config.database.migrate_on_start {
            Migrator::up(&db, None)
                .await
                .context("applying database migrations")?;
        }
        let cache = Arc::new(UserRowsCache::new(
            config.access.user_cache_ttl,
            CACHED_USERS,
        ));
        let changes = ChangeFeed::new(cache);
        let billing = Billing::new(config, db.clone(), catalog.clone(), changes.clone())?;
        let jwt = JwtKeys::from_config(&config.auth)?;
        let outbox_wake = Arc::new(Notify::new());
        let deps = AccountDeps {
            clock: config.clock.clone(),
            outbox_wake: outbox_wake.clone(),
            billing: billing.clone(),
            changes: changes.clone(),
        };
        let accounts = Accounts::new(db.clone(), jwt.clone(), &config.auth, deps).await?;
        let mailer = Mailer::new(&config.mail)?;
        let auth = Authenticator {
            jwt,
            keys: ApiKeys::new(db.clone(), changes.clone()),
        };
        let metering = Metering::new(db.clone(), catalog.clone(), outbox_wake.clone());
        let webhook_wake = Arc::new(Notify::new());
        let operators = Operators {
            db: db.clone(),
            billing: billing.clone(),
            changes: changes.clone(),
            catalog: catalog.clone(),
            webhook_wake: webhook_wake.clone(),
        };
        Ok(Self {
            catalog,
            db,
            changes,
            billing,
            auth,
            accounts,
            metering,
            operators,
            mailer,
            outbox_wake,
            webhook_wake,
        })
    }
}

/// The catalogue, checked against what the API guards.
fn load_catalog(config: &Config) -> anyhow::Result<Catalog> {
    let path = &config.access.plans_path;
    let catalog = Catalog::load(path)?;
    catalog
        .check_requirements(
            guards::GUARDED_FEATURES,
            &[(guards::API_ACCESS, API_KEYS_LIMIT)],
        )
        .map_err(|e| anyhow::anyhow!("plans file {}: {e}", path.display()))?;
    Ok(catalog)
}
