//! Mail to the people of this server: what a mail says (typed), rendered and sent by the mail
//! backend; and the single-use tokens a mail's link carries.

use ferrodon_kernel::Id;
use ferrodon_kernel::time::Millis;
use serde::{Deserialize, Serialize};

use super::string_enum;

/// A mail to one address, as the service decides it (kept as a job's payload until sent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    pub to: String,
    /// The recipient's username, for the greeting.
    pub username: String,
    pub locale: String,
    /// The instance's name and address, for the signature and the links.
    pub instance: String,
    pub base_url: String,
    pub message: MailMessage,
}

/// What a mail says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MailMessage {
    /// Confirm the address: after signing up, or a new address for the account.
    ConfirmEmail { link: String, new_address: bool },
    /// A link to choose a new password.
    ResetPassword { link: String },
    /// The password was changed.
    PasswordChanged,
    /// The account's address is being changed to `new_email` (sent to the old one).
    EmailChanged { new_email: String },
    /// Signing in now takes a second factor.
    TwoFactorEnabled,
    /// Signing in no longer takes a second factor.
    TwoFactorDisabled,
    /// The account, waiting for review, was approved.
    AccountApproved,
    /// To moderators: someone signed up and waits for approval.
    /// `reason`: why they want to join, as they wrote it.
    NewPendingAccount { username: String, email: String, reason: String },
    /// To moderators: a new report.
    NewReport { reporter: String, target: String, category: String, comment: String },
}

impl MailMessage {
    /// The link it carries, if any.
    pub fn link(&self) -> Option<&str> {
        match self {
            MailMessage::ConfirmEmail { link, .. } | MailMessage::ResetPassword { link } => Some(link),
            MailMessage::PasswordChanged
            | MailMessage::EmailChanged { .. }
            | MailMessage::TwoFactorEnabled
            | MailMessage::TwoFactorDisabled
            | MailMessage::AccountApproved
            | MailMessage::NewPendingAccount { .. }
            | MailMessage::NewReport { .. } => None,
        }
    }

    /// Its name in logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            MailMessage::ConfirmEmail { .. } => "confirm_email",
            MailMessage::ResetPassword { .. } => "reset_password",
            MailMessage::PasswordChanged => "password_changed",
            MailMessage::EmailChanged { .. } => "email_changed",
            MailMessage::TwoFactorEnabled => "two_factor_enabled",
            MailMessage::TwoFactorDisabled => "two_factor_disabled",
            MailMessage::AccountApproved => "account_approved",
            MailMessage::NewPendingAccount { .. } => "new_pending_account",
            MailMessage::NewReport { .. } => "new_report",
        }
    }
}

string_enum!(
    /// What a mailed token lets its holder do once.
    MailTokenKind { Confirmation = "confirmation", ResetPassword = "reset_password" }
);

/// A single-use token sent by mail; only its hash is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailToken {
    pub id: Id,
    pub user_id: Id,
    pub kind: MailTokenKind,
    pub token_hash: String,
    /// The address it confirms (a confirmation), or the one it was sent to.
    pub email: String,
    pub created_at: Millis,
    pub expires_at: Millis,
}
