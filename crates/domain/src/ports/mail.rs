//! Mail: what sends it (SMTP, or the log on a server without a relay), and the store of the
//! single-use tokens mails carry.

use async_trait::async_trait;
use ferrodon_kernel::time::Millis;
use ferrodon_kernel::{Id, Result};

use crate::model::{Mail, MailToken, MailTokenKind};

/// Sends mail. The mail crate implements it: rendering (text and HTML) and delivery.
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Sends `mail`. A refusal that would be repeated (a bad address) is a validation error; a
    /// failure worth retrying (the relay unreachable, a temporary refusal) is unavailable.
    async fn send(&self, mail: &Mail) -> Result<()>;
    /// What sends mail, for logs and `config check` (`smtp://host:port (STARTTLS)`, or that
    /// mail is only logged).
    fn describe(&self) -> String;
}

/// The store of mailed tokens (part of every transaction).
#[async_trait]
pub trait MailTokenStore {
    async fn insert_mail_token(&mut self, token: &MailToken) -> Result<()>;
    /// The token of `kind` whose hash is `hash`, if it has not expired by `now`; it is used up
    /// (deleted) either way.
    async fn take_mail_token(&mut self, kind: MailTokenKind, hash: &str, now: Millis) -> Result<Option<MailToken>>;
    /// When the newest of `user_id`'s tokens of `kind` was made.
    async fn last_mail_token_at(&mut self, user_id: Id, kind: MailTokenKind) -> Result<Option<Millis>>;
    /// Removes `user_id`'s tokens of `kind` (a new one replaces them, or they are done with).
    async fn delete_mail_tokens(&mut self, user_id: Id, kind: MailTokenKind) -> Result<()>;
    /// Sets a user's address (kept in lower case) and when it was confirmed.
    async fn set_user_email(&mut self, user_id: Id, email: &str, confirmed_at: Option<Millis>) -> Result<()>;
}
