//! Mail: what sends it (SMTP, or the log on a server without a relay), and the store of the
//! single-use tokens mails carry; and the second factor of signing in.

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

/// A user's second factor: a TOTP secret (`enabled_at` once a code confirmed it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtpSecret {
    pub user_id: Id,
    /// Base32, as authenticator apps take it.
    pub secret: String,
    pub enabled_at: Option<Millis>,
    /// The last time step a code was taken at.
    pub last_step: i64,
}

/// The store of second factors (part of every transaction).
#[async_trait]
pub trait TwoFactorStore {
    async fn otp_secret(&mut self, user_id: Id) -> Result<Option<OtpSecret>>;
    /// Writes a user's secret (replacing any).
    async fn put_otp_secret(&mut self, secret: &OtpSecret) -> Result<()>;
    /// Takes the code of `step` if no code of that step or a later one was taken.
    async fn take_otp_step(&mut self, user_id: Id, step: i64) -> Result<bool>;
    /// Removes the second factor and its recovery codes.
    async fn delete_otp(&mut self, user_id: Id) -> Result<()>;
    /// Replaces the recovery codes (by hash).
    async fn set_recovery_codes(&mut self, user_id: Id, hashes: &[String]) -> Result<()>;
    /// Uses up a recovery code; whether it was one.
    async fn take_recovery_code(&mut self, user_id: Id, hash: &str) -> Result<bool>;
    /// A browser session that passed the password of `user_id` and waits for the second step.
    async fn put_otp_challenge(&mut self, session_id: Id, user_id: Id, now: Millis) -> Result<()>;
    /// The user a session's challenge is for, if made after `since`.
    async fn otp_challenge(&mut self, session_id: Id, since: Millis) -> Result<Option<Id>>;
    /// Counts a wrong code against a session's challenge; the challenge goes at `max`.
    async fn fail_otp_challenge(&mut self, session_id: Id, max: i64) -> Result<()>;
}

/// An invitation to sign up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invite {
    pub id: Id,
    pub user_id: Id,
    pub code: String,
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub expires_at: Option<Millis>,
    pub created_at: Millis,
}

impl Invite {
    /// Whether it still lets someone sign up at `now`.
    pub fn valid(&self, now: Millis) -> bool {
        self.expires_at.is_none_or(|e| e > now) && self.max_uses.is_none_or(|m| self.uses < m)
    }
}

/// The store of invitations (part of every transaction).
#[async_trait]
pub trait InviteStore {
    async fn insert_invite(&mut self, invite: &Invite) -> Result<()>;
    /// `user_id`'s invitations, newest first.
    async fn invites_of(&mut self, user_id: Id) -> Result<Vec<Invite>>;
    async fn invite_by_code(&mut self, code: &str) -> Result<Option<Invite>>;
    /// Counts one use of `code` if it is still valid at `now`; whether it was.
    async fn use_invite(&mut self, code: &str, now: Millis) -> Result<bool>;
    /// Makes `user_id`'s invitation `id` expire at `now`.
    async fn expire_invite(&mut self, user_id: Id, id: Id, now: Millis) -> Result<()>;
}
