//! DataLoaders, one set per process (see [`Loaders`]); fields and requests
//! that load the same relation at the same moment share a batch. A user's
//! rows (the account, subscriptions, grants) are read through the process's
//! [`UserRowsCache`], which the change feed keeps fresh: the methods of
//! [`Loaders`] answer from it, and only its misses reach a batch; nothing
//! else is cached across requests.

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_graphql::dataloader::{DataLoader, Loader};
use entity::users;
use sea_orm::{DatabaseConnection, DbErr};
use uuid::Uuid;

use crate::{
    changes::UserRowsCache,
    db,
    error::{ApiError, ApiResult},
};

pub struct UserLoader {
    db: DatabaseConnection,
    cache: Arc<UserRowsCache>,
}

impl Loader<Uuid> for UserLoader {
    type Value = Arc<users::Model>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let ticket = self.cache.ticket();
        let rows: Vec<_> = db::users::by_pids(&self.db, keys)
            .await?
            .into_iter()
            .map(Arc::new)
            .collect();
        self.cache.put_users(ticket, rows.iter().cloned());
        Ok(rows.into_iter().map(|u| (u.pid, u)).collect())
    }
}

/// A batch's rows by user, with an empty list for a user who has none (a
/// loaded empty list, not a miss), stored in the cache under `ticket`.
fn by_user<V>(keys: &[Uuid], mut rows: HashMap<Uuid, Vec<V>>) -> HashMap<Uuid, Arc<[V]>> {
    keys.iter()
        .map(|k| (*k, rows.remove(k).unwrap_or_default().into()))
        .collect()
}

/// One per process, in the schema's data: the DataLoaders keep no values
/// (no per-request cache to share by mistake), so sharing them only batches
/// the misses of concurrent requests. After a deploy or a cleared cache,
/// 64 requests for 64 users read their rows in one query per relation,
/// not 64 each. Cheap to clone: a handle on the one set.
#[derive(Clone)]
pub struct Loaders(Arc<Shared>);

struct Shared {
    /// For requests: a 1 ms window.
    reads: Relations,
    /// For reloading cached rows ahead of their expiry, off the request
    /// path: a wider window, so that reloads close together share a query
    /// (one query through SeaORM and sqlx is about 100,000 instructions in
    /// the profile, as much as a whole cached request).
    refreshes: Relations,
    stripe_features: DataLoader<StripeFeaturesLoader>,
    cache: Arc<UserRowsCache>,
}

/// How long a refresh waits for others to share its query.
const REFRESH_WINDOW: Duration = Duration::from_millis(25);

struct Relations {
    users: DataLoader<UserLoader>,
    subscriptions: DataLoader<SubscriptionLoader>,
    grants: DataLoader<GrantLoader>,
}

impl Relations {
    fn new(db: &DatabaseConnection, cache: &Arc<UserRowsCache>, window: Duration) -> Self {
        let (db, cache) = (db.clone(), cache.clone());
        Self {
            users: DataLoader::new(
                UserLoader {
                    db: db.clone(),
                    cache: cache.clone(),
                },
                tokio::spawn,
            )
            .delay(window),
            subscriptions: DataLoader::new(
                SubscriptionLoader {
                    db: db.clone(),
                    cache: cache.clone(),
                },
                tokio::spawn,
            )
            .delay(window),
            grants: DataLoader::new(GrantLoader { db, cache }, tokio::spawn).delay(window),
        }
    }
}

/// Which of a user's relations a refresh reloads.
#[derive(Clone, Copy)]
enum Relation {
    User,
    Subscriptions,
    Grants,
}

/// A loader's failure is ours, never the client's: `INTERNAL`, with what was loaded.
fn failed(what: &'static str) -> impl FnOnce(Arc<DbErr>) -> ApiError {
    move |e| ApiError::Internal(anyhow::anyhow!(e).context(what))
}

impl Loaders {
    pub fn new(db: &DatabaseConnection, cache: &Arc<UserRowsCache>) -> Self {
        Self(Arc::new(Shared {
            reads: Relations::new(db, cache, Duration::from_millis(1)),
            refreshes: Relations::new(db, cache, REFRESH_WINDOW),
            stripe_features: DataLoader::new(StripeFeaturesLoader { db: db.clone() }, tokio::spawn),
            cache: cache.clone(),
        }))
    }

