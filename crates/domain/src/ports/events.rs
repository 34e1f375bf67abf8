//! The event bus: what the streaming API delivers. Channels keep Mastodon's Redis names
//! (`timeline:<account id>`, `timeline:public:local`, `timeline:hashtag:<tag>`, …), so a Redis
//! pub/sub backend can carry them between processes with the same contract.

use std::sync::{Arc, Mutex};

use ferrodon_kernel::Id;

/// One event on a channel: Mastodon's `{"event": …, "payload": …}` message, plus what the
/// streaming side needs to filter it per connection without asking the database.
#[derive(Debug, Default)]
pub struct Event {
    /// `update`, `delete`, `notification`, `status.update`, `conversation`, `filters_changed`,
    /// or an internal one that never reaches clients ([`Event::RELATIONS_CHANGED`], [`Event::KILL`]).
    pub name: String,
    /// As sent to clients: JSON text, the bare id for `delete`, none for `filters_changed`.
    pub payload: Option<String>,
    /// For statuses: the accounts involved, checked against each connection's blocks and mutes.
    pub about: Option<StatusSubject>,
    /// The transport's encodings of this event, one per stream label, made by the first
    /// connection that sends it under that label and reused by the others (an event published
    /// on home and public channels goes out under a few labels).
    pub encoded: Mutex<Vec<(String, bytes::Bytes)>>,
}

/// Who a status event concerns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusSubject {
    /// The status' author (the reblogger, for a reblog).
    pub author: Id,
    /// Everyone else involved: the reblogged author, mentioned accounts.
    pub others: Vec<Id>,
    /// The author's domain; `None` for local accounts.
    pub domain: Option<String>,
    pub language: Option<String>,
    /// The status custom filters look at (the original, for a reblog) and its filterable text
    /// (`model::filterable_text`); shared by every copy of the event.
    pub status_id: Id,
    pub text: Arc<str>,
}

impl Event {
    /// Internal: the account's blocks, mutes or custom filters changed; connections reload
    /// what they filter with.
    pub const RELATIONS_CHANGED: &'static str = "ferrodon.relations_changed";
    /// Internal (Mastodon's `kill`), on the account's system channel with the token's id as
    /// payload: the token was revoked; connections using it close. Without a payload: every
    /// connection of the account closes (disabled, or its password reset).
    pub const KILL: &'static str = "kill";

    pub fn new(name: &str, payload: Option<String>, about: Option<StatusSubject>) -> Arc<Event> {
        Arc::new(Event { name: name.to_string(), payload, about, encoded: Mutex::default() })
    }

    /// The encoding kept for `label`, or the one `encode` makes (then kept).
    pub fn encoded_for(&self, label: &str, encode: impl FnOnce() -> bytes::Bytes) -> bytes::Bytes {
        let mut cache = self.encoded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, bytes)) = cache.iter().find(|(l, _)| l == label) {
            return bytes.clone();
        }
        let bytes = encode();
        cache.push((label.to_string(), bytes.clone()));
        bytes
    }

    /// True for events that are for the server only.
    pub fn internal(&self) -> bool {
        self.name == Self::RELATIONS_CHANGED || self.name == Self::KILL
    }
}

/// A subscription: the channel's events, in order. A receiver that falls more than the
/// channel's capacity behind gets `Lagged` (the streaming API then drops that client).
pub type EventReceiver = tokio::sync::broadcast::Receiver<Arc<Event>>;

/// Publishes and subscribes. Publishing never waits for subscribers.
#[async_trait::async_trait]
pub trait EventBus: Send + Sync + 'static {
    fn publish(&self, channel: &str, event: Arc<Event>);
    fn subscribe(&self, channel: &str) -> EventReceiver;
    /// Returns once the subscriptions asked for so far are in place, so that an event published
    /// after this returns reaches them (a bus shared between processes subscribes in the
    /// background; the in-process one at once).
    async fn ready(&self) {}
    /// False when no one can be listening on `channel`: publishers may skip work for it
    /// (Mastodon's `subscribed:<channel>` keys). Exact for the in-process bus; a bus shared
    /// between processes says true and answers exactly through [`EventBus::listened`].
    fn has_subscribers(&self, channel: &str) -> bool;
    /// Those of `channels` someone listens on, in any process (one round trip for a shared bus).
    async fn listened(&self, mut channels: Vec<String>) -> Vec<String> {
        channels.retain(|c| self.has_subscribers(c));
        channels
    }
    /// True when no channel has a subscriber (nothing to render for anyone). A bus that cannot
    /// tell (one shared between processes) says false.
    fn idle(&self) -> bool {
        false
    }
    /// Ends every subscription (shutdown): receivers get the events already sent, then `Closed`.
    fn close(&self);
}

/// Mastodon's channel names.
pub mod channel {
    use ferrodon_kernel::Id;

    /// A user's home timeline (`update`, `delete`, `status.update`, `filters_changed`).
    pub fn home(account: Id) -> String {
        format!("timeline:{account}")
    }
    pub fn notifications(account: Id) -> String {
        format!("timeline:{account}:notifications")
    }
    pub fn direct(account: Id) -> String {
        format!("timeline:direct:{account}")
    }
    /// Internal events about the account: relations changed, a token revoked. Every streaming
    /// connection of the account holds it from the moment it is authenticated.
    pub fn system(account: Id) -> String {
        format!("timeline:system:{account}")
    }
    pub fn list(list: Id) -> String {
        format!("timeline:list:{list}")
    }
    /// `timeline:public`, `timeline:public:local`, `timeline:public:remote`, each with `:media`.
    pub fn public(locality: Option<&str>, media: bool) -> String {
        let mut name = String::from("timeline:public");
        if let Some(l) = locality {
            name.push(':');
            name.push_str(l);
        }
        if media {
            name.push_str(":media");
        }
        name
    }
    /// `timeline:hashtag:<lowercased tag>[:local]`.
    pub fn hashtag(tag: &str, local: bool) -> String {
        format!("timeline:hashtag:{}{}", tag.to_lowercase(), if local { ":local" } else { "" })
    }
}
