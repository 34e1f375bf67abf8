use ferrodon_kernel::{Id, time::Millis};

use super::Visibility;

/// A post, or a reblog of one (`reblog_of_id` set, no content of its own).
#[derive(Clone, Debug)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Status {
    pub id: Id,
    pub account_id: Id,
    pub uri: String,
    pub url: String,
    /// The source text as written.
    pub text: String,
    /// The rendered HTML.
    pub content: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub visibility: Visibility,
    pub language: Option<String>,
    pub in_reply_to_id: Option<Id>,
    pub in_reply_to_account_id: Option<Id>,
    pub reblog_of_id: Option<Id>,
    /// The root of the thread (its own id for a root).
    pub conversation_id: Id,
    pub application_id: Option<Id>,
    pub local: bool,
    pub created_at: Millis,
    pub edited_at: Option<Millis>,
    pub replies_count: i64,
    pub reblogs_count: i64,
    pub favourites_count: i64,
    pub has_poll: bool,
    /// The mentioned accounts as JSON ([`MentionedAccount`]s), kept with the row for rendering.
    pub mentions_json: String,
    /// The hashtag names as a JSON array.
    pub tags_json: String,
    /// The attachments ([`StatusMedia`]s as JSON).
    pub media_json: String,
    /// A remote post's custom emoji ([`RemoteEmoji`]s as JSON).
    pub emojis_json: String,
}

impl Status {
    pub fn media(&self) -> Vec<StatusMedia> {
        serde_json::from_str(&self.media_json).unwrap_or_default()
    }
    /// Whether it has attachments (without reading them).
    pub fn has_media(&self) -> bool {
        !matches!(self.media_json.trim(), "" | "[]" | "null")
    }
    pub fn emojis(&self) -> Vec<RemoteEmoji> {
        serde_json::from_str(&self.emojis_json).unwrap_or_default()
    }
    pub fn mentions(&self) -> Vec<MentionedAccount> {
        serde_json::from_str(&self.mentions_json).unwrap_or_default()
    }
    pub fn tags(&self) -> Vec<String> {
        serde_json::from_str(&self.tags_json).unwrap_or_default()
    }
    /// True when `account` is mentioned (addressed) by this status.
    pub fn mentions_account(&self, account: Id) -> bool {
        self.mentions().iter().any(|m| m.id == account)
    }
}

/// An attachment as a status carries it (kept with the row for rendering): a local upload once
/// processed, or a remote post's attachment as its server describes it.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StatusMedia {
    /// A local upload's id (remote attachments have none: theirs derive from the status').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    /// `image`, `gifv`, `video`, `audio` or `unknown`.
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
    pub preview_url: Option<String>,
    pub description: Option<String>,
    pub blurhash: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    /// The file's MIME type, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The preview's size, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub small: Option<super::Dimensions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus: Option<super::Focus>,
    /// Seconds, for video and audio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// A remote attachment's copy kept here (file store keys of the file and its preview);
    /// `url` and `preview_url` stay where its server keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_small_key: Option<String>,
}

// Durations and focus points are finite (checked where they are read or measured).
impl Eq for StatusMedia {}

/// A custom emoji a remote post uses (`:shortcode:` in its text).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemoteEmoji {
    pub shortcode: String,
    pub url: String,
}

/// A mentioned account as a status shows it. Handles never change, so it is kept with the status.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MentionedAccount {
    pub id: Id,
    pub username: String,
    pub acct: String,
    pub url: String,
}

/// What a new status is made of, after the service applied every rule.
#[derive(Clone, Debug)]
pub struct NewStatus {
    pub id: Id,
    pub account_id: Id,
    pub uri: String,
    pub url: String,
    pub text: String,
    pub content: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub visibility: Visibility,
    pub language: Option<String>,
    pub in_reply_to_id: Option<Id>,
    pub in_reply_to_account_id: Option<Id>,
    pub reblog_of_id: Option<Id>,
    pub conversation_id: Id,
    pub application_id: Option<Id>,
    pub created_at: Millis,
    pub mentions: Vec<MentionedAccount>,
    pub tags: Vec<String>,
    pub poll: Option<NewPoll>,
    /// Written here (false for statuses received through federation).
    pub local: bool,
    /// The attachments, and a remote post's custom emoji.
    pub media: Vec<StatusMedia>,
    pub emojis: Vec<RemoteEmoji>,
}

