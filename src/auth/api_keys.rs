//! API keys as credentials: `ent_` and 43 base64url characters, looked up by
//! their SHA-256 (an index lookup of a hash, so the time taken does not
//! depend on how much of a real key a guess shares). Whose a key is comes
//! from the rows cache or the database; whether it is still active from the
//! owner's cached rows, which the change feed evicts on every instance when
//! a key is created or revoked.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::Utc;
use entity::api_keys as keys;
use sea_orm::{DatabaseConnection, DbErr};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{caller::KeyCaller, opaque};
use crate::{
    changes::{ChangeFeed, cache::KeyOwner},
    db::{self, api_keys::NewKey},
    domain::catalog::LimitValue,
};

/// Every Entitle key starts so: it is never mistaken for a JWT.
pub const PREFIX: &str = "ent_";
/// How often, at most, a key's `lastUsedAt` is written.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// The shape of a key: the prefix and 32 random bytes in base64url.
pub fn is_well_formed(secret: &str) -> bool {
    secret.strip_prefix(PREFIX).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[derive(Clone)]
pub struct ApiKeys {
    db: DatabaseConnection,
    /// Creating or revoking a key announces it, so every instance's cached
    /// set of the owner's active keys is evicted.
    changes: ChangeFeed,
    /// When this process last wrote each key's `lastUsedAt`.
    touched: Arc<Mutex<HashMap<Uuid, Instant>>>,
}

/// Why a key was not created.
#[derive(Debug)]
pub enum CreateError {
    /// The user holds `max` active keys already.
    AtLimit(u32),
    Db(DbErr),
}

impl From<DbErr> for CreateError {
    fn from(e: DbErr) -> Self {
        Self::Db(e)
    }
}

impl ApiKeys {
    pub fn new(db: DatabaseConnection, changes: ChangeFeed) -> Self {
        Self {
            db,
            changes,
            touched: Arc::default(),
        }
    }

    /// Creates a key for the user, within `limit` active keys: counted and
    /// inserted under the owner's row lock, so concurrent creates cannot pass
    /// the limit together. Returns the row and the secret (shown once).
    pub async fn create(
        &self,
        user: &entity::users::Model,
        name: String,
        limit: LimitValue,
    ) -> Result<(keys::Model, String), CreateError> {
        let secret = format!("{PREFIX}{}", opaque::generate());
        let txn = db::begin_write(&self.db).await?;
        db::api_keys::lock_owner(&txn, user.id).await?;
        if let LimitValue::Finite(max) = limit
            && db::api_keys::count_active(&txn, user.id).await? >= u64::from(max)
        {
            return Err(CreateError::AtLimit(max));
        }
        let key = NewKey {
            user_id: user.id,
            name,
            prefix: secret.chars().take(12).collect(),
            key_hash: opaque::hash(&secret),
        };
        let key = db::api_keys::insert(&txn, key, Utc::now()).await?;
        let announced = self.changes.announce(&txn, user.pid).await?;
        txn.commit().await?;
        self.changes.committed(Some(announced));
        Ok((key, secret))
    }

    /// Revokes one of the user's keys, refused from then on by every
    /// instance (at once here, when the change feed delivers elsewhere).
    /// False when there is no such live key.
    pub async fn revoke(&self, user: &entity::users::Model, id: Uuid) -> Result<bool, DbErr> {
        let txn = db::begin_write(&self.db).await?;
        if !db::api_keys::revoke(&txn, user.id, id, Utc::now()).await? {
            return Ok(false);
        }
        let announced = self.changes.announce(&txn, user.pid).await?;
        txn.commit().await?;
        self.changes.committed(Some(announced));
        Ok(true)
    }

    /// The key's owner when the key is well-formed, known and not revoked.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<KeyCaller>, DbErr> {
        if !is_well_formed(secret) {
            return Ok(None);
        }
        let Some(owner) = self.owner(secret).await? else {
            return Ok(None);
        };
        let caller = KeyCaller {
            key: owner.key,
            user: owner.user,
        };
        if !self.is_active(caller).await? {
            return Ok(None);
        }
        self.touch(caller.key);
        Ok(Some(caller))
    }

    /// Whether the key is still active (checked again on every operation of
    /// a WebSocket that authenticated with it).
    pub async fn is_active(&self, caller: KeyCaller) -> Result<bool, DbErr> {
        let cache = self.changes.cache();
        let active = match cache.active_keys(&caller.user) {
            Some(keys) => keys,
            None => {
                let ticket = cache.ticket();
                let keys: Arc<[Uuid]> = db::api_keys::active_ids_of_pid(&self.db, caller.user)
                    .await?
                    .into();
                cache.put_active_keys(ticket, caller.user, keys.clone());
                keys
            }
        };
        Ok(active.contains(&caller.key))
    }

    async fn owner(&self, secret: &str) -> Result<Option<KeyOwner>, DbErr> {
        let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let cache = self.changes.cache();
        if let Some(owner) = cache.key_owner(&digest) {
            return Ok(Some(owner));
        }
        let found = db::api_keys::owner_by_hash(&self.db, &opaque::hash(secret)).await?;
        Ok(found.map(|(key, user)| {
            let owner = KeyOwner { key, user };
            cache.put_key_owner(digest, owner);
            owner
        }))
    }

    /// Writes `lastUsedAt` in the background, at most once a minute per key
    /// from this process (and the write itself skips a key another instance
    /// touched within the minute).
    fn touch(&self, key: Uuid) {
        let now = Instant::now();
        {
            let mut touched = self.touched.lock().unwrap_or_else(|p| p.into_inner());
            if touched
                .get(&key)
                .is_some_and(|t| now.duration_since(*t) < TOUCH_EVERY)
            {
                return;
            }
            if touched.len() >= 100_000 {
                touched.retain(|_, t| now.duration_since(*t) < TOUCH_EVERY);
            }
            touched.insert(key, now);
        }
        let db = self.db.clone();
        tokio::spawn(async move {
            let every = chrono::Duration::from_std(TOUCH_EVERY).unwrap_or_default();
            if let Err(e) = db::api_keys::touch(&db, key, Utc::now(), every).await {
                tracing::warn!(error = %e, "recording an API key's last use failed");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_entitle_shaped_keys_are_looked_up() {
        let real = format!("{PREFIX}{}", opaque::generate());
        assert!(is_well_formed(&real));
        for bad in [
            "",
            "ent_",
            "ent_short",
            &real[..real.len() - 1],
            &format!("{real}x"),
            &real.replace("ent_", "sk_"),
            &format!("ent_{}", "é".repeat(43)),
            "eyJhbGciOiJIUzI1NiJ9.e30.sig",
        ] {
            assert!(!is_well_formed(bad), "{bad:?}");
        }
    }
}
