use async_trait::async_trait;
use ferrodon_kernel::{Id, PageRequest, Result, time::Millis};

use crate::model::{Follow, Keyed, Marker, Mute, Notification, NotificationFilter, RelationKind, Relationship, Status};

#[async_trait]
pub trait RelationshipStore {
    /// Creates or updates a follow (or follow request); returns the row and whether it is new.
    /// Counters on both accounts move only for a new follow.
    async fn upsert_follow(&mut self, kind: RelationKind, follow: &Follow) -> Result<(Follow, bool)>;
    async fn get_follow(&mut self, kind: RelationKind, account_id: Id, target_id: Id) -> Result<Option<Follow>>;
    /// Removes a follow, follow request, block or mute; returns whether one existed.
    async fn delete_relation(&mut self, kind: RelationKind, account_id: Id, target_id: Id) -> Result<bool>;
    async fn create_block(&mut self, id: Id, account_id: Id, target_id: Id, now: Millis) -> Result<()>;
    async fn upsert_mute(&mut self, mute: &Mute, now: Millis) -> Result<()>;
    /// `viewer`'s relationships with each of `targets`; a mute that ended before `now` is over.
    async fn relationships(&mut self, viewer: Id, targets: &[Id], now: Millis) -> Result<Vec<Relationship>>;
    /// True if either account blocks the other.
    async fn blocked_either_way(&mut self, a: Id, b: Id) -> Result<bool>;
    async fn is_following(&mut self, account_id: Id, target_id: Id) -> Result<bool>;
    /// The local accounts following `account`.
    async fn local_followers(&mut self, account: Id) -> Result<Vec<Id>>;
    /// The local accounts whose home feed takes `status` (as given), by the rule
    /// [`crate::ports::StatusStore::home_timeline`] reads with (Mastodon's fan-out on write):
    /// its author if local, and the author's local followers unless the follow's languages
    /// leave it out, it is a reblog and they hide the reblogger's reblogs, it is direct and does
    /// not mention them, it replies to someone else they don't follow, or the author is on one
    /// of their exclusive lists. (Blocks and mutes are the reader's filters, applied when the
    /// feed is read or streamed.)
    async fn home_feed_recipients(&mut self, status: &Status) -> Result<Vec<Id>>;
    /// What `account` must not be shown: the accounts blocking it or blocked by it, and the
    /// accounts it mutes (mutes ending before `now` excluded).
    async fn hidden_accounts(&mut self, account: Id, now: Millis) -> Result<HiddenAccounts>;

    /// Domain blocks of an account (Mastodon's AccountDomainBlock). `domain` is normalised by
    /// the caller. `block_domain` is false when it was blocked already.
    async fn block_domain(&mut self, id: Id, account_id: Id, domain: &str, now: Millis) -> Result<bool>;
    async fn unblock_domain(&mut self, account_id: Id, domain: &str) -> Result<bool>;
    /// The blocked domains, newest first, keyed by block id for paging.
    async fn blocked_domains(&mut self, account_id: Id, page: &PageRequest) -> Result<Vec<Keyed<String>>>;
    /// The accounts on `domain` that follow `account_id` or asked to.
    async fn followers_on_domain(&mut self, account_id: Id, domain: &str) -> Result<Vec<Id>>;
}

/// See [`RelationshipStore::hidden_accounts`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HiddenAccounts {
    pub blocked: Vec<Id>,
    pub muted: Vec<Id>,
    /// When the first of the timed mutes in `muted` ends: what is hidden changes then.
    pub mutes_end: Option<Millis>,
    /// The domains the account blocks.
    pub domains: Vec<String>,
}

#[async_trait]
pub trait NotificationStore {
    async fn create_notification(&mut self, n: &Notification) -> Result<()>;
    /// Stores the notification unless its recipient blocks its sender or the sender's domain,
    /// or mutes the sender with notifications hidden (a mute ending before `now` excepted), or
    /// the sender is limited (silenced) and the recipient does not follow it, in one statement;
    /// true when stored.
    async fn create_notification_unless_hidden(&mut self, n: &Notification, now: Millis) -> Result<bool>;
    async fn notification(&mut self, account_id: Id, id: Id) -> Result<Option<Notification>>;
    async fn notifications(
        &mut self,
        account_id: Id,
        filter: &NotificationFilter,
        page: &PageRequest,
    ) -> Result<Vec<Notification>>;
    async fn dismiss_notification(&mut self, account_id: Id, id: Id) -> Result<bool>;
    async fn clear_notifications(&mut self, account_id: Id) -> Result<()>;
    /// Removes every notification `from_account_id` caused `account_id` (after a block).
    async fn delete_notifications_from(&mut self, account_id: Id, from_account_id: Id) -> Result<()>;
    /// Removes the notifications of `kind` that `from_account_id` caused `account_id` (on
    /// unfavourite, unreblog, an answered follow request).
    async fn delete_notifications_for(
        &mut self,
        account_id: Id,
        from_account_id: Id,
        status_id: Option<Id>,
        kind: &str,
    ) -> Result<()>;
    async fn unread_notifications(&mut self, account_id: Id, after: Option<Id>, limit: u32) -> Result<i64>;

    async fn markers(&mut self, account_id: Id) -> Result<Vec<Marker>>;
    async fn set_marker(&mut self, account_id: Id, timeline: &str, last_read_id: Id, now: Millis) -> Result<Marker>;
}
