//! The states kept in text columns, as typed values. A row is converted here,
//! once, when it is read or written; past this point no code compares a state
//! with a string literal.

use sea_orm::entity::prelude::*;

/// The eight statuses a Stripe subscription can have, stored as Stripe spells
/// them. A status Stripe adds later is refused when it is written (billing
/// reports it) rather than stored where no rule knows what it grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(255))")]
pub enum SubscriptionStatus {
    #[sea_orm(string_value = "trialing")]
    Trialing,
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "past_due")]
    PastDue,
    #[sea_orm(string_value = "unpaid")]
    Unpaid,
    #[sea_orm(string_value = "canceled")]
    Canceled,
    #[sea_orm(string_value = "incomplete")]
    Incomplete,
    #[sea_orm(string_value = "incomplete_expired")]
    IncompleteExpired,
    #[sea_orm(string_value = "paused")]
    Paused,
}

impl SubscriptionStatus {
    pub const ALL: [Self; 8] = [
        Self::Trialing,
        Self::Active,
        Self::PastDue,
        Self::Unpaid,
        Self::Canceled,
        Self::Incomplete,
        Self::IncompleteExpired,
        Self::Paused,
    ];

    /// Stripe's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trialing => "trialing",
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Unpaid => "unpaid",
            Self::Canceled => "canceled",
            Self::Incomplete => "incomplete",
            Self::IncompleteExpired => "incomplete_expired",
            Self::Paused => "paused",
        }
    }

    pub fn from_stripe(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Still binds the customer: a new checkout would make a second
    /// subscription, so the portal is the way to change it.
    pub fn is_live(self) -> bool {
        !matches!(self, Self::Canceled | Self::IncompleteExpired)
    }
}

/// Where a stored webhook event is in its processing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(255))")]
pub enum EventStatus {
    /// Stored, waiting for the worker.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Claimed by a worker until `locked_until`.
    #[sea_orm(string_value = "processing")]
    Processing,
    #[sea_orm(string_value = "processed")]
    Processed,
    /// The last attempt failed; retried at `next_attempt_at`.
    #[sea_orm(string_value = "failed")]
    Failed,
    /// Nothing to do (a type we do not handle, a customer we do not know).
    #[sea_orm(string_value = "ignored")]
    Ignored,
}

impl EventStatus {
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::Processing,
        Self::Processed,
        Self::Failed,
        Self::Ignored,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Processed => "processed",
            Self::Failed => "failed",
            Self::Ignored => "ignored",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl std::fmt::Display for EventStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for SubscriptionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What recorded a subscription change in the audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(255))")]
pub enum ChangeSource {
    #[sea_orm(string_value = "webhook")]
    Webhook,
    /// The checkout success page (`syncCheckout`).
    #[sea_orm(string_value = "checkout")]
    Checkout,
    /// `entitle sync`, or a sync before a checkout.
    #[sea_orm(string_value = "sync")]
    Sync,
}

impl ChangeSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Checkout => "checkout",
            Self::Sync => "sync",
        }
    }
}

/// What an outbox row carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum OutboxKind {
    /// A Stripe Billing Meter event (metered usage).
    #[sea_orm(string_value = "meter_event")]
    MeterEvent,
    /// An email.
    #[sea_orm(string_value = "email")]
    Email,
}

/// Where an outbox row is in its sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum OutboxStatus {
    /// Waiting to be sent (again, after a failure, at `next_attempt_at`).
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Claimed by a worker until `locked_until`.
    #[sea_orm(string_value = "sending")]
    Sending,
    /// The receiver acknowledged it: never sent again.
    #[sea_orm(string_value = "sent")]
    Sent,
    /// Refused for good (a permanent error): kept for an operator.
    #[sea_orm(string_value = "dead")]
    Dead,
}

/// What an account may do as an operator; each includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Role {
    #[sea_orm(string_value = "user")]
    User,
    /// Reads any customer.
    #[sea_orm(string_value = "support")]
    Support,
    /// Support, and changes: grants, replays, syncs, sessions, roles.
    #[sea_orm(string_value = "admin")]
    Admin,
}

impl Role {
    pub const ALL: [Self; 3] = [Self::User, Self::Support, Self::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Support => "support",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What an operator did, in the operator audit trail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum OperatorAction {
    #[sea_orm(string_value = "grant_plan")]
    GrantPlan,
    #[sea_orm(string_value = "revoke_grant")]
    RevokeGrant,
    #[sea_orm(string_value = "replay_event")]
    ReplayEvent,
    #[sea_orm(string_value = "sync_customer")]
    SyncCustomer,
    #[sea_orm(string_value = "revoke_sessions")]
    RevokeSessions,
    #[sea_orm(string_value = "set_role")]
    SetRole,
}

impl OperatorAction {
    pub const ALL: [Self; 6] = [
        Self::GrantPlan,
        Self::RevokeGrant,
        Self::ReplayEvent,
        Self::SyncCustomer,
        Self::RevokeSessions,
        Self::SetRole,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::GrantPlan => "grant_plan",
            Self::RevokeGrant => "revoke_grant",
            Self::ReplayEvent => "replay_event",
            Self::SyncCustomer => "sync_customer",
            Self::RevokeSessions => "revoke_sessions",
            Self::SetRole => "set_role",
        }
    }
}

/// What a single-use account token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
pub enum TokenPurpose {
    #[sea_orm(string_value = "password_reset")]
    PasswordReset,
    #[sea_orm(string_value = "email_verification")]
    EmailVerification,
}

#[cfg(test)]
mod tests {
    use sea_orm::ActiveEnum;

    use super::*;

    #[test]
    fn names_match_what_the_columns_hold() {
        for st in SubscriptionStatus::ALL {
            assert_eq!(st.to_value(), st.as_str());
            assert_eq!(SubscriptionStatus::from_stripe(st.as_str()), Some(st));
        }
        assert_eq!(SubscriptionStatus::from_stripe("ended"), None);
        for st in EventStatus::ALL {
            assert_eq!(st.to_value(), st.as_str());
            assert_eq!(EventStatus::parse(st.as_str()), Some(st));
        }
        for s in [
            ChangeSource::Webhook,
            ChangeSource::Checkout,
            ChangeSource::Sync,
        ] {
            assert_eq!(s.to_value(), s.as_str());
        }
    }
}
