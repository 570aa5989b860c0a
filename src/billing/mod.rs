//! Billing through Stripe: customers, checkout, the portal, and the sync of
//! a subscription from Stripe into our table. Stripe is the source of truth;
//! every write here stores what Stripe says.

pub mod changes;
pub mod checkout;
pub mod sync;
pub mod worker;

use std::sync::Arc;

use anyhow::anyhow;
use sea_orm::DatabaseConnection;
use stripe::StripeError;

use crate::{
    config::{Config, origin_of},
    domain::{Catalog, access::AccessPolicy},
    error::ApiError,
};

#[derive(Clone)]
pub struct Billing {
    inner: Arc<Inner>,
}

struct Inner {
    client: Option<stripe::Client>,
    db: DatabaseConnection,
    catalog: Arc<Catalog>,
    policy: AccessPolicy,
    allowed_origins: Vec<String>,
    /// Per-user locks for creating a Stripe customer on SQLite.
    customer_locks: KeyedLocks,
    /// Per-customer locks serialising syncs on SQLite (one process).
    sync_locks: KeyedLocks,
    changes: changes::ChangeFeed,
    feature_source: crate::config::FeatureSource,
}

impl Billing {
    pub fn new(
        config: &Config,
        db: DatabaseConnection,
        catalog: Arc<Catalog>,
    ) -> anyhow::Result<Self> {
        let client = match &config.stripe {
            None => {
                tracing::warn!("STRIPE_SECRET_KEY is not set: checkout and portal are off");
                None
            }
            Some(s) => {
                let key = String::from_utf8(s.secret_key.expose().to_vec())?;
                let client = stripe::ClientBuilder::new(key)
                    .url(s.api_base.clone())
                    .timeout(s.timeout)
                    .build()
                    .map_err(|e| anyhow!("cannot build the Stripe client: {e}"))?;
                Some(client)
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                db,
                catalog,
                policy: config.access_policy,
                allowed_origins: config.allowed_redirect_origins.clone(),
                customer_locks: Default::default(),
                sync_locks: Default::default(),
                changes: changes::ChangeFeed::new(Arc::new(crate::db::cache::UserRowsCache::new(
                    config.user_cache_ttl,
                    100_000,
                ))),
                feature_source: config.feature_source,
            }),
        })
    }

    pub fn is_configured(&self) -> bool {
        self.inner.client.is_some()
    }

    pub fn changes(&self) -> &changes::ChangeFeed {
        &self.inner.changes
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    fn client(&self) -> Result<&stripe::Client, ApiError> {
        self.inner
            .client
            .as_ref()
            .ok_or_else(|| ApiError::StripeUnavailable(anyhow!("STRIPE_SECRET_KEY is not set")))
    }

    /// A redirect URL the client gave, if its origin is allowed.
    fn redirect(&self, field: &'static str, raw: &str) -> Result<String, ApiError> {
        let origin =
            origin_of(raw).ok_or_else(|| ApiError::bad_input(field, "not an http(s) URL"))?;
        if self.inner.allowed_origins.contains(&origin) {
            Ok(raw.trim().to_owned())
        } else {
            Err(ApiError::bad_input(
                field,
                format!("{origin} is not an allowed redirect origin"),
            ))
        }
    }
}

/// Maps a Stripe failure to what the client may know: Stripe down, slow, or
/// refusing our key is `STRIPE_UNAVAILABLE` (retryable); Stripe refusing the
/// request itself is `BAD_USER_INPUT`. Stripe's own text is logged, not sent.
pub fn stripe_error(what: &'static str, field: &'static str, err: StripeError) -> ApiError {
    match err {
        StripeError::Stripe(api, status)
            if (400..500).contains(&status) && !matches!(status, 401 | 403 | 409 | 429) =>
        {
            tracing::info!(status, code = ?api.code, param = ?api.param, "stripe refused {what}");
            if status == 404 {
                ApiError::bad_input(field, "Stripe has no such object")
            } else {
                ApiError::bad_input(field, "Stripe refused the request")
            }
        }
        other => ApiError::StripeUnavailable(anyhow!("{what}: {other}")),
    }
}

/// Async locks by key whose entries go away when nobody holds or waits for them.
#[derive(Default)]
pub struct KeyedLocks {
    map: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

pub struct KeyedGuard<'a> {
    locks: &'a KeyedLocks,
    key: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    pub async fn lock(&self, key: &str) -> KeyedGuard<'_> {
        let mutex = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(key.to_owned()).or_default().clone()
        };
        KeyedGuard {
            locks: self,
            key: key.to_owned(),
            guard: Some(mutex.lock_owned().await),
        }
    }
}

impl Drop for KeyedGuard<'_> {
    fn drop(&mut self) {
        self.guard.take();
        let mut map = self.locks.map.lock().unwrap_or_else(|e| e.into_inner());
        // Only the map holds it now: no holder, no waiter.
        if map
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            map.remove(&self.key);
        }
    }
}
