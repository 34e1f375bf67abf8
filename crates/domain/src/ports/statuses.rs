use async_trait::async_trait;
use ferrodon_kernel::{Id, PageRequest, Result, time::Millis};

use crate::model::{
    AccountStatusFilter, Keyed, Mention, NewStatus, Poll, PublicFilter, PublicReach, Status, StatusEdit,
    StatusInteractions, StatusMedia, StatusRevision, Tag,
};

/// Per-viewer status interactions kept as rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusMark {
    Favourite,
    Bookmark,
    Pin,
    /// A muted conversation (keyed by conversation id).
    Mute,
}

#[async_trait]
pub trait StatusStore {
    /// Inserts a status with its mentions, tags and poll; bumps the author's counters and the
    /// parent's replies count.
    async fn insert_status(&mut self, new: &NewStatus) -> Result<Status>;
    /// The same, unless a status with its URI is stored (then `None`, and nothing changes).
    async fn insert_status_unless_known(&mut self, new: &NewStatus) -> Result<Option<Status>>;
    async fn status_by_id(&mut self, id: Id) -> Result<Option<Status>>;
    async fn statuses_by_ids(&mut self, ids: &[Id]) -> Result<Vec<Status>>;
    /// The reblog of `status_id` by `account_id`, if any.
    async fn reblog_of(&mut self, account_id: Id, status_id: Id) -> Result<Option<Status>>;
    /// Deletes a status (and its reblogs), fixing counters. Returns the ids removed.
    async fn delete_status(&mut self, id: Id) -> Result<Vec<Id>>;
    /// Replaces the content; the previous version goes to the history.
    async fn edit_status(&mut self, id: Id, edit: &StatusEdit) -> Result<()>;
    async fn status_revisions(&mut self, id: Id) -> Result<Vec<StatusRevision>>;
    /// Replaces a status' attachments as it carries them (no edit: remote copies kept here).
    async fn set_status_media(&mut self, id: Id, media: &[StatusMedia]) -> Result<()>;

    async fn mentions_of(&mut self, status_ids: &[Id]) -> Result<Vec<Mention>>;
    async fn tags_of(&mut self, status_ids: &[Id]) -> Result<Vec<(Id, Tag)>>;
    async fn polls_of(&mut self, status_ids: &[Id]) -> Result<Vec<Poll>>;
    async fn poll_by_id(&mut self, id: Id) -> Result<Option<Poll>>;
    /// A remote poll's counts as its server reports them (per option, and voters).
    async fn set_poll_counts(&mut self, status_id: Id, votes: &[i64], voters_count: i64) -> Result<()>;
    /// The accounts that voted in a poll.
    async fn poll_voters(&mut self, poll_id: Id) -> Result<Vec<Id>>;
    /// Records votes; `Conflict` if the account already voted.
    async fn vote(&mut self, poll_id: Id, account_id: Id, choices: &[i64], now: Millis) -> Result<()>;
    async fn interactions(&mut self, viewer: Id, statuses: &[&Status]) -> Result<Vec<(Id, StatusInteractions)>>;

    /// Adds a mark; returns false if it was already there. Moves the favourites counter.
    async fn add_mark(&mut self, mark: StatusMark, id: Id, account_id: Id, status_id: Id, now: Millis) -> Result<bool>;
    async fn remove_mark(&mut self, mark: StatusMark, account_id: Id, status_id: Id) -> Result<bool>;
    /// Statuses the account favourited or bookmarked, paged by the mark's row id.
    async fn marked_statuses(&mut self, mark: StatusMark, account_id: Id, page: &PageRequest)
    -> Result<Vec<Keyed<Id>>>;

    /// The home timeline, newest first, before the service's final visibility filter (blocks,
    /// mutes, domain blocks). Which statuses it takes is the rule that
    /// [`crate::ports::RelationshipStore::home_feed_recipients`] distributes by.
    async fn home_timeline(&mut self, account_id: Id, page: &PageRequest) -> Result<Vec<Status>>;
    /// The public timeline (Mastodon's `PublicFeed`), newest first: public statuses that are
    /// neither reblogs nor replies to someone else; `filter` narrows it to local or remote
    /// statuses, or to those with attachments. The rule is the one of [`Self::public_reach`].
    async fn public_timeline(&mut self, filter: PublicFilter, page: &PageRequest) -> Result<Vec<Status>>;
    /// A hashtag's timeline (`TagFeed`), newest first: public statuses with the tag that are not
    /// reblogs, replies included. The rule is the one of [`Self::public_reach`].
    async fn tag_timeline(&mut self, tag: &str, filter: PublicFilter, page: &PageRequest) -> Result<Vec<Status>>;
    /// Whether `status` (as given: a deleted status' last state will do) is on the public
    /// timelines and on its hashtags' timelines, by the rules [`Self::public_timeline`] and
    /// [`Self::tag_timeline`] read with: what the public and hashtag streams get.
    async fn public_reach(&mut self, status: &Status) -> Result<PublicReach>;
    async fn account_statuses(
        &mut self,
        account_id: Id,
        filter: &AccountStatusFilter,
        page: &PageRequest,
    ) -> Result<Vec<Status>>;
    /// Ids of every status in a conversation, oldest first (for context).
    async fn conversation(&mut self, conversation_id: Id, limit: u32) -> Result<Vec<Status>>;

    async fn search_tags(&mut self, prefix: &str, limit: u32, offset: u32) -> Result<Vec<Tag>>;
    async fn tag_by_name(&mut self, name: &str) -> Result<Option<Tag>>;

    /// Idempotency keys of status creation (kept one hour).
    /// Claims `key` for the status about to be made (`status_id`). Returns the status another
    /// request made with the same key since `expired_before`, if any (then nothing is claimed).
    async fn claim_idempotency_key(
        &mut self,
        account_id: Id,
        key: &str,
        status_id: Id,
        now: Millis,
        expired_before: Millis,
    ) -> Result<Option<Id>>;
}
