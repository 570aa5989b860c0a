//! GraphQL subscriptions (the root type `Subscription`, apart from the
//! `BillingSubscription` object): live updates over graphql-ws.

use std::sync::Arc;

use async_graphql::{Context, Subscription};
use chrono::Utc;
use futures_util::{Stream, StreamExt};
use sea_orm::DatabaseConnection;
use tokio_stream::wrappers::{BroadcastStream, errors::BroadcastStreamRecvError};

use super::{
    types::Entitlements,
    viewer::{access_from, stripe_feature_customer, viewer},
};
use crate::{
    billing::Billing,
    config::FeatureSource,
    db,
    domain::{Catalog, access::AccessPolicy},
    error::ApiError,
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
        let me = viewer(ctx)?.ok_or(ApiError::Unauthenticated("sign in first"))?;
        let changes = ctx.data_unchecked::<Billing>().changes().subscribe();
        let db = ctx.data_unchecked::<DatabaseConnection>().clone();
        let catalog = ctx.data_unchecked::<Arc<Catalog>>().clone();
        let policy = *ctx.data_unchecked::<AccessPolicy>();
        let source = *ctx.data_unchecked::<FeatureSource>();
        Ok(BroadcastStream::new(changes)
            .filter(move |change| {
                // A lagged receiver may have missed ours: re-read to be safe.
                let mine = matches!(change, Ok(user) if *user == me || user.is_nil())
                    || matches!(change, Err(BroadcastStreamRecvError::Lagged(_)));
                async move { mine }
            })
            .then(move |_| {
                let (db, catalog) = (db.clone(), catalog.clone());
                async move {
                    let subs = db::subscriptions::by_user_pids(&db, &[me])
                        .await
                        .map_err(ApiError::from)?
                        .remove(&me)
                        .unwrap_or_default();
                    let mut access = access_from(&catalog, &subs, Utc::now(), &policy);
                    if let Some(customer) = stripe_feature_customer(&source, &access) {
                        access.plan.features = db::stripe_entitlements::of_customers(
                            &db,
                            std::slice::from_ref(&customer),
                        )
                        .await
                        .map_err(ApiError::from)?
                        .remove(&customer)
                        .unwrap_or_default();
                    }
                    Ok(Entitlements::from(&access.plan))
                }
            }))
    }
}