impl NewStatus {
    /// A reblog of `original_id` by `account_id`: no content of its own, a thread of its own.
    /// Remote unless the caller says otherwise (`local`, `application_id`).
    pub fn reblog(
        id: Id,
        account_id: Id,
        original_id: Id,
        visibility: Visibility,
        uri: String,
        url: String,
        created_at: Millis,
    ) -> NewStatus {
        NewStatus {
            id,
            account_id,
            uri,
            url,
            text: String::new(),
            content: String::new(),
            spoiler_text: String::new(),
            sensitive: false,
            visibility,
            language: None,
            in_reply_to_id: None,
            in_reply_to_account_id: None,
            reblog_of_id: Some(original_id),
            conversation_id: id,
            application_id: None,
            created_at,
            mentions: Vec::new(),
            tags: Vec::new(),
            poll: None,
            local: false,
            media: Vec::new(),
            emojis: Vec::new(),
        }
    }
}

/// A new content for an existing status (edit).
#[derive(Clone, Debug)]
pub struct StatusEdit {
    pub text: String,
    pub content: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub language: Option<String>,
    pub mentions: Vec<MentionedAccount>,
    pub tags: Vec<String>,
    pub poll: Option<NewPoll>,
    pub edited_at: Millis,
    /// The new attachments and custom emoji (`None`: unchanged).
    pub media: Option<(Vec<StatusMedia>, Vec<RemoteEmoji>)>,
}

/// One entry of a status' edit history.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct StatusRevision {
    pub id: Id,
    pub status_id: Id,
    pub account_id: Id,
    pub text: String,
    pub content: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    /// Poll option titles as a JSON array, when the revision had a poll.
    pub poll_options_json: Option<String>,
    pub created_at: Millis,
}

#[derive(Clone, Debug)]
pub struct NewPoll {
    pub id: Id,
    pub options: Vec<String>,
    pub expires_at: Millis,
    pub multiple: bool,
    pub hide_totals: bool,
}

#[derive(Clone, Debug)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Poll {
    pub id: Id,
    pub status_id: Id,
    pub account_id: Id,
    /// Option titles as a JSON array.
    pub options_json: String,
    /// Votes per option as a JSON array of integers.
    pub votes_json: String,
    pub expires_at: Millis,
    pub multiple: bool,
    pub hide_totals: bool,
    pub votes_count: i64,
    pub voters_count: i64,
}

impl Poll {
    pub fn options(&self) -> Vec<String> {
        serde_json::from_str(&self.options_json).unwrap_or_default()
    }
    pub fn votes(&self) -> Vec<i64> {
        let mut v: Vec<i64> = serde_json::from_str(&self.votes_json).unwrap_or_default();
        v.resize(self.options().len(), 0);
        v
    }
    pub fn expired(&self, now: Millis) -> bool {
        self.expires_at <= now
    }
}

#[derive(Clone, Debug)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Tag {
    pub id: Id,
    pub name: String,
}

/// A mention row: who a status mentions.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Mention {
    pub status_id: Id,
    pub account_id: Id,
}

/// Per-viewer flags on a status.
#[derive(Clone, Debug, Default)]
pub struct StatusInteractions {
    pub favourited: bool,
    pub reblogged: bool,
    pub bookmarked: bool,
    pub pinned: bool,
    pub muted: bool,
    /// Poll choices the viewer voted for.
    pub poll_votes: Vec<i64>,
}

/// Filters for an account's statuses (`GET /api/v1/accounts/:id/statuses`).
#[derive(Clone, Debug, Default)]
pub struct AccountStatusFilter {
    pub only_media: bool,
    pub exclude_replies: bool,
    pub exclude_reblogs: bool,
    pub pinned: bool,
    pub tagged: Option<String>,
}

/// Which public statuses a public timeline shows.
#[derive(Clone, Copy, Debug, Default)]
pub struct PublicFilter {
    pub local: bool,
    pub remote: bool,
    pub only_media: bool,
}

/// Which public timelines take a status, by the rules their reads use
/// ([`crate::ports::StatusStore::public_reach`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PublicReach {
    /// On the public timeline: then also on the local or the remote one as the status is local
    /// or not, and on their `only_media` variants when it has attachments.
    pub public: bool,
    /// On the timeline of each of its hashtags (local statuses on their `local` variants too).
    pub hashtags: bool,
}

/// Rows of account lists that page by a relation row id (follow, favourite, …).
#[derive(Clone, Debug)]
pub struct Keyed<T> {
    pub key: Id,
    pub item: T,
}
