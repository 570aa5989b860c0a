//! The rows cache and its map: expiry, races with invalidation, bounds.

use std::time::{Duration, Instant};

use entity::subscriptions;
use uuid::Uuid;

use super::UserRowsCache;
use crate::changes::ttl_map::{SHARDS, TtlMap};

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
    let total = map.len();
    assert!(total <= SHARDS * 4, "{total} entries");
}
