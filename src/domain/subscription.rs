//! Stripe's subscription vocabulary, as typed values. The status is the
//! stored column's own type, so it is parsed once, where rows are read.

use serde::Deserialize;

pub use entity::SubscriptionStatus;

/// How often a price bills.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, async_graphql::Enum,
)]
#[serde(rename_all = "lowercase")]
pub enum BillingInterval {
    Monthly,
    Yearly,
}
