//! Billing through Stripe. Stripe is the source of truth; every write here
//! stores what Stripe says.
//!
//! - [`stripe`]: the Stripe client and every call made to Stripe;
//! - [`checkout`]: checkout, the customer portal and the success-page sync;
//! - [`sync`]: the sync engine, one customer at a time, shared by webhooks,
//!   `syncCheckout`, `entitle sync` and `customer.deleted`;
//! - [`worker`]: the webhook worker that feeds the sync engine.

pub mod audit;
pub mod checkout;
pub mod locks;
pub mod stripe;
pub mod sync;
pub mod worker;

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use self::{locks::KeyedLocks, stripe::StripeApi};
use crate::{
    changes::ChangeFeed,
    config::{Config, FeatureSource, origin_of},
    domain::{Catalog, access::AccessPolicy},
    error::ApiError,
};

#[derive(Clone)]
pub struct Billing {
    inner: Arc<Inner>,
}

struct Inner {
    stripe: StripeApi,
    db: DatabaseConnection,
    catalog: Arc<Catalog>,
    policy: AccessPolicy,
    allowed_origins: Vec<String>,
    /// Per-user locks for creating a Stripe customer on SQLite.
    customer_locks: KeyedLocks,
    /// Per-customer locks serialising syncs on SQLite (one process).
    sync_locks: KeyedLocks,
    changes: ChangeFeed,
    feature_source: FeatureSource,
    /// `ENTITLE_REQUIRE_VERIFIED_EMAIL`: no checkout before the address is verified.
    require_verified_email: bool,
}

impl Billing {
    pub fn new(
        config: &Config,
        db: DatabaseConnection,
        catalog: Arc<Catalog>,
        changes: ChangeFeed,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            inner: Arc::new(Inner {
                stripe: StripeApi::new(config.billing.stripe.as_ref())?,
                db,
                catalog,
                policy: config.access.policy,
                allowed_origins: config.billing.allowed_redirect_origins.clone(),
                customer_locks: KeyedLocks::default(),
                sync_locks: KeyedLocks::default(),
                changes,
                feature_source: config.access.feature_source,
                require_verified_email: config.auth.require_verified_email,
            }),
        })
    }

    pub fn is_configured(&self) -> bool {
        self.inner.stripe.is_configured()
    }

    pub fn changes(&self) -> &ChangeFeed {
        &self.inner.changes
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    pub fn policy(&self) -> &AccessPolicy {
        &self.inner.policy
    }

    pub fn stripe(&self) -> &StripeApi {
        &self.inner.stripe
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
