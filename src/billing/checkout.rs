//! Checkout, the customer portal, and the success-page sync.

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, TransactionTrait};
use stripe::{IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_billing::{
    billing_portal_session::CreateBillingPortalSession,
    subscription::{ListSubscription, ListSubscriptionStatus},
};
use stripe_checkout::{
    CheckoutSessionMode,
    checkout_session::{
        CreateCheckoutSession, CreateCheckoutSessionLineItems,
        CreateCheckoutSessionSubscriptionData, RetrieveCheckoutSession,
    },
};
use stripe_core::customer::CreateCustomer;
use stripe_types::Expandable;

use super::{Billing, stripe_error, sync};
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

/// A subscription that still binds the customer: a new checkout would make a
/// second one, so the portal is the way to change it.
fn is_live(status: &str) -> bool {
    !matches!(
        SubscriptionStatus::from_stripe(status),
        Some(SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired) | None
    )
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
        let plan: Plan = self
            .inner
            .catalog
            .plan(plan)
            .cloned()
            .ok_or_else(|| ApiError::bad_input("plan", "no such plan"))?;
        let price = plan.prices.get(&interval).cloned().ok_or_else(|| {
            ApiError::bad_input("interval", "this plan has no price for that interval")
        })?;
        let success_url = self.redirect("successUrl", success_url)?;
        let cancel_url = self.redirect("cancelUrl", cancel_url)?;
        let client = self.client()?;

        // Stripe is the source of truth: a user who paid but never came back
        // to the success page has a subscription we have not stored yet, and
        // a second checkout would bill them twice.
        if let Some(customer) = &user.stripe_customer_id {
            self.sync_customer(user.id, customer, &sync::Cause::sync())
                .await?;
        }
        let subs = db::subscriptions::of_user(&self.inner.db, user.id).await?;
        if subs.iter().any(|s| is_live(&s.status)) {
            return Err(ApiError::Conflict(
                "you already have a subscription: change or cancel it in the customer portal (createPortal)",
            ));
        }
        // One trial per customer: someone who subscribed before (and maybe
        // cancelled during the trial) pays from the start.
        let first_subscription = subs
            .iter()
            .all(|s| s.status == SubscriptionStatus::IncompleteExpired.as_stripe());
        let customer = self.ensure_customer(user).await?;
        let pid = user.pid.to_string();
        let mut data = CreateCheckoutSessionSubscriptionData::new();
        data.metadata = Some([("user_id".to_owned(), pid.clone())].into());
        data.trial_period_days = plan.trial_days.filter(|_| first_subscription);
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Subscription)
            .customer(customer.as_str())
            .client_reference_id(pid.as_str())
            .metadata([("user_id".to_owned(), pid.clone())])
            .line_items(vec![CreateCheckoutSessionLineItems {
                price: Some(price),
                quantity: Some(1),
                ..Default::default()
            }])
            .allow_promotion_codes(true)
            .subscription_data(data)
            .success_url(success_url.as_str())
            .cancel_url(cancel_url.as_str())
            .send(client)
            .await
            .map_err(|e| match e {
                // A price in plans.toml that Stripe does not have is our
                // configuration error, not the user's.
                StripeError::Stripe(api, 400 | 404)
                    if api
                        .param
                        .as_deref()
                        .is_some_and(|p| p.starts_with("line_items")) =>
                {
                    ApiError::Internal(anyhow::anyhow!(
                        "Stripe does not know a price of plan `{}` in plans.toml: {:?}",
                        plan.name,
                        api.message
                    ))
                }
                other => stripe_error("create a checkout session", "plan", other),
            })?;
        let url = session.url.ok_or_else(|| {
            ApiError::StripeUnavailable(anyhow::anyhow!("checkout session without a url"))
        })?;
        tracing::info!(user = %user.pid, session = %session.id.as_str(), plan = %plan.name, "checkout started");
        Ok(CheckoutStarted {
            url,
            session_id: session.id.as_str().to_owned(),
        })
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
            let id = self.create_customer(user).await?;
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
            let id = self.create_customer(user).await?;
            Ok(db::users::set_stripe_customer(db, user.id, &id)
                .await?
                .unwrap_or(id))
        }
    }

    async fn create_customer(&self, user: &entity::users::Model) -> ApiResult<String> {
        let client = self.client()?;
        let key: IdempotencyKey = format!("entitle-customer-{}", user.pid)
            .try_into()
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("idempotency key: {e:?}")))?;
        let mut attempt = 0;
        loop {
            let res = CreateCustomer::new()
                .email(user.email.as_str())
                .metadata([("user_id".to_owned(), user.pid.to_string())])
                .customize()
                .request_strategy(RequestStrategy::Idempotent(key.clone()))
                .send(client)
                .await;
            match res {
                Ok(c) => return Ok(c.id.as_str().to_owned()),
                // Another instance is creating it with the same key right now.
                Err(StripeError::Stripe(_, 409)) if attempt < 4 => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
                }
                Err(e) => return Err(stripe_error("create a customer", "email", e)),
            }
        }
    }

    /// Stores every subscription Stripe has for the customer (the first 100,
    /// newest first; a customer has a handful), in one transaction with their
    /// audit rows. Syncs of one customer are serialised — an advisory lock on
    /// PostgreSQL (across instances, held while Stripe is read), a lock per
    /// customer on SQLite (one process) — so an older read of Stripe can
    /// never overwrite a newer one, and each real change is recorded once.
    pub async fn sync_customer(
        &self,
        user_id: i32,
        customer: &str,
        cause: &sync::Cause,
    ) -> ApiResult<usize> {
        let db = &self.inner.db;
        let _local = self.inner.sync_locks.lock(customer).await;
        let txn = self.customer_txn(customer).await?;
        let subs = self.fetch_subscriptions(customer).await?;
        let features = match self.inner.feature_source {
            crate::config::FeatureSource::Stripe => Some(self.fetch_entitlements(customer).await?),
            crate::config::FeatureSource::Plans => None,
        };
        let txn = match txn {
            Some(txn) => txn,
            None => db::begin_write(db).await?,
        };
        let mut changed = false;
        for sub in &subs {
            changed |= sync::store_subscription(&txn, user_id, sub, cause).await?.1;
        }
        if let Some(mut features) = features {
            features.sort();
            features.dedup();
            let before = db::stripe_entitlements::of_customers(&txn, &[customer.to_owned()])
                .await?
                .remove(customer);
            if before.as_ref() != Some(&features) {
                db::stripe_entitlements::store(&txn, customer, features, chrono::Utc::now())
                    .await?;
                changed = true;
            }
        }
        let local = if changed {
            match db::users::by_id(&txn, user_id).await? {
                Some(user) => Some(self.inner.changes.announce(&txn, user.pid).await?),
                None => None,
            }
        } else {
            None
        };
        txn.commit().await?;
        self.inner.changes.committed(local);
        Ok(subs.len())
    }

    /// On PostgreSQL, a transaction holding the customer's advisory lock
    /// (taken before Stripe is read); on SQLite `None` (the in-process lock
    /// serialises, and the write transaction begins after the reads so the
    /// database's write lock is not held across network calls).
    pub async fn customer_txn(
        &self,
        customer: &str,
    ) -> ApiResult<Option<sea_orm::DatabaseTransaction>> {
        let db = &self.inner.db;
        if db.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(None);
        }
        let txn = db.begin().await?;
        txn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
            [customer.into()],
        ))
        .await?;
        Ok(Some(txn))
    }

    pub fn sync_locks(&self) -> &super::KeyedLocks {
        &self.inner.sync_locks
    }

    async fn fetch_subscriptions(
        &self,
        customer: &str,
    ) -> ApiResult<Vec<stripe_billing::Subscription>> {
        let client = self.client()?;
        let list = ListSubscription::new()
            .customer(customer)
            .status(ListSubscriptionStatus::All)
            .limit(100)
            .send(client)
            .await
            .map_err(|e| stripe_error("list subscriptions", "customer", e))?;
        Ok(list.data)
    }

    /// The customer's active entitlements (feature lookup keys) from Stripe's
    /// Entitlements API.
    async fn fetch_entitlements(&self, customer: &str) -> ApiResult<Vec<String>> {
        let client = self.client()?;
        let active =
            stripe_misc::entitlements_active_entitlement::ListEntitlementsActiveEntitlement::new(
                customer,
            )
            .limit(100)
            .send(client)
            .await
            .map_err(|e| stripe_error("list active entitlements", "customer", e))?;
        Ok(active.data.into_iter().map(|e| e.lookup_key).collect())
    }

    pub async fn create_portal(
        &self,
        user: &entity::users::Model,
        return_url: &str,
    ) -> ApiResult<String> {
        let return_url = self.redirect("returnUrl", return_url)?;
        let client = self.client()?;
        let customer = user
            .stripe_customer_id
            .as_deref()
            .ok_or(ApiError::Forbidden(
                "there is no billing account to manage yet: subscribe first (createCheckout)",
            ))?;
        let session = CreateBillingPortalSession::new()
            .customer(customer)
            .return_url(return_url.as_str())
            .send(client)
            .await
            .map_err(|e| stripe_error("create a portal session", "returnUrl", e))?;
        Ok(session.url)
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
        let client = self.client()?;
        let session = RetrieveCheckoutSession::new(session_id)
            .send(client)
            .await
            .map_err(|e| stripe_error("retrieve a checkout session", "sessionId", e))?;
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
        let Some(customer) = session.customer.as_ref().map(sync::customer_id) else {
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
        self.sync_customer(user.id, &customer, &sync::Cause::checkout())
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

    pub fn policy(&self) -> &crate::domain::access::AccessPolicy {
        &self.inner.policy
    }
}
