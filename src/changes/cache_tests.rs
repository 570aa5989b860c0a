//! The rows cache and its map: expiry, races with invalidation, bounds.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use entity::subscriptions;
use uuid::Uuid;

use super::UserRowsCache;
use crate::changes::ttl_map::{Lifetime, SHARDS, TtlMap};

fn sub(pid: Uuid) -> (Uuid, Arc<[subscriptions::Model]>) {
    (pid, Arc::from([]))
}

fn life(t0: Instant, refresh: u64, expires: u64) -> Lifetime {
    Lifetime {
        refresh_at: t0 + Duration::from_secs(refresh),
        expires: t0 + Duration::from_secs(expires),
    }
}

#[test]
fn an_entry_asks_one_reader_to_refresh_it_and_ends_at_its_expiry() {
    let map: TtlMap<Uuid, u8> = TtlMap::new(100);
    let (k, t0) = (Uuid::new_v4(), Instant::now());
    map.insert(k, 1, life(t0, 3, 5), t0, || true);
    let at = |s: u64| map.get_refreshing(&k, t0 + Duration::from_secs(s));
    assert_eq!(at(0), Some((1, false)));
    assert_eq!(at(2), Some((1, false)));
    assert_eq!(at(3), Some((1, true)), "the first reader past refresh_at");
    assert_eq!(at(4), Some((1, false)), "and only the first");
    assert_eq!(map.get(&k, t0 + Duration::from_secs(4)), Some(1));
    assert_eq!(at(5), None, "expired");
    assert_eq!(map.get(&k, t0), None, "and removed");
    // A refresh stores a new lifetime, which asks again later.
    map.insert(k, 2, life(t0, 8, 10), t0, || true);
    assert_eq!(at(8), Some((2, true)));
}

#[test]
fn rows_are_refreshed_in_the_third_quarter_of_the_ttl_and_never_older_than_it() {
    let t0 = Instant::now();
    let cache = UserRowsCache::new(Duration::from_secs(10), 10);
    let lives: Vec<Lifetime> = (0..200).map(|_| cache.expiry(t0)).collect();
    assert!(
        lives
            .iter()
            .all(|l| l.expires == t0 + Duration::from_secs(10))
    );
    let refresh: Vec<Duration> = lives.iter().map(|l| l.refresh_at - t0).collect();
    assert!(
        refresh
            .iter()
            .all(|e| (Duration::from_secs(5)..=Duration::from_millis(7500)).contains(e))
    );
    let spread = refresh
        .iter()
        .max()
        .unwrap()
        .saturating_sub(*refresh.iter().min().unwrap());
    assert!(
        spread > Duration::from_secs(1),
        "refreshes spread out: {spread:?}"
    );
    // What is never refreshed (keys) ends at such a random point instead.
    let fixed = cache.fixed_expiry(t0);
    assert_eq!(fixed.refresh_at, fixed.expires);
    assert!(fixed.expires >= t0 + Duration::from_secs(5));
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
    assert_eq!(cache.subscriptions(&pid), Some((Arc::from([]), false)));
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
        map.insert(Uuid::new_v4(), 0, life(now, 60, 60), now, || true);
    }
    let total = map.len();
    assert!(total <= SHARDS * 4, "{total} entries");
}
