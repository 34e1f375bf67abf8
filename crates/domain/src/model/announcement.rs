use ferrodon_kernel::Id;
use ferrodon_kernel::time::Millis;

/// An announcement by the admins (Mastodon's `Announcement`), shown to every local user.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Announcement {
    pub id: Id,
    /// Plain text; rendered as a status' text is (links, mentions, hashtags).
    pub text: String,
    pub published: bool,
    /// `starts_at` and `ends_at` are dates, not times.
    pub all_day: bool,
    /// When the scheduler publishes it (unpublished until then).
    pub scheduled_at: Option<Millis>,
    /// The time the announcement is about (an event, a maintenance window); at `ends_at` it is
    /// unpublished.
    pub starts_at: Option<Millis>,
    pub ends_at: Option<Millis>,
    pub published_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// One reaction name on an announcement, with how many users chose it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct AnnouncementReaction {
    pub announcement_id: Id,
    pub name: String,
    pub count: i64,
    /// The viewer is among them.
    pub me: bool,
}

/// Mastodon's limit of distinct reactions per announcement (`ReactionValidator::LIMIT`).
pub const MAX_ANNOUNCEMENT_REACTIONS: usize = 8;
