//! Live connection events: the feed follower hands each committed event (`connection_events`)
//! to the subscribers of its target on this server.
//!
//! The hub only fans out what the follower read from the database, so every server delivers
//! the events of writes made through any server. Per target user, events arrive in commit
//! order: every action on a pair locks both users' rows, so the actions concerning one user
//! commit one after another, each taking its change id after the previous one committed, and
//! the follower hands them over in id order.
//!
//! A subscriber that falls its capacity of events behind (`WS_SUBSCRIPTION_BUFFER`) is dropped
//! (its stream ends with an error) rather than holding memory for a client that does not read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{mpsc, watch};

use crate::store::EventRow;

/// The subscribers of this server, by the user they are for.
#[derive(Default)]
pub struct EventHub {
    subscribers: Mutex<HashMap<i64, Vec<Subscriber>>>,
    next_id: AtomicU64,
    /// Bumped when the settings may have changed (a settings row, an import): live
    /// subscriptions check friendship mode again.
    settings: watch::Sender<u64>,
    /// Events handed to at least one subscriber.
    pub delivered: AtomicU64,
}

struct Subscriber {
    id: u64,
    events: mpsc::Sender<Arc<EventRow>>,
    overflowed: Arc<AtomicBool>,
}

/// One live subscription: its events, and the settings signal. Unregisters when dropped.
pub struct Subscription {
    hub: Arc<EventHub>,
    user: i64,
    id: u64,
    pub events: mpsc::Receiver<Arc<EventRow>>,
    pub settings: watch::Receiver<u64>,
    overflowed: Arc<AtomicBool>,
}

impl Subscription {
    /// Whether the hub dropped this subscriber for falling behind (its `events` then end).
    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Relaxed)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut subscribers = self.hub.lock();
        if let Some(list) = subscribers.get_mut(&self.user) {
            list.retain(|s| s.id != self.id);
            if list.is_empty() {
                subscribers.remove(&self.user);
            }
        }
    }
}

impl EventHub {
    pub fn new() -> EventHub {
        EventHub::default()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<i64, Vec<Subscriber>>> {
        // A panic elsewhere while holding the lock leaves the map consistent (every change
        // is one call on it): keep serving.
        self.subscribers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a subscriber for `user`'s events: it receives every event handed over
    /// from now on, and is dropped when `capacity` of them wait for it.
    ///
    /// The channel costs memory as it fills, not up front: tokio's bounded channel allocates
    /// its slots in blocks of 32 as events arrive (the capacity is a count), so an idle
    /// subscription holds one block whatever the capacity. A slot is an `Arc` (8 bytes, the
    /// event shared by its subscribers) rather than the row itself (~150 bytes): the block
    /// every idle subscription holds is 256 bytes instead of ~5 KiB.
    pub fn subscribe(self: &Arc<Self>, user: i64, capacity: usize) -> Subscription {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let overflowed = Arc::new(AtomicBool::new(false));
        self.lock().entry(user).or_default().push(Subscriber {
            id,
            events: tx,
            overflowed: overflowed.clone(),
        });
        Subscription {
            hub: self.clone(),
            user,
            id,
            events: rx,
            settings: self.settings.subscribe(),
            overflowed,
        }
    }

    /// Whether anyone here subscribes to `user`'s events (the follower reads only those).
    pub fn wants(&self, user: i64) -> bool {
        self.lock().contains_key(&user)
    }

    /// How many subscriptions are live.
    pub fn subscribers(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// Hands `event` to its target's subscribers.
    pub fn publish(&self, event: EventRow) {
        let mut subscribers = self.lock();
        let Some(list) = subscribers.get_mut(&event.target_id) else {
            return;
        };
        let event = Arc::new(event);
        list.retain(
            |subscriber| match subscriber.events.try_send(event.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    subscriber.overflowed.store(true, Ordering::Relaxed);
                    false
                }
                // The subscription is going away.
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            },
        );
        if list.is_empty() {
            subscribers.remove(&event.target_id);
        }
        self.delivered.fetch_add(1, Ordering::Relaxed);
    }

    /// Tells live subscriptions the settings may have changed.
    pub fn settings_changed(&self) {
        self.settings.send_modify(|generation| *generation += 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, target: i64) -> EventRow {
        EventRow {
            id,
            kind: 1,
            actor_id: 1,
            target_id: target,
            at_us: 0,
            target_status: None,
            request_id: None,
            request_from_id: None,
            request_to_id: None,
            request_created_us: None,
            request_rejected_us: None,
            request_viewed_us: None,
        }
    }

    #[tokio::test]
    async fn events_reach_their_target_only_in_order() {
        let hub = Arc::new(EventHub::new());
        let mut seven = hub.subscribe(7, 16);
        let mut eight = hub.subscribe(8, 16);
        for id in 1..=3 {
            hub.publish(event(id, 7));
        }
        hub.publish(event(4, 9));
        for id in 1..=3 {
            assert_eq!(seven.events.recv().await.map(|e| e.id), Some(id));
        }
        assert!(eight.events.try_recv().is_err());
        assert!(hub.wants(7) && hub.wants(8) && !hub.wants(9));
    }

    #[tokio::test]
    async fn dropping_a_subscription_unregisters_it() {
        let hub = Arc::new(EventHub::new());
        let first = hub.subscribe(7, 16);
        let _second = hub.subscribe(7, 16);
        assert_eq!(hub.subscribers(), 2);
        drop(first);
        assert_eq!(hub.subscribers(), 1);
        assert!(hub.wants(7));
    }

    #[tokio::test]
    async fn a_subscriber_that_does_not_read_is_dropped() {
        let hub = Arc::new(EventHub::new());
        const CAPACITY: usize = 16;
        let mut slow = hub.subscribe(7, CAPACITY);
        for id in 0..=CAPACITY as i64 {
            hub.publish(event(id, 7));
        }
        assert!(slow.overflowed());
        assert!(!hub.wants(7));
        let mut received = 0;
        while slow.events.recv().await.is_some() {
            received += 1;
        }
        assert_eq!(received, CAPACITY);
    }
}
