//! Queries about the caller: `me`, `subscription`, `entitlements`.

use std::sync::Arc;

use async_graphql::{Context, Object};

use crate::{
    domain::Catalog,
    error::ApiError,
    graphql::{
        caller::{access, caller_id},
        loaders::Loaders,
        views::{BillingSubscription, Entitlements, User},
    },
};

#[derive(Default)]
pub struct ViewerQuery;

#[Object]
impl ViewerQuery {
    /// The signed-in user; null when anonymous.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let Some(id) = caller_id(ctx)? else {
            return Ok(None);
        };
        let user = ctx.data_unchecked::<Loaders>().user(id).await?;
        match user {
            Some(u) if u.deleted_at.is_some() => {
                Err(ApiError::Unauthenticated("this account no longer exists").into())
            }
            user => Ok(user.as_deref().map(User::from)),
        }
    }

    /// The caller's current subscription: the one that grants access, else
    /// the most recent; null when anonymous or never subscribed.
    async fn subscription(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<BillingSubscription>> {
        let access = access(ctx).await?;
        let catalog = ctx.data_unchecked::<Arc<Catalog>>();
        Ok(access
            .subscription
            .as_ref()
            .map(|(s, decision)| BillingSubscription::new(s, catalog, *decision)))
    }

    /// What the caller may use now: the free plan's features and limits for
    /// anonymous callers and for those without a subscription that grants access.
    async fn entitlements(&self, ctx: &Context<'_>) -> async_graphql::Result<Entitlements> {
        Ok(Entitlements::from(&access(ctx).await?.plan))
    }
}
