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
mod m20261202_000009_add_api_key_last_used;
mod m20261202_000010_create_usage;
mod m20261202_000011_create_outbox;
mod m20261202_000012_add_user_role;
mod m20261202_000013_create_grants;
mod m20261202_000014_create_operator_actions;
mod m20261202_000015_accounts_recovery;

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
            Box::new(m20261202_000009_add_api_key_last_used::Migration),
            Box::new(m20261202_000010_create_usage::Migration),
            Box::new(m20261202_000011_create_outbox::Migration),
            Box::new(m20261202_000012_add_user_role::Migration),
            Box::new(m20261202_000013_create_grants::Migration),
            Box::new(m20261202_000014_create_operator_actions::Migration),
            Box::new(m20261202_000015_accounts_recovery::Migration),
        ]
    }
}
