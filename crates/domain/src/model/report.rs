use ferrodon_kernel::Id;
use ferrodon_kernel::time::Millis;

/// A report for moderators (Mastodon's `Report`): by a local user, or by a remote actor (a
/// `Flag`). Status and rule ids are kept as JSON arrays.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Report {
    pub id: Id,
    /// Who reported: a local account, or the remote actor of a `Flag`.
    pub account_id: Id,
    pub target_account_id: Id,
    pub status_ids_json: String,
    pub rule_ids_json: String,
    pub comment: String,
    /// `spam`, `legal`, `violation` or `other`.
    pub category: String,
    /// Sent on to the target's server (a `Flag` from this server's instance actor).
    pub forwarded: bool,
    /// The `Flag` activity's id, for a report from another server.
    pub uri: Option<String>,
    pub action_taken_at: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Report {
    pub fn status_ids(&self) -> Vec<Id> {
        serde_json::from_str::<Vec<i64>>(&self.status_ids_json).unwrap_or_default().into_iter().map(Id).collect()
    }
    pub fn rule_ids(&self) -> Vec<String> {
        serde_json::from_str(&self.rule_ids_json).unwrap_or_default()
    }
}

/// The report categories Mastodon knows.
pub const REPORT_CATEGORIES: &[&str] = &["spam", "legal", "violation", "other"];
