use ferrodon_kernel::{Id, time::Millis};

/// One row of an account-to-account relation (follow, follow request, block, mute).
#[derive(Clone, Debug)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Follow {
    pub id: Id,
    pub account_id: Id,
    pub target_account_id: Id,
    pub show_reblogs: bool,
    pub notify: bool,
    /// Languages as a comma-separated list; None = all.
    pub languages: Option<String>,
    pub created_at: Millis,
}

#[derive(Clone, Debug)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Mute {
    pub id: Id,
    pub account_id: Id,
    pub target_account_id: Id,
    pub hide_notifications: bool,
    pub expires_at: Option<Millis>,
}

/// How `viewer` relates to `target`, as `GET /api/v1/accounts/relationships` shows it.
#[derive(Clone, Debug, Default)]
pub struct Relationship {
    pub target_id: Id,
    pub following: Option<Follow>,
    pub followed_by: bool,
    pub requested: Option<Follow>,
    pub requested_by: bool,
    pub blocking: bool,
    pub blocked_by: bool,
    pub muting: Option<Mute>,
    /// The viewer blocks the target's domain.
    pub domain_blocking: bool,
    pub note: String,
}

/// Which relation table a list call reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelationKind {
    Follow,
    FollowRequest,
    Block,
    Mute,
}
