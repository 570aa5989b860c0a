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
}

impl Loaders {
    pub fn new(db: &DatabaseConnection) -> Self {
        Self {
            users: DataLoader::new(UserLoader { db: db.clone() }, tokio::spawn),
        }
    }
}
