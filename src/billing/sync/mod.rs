//! The sync engine: one customer at a time, re-read from Stripe and stored
//! with its audit rows in one transaction. Webhooks, `syncCheckout`,
//! `entitle sync` and the sync before a checkout all come through
//! [`Billing::sync_customer`]; a deleted customer through
//! [`Billing::customer_deleted`], under the same lock.
//!
//! Syncs of one customer are serialised: an advisory lock on PostgreSQL
//! (across instances, held while Stripe is read), a lock per customer on
//! SQLite (one process). So an older read of Stripe never overwrites a newer
//! one, and each real change is recorded once.

mod store;

use chrono::Utc;
use entity::SubscriptionStatus;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, Statement};
use stripe_types::Expandable;
use uuid::Uuid;

pub use self::store::store_subscription;
pub use super::audit::Cause;
use super::{Billing, audit, locks::KeyedGuard};
use crate::{config::FeatureSource, db, error::ApiResult};

pub fn customer_id(customer: &Expandable<stripe_core::Customer>) -> String {
    match customer {
        Expandable::Id(id) => id.as_str().to_owned(),
        Expandable::Object(c) => c.id.as_str().to_owned(),
    }
}

/// Holds one customer's sync lock: the in-process lock, and on PostgreSQL a
/// transaction holding the customer's advisory lock, taken before Stripe is
/// read. On SQLite the write transaction begins only after the reads, so
/// the database's single write lock is not held across network calls.
struct CustomerLock<'a> {
    _local: KeyedGuard<'a>,
    txn: Option<DatabaseTransaction>,
}

impl Billing {
    async fn lock_customer(&self, customer: &str) -> ApiResult<CustomerLock<'_>> {
        let local = self.inner.sync_locks.lock(customer).await;
        let db = &self.inner.db;
        let txn = if db.get_database_backend() == DatabaseBackend::Postgres {
            let txn = sea_orm::TransactionTrait::begin(db).await?;
            txn.execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                [customer.into()],
            ))
            .await?;
            Some(txn)
        } else {
            None
        };
        Ok(CustomerLock { _local: local, txn })
    }

    /// The transaction to write in, under the lock: the advisory lock's on
    /// PostgreSQL, a new write transaction on SQLite.
    async fn write_txn(&self, lock: &mut CustomerLock<'_>) -> ApiResult<DatabaseTransaction> {
        Ok(match lock.txn.take() {
            Some(txn) => txn,
            None => db::begin_write(&self.inner.db).await?,
        })
    }

    /// Commits, and when `changed` names a user, tells the change feed: the
    /// announcement is written in the transaction, the local eviction and
    /// broadcast follow the commit.
    async fn commit_announcing(
        &self,
        txn: DatabaseTransaction,
        changed: Option<Uuid>,
    ) -> ApiResult<()> {
        let announced = match changed {
            Some(pid) => Some(self.inner.changes.announce(&txn, pid).await?),
            None => None,
        };
        txn.commit().await?;
        self.inner.changes.committed(announced);
        Ok(())
    }

    /// Stores every subscription Stripe has for the customer (and, with
    /// `ENTITLE_FEATURE_SOURCE=stripe`, its active entitlements), in one
    /// transaction with their audit rows. Returns how many subscriptions
    /// Stripe listed.
    pub async fn sync_customer(
        &self,
        user_id: i32,
        customer: &str,
        cause: &Cause,
    ) -> ApiResult<usize> {
        let mut lock = self.lock_customer(customer).await?;
        let subs = self.stripe().subscriptions(customer).await?;
        let features = match self.inner.feature_source {
            FeatureSource::Stripe => Some(self.stripe().active_entitlements(customer).await?),
            FeatureSource::Plans => None,
        };
        let txn = self.write_txn(&mut lock).await?;
        let mut changed = false;
        for sub in &subs {
            changed |= store_subscription(&txn, user_id, sub, cause).await?.1;
        }
        if let Some(features) = features {
            changed |= store_features(&txn, customer, features).await?;
        }
        let pid = if changed {
            db::users::by_id(&txn, user_id).await?.map(|u| u.pid)
        } else {
            None
        };
        self.commit_announcing(txn, pid).await?;
        Ok(subs.len())
    }

    /// Stripe cancels a deleted customer's subscriptions and has nothing left
    /// to list: the cancellations are recorded here, with their audit rows,
    /// and the user's link to the customer is dropped, in one transaction.
    pub async fn customer_deleted(
        &self,
        user: &entity::users::Model,
        customer: &str,
        event_id: &str,
    ) -> ApiResult<()> {
        let now = Utc::now();
        let mut lock = self.lock_customer(customer).await?;
        let txn = self.write_txn(&mut lock).await?;
        let ending = db::subscriptions::not_canceled_of_customer(&txn, customer).await?;
        let cause = Cause::webhook(event_id);
        for sub in &ending {
            let row = audit::subscription_change(
                user.id,
                Some(sub),
                &sub.stripe_subscription_id,
                SubscriptionStatus::Canceled,
                &sub.price_id,
                &cause,
                now,
            );
            db::audit_log::insert(&txn, row).await?;
        }
        db::subscriptions::cancel_all_of_customer(&txn, customer, now).await?;
        db::users::clear_stripe_customer(&txn, user.id, customer).await?;
        let changed = (!ending.is_empty()).then_some(user.pid);
        self.commit_announcing(txn, changed).await
    }
}

/// Replaces the customer's stored Stripe entitlements; true when they changed.
async fn store_features(
    txn: &impl ConnectionTrait,
    customer: &str,
    mut features: Vec<String>,
) -> ApiResult<bool> {
    features.sort();
    features.dedup();
    let before = db::stripe_entitlements::of_customers(txn, &[customer.to_owned()])
        .await?
        .remove(customer);
    if before.as_ref() == Some(&features) {
        return Ok(false);
    }
    db::stripe_entitlements::store(txn, customer, features, Utc::now()).await?;
    Ok(true)
}