    /// A cache hit's value; when the cache asks this reader to refresh the
    /// entry, it is reloaded off the request path (and stored under a
    /// ticket taken before the read). A failed reload leaves the entry to
    /// expire and be read by a request.
    fn hit<T>(&self, found: Option<(T, bool)>, relation: Relation, pid: Uuid) -> Option<T> {
        let (value, refresh) = found?;
        if refresh {
            let this = self.clone();
            tokio::spawn(async move {
                let r = &this.0.refreshes;
                let reloaded = match relation {
                    Relation::User => r.users.load_one(pid).await.map(drop),
                    Relation::Subscriptions => r.subscriptions.load_one(pid).await.map(drop),
                    Relation::Grants => r.grants.load_one(pid).await.map(drop),
                };
                if let Err(e) = reloaded {
                    tracing::warn!(error = ?e, "refreshing cached rows failed");
                }
            });
        }
        Some(value)
    }

    /// The user with this public id. A cached row is returned at once: the
    /// DataLoader's batching (a spawned task and a 1 ms window) only pays off
    /// for the database.
    pub async fn user(&self, pid: Uuid) -> ApiResult<Option<Arc<users::Model>>> {
        match self.hit(self.0.cache.user(&pid), Relation::User, pid) {
            Some(user) => Ok(Some(user)),
            None => self
                .0
                .reads
                .users
                .load_one(pid)
                .await
                .map_err(failed("load user")),
        }
    }

    /// Every subscription of the user with this public id.
    pub async fn subscriptions_of(
        &self,
        pid: Uuid,
    ) -> ApiResult<Arc<[entity::subscriptions::Model]>> {
        let found = self.0.cache.subscriptions(&pid);
        match self.hit(found, Relation::Subscriptions, pid) {
            Some(subs) => Ok(subs),
            None => Ok(self
                .0
                .reads
                .subscriptions
                .load_one(pid)
                .await
                .map_err(failed("load subscriptions"))?
                .unwrap_or_else(|| Arc::from([]))),
        }
    }

    /// The user's comp grants that are not revoked or over.
    pub async fn grants_of(&self, pid: Uuid) -> ApiResult<Arc<[entity::grants::Model]>> {
        match self.hit(self.0.cache.grants(&pid), Relation::Grants, pid) {
            Some(grants) => Ok(grants),
            None => Ok(self
                .0
                .reads
                .grants
                .load_one(pid)
                .await
                .map_err(failed("load grants"))?
                .unwrap_or_else(|| Arc::from([]))),
        }
    }

    /// The stored Stripe entitlements of each of these customers.
    pub async fn stripe_features_of(
        &self,
        customers: impl IntoIterator<Item = String>,
    ) -> ApiResult<HashMap<String, Vec<String>>> {
        self.0
            .stripe_features
            .load_many(customers)
            .await
            .map_err(failed("load Stripe entitlements"))
    }
}

/// Every subscription of a user, keyed by the user's public id.
pub struct SubscriptionLoader {
    db: DatabaseConnection,
    cache: Arc<UserRowsCache>,
}

impl Loader<Uuid> for SubscriptionLoader {
    type Value = Arc<[entity::subscriptions::Model]>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let ticket = self.cache.ticket();
        let rows = db::subscriptions::by_user_pids(&self.db, keys).await?;
        let loaded = by_user(keys, rows);
        self.cache.put_subscriptions(ticket, &loaded);
        Ok(loaded)
    }
}

/// Every comp grant of a user that is not revoked or over, keyed by the
/// user's public id.
pub struct GrantLoader {
    db: DatabaseConnection,
    cache: Arc<UserRowsCache>,
}

impl Loader<Uuid> for GrantLoader {
    type Value = Arc<[entity::grants::Model]>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let ticket = self.cache.ticket();
        let rows = db::grants::live_of_pids(&self.db, keys, chrono::Utc::now()).await?;
        let loaded = by_user(keys, rows);
        self.cache.put_grants(ticket, &loaded);
        Ok(loaded)
    }
}

/// A customer's active entitlements from Stripe, keyed by Stripe customer id.
pub struct StripeFeaturesLoader {
    db: DatabaseConnection,
}

impl Loader<String> for StripeFeaturesLoader {
    type Value = Vec<String>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Self::Value>, Self::Error> {
        Ok(db::stripe_entitlements::of_customers(&self.db, keys).await?)
    }
}
