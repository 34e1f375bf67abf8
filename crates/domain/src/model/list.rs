use ferrodon_kernel::Id;
use ferrodon_kernel::time::Millis;

/// A user's list of followed accounts (Mastodon's `List`), with its own timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct List {
    pub id: Id,
    pub account_id: Id,
    pub title: String,
    /// Which replies the list shows: `followed` (to anyone the owner follows), `list` (to
    /// members), `none`.
    pub replies_policy: String,
    /// Its members' posts leave the owner's home timeline.
    pub exclusive: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Mastodon's `replies_policy` values; `list` is the default.
pub const LIST_REPLIES_POLICIES: &[&str] = &["followed", "list", "none"];
/// Mastodon's limit of lists per account.
pub const MAX_LISTS: usize = 50;
