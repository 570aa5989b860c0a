//! A map whose entries expire, sharded to keep lock hold times short under
//! many concurrent requests, and bounded in size.

use std::{collections::HashMap, hash::Hash, sync::Mutex, time::Instant};

use uuid::Uuid;

pub const SHARDS: usize = 16;

pub struct TtlMap<K, V> {
    /// Each value with the instant it expires.
    shards: Vec<Mutex<HashMap<K, (Instant, V)>>>,
    max_per_shard: usize,
}

impl<K: Eq + Hash + Copy + ShardKey, V: Clone> TtlMap<K, V> {
    pub fn new(max_entries: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            max_per_shard: max_entries.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(&self, k: &K) -> std::sync::MutexGuard<'_, HashMap<K, (Instant, V)>> {
        // A poisoned shard only means a panic elsewhere mid-insert; the map is still valid.
        self.shards[k.shard() % SHARDS]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, k: &K, now: Instant) -> Option<V> {
        let mut shard = self.shard(k);
        match shard.get(k) {
            Some((expires, v)) if now < *expires => Some(v.clone()),
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
    pub fn insert(
        &self,
        k: K,
        v: V,
        expires: Instant,
        now: Instant,
        still_fresh: impl Fn() -> bool,
    ) {
        let mut shard = self.shard(&k);
        if !still_fresh() {
            return;
        }
        if shard.len() >= self.max_per_shard {
            shard.retain(|_, (e, _)| now < *e);
            if shard.len() >= self.max_per_shard {
                shard.clear();
            }
        }
        shard.insert(k, (expires, v));
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
