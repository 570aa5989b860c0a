//! `billingHistory`: the caller's own audit trail of subscription changes.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use super::api_keys::signed_in_user;
use crate::{
    db,
    domain::{Catalog, subscription::SubscriptionStatus},
    error::ApiError,
};

/// One change of the caller's subscription status or plan.
#[derive(SimpleObject)]
pub struct BillingChange {
    pub at: DateTime<Utc>,
    /// Stripe's subscription id.
    pub subscription_id: ID,
    /// Null when the subscription was new.
    pub from_status: Option<SubscriptionStatus>,
    pub to_status: Option<SubscriptionStatus>,
    /// Plan names from `plans.toml`; `unknown` for a price it does not list.
    pub from_plan: Option<String>,
    pub to_plan: String,
    /// What recorded it: `webhook`, `checkout` or `sync`.
    pub source: String,
    /// The Stripe event behind it, for webhooks.
    pub event_id: Option<String>,
}

#[derive(Default)]
pub struct HistoryQuery;

#[Object]
impl HistoryQuery {
    /// The caller's last `last` subscription changes (default 100), oldest first.
    async fn billing_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 100, validator(minimum = 1, maximum = 500))] last: i32,
    ) -> async_graphql::Result<Vec<BillingChange>> {
        let user = signed_in_user(ctx).await?;
        let db = ctx.data_unchecked::<DatabaseConnection>();
        let catalog = ctx.data_unchecked::<Arc<Catalog>>();
        let plan = |price: &str| {
            catalog
                .plan_for_price(price)
                .map_or_else(|| "unknown".to_owned(), |(p, _)| p.name.clone())
        };
        let rows = db::audit_log::of_user(db, user.id, u64::try_from(last).unwrap_or(100))
            .await
            .map_err(ApiError::from)?;
        Ok(rows
            .into_iter()
            .map(|r| BillingChange {
                at: r.at,
                subscription_id: ID(r.stripe_subscription_id),
                from_status: r
                    .from_status
                    .as_deref()
                    .and_then(SubscriptionStatus::from_stripe),
                to_status: SubscriptionStatus::from_stripe(&r.to_status),
                from_plan: r.from_price.as_deref().map(plan),
                to_plan: plan(&r.to_price),
                source: r.source,
                event_id: r.stripe_event_id,
            })
            .collect())
    }
}
