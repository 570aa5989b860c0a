//! SeaORM entities, one module a table. Only the `migration` crate changes the
//! schema; these types mirror it.

pub mod account_tokens;
pub mod api_keys;
pub mod audit_log;
pub mod grants;
pub mod operator_actions;
pub mod outbox;
pub mod refresh_tokens;
pub mod status;
pub mod stripe_entitlements;
pub mod stripe_events;
pub mod subscriptions;
pub mod token_families;
pub mod usage_counters;
pub mod usage_records;
pub mod users;

pub use status::{
    ChangeSource, EventStatus, OperatorAction, OutboxKind, OutboxStatus, Role, SubscriptionStatus,
    TokenPurpose,
};

pub mod prelude {
    pub use super::api_keys::Entity as ApiKeys;
    pub use super::audit_log::Entity as AuditLog;
    pub use super::refresh_tokens::Entity as RefreshTokens;
    pub use super::stripe_events::Entity as StripeEvents;
    pub use super::subscriptions::Entity as Subscriptions;
    pub use super::token_families::Entity as TokenFamilies;
    pub use super::users::Entity as Users;
}
