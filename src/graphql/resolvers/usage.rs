//! Metered usage: `recordUsage` counts, `usage` (needs `advanced_analytics`)
//! reports how much of each plan limit the caller uses.

use async_graphql::{Context, Object};
use chrono::Utc;
use sea_orm::DatabaseConnection;

use super::api_keys::API_KEYS_LIMIT;
use crate::{
    db,
    domain::{
        catalog::LimitValue,
        usage::{self, check_amount, check_idempotency_key},
    },
    error::ApiError,
    graphql::{
        caller::{access, signed_in_user},
        guards::{ADVANCED_ANALYTICS, RequireFeature, requiresFeature},
        views::{LimitUsage, Usage, UsageRecord, usage::int},
    },
    metering::{Metering, UsageCall},
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
        let period = usage::period(&access, Utc::now());
        let counted = db::usage::used_in_period(db, user.id, period.start)
            .await
            .map_err(ApiError::from)?;
        let limits = access
            .plan
            .limits
            .iter()
            .map(|(name, limit)| {
                let metered = limit.metering.is_some();
                let used = if metered {
                    Some(int(counted.get(name).copied().unwrap_or(0)))
                } else {
                    (name == API_KEYS_LIMIT).then(|| i32::try_from(keys).unwrap_or(i32::MAX))
                };
                LimitUsage {
                    name: name.clone(),
                    used,
                    limit: match limit.max {
                        LimitValue::Finite(n) => Some(i32::try_from(n).unwrap_or(i32::MAX)),
                        LimitValue::Unlimited => None,
                    },
                    resets_at: metered.then_some(period.end),
                }
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

#[derive(Default)]
pub struct UsageMutation;

#[Object]
impl UsageMutation {
    /// Adds `amount` to the caller's count of a metered limit for the current
    /// period, if it stays within the plan's `max` (past it, a limit that
    /// bills overage counts it as overage); otherwise `LIMIT_EXCEEDED` (with
    /// `extensions.limit`, `used`, `max`, `resetsAt`) and nothing is counted.
    /// The same `idempotencyKey` again answers the first call's result and
    /// counts nothing. Open to a session or an API key.
    async fn record_usage(
        &self,
        ctx: &Context<'_>,
        limit: String,
        #[graphql(default = 1)] amount: i64,
        idempotency_key: String,
    ) -> async_graphql::Result<UsageRecord> {
        let amount = check_amount(amount).map_err(|m| ApiError::bad_input("amount", m))?;
        check_idempotency_key(&idempotency_key)
            .map_err(|m| ApiError::bad_input("idempotencyKey", m))?;
        let user = signed_in_user(ctx).await?;
        let access = access(ctx).await?;
        let call = UsageCall {
            limit: &limit,
            amount,
            idempotency_key: &idempotency_key,
        };
        let record = ctx
            .data_unchecked::<Metering>()
            .record(&user, &access, call)
            .await?;
        Ok(record.into())
    }
}
