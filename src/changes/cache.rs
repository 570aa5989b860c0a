//! A short-lived, process-wide cache of each user's rows (the user and their
//! subscriptions), in front of the DataLoaders. Every read of `me`,
//! `subscription`, `entitlements` or a guarded field needs them, and they
//! change only when billing changes them, which the change feed announces:
//! the instance that made a change invalidates at once after its commit,
//! other instances when PostgreSQL's NOTIFY reaches them. The time to live
//! bounds what the feed cannot see (a change made by `entitle sync` in
//! another process on SQLite, a notification lost while LISTEN reconnects).
//!
//! Access is still decided per request, with the current time, from the
//! cached rows: a period that ends is seen at once.
//!
//! Each entry lives between half the time to live and all of it, at random:
//! entries filled together (a deploy, a burst of sign-ins) would otherwise
//! expire together and send every request of that moment to the database.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use entity::{subscriptions, users};
use uuid::Uuid;

const SHARDS: usize = 16;

/// A map whose entries expire, sharded to keep lock hold times short under
/// many concurrent requests, and bounded in size.
struct TtlMap<K, V> {
    /// Each value with the instant it expires.
    shards: Vec<Mutex<HashMap<K, (Instant, V)>>>,
    max_per_shard: usize,
}

impl<K: Eq + Hash + Copy + ShardKey, V: Clone> TtlMap<K, V> {
    fn new(max_entries: usize) -> Self {
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

    fn get(&self, k: &K, now: Instant) -> Option<V> {
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
    fn insert(&self, k: K, v: V, expires: Instant, now: Instant, still_fresh: impl Fn() -> bool) {
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

    fn remove(&self, k: &K) {
        self.shard(k).remove(k);
    }

    fn clear(&self) {
        for shard in &self.shards {
            shard.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }
}

trait ShardKey {
    fn shard(&self) -> usize;
}

impl ShardKey for Uuid {
    fn shard(&self) -> usize {
        // v4 ids are random: their last byte spreads keys evenly.
        usize::from(self.as_bytes()[15])
    }
}

/// What a loader read, with the ticket to store it under; see [`UserRowsCache::ticket`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket(u64);

pub struct UserRowsCache {
    ttl: Duration,
    users: TtlMap<Uuid, users::Model>,
    subscriptions: TtlMap<Uuid, Vec<subscriptions::Model>>,
    /// Bumped by every invalidation: a read that began before one may have
    /// seen the old rows, so it is not stored.
    epoch: AtomicU64,
}

impl UserRowsCache {
    /// `ttl` zero turns the cache off.
    pub fn new(ttl: Duration, max_users: usize) -> Self {
        Self {
            ttl,
            users: TtlMap::new(max_users),
            subscriptions: TtlMap::new(max_users),
            epoch: AtomicU64::new(0),
        }
    }

    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// Take before reading the database; pass to `put_*` with what was read.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.epoch.load(Ordering::Acquire))
    }

    pub fn user(&self, pid: &Uuid) -> Option<users::Model> {
        self.enabled()
            .then(|| self.users.get(pid, Instant::now()))
            .flatten()
    }

    pub fn subscriptions(&self, pid: &Uuid) -> Option<Vec<subscriptions::Model>> {
        self.enabled()
            .then(|| self.subscriptions.get(pid, Instant::now()))
            .flatten()
    }

    /// When an entry stored at `now` expires: somewhere in the second half of the TTL.
    fn expiry(&self, now: Instant) -> Instant {
        let half = self.ttl / 2;
        now + half + half.mul_f64(rand::random::<f64>())
    }

    pub fn put_users(&self, ticket: Ticket, rows: impl IntoIterator<Item = users::Model>) {
        if self.fresh(ticket) {
            let now = Instant::now();
            for row in rows {
                self.users
                    .insert(row.pid, row, self.expiry(now), now, || self.fresh(ticket));
            }
        }
    }

    pub fn put_subscriptions<'a>(
        &self,
        ticket: Ticket,
        rows: impl IntoIterator<Item = (&'a Uuid, &'a Vec<subscriptions::Model>)>,
    ) {
        if self.fresh(ticket) {
            let now = Instant::now();
            for (pid, subs) in rows {
                self.subscriptions
                    .insert(*pid, subs.clone(), self.expiry(now), now, || {
                        self.fresh(ticket)
                    });
            }
        }
    }

    fn fresh(&self, ticket: Ticket) -> bool {
        self.enabled() && self.epoch.load(Ordering::Acquire) == ticket.0
    }

    /// The user's billing changed: forget their rows.
    pub fn invalidate(&self, pid: Uuid) {
        // Bump first: a read racing this one must not store what it saw.
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.users.remove(&pid);
        self.subscriptions.remove(&pid);
    }

    /// Changes may have been missed: forget everything.
    pub fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.users.clear();
        self.subscriptions.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(pid: Uuid) -> (Uuid, Vec<subscriptions::Model>) {
        (pid, Vec::new())
    }

    #[test]
    fn entries_expire_in_the_second_half_of_their_time_to_live() {
        let map: TtlMap<Uuid, u8> = TtlMap::new(100);
        let (k, t0) = (Uuid::new_v4(), Instant::now());
        map.insert(k, 1, t0 + Duration::from_secs(5), t0, || true);
        assert_eq!(map.get(&k, t0), Some(1));
        assert_eq!(map.get(&k, t0 + Duration::from_secs(4)), Some(1));
        assert_eq!(map.get(&k, t0 + Duration::from_secs(5)), None);

        let cache = UserRowsCache::new(Duration::from_secs(10), 10);
        let expiries: Vec<Duration> = (0..200).map(|_| cache.expiry(t0) - t0).collect();
        assert!(
            expiries
                .iter()
                .all(|e| (Duration::from_secs(5)..=Duration::from_secs(10)).contains(e))
        );
        let spread = expiries
            .iter()
            .max()
            .unwrap()
            .saturating_sub(*expiries.iter().min().unwrap());
        assert!(
            spread > Duration::from_secs(2),
            "expiries spread out: {spread:?}"
        );
    }

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_stored() {
        let cache = UserRowsCache::new(Duration::from_secs(60), 1000);
        let pid = Uuid::new_v4();
        let (k, v) = sub(pid);
        let ticket = cache.ticket();
        cache.invalidate(Uuid::new_v4());
        cache.put_subscriptions(ticket, [(&k, &v)]);
        assert_eq!(cache.subscriptions(&pid), None);
        // A read begun after the invalidation is stored.
        cache.put_subscriptions(cache.ticket(), [(&k, &v)]);
        assert_eq!(cache.subscriptions(&pid), Some(Vec::new()));
        cache.invalidate(pid);
        assert_eq!(cache.subscriptions(&pid), None);
    }

    #[test]
    fn a_zero_ttl_turns_it_off_and_size_is_bounded() {
        let off = UserRowsCache::new(Duration::ZERO, 1000);
        let (k, v) = sub(Uuid::new_v4());
        off.put_subscriptions(off.ticket(), [(&k, &v)]);
        assert_eq!(off.subscriptions(&k), None);

        let map: TtlMap<Uuid, u8> = TtlMap::new(SHARDS * 4);
        let now = Instant::now();
        for _ in 0..10_000 {
            map.insert(
                Uuid::new_v4(),
                0,
                now + Duration::from_secs(60),
                now,
                || true,
            );
        }
        let total: usize = map.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(total <= SHARDS * 4, "{total} entries");
    }
}
