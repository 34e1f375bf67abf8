//! Media: where uploaded and cached files are kept (local disk or S3-compatible storage), and
//! what turns an upload into the files that are served (images in-process, video and audio
//! through ffmpeg). The media crate implements both; the service decides what is kept, by whom,
//! under which key, and when files go.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use ferrodon_kernel::time::Millis;
use ferrodon_kernel::{Id, Result};

use crate::model::{
    Account, CustomEmoji, Media, MediaKind, PreviewCard, Processed, ProcessedFile, ProfileImage, StatusMedia,
};

/// The files of attachments, avatars and headers, by key (Mastodon's key layout, so a bucket a
/// Mastodon instance filled keeps its URLs).
#[async_trait]
pub trait FileStore: Send + Sync + 'static {
    /// Stores the local file at `path` under `key`; the file may be moved away.
    async fn put(&self, key: &str, path: &Path, content_type: &str) -> Result<()>;
    /// Copies the file under `key` to the local file `dest` (made or replaced); `false` when
    /// there is none.
    async fn fetch(&self, key: &str, dest: &Path) -> Result<bool>;
    /// Removes files (missing ones are no error).
    async fn delete(&self, keys: &[String]) -> Result<()>;
    /// Every file whose key starts with `prefix` (maintenance: usage, orphans).
    async fn list(&self, prefix: &str) -> Result<Vec<StoredFile>>;
    /// Where clients load `key` from.
    fn url(&self, key: &str) -> String;
    /// The file behind `key` on local disk, when files are kept there (served by ferrodon);
    /// `None` for object storage (served by it, or the CDN in front of it).
    fn local_path(&self, key: &str) -> Option<PathBuf>;
}

/// A file in the file store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredFile {
    pub key: String,
    pub size: u64,
    pub modified: Millis,
}

/// A supported file type, decided from the content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sniffed {
    pub kind: MediaKind,
    pub content_type: String,
}

/// Turns uploads into served files.
#[async_trait]
pub trait MediaProcessor: Send + Sync + 'static {
    /// What a file is, from its first bytes (at least 64 of them when the file is that long):
    /// `None` when it is no type an attachment may have.
    fn sniff(&self, head: &[u8]) -> Option<Sniffed>;
    /// Processes the file at `input` into its stored versions, written as new files in
    /// `scratch` (the caller stores or removes them). A file that cannot be processed is a
    /// validation error.
    async fn process(&self, input: &Path, sniffed: &Sniffed, scratch: &Path) -> Result<Processed>;
    /// Processes an image into an avatar or a header (one upright image without metadata, at
    /// [`ProfileImage`]'s size), written as a new file in `scratch`.
    async fn process_profile_image(
        &self,
        input: &Path,
        sniffed: &Sniffed,
        scratch: &Path,
        kind: ProfileImage,
    ) -> Result<ProcessedFile>;
    /// The MIME types [`Self::sniff`] takes, for the instance's configuration.
    fn supported_types(&self) -> Vec<String>;
}

/// The store of attachment rows (part of every transaction).
#[async_trait]
pub trait MediaStore {
    async fn insert_media(&mut self, media: &Media) -> Result<()>;
    /// Writes what processing and the owner set (never the status it is attached to: see
    /// [`Self::attach_media`] and [`Self::detach_media`]).
    async fn update_media(&mut self, media: &Media) -> Result<()>;
    async fn media_by_id(&mut self, id: Id) -> Result<Option<Media>>;
    /// `account_id`'s attachments among `ids`, in no particular order.
    async fn media_of_account(&mut self, account_id: Id, ids: &[Id]) -> Result<Vec<Media>>;
    /// Attaches those of `ids` that are free (or attached to `status_id` already) to
    /// `status_id`; returns how many are attached (fewer than `ids` when another status took one
    /// meanwhile).
    async fn attach_media(&mut self, status_id: Id, ids: &[Id]) -> Result<u64>;
    /// Frees attachments of their status.
    async fn detach_media(&mut self, ids: &[Id]) -> Result<()>;
    /// Deletes those of `ids` that are not attached; returns their ids.
    async fn delete_unattached_media(&mut self, ids: &[Id]) -> Result<Vec<Id>>;
    async fn media_of_status(&mut self, status_id: Id) -> Result<Vec<Media>>;
    /// Every attachment of `account_id` (for removing an account's files).
    async fn all_media_of_account(&mut self, account_id: Id) -> Result<Vec<Media>>;
    /// Uploads never attached, created before `before`, oldest first.
    async fn unattached_media(&mut self, before: Millis, limit: i64) -> Result<Vec<Media>>;
    async fn delete_media(&mut self, ids: &[Id]) -> Result<()>;
    /// Every file key a row names: attachments, avatars and headers, and the copies of remote
    /// attachments (for finding orphaned files).
    async fn named_file_keys(&mut self) -> Result<Vec<String>>;
    /// Remote statuses created before `before` with copies of their attachments kept here,
    /// by id after `after`, at most `limit`.
    async fn statuses_with_cached_media(
        &mut self,
        before: Millis,
        after: Id,
        limit: i64,
    ) -> Result<Vec<(Id, Vec<StatusMedia>)>>;
    /// The keys of the copies kept of `account_id`'s posts' attachments.
    async fn cached_media_keys_of(&mut self, account_id: Id) -> Result<Vec<String>>;
    /// Remote accounts last fetched before `before` with copies of their avatar or header kept
    /// here, by id after `after`, at most `limit`.
    async fn accounts_with_cached_images(&mut self, before: Millis, after: Id, limit: i64) -> Result<Vec<Account>>;
}

/// The store of this server's custom emoji (part of every transaction).
#[async_trait]
pub trait EmojiStore {
    /// Inserts, or replaces the one with the same shortcode.
    async fn upsert_custom_emoji(&mut self, emoji: &CustomEmoji) -> Result<()>;
    /// Every custom emoji, by shortcode.
    async fn custom_emojis(&mut self) -> Result<Vec<CustomEmoji>>;
    /// Those among `shortcodes` (case-sensitive, as Mastodon matches them).
    async fn custom_emojis_named(&mut self, shortcodes: &[String]) -> Result<Vec<CustomEmoji>>;
}

/// The store of link preview cards, kept once per URL and shown on the statuses that link
/// them (part of every transaction).
#[async_trait]
pub trait CardStore {
    /// The card kept for `url`: the one of that address, or else the one a status linking it
    /// shows (a page whose canonical address is another).
    async fn card_by_url(&mut self, url: &str) -> Result<Option<PreviewCard>>;
    /// Inserts `card`, or replaces the one of its URL (which keeps its id); returns the id and
    /// the key of the picture the replaced one named.
    async fn upsert_card(&mut self, card: &PreviewCard) -> Result<(Id, Option<String>)>;
    /// Shows a card on `status_id` (in place of any other): `(card id, the address the status
    /// links)`; or no card.
    async fn set_status_card(&mut self, status_id: Id, card: Option<(Id, &str)>) -> Result<()>;
    /// The cards of those of `status_ids` that show one: (status id, the address it links,
    /// card).
    async fn cards_of(&mut self, status_ids: &[Id]) -> Result<Vec<(Id, String, PreviewCard)>>;
}
