//! What operators see: a customer as a whole, grants, webhook events and the
//! operator audit trail.

use async_graphql::{Enum, ID, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::access::{Source, SourceKind, grant_holds};

/// An operator's role; each includes the ones before it.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::Role")]
pub enum Role {
    User,
    /// Reads any customer.
    Support,
    /// Support, and changes.
    Admin,
}

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::EventStatus")]
pub enum WebhookEventStatus {
    Pending,
    Processing,
    Processed,
    Failed,
    Ignored,
}

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::OperatorAction")]
pub enum OperatorActionKind {
    GrantPlan,
    RevokeGrant,
    ReplayEvent,
    SyncCustomer,
    RevokeSessions,
    SetRole,
}

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "SourceKind")]
pub enum EntitlementSourceKind {
    Subscription,
    Grant,
    StripeEntitlements,
}

/// Where some of a customer's features and limits come from.
#[derive(SimpleObject)]
pub struct EntitlementSource {
    pub kind: EntitlementSourceKind,
    pub plan: String,
    pub features: Vec<String>,
    pub until: Option<DateTime<Utc>>,
    /// The Stripe subscription id, or the grant id.
    pub reference: String,
}

impl From<&Source> for EntitlementSource {
    fn from(s: &Source) -> Self {
        Self {
            kind: s.kind.into(),
            plan: s.plan.clone(),
            features: s.features.clone(),
            until: s.until,
            reference: s.reference.clone(),
        }
    }
}

/// A comp plan an admin gave.
#[derive(SimpleObject)]
pub struct Grant {
    pub id: ID,
    pub plan: String,
    pub starts_at: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub reason: String,
    /// The admin who gave it; null when given from the command line.
    pub granted_by: Option<ID>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<ID>,
    pub revoke_reason: Option<String>,
    /// Whether it gives its plan right now.
    pub active: bool,
}

impl From<entity::grants::Model> for Grant {
    fn from(g: entity::grants::Model) -> Self {
        let id = |u: Option<uuid::Uuid>| u.map(|u| ID(u.to_string()));
        Self {
            active: grant_holds(&g, Utc::now()),
            id: ID(g.id.to_string()),
            plan: g.plan,
            starts_at: g.starts_at,
            until: g.until,
            reason: g.reason,
            granted_by: id(g.granted_by),
            created_at: g.created_at,
            revoked_at: g.revoked_at,
            revoked_by: id(g.revoked_by),
            revoke_reason: g.revoke_reason,
        }
    }
}

/// A stored Stripe webhook event and how processing it went.
#[derive(SimpleObject)]
pub struct WebhookEvent {
    /// Stripe's event id (`evt_…`).
    pub id: ID,
    #[graphql(name = "type")]
    pub kind: String,
    pub status: WebhookEventStatus,
    pub customer_id: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub received_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
}

impl From<entity::stripe_events::Model> for WebhookEvent {
    fn from(e: entity::stripe_events::Model) -> Self {
        Self {
            id: ID(e.id),
            kind: e.r#type,
            status: e.status.into(),
            customer_id: e.customer_id,
            attempts: e.attempts,
            last_error: e.last_error,
            received_at: e.received_at,
            next_attempt_at: e.next_attempt_at,
            processed_at: e.processed_at,
        }
    }
}

/// One page of webhook events, newest first.
#[derive(SimpleObject)]
pub struct WebhookEventPage {
    pub nodes: Vec<WebhookEvent>,
    /// Pass as `after` for the next page; null when there is none.
    pub end_cursor: Option<String>,
    pub has_next_page: bool,
}

/// One entry of the operator audit trail.
#[derive(SimpleObject)]
pub struct OperatorActionEntry {
    pub id: ID,
    pub at: DateTime<Utc>,
    /// The operator's public id; null for the command line.
    pub actor: Option<ID>,
    pub action: OperatorActionKind,
    /// The user acted on.
    pub target_user_id: Option<ID>,
    /// What else was acted on: a grant id, a Stripe event or customer id.
    pub target: Option<String>,
    pub reason: Option<String>,
    /// The particulars, as JSON text.
    pub detail: String,
}

impl From<entity::operator_actions::Model> for OperatorActionEntry {
    fn from(a: entity::operator_actions::Model) -> Self {
        let id = |u: Option<uuid::Uuid>| u.map(|u| ID(u.to_string()));
        Self {
            id: ID(a.id.to_string()),
            at: a.at,
            actor: id(a.actor),
            action: a.action.into(),
            target_user_id: id(a.target_user),
            target: a.target,
            reason: a.reason,
            detail: a.detail,
        }
    }
}
