//! Billing mutations: start a checkout, open the portal, and sync a checkout
//! from the success page. Thin: they parse, find the caller, and call `billing`.

use std::sync::Arc;

use async_graphql::{Context, Object};
use chrono::Utc;

use crate::{
    billing::Billing,
    domain::{
        Catalog,
        access::{SubscriptionFacts, decide},
        subscription::BillingInterval,
    },
    graphql::{
        caller::signed_in_user_uncached,
        guards::SessionOnly,
        views::{BillingSubscription, CheckoutSession, PortalSession},
    },
};

#[derive(Default)]
pub struct BillingMutation;

#[Object]
impl BillingMutation {
    /// Starts a Stripe Checkout for a plan. The redirect URLs must be on an
    /// allowed origin; put `{CHECKOUT_SESSION_ID}` in `successUrl` to get the
    /// session id back for `syncCheckout`. `CONFLICT` when a subscription
    /// exists already: use `createPortal` to change it.
    #[graphql(guard = "SessionOnly")]
    async fn create_checkout(
        &self,
        ctx: &Context<'_>,
        plan: String,
        interval: BillingInterval,
        success_url: String,
        cancel_url: String,
    ) -> async_graphql::Result<CheckoutSession> {
        let user = signed_in_user_uncached(ctx).await?;
        let started = ctx
            .data_unchecked::<Billing>()
            .create_checkout(&user, &plan, interval, &success_url, &cancel_url)
            .await?;
        Ok(CheckoutSession {
            url: started.url,
            session_id: started.session_id,
        })
    }

    /// Opens Stripe's customer portal (change plan, cancel, payment methods).
    #[graphql(guard = "SessionOnly")]
    async fn create_portal(
        &self,
        ctx: &Context<'_>,
        return_url: String,
    ) -> async_graphql::Result<PortalSession> {
        let user = signed_in_user_uncached(ctx).await?;
        let url = ctx
            .data_unchecked::<Billing>()
            .create_portal(&user, &return_url)
            .await?;
        Ok(PortalSession { url })
    }

    /// For the checkout success page: reads the session from Stripe and
    /// stores its subscription, so access starts now rather than when the
    /// webhook arrives. Null while the session is not paid.
    #[graphql(guard = "SessionOnly")]
    async fn sync_checkout(
        &self,
        ctx: &Context<'_>,
        session_id: String,
    ) -> async_graphql::Result<Option<BillingSubscription>> {
        let user = signed_in_user_uncached(ctx).await?;
        let billing = ctx.data_unchecked::<Billing>();
        let Some(row) = billing.sync_checkout(&user, &session_id).await? else {
            return Ok(None);
        };
        let decision = decide(
            Some(&SubscriptionFacts::from(&row)),
            Utc::now(),
            billing.policy(),
        );
        Ok(Some(BillingSubscription::new(
            &row,
            ctx.data_unchecked::<Arc<Catalog>>(),
            decision,
        )))
    }
}
