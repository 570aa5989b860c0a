//! Output types and how each is built from models, in one place. Built from
//! models, never the models themselves: hashes, tokens and internal ids stay
//! out of the schema.

mod account;
mod api_keys;
mod billing;
mod catalog;
mod operators;
pub mod usage;

pub use self::{
    account::{AuthPayload, User},
    api_keys::{ApiKey, CreatedApiKey},
    billing::{
        BillingChange, BillingSubscription, CheckoutSession, PortalSession, SubscriptionStatus,
    },
    catalog::{Entitlements, Plan, PlanLimit, PlanPrice},
    operators::{
        EntitlementSource, Grant, OperatorActionEntry, Role, WebhookEvent, WebhookEventPage,
        WebhookEventStatus,
    },
    usage::{LimitUsage, Usage, UsageRecord},
};
