use ferrodon_kernel::{Id, time::Millis};

use super::string_enum;

string_enum!(
    /// Mastodon's notification types.
    NotificationType {
        Mention = "mention",
        Status = "status",
        Reblog = "reblog",
        Follow = "follow",
        FollowRequest = "follow_request",
        Favourite = "favourite",
        Poll = "poll",
        Update = "update",
        AdminSignUp = "admin.sign_up",
        AdminReport = "admin.report",
    }
);

impl NotificationType {
    /// Types the grouped API folds together (the rest get `ungrouped-<id>`).
    pub fn groupable(self) -> bool {
        matches!(self, Self::Favourite | Self::Follow | Self::Reblog | Self::AdminSignUp)
    }
}

#[derive(Clone, Debug)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Notification {
    pub id: Id,
    pub account_id: Id,
    pub from_account_id: Id,
    #[cfg_attr(feature = "sqlx", sqlx(rename = "type", try_from = "String"))]
    pub kind: NotificationType,
    pub status_id: Option<Id>,
    pub group_key: String,
    pub created_at: Millis,
}

#[derive(Clone, Debug, Default)]
pub struct NotificationFilter {
    /// `types[]`: `None` = all; `Some(empty)` = the client named only unknown types, so nothing.
    pub types: Option<Vec<NotificationType>>,
    pub exclude_types: Vec<NotificationType>,
    pub account_id: Option<Id>,
    /// Only the notifications of one group (grouped API).
    pub group_key: Option<String>,
}

#[derive(Clone, Debug)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Marker {
    pub timeline: String,
    pub last_read_id: Id,
    pub version: i64,
    pub updated_at: Millis,
}
