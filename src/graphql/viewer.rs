//! Queries about the caller: `me`, `subscription`, `entitlements`, and the
//! per-request resolution of what the caller may do, which guards share.

use std::sync::Arc;

use async_graphql::{Context, Object};
use chrono::Utc;
use entity::subscriptions;
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::{
    RequestMeta,
    billing::billing_subscription,
    loaders::Loaders,
    types::{BillingSubscription, Entitlements, User},
};
use crate::{
    auth::Caller,
    config::FeatureSource,
    domain::{
        Catalog,
        access::{AccessPolicy, Candidate, Decision, SubscriptionFacts, pick},
        catalog::Plan,
        subscription::SubscriptionStatus,
    },
    error::{ApiError, ApiResult},
};

/// The caller's public id; `None` when anonymous. A token that was presented
/// but is invalid is an error, so a client knows to refresh rather than being
/// shown an anonymous view.
pub fn viewer(ctx: &Context<'_>) -> ApiResult<Option<Uuid>> {
    match ctx
        .data_opt::<RequestMeta>()
        .map_or(Caller::Anonymous, |m| m.caller)
    {
        Caller::Anonymous => Ok(None),
        Caller::User(user) => Ok(Some(user.id)),
        Caller::InvalidToken => Err(ApiError::Unauthenticated("invalid or expired access token")),
    }
}

/// What the caller may do now, and why.
pub struct ViewerAccess {
    pub plan: Plan,
    pub subscription: Option<(subscriptions::Model, Decision)>,
}

/// Memoises [`ViewerAccess`] for one HTTP request, so a query with several
/// guarded fields reads the database once. (Absent on WebSocket connections,
/// whose data lives as long as the connection.)
#[derive(Default)]
pub struct AccessCache(OnceCell<Arc<ViewerAccess>>);

pub fn facts(s: &subscriptions::Model) -> Option<SubscriptionFacts> {
    Some(SubscriptionFacts {
        status: SubscriptionStatus::from_stripe(&s.status)?,
        current_period_start: s.current_period_start,
        current_period_end: s.current_period_end,
        trial_end: s.trial_end,
        cancel_at_period_end: s.cancel_at_period_end,
        cancel_at: s.cancel_at,
    })
}

async fn resolve(ctx: &Context<'_>, user: Option<Uuid>) -> ApiResult<ViewerAccess> {
    let catalog = ctx.data_unchecked::<Arc<Catalog>>();
    let Some(user) = user else {
        return Ok(ViewerAccess {
            plan: catalog.free_plan().clone(),
            subscription: None,
        });
    };
    let subs = ctx
        .data_unchecked::<Loaders>()
        .subscriptions_of(user)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!(e).context("load subscriptions")))?;
    let mut access = access_from(
        catalog,
        &subs,
        Utc::now(),
        ctx.data_unchecked::<AccessPolicy>(),
    );
    if let Some(customer) = stripe_feature_customer(ctx.data_unchecked::<FeatureSource>(), &access)
    {
        let features = ctx
            .data_unchecked::<Loaders>()
            .stripe_features
            .load_one(customer)
            .await
            .map_err(|e| {
                ApiError::Internal(anyhow::anyhow!(e).context("load Stripe entitlements"))
            })?;
        access.plan.features = features.unwrap_or_default();
    }
    Ok(access)
}

/// With `ENTITLE_FEATURE_SOURCE=stripe`, the customer whose Stripe
/// entitlements replace the plan's features: only while the subscription
/// grants its plan, so the access rules (periods, past_due) still decide.
pub fn stripe_feature_customer(source: &FeatureSource, access: &ViewerAccess) -> Option<String> {
    match (source, &access.subscription) {
        (FeatureSource::Stripe, Some((sub, decision))) if decision.grants_plan() => {
            Some(sub.stripe_customer_id.clone())
        }
        _ => None,
    }
}

/// What a user's stored subscriptions grant at `now`.
pub fn access_from(
    catalog: &Catalog,
    subs: &[subscriptions::Model],
    now: chrono::DateTime<Utc>,
    policy: &AccessPolicy,
) -> ViewerAccess {
    let free = catalog.free_plan().clone();
    // Rows with a status we do not know (a newer API version) are left out.
    let known: Vec<(&subscriptions::Model, SubscriptionFacts)> = subs
        .iter()
        .filter_map(|s| facts(s).map(|f| (s, f)))
        .collect();
    let candidates: Vec<Candidate<'_>> = known
        .iter()
        .map(|(s, f)| Candidate {
            facts: *f,
            price_id: &s.price_id,
            created_at: s.created_at,
        })
        .collect();
    let picked = pick(
        &candidates,
        |price| catalog.plan_for_price(price).is_some(),
        now,
        policy,
    );
    match picked {
        None => ViewerAccess {
            plan: free,
            subscription: None,
        },
        Some((i, decision)) => {
            let sub = known[i].0;
            let plan = match decision {
                Decision::Plan { .. } => catalog
                    .plan_for_price(&sub.price_id)
                    .map_or(free, |(p, _)| p.clone()),
                Decision::Free(_) => free,
            };
            ViewerAccess {
                plan,
                subscription: Some((sub.clone(), decision)),
            }
        }
    }
}

/// The caller's access, resolved once per request.
pub async fn viewer_access(ctx: &Context<'_>) -> ApiResult<Arc<ViewerAccess>> {
    let user = viewer(ctx)?;
    match ctx.data_opt::<AccessCache>() {
        Some(cache) => cache
            .0
            .get_or_try_init(|| async { resolve(ctx, user).await.map(Arc::new) })
            .await
            .cloned(),
        None => resolve(ctx, user).await.map(Arc::new),
    }
}

#[derive(Default)]
pub struct ViewerQuery;

#[Object]
impl ViewerQuery {
    /// The signed-in user; null when anonymous.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = viewer(ctx)? else {
            return Ok(None);
        };
        let user = ctx
            .data_unchecked::<Loaders>()
            .user(id)
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!(e).context("load user")))?;
        Ok(user.as_ref().map(User::from))
    }

    /// The caller's current subscription: the one that grants access, else
    /// the most recent; null when anonymous or never subscribed.
    async fn subscription(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<BillingSubscription>> {
        let access = viewer_access(ctx).await?;
        let catalog = ctx.data_unchecked::<Arc<Catalog>>();
        Ok(access
            .subscription
            .as_ref()
            .and_then(|(s, decision)| billing_subscription(s, catalog, *decision)))
    }

    /// What the caller may use now: the free plan's features and limits for
    /// anonymous callers and for those without a subscription that grants access.
    async fn entitlements(&self, ctx: &Context<'_>) -> async_graphql::Result<Entitlements> {
        Ok(Entitlements::from(&viewer_access(ctx).await?.plan))
    }
}
