//! GraphQL subscriptions (the root type `Subscription`, apart from the
//! `BillingSubscription` object): live updates over graphql-ws.

use async_graphql::{Context, Subscription};
use futures_util::{Stream, StreamExt};
use tokio_stream::wrappers::{BroadcastStream, errors::BroadcastStreamRecvError};

use crate::{
    changes::ChangeFeed,
    graphql::{
        caller::{AccessRules, access_of, signed_in_id},
        loaders::Loaders,
        views::Entitlements,
    },
};

#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// The caller's entitlements, pushed each time billing changes them (a
    /// checkout, a renewal failure, a cancellation, a plan change), from
    /// whichever server instance processed the change.
    async fn entitlements_changed(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Entitlements>> + use<>>
    {
        let me = signed_in_id(ctx)?;
        let feed = ctx.data_unchecked::<ChangeFeed>().clone();
        let changes = feed.subscribe();
        let loaders = ctx.data_unchecked::<Loaders>().clone();
        let rules = ctx.data_unchecked::<AccessRules>().clone();
        Ok(BroadcastStream::new(changes)
            .filter(move |change| {
                // A lagged receiver may have missed ours: re-read to be safe.
                let mine = matches!(change, Ok(user) if *user == me || user.is_nil())
                    || matches!(change, Err(BroadcastStreamRecvError::Lagged(_)));
                async move { mine }
            })
            .then(move |_| {
                // The feed evicted the user's cached rows before telling us,
                // so these loaders read what was just committed.
                let loaders = loaders.clone();
                let rules = rules.clone();
                async move {
                    let access = access_of(&loaders, &rules, Some(me)).await?;
                    Ok(Entitlements::from(&access.plan))
                }
            }))
    }
}
