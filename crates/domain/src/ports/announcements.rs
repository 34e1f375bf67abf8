//! Announcements by the admins, users' dismissals and reactions.

use async_trait::async_trait;
use ferrodon_kernel::time::Millis;
use ferrodon_kernel::{Id, Result};

use crate::model::{Announcement, AnnouncementReaction};

#[async_trait]
pub trait AnnouncementStore {
    /// Every announcement (or only the published ones), oldest first by
    /// `COALESCE(starts_at, scheduled_at, published_at, created_at)` as Mastodon orders them.
    async fn announcements(&mut self, published_only: bool) -> Result<Vec<Announcement>>;
    async fn announcement(&mut self, id: Id) -> Result<Option<Announcement>>;
    async fn insert_announcement(&mut self, a: &Announcement) -> Result<()>;
    /// Saves every field but the id and `created_at`.
    async fn update_announcement(&mut self, a: &Announcement) -> Result<()>;
    async fn delete_announcement(&mut self, id: Id) -> Result<()>;
    /// Unpublished ones whose `scheduled_at` has come.
    async fn due_announcements(&mut self, now: Millis) -> Result<Vec<Announcement>>;
    /// Unpublishes the published ones whose `ends_at` has passed; returns their ids.
    async fn expire_announcements(&mut self, now: Millis) -> Result<Vec<Id>>;
    /// Of `ids`, those `account` dismissed.
    async fn dismissed_announcements(&mut self, account: Id, ids: &[Id]) -> Result<Vec<Id>>;
    /// Marks one read for `account` (again: no change).
    async fn dismiss_announcement(&mut self, account: Id, id: Id) -> Result<()>;
    /// The reactions on `ids` by name, with `me` for `viewer`'s, first chosen first.
    async fn announcement_reactions(&mut self, ids: &[Id], viewer: Option<Id>) -> Result<Vec<AnnouncementReaction>>;
    /// Adds `account`'s reaction; false when it was there.
    async fn add_announcement_reaction(&mut self, account: Id, id: Id, name: &str, now: Millis) -> Result<bool>;
    /// Removes it; false when there was none.
    async fn remove_announcement_reaction(&mut self, account: Id, id: Id, name: &str) -> Result<bool>;
    /// Local accounts that can sign in (not suspended, disabled or unconfirmed), by id after
    /// `after`, at most `limit`: who an announcement's events go to.
    async fn local_user_accounts(&mut self, after: Id, limit: u32) -> Result<Vec<Id>>;
}
