//! Queries about the caller: `me`, `subscription`, `entitlements`.

use std::sync::Arc;

use async_graphql::{Context, Object};
use uuid::Uuid;

use super::{
    RequestMeta,
    loaders::Loaders,
    types::{BillingSubscription, Entitlements, User},
};
use crate::{
    auth::Caller,
    domain::Catalog,
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
            .users
            .load_one(id)
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!(e).context("load user")))?;
        Ok(user.as_ref().map(User::from))
    }

    /// The caller's current subscription; null when anonymous or not subscribed.
    async fn subscription(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<BillingSubscription>> {
        // Billing (checkout and webhooks) is not built yet, so no user has a
        // subscription row to show.
        viewer(ctx)?;
        Ok(None)
    }

    /// What the caller may use now: the free plan's features and limits for
    /// anonymous and unsubscribed callers.
    async fn entitlements(&self, ctx: &Context<'_>) -> async_graphql::Result<Entitlements> {
        viewer(ctx)?;
        let catalog = ctx.data_unchecked::<Arc<Catalog>>();
        Ok(Entitlements::from(catalog.free_plan()))
    }
}
