//! The service layer: every business rule of ferrodon, shared by the client API, the HTML pages,
//! the CLI and (later) federation. Handlers make one call here and present the result.
//!
//! Each area is a module with functions over [`Services`]; they open one transaction, apply the
//! rules, and return domain values or Mastodon entities (rendered in `present`).

pub mod accounts;
pub mod announcements;
pub mod auth;
pub mod discovery;
pub mod domains;
mod effects;
pub mod filters;
pub mod inbox;
pub mod instance;
pub mod jobs;
pub mod lists;
pub mod notifications;
pub mod oauth;
pub mod present;
pub mod relationships;
pub mod reports;
pub mod search;
pub mod settings;
pub mod statuses;
pub mod streaming;
pub mod timelines;
mod visibility;

use std::sync::Arc;

use ferrodon_config::Config;
use ferrodon_domain::ports::{Database, Event, EventBus};

pub use auth::{Caller, Scopes, Viewer};

/// What every service function needs: the database, the event bus and the configuration.
#[derive(Clone)]
pub struct Services {
    pub db: Arc<dyn Database>,
    pub events: Arc<dyn EventBus>,
    pub config: Arc<Config>,
    /// Group commit of received statuses, started on first use ([`inbox::create_status`]).
    received: Arc<std::sync::OnceLock<inbox::Received>>,
}

impl Services {
    pub fn new(db: Arc<dyn Database>, events: Arc<dyn EventBus>, config: Arc<Config>) -> Self {
        Services { db, events, config, received: Arc::default() }
    }

    /// Publishes an event (after the change it reports has committed).
    pub fn publish(&self, channel: &str, event: Arc<Event>) {
        self.events.publish(channel, event);
    }

    pub fn base_url(&self) -> String {
        self.config.base_url()
    }
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
    pub const MAX_MEDIA_ATTACHMENTS: usize = 4;
    pub const USERNAME_MAX_CHARS: usize = 30;
}
