//! Rate limits for the account mutations, per email and per client address.
//! GCRA (one timestamp per key): `burst` attempts at once, then one attempt
//! per `window / burst`. In-process: each instance limits on its own, which
//! bounds a brute force at (instances × quota).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::config::Quota;

/// The GCRA decision for one key: the new theoretical arrival time, or how
/// long to wait.
pub fn decide(tat: Option<Instant>, now: Instant, quota: Quota) -> Result<Instant, Duration> {
    let interval = quota.window / quota.burst.max(1);
    let tolerance = quota.window.saturating_sub(interval);
    let tat = tat.map_or(now, |t| t.max(now));
    let earliest = tat.checked_sub(tolerance).unwrap_or(now);
    if earliest > now {
        Err(earliest - now)
    } else {
        Ok(tat + interval)
    }
}

/// The rate-limit key of a client address. One IPv6 client holds a whole
/// /64, so IPv6 addresses are keyed by their /64; IPv4-mapped ones as IPv4.
pub fn client_key(ip: std::net::IpAddr) -> String {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

pub struct RateLimiter {
    quota: Quota,
    keys: Mutex<HashMap<String, Instant>>,
}

/// Past this many keys, expired ones are swept, so memory stays bounded by the
/// number of keys active within one window.
const SWEEP_AT: usize = 10_000;

impl RateLimiter {
    pub fn new(quota: Quota) -> Self {
        Self {
            quota,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one attempt for `key`; `Err` holds the seconds to wait (at least 1).
    pub fn check(&self, key: &str) -> Result<(), u64> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), u64> {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= SWEEP_AT {
            keys.retain(|_, tat| *tat > now);
        }
        match decide(keys.get(key).copied(), now, self.quota) {
            Ok(tat) => {
                keys.insert(key.to_owned(), tat);
                Ok(())
            }
            Err(wait) => Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: Quota = Quota {
        burst: 3,
        window: Duration::from_secs(60),
    };

    #[test]
    fn a_burst_passes_then_attempts_are_spaced() {
        let t0 = Instant::now();
        let l = RateLimiter::new(Q);
        for _ in 0..3 {
            assert_eq!(l.check_at("a", t0), Ok(()));
        }
        assert_eq!(l.check_at("a", t0), Err(20));
        // Other keys are independent.
        assert_eq!(l.check_at("b", t0), Ok(()));
        // One slot frees up every window / burst.
        assert_eq!(l.check_at("a", t0 + Duration::from_secs(19)), Err(1));
        assert_eq!(l.check_at("a", t0 + Duration::from_secs(20)), Ok(()));
        assert!(l.check_at("a", t0 + Duration::from_secs(20)).is_err());
        // After a whole quiet window the full burst is back.
        let later = t0 + Duration::from_secs(200);
        for _ in 0..3 {
            assert_eq!(l.check_at("a", later), Ok(()));
        }
        assert!(l.check_at("a", later).is_err());
    }

    #[test]
    fn refused_attempts_do_not_extend_the_wait() {
        let t0 = Instant::now();
        let l = RateLimiter::new(Q);
        for _ in 0..3 {
            l.check_at("a", t0).unwrap();
        }
        for _ in 0..100 {
            assert!(l.check_at("a", t0).is_err());
        }
        assert_eq!(l.check_at("a", t0 + Duration::from_secs(20)), Ok(()));
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let key = |s: &str| client_key(s.parse().unwrap());
        assert_eq!(key("203.0.113.9"), "203.0.113.9");
        assert_eq!(key("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:bbbb::2"), key("2001:db8:1:2:aaaa::1"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
    }

    #[test]
    fn expired_keys_are_swept() {
        let t0 = Instant::now();
        let l = RateLimiter::new(Q);
        for i in 0..SWEEP_AT {
            l.check_at(&i.to_string(), t0).unwrap();
        }
        l.check_at("late", t0 + Duration::from_secs(3600)).unwrap();
        assert_eq!(l.keys.lock().unwrap().len(), 1);
    }
}
