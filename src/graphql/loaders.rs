//! DataLoaders, created per request (or per WebSocket connection) so nothing
//! is cached across callers; fields that load the same relation share a batch.

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::{DataLoader, Loader};
use entity::users;
use sea_orm::{DatabaseConnection, DbErr};
use uuid::Uuid;

use crate::db;

pub struct UserLoader {
    db: DatabaseConnection,
}

impl Loader<Uuid> for UserLoader {
    type Value = users::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let rows = db::users::by_pids(&self.db, keys).await?;
        Ok(rows.into_iter().map(|u| (u.pid, u)).collect())
    }
}

pub struct Loaders {
    pub users: DataLoader<UserLoader>,
    pub subscriptions: DataLoader<SubscriptionLoader>,
    pub stripe_features: DataLoader<StripeFeaturesLoader>,
}

impl Loaders {
    pub fn new(db: &DatabaseConnection) -> Self {
        Self {
            users: DataLoader::new(UserLoader { db: db.clone() }, tokio::spawn),
            subscriptions: DataLoader::new(SubscriptionLoader { db: db.clone() }, tokio::spawn),
            stripe_features: DataLoader::new(StripeFeaturesLoader { db: db.clone() }, tokio::spawn),
        }
    }
}

/// Every subscription of a user, keyed by the user's public id.
pub struct SubscriptionLoader {
    db: DatabaseConnection,
}

impl Loader<Uuid> for SubscriptionLoader {
    type Value = Vec<entity::subscriptions::Model>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Self::Value>, Self::Error> {
        let mut found = db::subscriptions::by_user_pids(&self.db, keys).await?;
        // A user without subscriptions is a loaded empty list, not a miss.
        Ok(keys
            .iter()
            .map(|k| (*k, found.remove(k).unwrap_or_default()))
            .collect())
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
