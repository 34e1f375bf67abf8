//! The service layer: every business rule of ferrodon, shared by the client API, the HTML pages,
//! the CLI and federation. Handlers make one call here and present the result.
//!
//! Each area is a module with functions over [`Services`]; they open one transaction, apply the
//! rules, and return domain values (domain models, pages of them, or a small struct named for
//! a result of several parts). [`present`] renders those as Mastodon entities: the only module
//! that names `ferrodon_mastodon_api`. A handler calls an area, then presents what it returned.

pub mod accounts;
pub mod activitypub;
pub mod announcements;
pub mod auth;
mod cards;
pub mod discovery;
pub mod domains;
mod effects;
pub mod emoji;
pub mod exports;
pub mod filters;
pub mod inbox;
pub mod instance;
pub mod invites;
pub mod jobs;
pub mod keys;
pub mod lists;
pub mod mail;
pub mod media;
pub mod notifications;
pub mod oauth;
pub mod outbox;
pub mod pages;
pub mod present;
pub mod relationships;
pub mod remote;
pub mod reports;
pub mod search;
pub mod settings;
pub mod statuses;
pub mod streaming;
pub mod timelines;
pub mod two_factor;
mod visibility;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Instant;

use ferrodon_config::Config;
use ferrodon_domain::ports::{Database, Event, EventBus, Fediverse, SigningKey};
use ferrodon_kernel::{Error, Id, Result};

pub use auth::{Caller, Scopes, Viewer};

/// What every service function needs: the database, the event bus, the configuration, the
/// federation port, and what the service remembers between calls. The database is reached only
/// through the service's functions.
#[derive(Clone)]
pub struct Services {
    db: Arc<dyn Database>,
    pub events: Arc<dyn EventBus>,
    pub config: Arc<Config>,
    state: Arc<State>,
}

/// What the service keeps in memory: caches of what is read often, the group commits, and the
/// federation port once connected.
#[derive(Default)]
struct State {
    /// The other servers, once the federation crate is connected ([`Services::connect_fediverse`]).
    /// Weak: federation holds the services, and whoever made both holds federation.
    fediverse: OnceLock<Weak<dyn Fediverse>>,
    /// Where files are kept and what processes uploads ([`Services::connect_media`]).
    media: OnceLock<media::MediaPorts>,
    /// What sends mail ([`Services::connect_mailer`]).
    mailer: OnceLock<Arc<dyn ferrodon_domain::ports::Mailer>>,
    /// Group commit of received statuses, started on first use ([`inbox::create_status`]).
    received: OnceLock<inbox::Received>,
    /// Group commit of the activities inboxes accept, started on first use ([`inbox::accept`]).
    intake: OnceLock<inbox::Intake>,
    /// Signing keys, by account (the instance actor's under id 0).
    keys: Mutex<HashMap<Id, SigningKey>>,
    /// Remote accounts read in the last few seconds (activity processing).
    accounts: remote::AccountCache,
    /// Domain blocks and allows, re-read every few seconds.
    domain_policy: Mutex<Option<(Instant, Arc<domains::Policy>)>>,
    /// Domains that failed deliveries (and those marked unavailable), once read.
    delivery: tokio::sync::OnceCell<Mutex<outbox::DeliveryState>>,
    /// When each remote thread's replies, and each remote account's pinned posts, were last
    /// asked for.
    replies_fetched: Mutex<HashMap<Id, Instant>>,
    featured_fetched: Mutex<HashMap<Id, Instant>>,
}

impl Services {
    pub fn new(db: Arc<dyn Database>, events: Arc<dyn EventBus>, config: Arc<Config>) -> Self {
        Services { db, events, config, state: Arc::default() }
    }

    /// Connects the media ports (once, by whoever picks the backends).
    pub fn connect_media(
        &self,
        files: Arc<dyn ferrodon_domain::ports::FileStore>,
        processor: Arc<dyn ferrodon_domain::ports::MediaProcessor>,
    ) {
        let _ = self.state.media.set(media::MediaPorts { files, processor });
    }

    /// Connects what sends mail (once, by whoever picks the backends).
    pub fn connect_mailer(&self, mailer: Arc<dyn ferrodon_domain::ports::Mailer>) {
        let _ = self.state.mailer.set(mailer);
    }

    pub(crate) fn mailer(&self) -> Result<&Arc<dyn ferrodon_domain::ports::Mailer>> {
        self.state.mailer.get().ok_or_else(|| Error::internal("no mailer is connected"))
    }

    pub(crate) fn media_ports(&self) -> Option<&media::MediaPorts> {
        self.state.media.get()
    }

    /// Connects the federation port (once; the federation crate does it as it is made). The
    /// service keeps a weak reference: the port lives as long as its maker holds it.
    pub fn connect_fediverse(&self, fediverse: &Arc<dyn Fediverse>) {
        let _ = self.state.fediverse.set(Arc::downgrade(fediverse));
    }

    /// The federation port, or Unavailable in a process that does not federate.
    pub(crate) fn fediverse(&self) -> Result<Arc<dyn Fediverse>> {
        self.state
            .fediverse
            .get()
            .and_then(Weak::upgrade)
            .ok_or_else(|| Error::unavailable("federation is not running in this process"))
    }

    /// Publishes an event (after the change it reports has committed).
    pub(crate) fn publish(&self, channel: &str, event: Arc<Event>) {
        self.events.publish(channel, event);
    }

    pub fn base_url(&self) -> String {
        self.config.base_url()
    }

    /// `sqlite` or `postgres`.
    pub fn engine(&self) -> &'static str {
        self.db.engine()
    }
}

/// Locks a mutex whose data stays usable after a panic elsewhere.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Mastodon's limits (instance `configuration` shows them).
pub mod limits {
    pub const MAX_STATUS_CHARS: usize = 500;
    pub const MAX_POLL_OPTIONS: usize = 4;
    pub const MAX_POLL_OPTION_CHARS: usize = 50;
    pub const MIN_POLL_EXPIRATION: i64 = 300;
    pub const MAX_POLL_EXPIRATION: i64 = 2_629_746;
    pub const MAX_DISPLAY_NAME_CHARS: usize = 30;
    pub const MAX_NOTE_CHARS: usize = 500;
    pub const MAX_PROFILE_FIELDS: usize = 4;
    pub const PROFILE_FIELD_NAME_CHARS: usize = 255;
    pub const PROFILE_FIELD_VALUE_CHARS: usize = 255;
    pub const MAX_PINNED_STATUSES: i64 = 5;
    pub const CHARACTERS_RESERVED_PER_URL: usize = 23;
    pub const MAX_MEDIA_ATTACHMENTS: usize = crate::media::MAX_ATTACHMENTS;
    pub const USERNAME_MAX_CHARS: usize = 30;
}
