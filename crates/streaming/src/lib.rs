//! Event bus backends. [`LocalBus`]: in-process broadcast, one channel per name, for the embedded
//! default where the web API, the workers and the streaming API share a process. [`RedisBus`]:
//! Redis pub/sub for roles in separate processes; it subscribes once per channel name and fans
//! out to its process' connections through a `LocalBus`.

mod redis;

pub use crate::redis::RedisBus;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ferrodon_domain::ports::{Event, EventBus, EventReceiver};
use tokio::sync::broadcast;

/// Events kept per shared channel (public, hashtag) for receivers that are behind; a receiver
/// further behind than this is told it lagged (the streaming API drops that client).
pub const DEFAULT_CAPACITY: usize = 256;
/// The same for one account's channels, which carry far fewer events: most connections hold
/// three of these, so they stay small (a slot is about 40 bytes).
pub const ACCOUNT_CHANNEL_CAPACITY: usize = 32;

/// In-process event bus. Channels exist while someone subscribes to them.
pub struct LocalBus {
    channels: Mutex<HashMap<String, broadcast::Sender<Arc<Event>>>>,
    /// For shared channels; account channels get the smaller of this and
    /// [`ACCOUNT_CHANNEL_CAPACITY`].
    capacity: usize,
}

impl LocalBus {
    pub fn new(capacity: usize) -> Self {
        LocalBus { channels: Mutex::new(HashMap::new()), capacity: capacity.max(1) }
    }

    /// Channels with at least one subscriber (metrics, tests).
    pub fn channel_count(&self) -> usize {
        let mut channels = self.lock();
        channels.retain(|_, tx| tx.receiver_count() > 0);
        channels.len()
    }

    /// The names of the channels with at least one subscriber (the others are forgotten).
    pub fn channels(&self) -> Vec<String> {
        let mut channels = self.lock();
        channels.retain(|_, tx| tx.receiver_count() > 0);
        channels.keys().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<Arc<Event>>>> {
        self.channels.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for LocalBus {
    fn default() -> Self {
        LocalBus::new(DEFAULT_CAPACITY)
    }
}

#[async_trait::async_trait]
impl EventBus for LocalBus {
    fn publish(&self, channel: &str, event: Arc<Event>) {
        let mut channels = self.lock();
        // A send to a channel whose receivers are all gone fails: forget that channel.
        if let Some(tx) = channels.get(channel)
            && tx.send(event).is_err()
        {
            channels.remove(channel);
        }
    }

    fn subscribe(&self, channel: &str) -> EventReceiver {
        let mut channels = self.lock();
        if let Some(tx) = channels.get(channel) {
            return tx.subscribe();
        }
        let shared = channel.starts_with("timeline:public") || channel.starts_with("timeline:hashtag:");
        let capacity = if shared { self.capacity } else { self.capacity.min(ACCOUNT_CHANNEL_CAPACITY) };
        let (tx, rx) = broadcast::channel(capacity);
        channels.insert(channel.to_string(), tx);
        rx
    }

    fn has_subscribers(&self, channel: &str) -> bool {
        self.lock().get(channel).is_some_and(|tx| tx.receiver_count() > 0)
    }

    fn idle(&self) -> bool {
        !self.lock().values().any(|tx| tx.receiver_count() > 0)
    }

    fn close(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delivers_to_every_subscriber_of_the_channel_only() {
        let bus = LocalBus::new(4);
        let mut a = bus.subscribe("timeline:1");
        let mut b = bus.subscribe("timeline:1");
        let mut other = bus.subscribe("timeline:2");
        assert!(bus.has_subscribers("timeline:1"));
        assert!(!bus.has_subscribers("timeline:3"));
        bus.publish("timeline:1", Event::new("update", Some("{}".into()), None));
        bus.publish("timeline:3", Event::new("update", None, None));
        assert_eq!(a.recv().await.unwrap().name, "update");
        assert_eq!(b.recv().await.unwrap().payload.as_deref(), Some("{}"));
        assert!(other.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_receiver_that_falls_behind_is_told_and_others_are_not_held_up() {
        let bus = LocalBus::new(4);
        let mut slow = bus.subscribe("timeline:public");
        let mut fast = bus.subscribe("timeline:public");
        for n in 0..10 {
            bus.publish("timeline:public", Event::new("delete", Some(n.to_string()), None));
            assert_eq!(fast.recv().await.unwrap().payload, Some(n.to_string()));
        }
        assert!(matches!(slow.recv().await, Err(broadcast::error::RecvError::Lagged(6))));
    }

    #[test]
    fn channels_go_away_with_their_subscribers() {
        let bus = LocalBus::new(4);
        let a = bus.subscribe("timeline:1");
        let b = bus.subscribe("timeline:2");
        assert_eq!(bus.channel_count(), 2);
        drop(a);
        bus.publish("timeline:1", Event::new("update", None, None));
        assert_eq!(bus.channel_count(), 1);
        drop(b);
        assert_eq!(bus.channel_count(), 0);
        assert!(!bus.has_subscribers("timeline:2"));
    }
}
