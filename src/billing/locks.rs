//! Async locks by key (a user, a Stripe customer), for what one process must
//! serialise on SQLite, where there is no row or advisory lock to take.

use std::{collections::HashMap, sync::Arc};

/// Async locks by key whose entries go away when nobody holds or waits for them.
#[derive(Default)]
pub struct KeyedLocks {
    map: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

pub struct KeyedGuard<'a> {
    locks: &'a KeyedLocks,
    key: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    pub async fn lock(&self, key: &str) -> KeyedGuard<'_> {
        let mutex = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(key.to_owned()).or_default().clone()
        };
        KeyedGuard {
            locks: self,
            key: key.to_owned(),
            guard: Some(mutex.lock_owned().await),
        }
    }
}

impl Drop for KeyedGuard<'_> {
    fn drop(&mut self) {
        self.guard.take();
        let mut map = self.locks.map.lock().unwrap_or_else(|e| e.into_inner());
        // Only the map holds it now: no holder, no waiter.
        if map
            .get(&self.key)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::KeyedLocks;

    #[tokio::test]
    async fn a_key_is_held_by_one_at_a_time_and_forgotten_when_free() {
        let locks = KeyedLocks::default();
        let first = locks.lock("cus_1").await;
        let other = locks.lock("cus_2").await;
        let waiting =
            tokio::time::timeout(std::time::Duration::from_millis(50), locks.lock("cus_1"));
        assert!(waiting.await.is_err(), "a second holder waits");
        drop((first, other));
        let _again = locks.lock("cus_1").await;
        assert_eq!(locks.map.lock().unwrap().len(), 1);
    }
}
