//! A map whose entries expire, sharded to keep lock hold times short under
//! many concurrent requests, and bounded in size. An entry may also name a
//! point before its expiry from which the first reader is told to refresh it.

use std::{collections::HashMap, hash::Hash, sync::Mutex, time::Instant};

use uuid::Uuid;

pub const SHARDS: usize = 16;

/// When an entry should be read again (`refresh_at`), and when it must no
/// longer be used (`expires`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    pub refresh_at: Instant,
    pub expires: Instant,
}

pub struct TtlMap<K, V> {
    /// Each value with its lifetime.
    shards: Vec<Mutex<HashMap<K, (Lifetime, V)>>>,
    max_per_shard: usize,
}

impl<K: Eq + Hash + Copy + ShardKey, V: Clone> TtlMap<K, V> {
    pub fn new(max_entries: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            max_per_shard: max_entries.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(&self, k: &K) -> std::sync::MutexGuard<'_, HashMap<K, (Lifetime, V)>> {
        // A poisoned shard only means a panic elsewhere mid-insert; the map is still valid.
        self.shards[k.shard() % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, k: &K, now: Instant) -> Option<V> {
        self.get_refreshing(k, now).map(|(v, _)| v)
    }

    /// The value unless expired, and whether this reader is the one to
    /// refresh it: the first past `refresh_at` (later readers are not told
    /// again, so one refresh runs, not one per request).
    pub fn get_refreshing(&self, k: &K, now: Instant) -> Option<(V, bool)> {
        let mut shard = self.shard(k);
        match shard.get_mut(k) {
            Some((life, v)) if now < life.expires => {
                let refresh = now >= life.refresh_at;
                if refresh {
                    life.refresh_at = life.expires;
                }
                Some((v.clone(), refresh))
            }
            Some(_) => {
                shard.remove(k);
                None
            }
            None => None,
        }
    }

    /// Inserts unless `still_fresh`, asked under the shard's lock, says no:
    /// an invalidation bumps the epoch before it takes this lock to remove,
    /// so a stale insert either sees the new epoch or is removed after.
    pub fn insert(&self, k: K, v: V, life: Lifetime, now: Instant, still_fresh: impl Fn() -> bool) {
        let mut shard = self.shard(&k);
        if !still_fresh() {
            return;
        }
        if shard.len() >= self.max_per_shard {
            shard.retain(|_, (life, _)| now < life.expires);
            if shard.len() >= self.max_per_shard {
                shard.clear();
            }
        }
        shard.insert(k, (life, v));
    }

    pub fn remove(&self, k: &K) {
        self.shard(k).remove(k);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    pub fn clear(&self) {
        for shard in &self.shards {
            shard.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }
}

pub trait ShardKey {
    fn shard(&self) -> usize;
}

impl ShardKey for Uuid {
    fn shard(&self) -> usize {
        // v4 ids are random: their last byte spreads keys evenly.
        usize::from(self.as_bytes()[15])
    }
}

impl ShardKey for [u8; 32] {
    fn shard(&self) -> usize {
        // A SHA-256: any byte spreads keys evenly.
        usize::from(self[0])
    }
}
