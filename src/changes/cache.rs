//! A short-lived, process-wide cache of each user's rows (the user, their
//! subscriptions, comp grants and active API keys), in front of the
//! DataLoaders. Every
//! read of `me`, `subscription`, `entitlements`, a guarded field or a request
//! with an API key needs them, and they change only through writes that the
//! change feed announces:
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
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use entity::{grants, subscriptions, users};
use uuid::Uuid;

use super::ttl_map::{Lifetime, TtlMap};

/// What a loader read, with the ticket to store it under; see [`UserRowsCache::ticket`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket(u64);

/// Whose an API key is: fixed for the key's life, so it may be kept for
/// as long as the TTL; whether the key is still active is the owner's rows'.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyOwner {
    pub key: Uuid,
    pub user: Uuid,
}

pub struct UserRowsCache {
    ttl: Duration,
    // Shared: a hit hands out the rows without copying their strings.
    users: TtlMap<Uuid, Arc<users::Model>>,
    subscriptions: TtlMap<Uuid, Arc<[subscriptions::Model]>>,
    /// Each user's comp grants that are not revoked or over.
    grants: TtlMap<Uuid, Arc<[grants::Model]>>,
    /// Each user's API keys that are not revoked.
    active_keys: TtlMap<Uuid, Arc<[Uuid]>>,
    /// By the SHA-256 of the key.
    key_owners: TtlMap<[u8; 32], KeyOwner>,
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
            grants: TtlMap::new(max_users),
            active_keys: TtlMap::new(max_users),
            key_owners: TtlMap::new(max_users),
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

    /// The user's row, and whether the caller should refresh it (see [`Self::expiry`]).
    pub fn user(&self, pid: &Uuid) -> Option<(Arc<users::Model>, bool)> {
        self.look(|now| self.users.get_refreshing(pid, now))
    }

    /// A lookup when the cache is on, counted as a hit or a miss.
    fn look<T>(&self, get: impl FnOnce(Instant) -> Option<T>) -> Option<T> {
        if !self.enabled() {
            return None;
        }
        let found = get(Instant::now());
        crate::telemetry::metrics::rows_cache(found.is_some());
        found
    }

    pub fn subscriptions(&self, pid: &Uuid) -> Option<(Arc<[subscriptions::Model]>, bool)> {
        self.look(|now| self.subscriptions.get_refreshing(pid, now))
    }

    pub fn grants(&self, pid: &Uuid) -> Option<(Arc<[grants::Model]>, bool)> {
        self.look(|now| self.grants.get_refreshing(pid, now))
    }

    pub fn put_grants<'a>(
        &self,
        ticket: Ticket,
        rows: impl IntoIterator<Item = (&'a Uuid, &'a Arc<[grants::Model]>)>,
    ) {
        if self.fresh(ticket) {
            let now = Instant::now();
            for (pid, grants) in rows {
                self.grants
                    .insert(*pid, grants.clone(), self.expiry(now), now, || {
                        self.fresh(ticket)
                    });
            }
        }
    }

    pub fn active_keys(&self, pid: &Uuid) -> Option<Arc<[Uuid]>> {
        self.look(|now| self.active_keys.get(pid, now))
    }

    pub fn key_owner(&self, hash: &[u8; 32]) -> Option<KeyOwner> {
        self.look(|now| self.key_owners.get(hash, now))
    }

    pub fn put_active_keys(&self, ticket: Ticket, pid: Uuid, keys: Arc<[Uuid]>) {
        if self.fresh(ticket) {
            let now = Instant::now();
            self.active_keys
                .insert(pid, keys, self.fixed_expiry(now), now, || {
                    self.fresh(ticket)
                });
        }
    }

    /// A key's owner never changes, so no ticket is needed.
    pub fn put_key_owner(&self, hash: [u8; 32], owner: KeyOwner) {
        if self.enabled() {
            let now = Instant::now();
            self.key_owners
                .insert(hash, owner, self.fixed_expiry(now), now, || true);
        }
    }

    /// An entry stored at `now` is used until the TTL is over, so nothing
    /// is older than the TTL; from a random point in its third quarter, the
    /// first request that reads it reloads it in the background. A user in
    /// use is so read again before the entry ends (with at least a quarter
    /// of the TTL to spare: under 1,024 connections a reload can wait
    /// seconds for its turn), and their requests never wait for the
    /// database; the random point spreads those reloads out.
    fn expiry(&self, now: Instant) -> Lifetime {
        let quarter = self.ttl / 4;
        Lifetime {
            refresh_at: now + quarter * 2 + quarter.mul_f64(rand::random::<f64>()),
            expires: now + self.ttl,
        }
    }

    /// For what is read without a refresh (keys): it ends at a random point
    /// in the second half of the TTL, so entries stored together do not all
    /// reload at once.
    fn fixed_expiry(&self, now: Instant) -> Lifetime {
        let half = self.ttl / 2;
        let end = now + half + half.mul_f64(rand::random::<f64>());
        Lifetime {
            refresh_at: end,
            expires: end,
        }
    }

    pub fn put_users(&self, ticket: Ticket, rows: impl IntoIterator<Item = Arc<users::Model>>) {
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
        rows: impl IntoIterator<Item = (&'a Uuid, &'a Arc<[subscriptions::Model]>)>,
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

    /// The user's access data changed: forget their rows.
    pub fn invalidate(&self, pid: Uuid) {
        // Bump first: a read racing this one must not store what it saw.
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.users.remove(&pid);
        self.subscriptions.remove(&pid);
        self.grants.remove(&pid);
        self.active_keys.remove(&pid);
    }

    /// Changes may have been missed: forget everything.
    pub fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.users.clear();
        self.subscriptions.clear();
        self.grants.clear();
        self.active_keys.clear();
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
