//! Ids of events this process knows are stored. Stripe retries and duplicates
//! deliveries; answering a known id from memory spares the database a write
//! attempt (on SQLite, a turn at the single write lock). Only ids whose row
//! was committed (or found) go in, so a hit is always safe to acknowledge;
//! a miss just falls through to the database's own duplicate check.

use std::{
    collections::{HashSet, VecDeque},
    sync::Mutex,
};

pub struct RecentEvents {
    inner: Mutex<Inner>,
    capacity: usize,
}

#[derive(Default)]
struct Inner {
    ids: HashSet<String>,
    /// Insertion order, to forget the oldest first.
    order: VecDeque<String>,
}

impl RecentEvents {
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::default(),
            capacity: capacity.max(1),
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.lock().ids.contains(id)
    }

    /// Records an id whose row is durably stored.
    pub fn stored(&self, id: &str) {
        let mut inner = self.lock();
        if inner.ids.contains(id) {
            return;
        }
        if inner.order.len() >= self.capacity
            && let Some(oldest) = inner.order.pop_front()
        {
            inner.ids.remove(&oldest);
        }
        inner.ids.insert(id.to_owned());
        inner.order.push_back(id.to_owned());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Poisoned only by a panic mid-update of two plain collections.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::RecentEvents;

    #[test]
    fn remembers_stored_ids_and_forgets_the_oldest_past_capacity() {
        let recent = RecentEvents::new(2);
        assert!(!recent.contains("evt_1"));
        recent.stored("evt_1");
        recent.stored("evt_2");
        recent.stored("evt_1");
        assert!(recent.contains("evt_1") && recent.contains("evt_2"));
        recent.stored("evt_3");
        assert!(!recent.contains("evt_1"));
        assert!(recent.contains("evt_2") && recent.contains("evt_3"));
    }
}
