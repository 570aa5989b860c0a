//! Schema migrations. Every migration has `up` and `down` and runs on SQLite
//! and PostgreSQL; the test suite applies and reverts them on both.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_users;
mod m20261123_000002_create_token_families;
mod m20261123_000003_create_refresh_tokens;
mod m20261123_000004_create_subscriptions;
mod m20261123_000005_create_api_keys;
mod m20261123_000006_create_stripe_events;
mod m20261123_000007_create_audit_log;
mod m20261123_000008_create_stripe_entitlements;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_users::Migration),
            Box::new(m20261123_000002_create_token_families::Migration),
            Box::new(m20261123_000003_create_refresh_tokens::Migration),
            Box::new(m20261123_000004_create_subscriptions::Migration),
            Box::new(m20261123_000005_create_api_keys::Migration),
            Box::new(m20261123_000006_create_stripe_events::Migration),
            Box::new(m20261123_000007_create_audit_log::Migration),
            Box::new(m20261123_000008_create_stripe_entitlements::Migration),
        ]
    }
}
