//! Stripe's subscription vocabulary, as typed values. The billing issue adds
//! the state machine and the entitlement function on top of these.

use serde::Deserialize;

/// The eight statuses a Stripe subscription can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, async_graphql::Enum)]
pub enum SubscriptionStatus {
    Trialing,
    Active,
    PastDue,
    Unpaid,
    Canceled,
    Incomplete,
    IncompleteExpired,
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
    pub fn as_stripe(self) -> &'static str {
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
        Self::ALL.into_iter().find(|st| st.as_stripe() == s)
    }
}

/// How often a price bills.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, async_graphql::Enum,
)]
#[serde(rename_all = "lowercase")]
pub enum BillingInterval {
    Monthly,
    Yearly,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_status_names_round_trip() {
        for st in SubscriptionStatus::ALL {
            assert_eq!(SubscriptionStatus::from_stripe(st.as_stripe()), Some(st));
        }
        assert_eq!(SubscriptionStatus::from_stripe("ended"), None);
    }
}
