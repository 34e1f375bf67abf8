//! Ports: what the service layer needs from backends. The storage crate implements them for
//! SQLite and PostgreSQL; the service only ever sees these traits.
//!
//! A unit of work is a transaction ([`Tx`]) from the [`Database`]: reads and writes inside it are
//! atomic, and with a database-backed job queue the jobs a change causes are enqueued in it too.

mod accounts;
mod announcements;
mod events;
mod federation;
mod fediverse;
mod filters;
mod jobs;
mod lists;
mod mail;
mod media;
mod oauth;
mod reports;
mod social;
mod statuses;

pub use accounts::*;
pub use announcements::*;
pub use events::*;
pub use federation::*;
pub use fediverse::*;
pub use filters::*;
pub use jobs::*;
pub use lists::*;
pub use mail::*;
pub use media::*;
pub use oauth::*;
pub use reports::*;
pub use social::*;
pub use statuses::*;

use async_trait::async_trait;
use ferrodon_kernel::Result;

/// The SQL database.
#[async_trait]
pub trait Database: Send + Sync + 'static {
    /// A read-only transaction (on SQLite it runs concurrently with the writer).
    async fn read(&self) -> Result<Box<dyn Tx>>;
    /// A read-write transaction (on SQLite the single writer, taken up front).
    async fn write(&self) -> Result<Box<dyn Tx>>;
    /// `sqlite` or `postgres`, for logs and `config check`.
    fn engine(&self) -> &'static str;
    /// Closes every connection (graceful shutdown; SQLite checkpoints its WAL).
    async fn close(&self);
}

/// One transaction with every store. Dropped without `commit` it rolls back.
#[async_trait]
pub trait Tx:
    AccountStore
    + OAuthStore
    + RelationshipStore
    + StatusStore
    + NotificationStore
    + JobStore
    + SettingsStore
    + FederationStore
    + ReportStore
    + FilterStore
    + ListStore
    + AnnouncementStore
    + MediaStore
    + EmojiStore
    + CardStore
    + MailTokenStore
    + TwoFactorStore
    + InviteStore
    + Send
{
    async fn commit(self: Box<Self>) -> Result<()>;
}
