//! Checkout, the customer portal, and the success-page sync. The sync itself
//! is the engine's ([`super::sync`]); this file decides when to start one.

use sea_orm::{DatabaseBackend, TransactionTrait};
use stripe_types::Expandable;

use super::{Billing, stripe::CheckoutRequest, sync::Cause};
use crate::{
    db,
    domain::{
        catalog::Plan,
        subscription::{BillingInterval, SubscriptionStatus},
    },
    error::{ApiError, ApiResult},
};

pub struct CheckoutStarted {
    pub url: String,
    pub session_id: String,
}

impl Billing {
    pub async fn create_checkout(
        &self,
        user: &entity::users::Model,
        plan: &str,
        interval: BillingInterval,
        success_url: &str,
        cancel_url: &str,
    ) -> ApiResult<CheckoutStarted> {
        if self.inner.require_verified_email && user.email_verified_at.is_none() {
            return Err(ApiError::Forbidden(
                "confirm your email address first (the link we sent, or requestEmailVerification)",
            ));
        }
        let plan: &Plan = self
            .inner
            .catalog
            .plan(plan)
            .ok_or_else(|| ApiError::bad_input("plan", "no such plan"))?;
        let price = plan.prices.get(&interval).ok_or_else(|| {
            ApiError::bad_input("interval", "this plan has no price for that interval")
        })?;
        let success_url = self.redirect("successUrl", success_url)?;
        let cancel_url = self.redirect("cancelUrl", cancel_url)?;
        self.stripe().require()?;
        let first_subscription = self.refuse_a_second_subscription(user).await?;
        let customer = self.ensure_customer(user).await?;
        let pid = user.pid.to_string();
        let (url, session_id) = self
            .stripe()
            .create_checkout_session(CheckoutRequest {
                customer: &customer,
                user_pid: &pid,
                plan: &plan.name,
                price,
                // One trial per customer: someone who subscribed before (and
                // maybe cancelled during the trial) pays from the start.
                trial_days: plan.trial_days.filter(|_| first_subscription),
                success_url: &success_url,
                cancel_url: &cancel_url,
            })
            .await?;
        tracing::info!(user = %user.pid, session = %session_id, plan = %plan.name, "checkout started");
        Ok(CheckoutStarted { url, session_id })
    }

    /// `CONFLICT` when the user already has a live subscription; otherwise
    /// whether a new one would be their first. Stripe is asked first: a user
    /// who paid but never came back to the success page has a subscription
    /// we have not stored yet, and a second checkout would bill them twice.
    async fn refuse_a_second_subscription(&self, user: &entity::users::Model) -> ApiResult<bool> {
        if let Some(customer) = &user.stripe_customer_id {
            self.sync_customer(user.id, customer, &Cause::sync())
                .await?;
        }
        let subs = db::subscriptions::of_user(&self.inner.db, user.id).await?;
        if subs.iter().any(|s| s.status.is_live()) {
            return Err(ApiError::Conflict(
                "you already have a subscription: change or cancel it in the customer portal (createPortal)",
            ));
        }
        Ok(subs
            .iter()
            .all(|s| s.status == SubscriptionStatus::IncompleteExpired))
    }

    /// The user's Stripe customer, created on first need and recorded, exactly
    /// once even when several requests race. On PostgreSQL the user's row is
    /// locked while Stripe is asked (several instances share it); on SQLite
    /// (one process) an in-process lock per user does that job. Either way the
    /// request carries an idempotency key derived from the user, so a retry,
    /// or a call from another instance, gets the same customer from Stripe.
    pub async fn ensure_customer(&self, user: &entity::users::Model) -> ApiResult<String> {
        if let Some(id) = &user.stripe_customer_id {
            return Ok(id.clone());
        }
        let db = &self.inner.db;
        if db.get_database_backend() == DatabaseBackend::Postgres {
            let txn = db.begin().await?;
            let locked = db::users::lock(&txn, user.id).await?;
            if let Some(id) = locked.and_then(|u| u.stripe_customer_id) {
                return Ok(id);
            }
            let id = self.stripe().create_customer(user).await?;
            let recorded = db::users::set_stripe_customer(&txn, user.id, &id).await?;
            txn.commit().await?;
            Ok(recorded.unwrap_or(id))
        } else {
            let _guard = self.inner.customer_locks.lock(&user.id.to_string()).await;
            if let Some(id) = db::users::by_id(db, user.id)
                .await?
                .and_then(|u| u.stripe_customer_id)
            {
                return Ok(id);
            }
            let id = self.stripe().create_customer(user).await?;
            Ok(db::users::set_stripe_customer(db, user.id, &id)
                .await?
                .unwrap_or(id))
        }
    }

    pub async fn create_portal(
        &self,
        user: &entity::users::Model,
        return_url: &str,
    ) -> ApiResult<String> {
        let return_url = self.redirect("returnUrl", return_url)?;
        self.stripe().require()?;
        let customer = user
            .stripe_customer_id
            .as_deref()
            .ok_or(ApiError::Forbidden(
                "there is no billing account to manage yet: subscribe first (createCheckout)",
            ))?;
        self.stripe()
            .create_portal_session(customer, &return_url)
            .await
    }

    /// Reads a checkout session and its subscription from Stripe and stores
    /// the subscription, so access is granted as the user lands back from
    /// checkout, before any webhook. Only the session's own user may sync it.
    /// `None` while the session has no subscription (not paid yet).
    pub async fn sync_checkout(
        &self,
        user: &entity::users::Model,
        session_id: &str,
    ) -> ApiResult<Option<entity::subscriptions::Model>> {
        let well_formed = session_id.starts_with("cs_")
            && session_id.len() <= 255
            && session_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !well_formed {
            return Err(ApiError::bad_input(
                "sessionId",
                "not a checkout session id",
            ));
        }
        let session = self.stripe().checkout_session(session_id).await?;
        let pid = user.pid.to_string();
        let owner = session.client_reference_id.as_deref().or_else(|| {
            session
                .metadata
                .as_ref()
                .and_then(|m| m.get("user_id"))
                .map(String::as_str)
        });
        if owner != Some(pid.as_str()) {
            return Err(ApiError::Forbidden(
                "this checkout session belongs to another account",
            ));
        }
        let Some(customer) = session.customer.as_ref().map(super::sync::customer_id) else {
            return Ok(None);
        };
        db::users::set_stripe_customer(&self.inner.db, user.id, &customer).await?;
        let Some(sub_id) = session.subscription.as_ref().map(|s| match s {
            Expandable::Id(id) => id.as_str().to_owned(),
            Expandable::Object(o) => o.id.as_str().to_owned(),
        }) else {
            return Ok(None);
        };
        // The same path as webhooks and `entitle sync`: the customer's
        // subscriptions re-read from Stripe under the per-customer lock.
        self.sync_customer(user.id, &customer, &Cause::checkout())
            .await?;
        let row = db::subscriptions::by_stripe_id(&self.inner.db, &sub_id)
            .await?
            .ok_or_else(|| {
                ApiError::StripeUnavailable(anyhow::anyhow!(
                    "the session's subscription is not listed yet"
                ))
            })?;
        tracing::info!(user = %user.pid, subscription = %row.stripe_subscription_id, status = %row.status, "checkout synced");
        Ok(Some(row))
    }
}
