//! `usage`: how much of each plan limit the caller uses, where Entitle can
//! measure it. Needs `advanced_analytics`.

use async_graphql::{Context, Object};
use sea_orm::DatabaseConnection;

use super::api_keys::API_KEYS_LIMIT;
use crate::{
    db,
    domain::catalog::LimitValue,
    error::ApiError,
    graphql::{
        caller::{access, signed_in_user},
        guards::{ADVANCED_ANALYTICS, RequireFeature, requiresFeature},
        views::{LimitUsage, Usage},
    },
};

#[derive(Default)]
pub struct UsageQuery;

#[Object]
impl UsageQuery {
    /// The caller's use of each plan limit in the current period.
    #[graphql(
        guard = "RequireFeature(ADVANCED_ANALYTICS)",
        directive = requiresFeature::apply(ADVANCED_ANALYTICS.to_string())
    )]
    async fn usage(&self, ctx: &Context<'_>) -> async_graphql::Result<Usage> {
        let user = signed_in_user(ctx).await?;
        let access = access(ctx).await?;
        let db = ctx.data_unchecked::<DatabaseConnection>();
        let keys = db::api_keys::count_active(db, user.id)
            .await
            .map_err(ApiError::from)?;
        let limits = access
            .plan
            .limits
            .iter()
            .map(|(name, value)| LimitUsage {
                name: name.clone(),
                used: (name == API_KEYS_LIMIT).then(|| i32::try_from(keys).unwrap_or(i32::MAX)),
                limit: match value {
                    LimitValue::Finite(n) => Some(i32::try_from(*n).unwrap_or(i32::MAX)),
                    LimitValue::Unlimited => None,
                },
            })
            .collect();
        let sub = access.subscription.as_ref().map(|(s, _)| s);
        Ok(Usage {
            period_start: sub.and_then(|s| s.current_period_start),
            period_end: sub.and_then(|s| s.current_period_end),
            limits,
        })
    }
}
