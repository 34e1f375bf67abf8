//! What a user is told by mail, and the links mails carry: the confirmation of an e-mail
//! address (after signing up, or for a new address) and the reset of a forgotten password
//! (Devise's confirmable and recoverable, as Mastodon has them). A link carries a single-use
//! token, kept here only as its hash. Mails go out from the `mailers` queue
//! ([`crate::jobs::mail::DeliverMail`]), enqueued in the transaction of the change.

use ferrodon_domain::model::{Account, Mail, MailMessage, MailToken, MailTokenKind, User};
use ferrodon_domain::ports::Tx;
use ferrodon_kernel::time::Millis;
use ferrodon_kernel::{Error, Id, Result};

use crate::Services;
use crate::auth::{hash_password, hash_secret, now, random_token};

/// How long a confirmation link works (two days).
pub const CONFIRMATION_TTL: Millis = 2 * 24 * 3600 * 1000;
/// How long a password-reset link works (Devise's six hours, which Mastodon keeps).
pub const RESET_PASSWORD_TTL: Millis = 6 * 3600 * 1000;
/// A user is mailed a new reset link at most this often (asking again sooner sends nothing), so
/// no one can flood a mailbox through the form anyone may post.
pub const RESEND_INTERVAL: Millis = 60 * 1000;

/// Whether `user_id` was mailed a link of `kind` less than [`RESEND_INTERVAL`] ago.
async fn mailed_recently(tx: &mut Box<dyn Tx>, user_id: Id, kind: MailTokenKind) -> Result<bool> {
    Ok(tx.last_mail_token_at(user_id, kind).await?.is_some_and(|at| now() - at < RESEND_INTERVAL))
}

/// A mail to `user` (account `account`) at `to`.
pub(crate) fn mail(svc: &Services, user: &User, account: &Account, to: &str, message: MailMessage) -> Mail {
    Mail {
        to: to.to_string(),
        username: account.username.clone(),
        locale: user.locale.clone(),
        instance: svc.config.local_domain.clone(),
        base_url: svc.base_url(),
        message,
    }
}

/// Tells the moderators, admins and owner of the server by mail, in the caller's transaction.
pub(crate) async fn tell_staff(svc: &Services, tx: &mut Box<dyn Tx>, message: MailMessage) -> Result<()> {
    for id in tx.staff_user_ids().await? {
        let Some(user) = tx.user_by_id(id).await? else { continue };
        let Some(account) = tx.account_by_id(user.account_id).await? else { continue };
        crate::effects::mail_sent(tx, mail(svc, &user, &account, &user.email, message.clone())).await?;
    }
    Ok(())
}

/// A new token of `kind` for `user_id` (replacing the ones before), for `email`; returns it
/// as the link will carry it.
async fn issue(tx: &mut Box<dyn Tx>, user_id: Id, kind: MailTokenKind, email: &str, ttl: Millis) -> Result<String> {
    tx.delete_mail_tokens(user_id, kind).await?;
    let raw = random_token();
    let at = now();
    let token = MailToken {
        id: Id::generate(),
        user_id,
        kind,
        token_hash: hash_secret(&raw),
        email: email.to_string(),
        created_at: at,
        expires_at: at + ttl,
    };
    tx.insert_mail_token(&token).await?;
    Ok(raw)
}

/// Sends `user` the link that confirms `email` (their address, or the one they asked to use
/// instead), in the caller's transaction.
pub(crate) async fn send_confirmation(
    svc: &Services,
    tx: &mut Box<dyn Tx>,
    user: &User,
    account: &Account,
    email: &str,
) -> Result<()> {
    let raw = issue(tx, user.id, MailTokenKind::Confirmation, email, CONFIRMATION_TTL).await?;
    let link = format!("{}/auth/confirmation?confirmation_token={raw}", svc.base_url());
    let new_address = user.confirmed_at.is_some() && email != user.email;
    let message = MailMessage::ConfirmEmail { link, new_address };
    crate::effects::mail_sent(tx, mail(svc, user, account, email, message)).await
}

/// `GET /auth/confirmation`: the link of a confirmation mail. The address it names becomes the
/// account's, confirmed. Returns the account.
pub async fn confirm(svc: &Services, raw: &str) -> Result<Account> {
    let invalid = || Error::validation("This confirmation link is invalid or has expired. Ask for a new one.");
    let mut tx = svc.db.write().await?;
    let token = tx.take_mail_token(MailTokenKind::Confirmation, &hash_secret(raw), now()).await?.ok_or_else(invalid)?;
    let user = tx.user_by_id(token.user_id).await?.ok_or_else(invalid)?;
    let account = tx.account_by_id(user.account_id).await?.ok_or_else(invalid)?;
    if token.email != user.email && tx.user_by_email(&token.email).await?.is_some() {
        return Err(Error::field("email", "ERR_TAKEN", "has already been taken"));
    }
    tx.set_user_email(user.id, &token.email, Some(user.confirmed_at.unwrap_or_else(now))).await?;
    if token.email != user.email {
        // A reset link sent to the old address no longer works.
        tx.delete_mail_tokens(user.id, MailTokenKind::ResetPassword).await?;
    }
    tx.commit().await?;
    Ok(account)
}

/// `POST /api/v1/emails/confirmations`: the confirmation mail again, to the address given (it
/// replaces the unconfirmed one) or the one the account has. Only while unconfirmed.
pub async fn resend_confirmation(svc: &Services, bearer: &str, email: Option<&str>) -> Result<()> {
    let (user, account) = crate::auth::unconfirmed_user(svc, bearer, "write:accounts").await?;
    let new = email.map(|e| crate::accounts::normalize_email(e).to_lowercase()).filter(|e| !e.is_empty());
    if let Some(new) = &new {
        crate::accounts::validate_email(new)?;
        crate::accounts::check_email_domain(svc, new)?;
    }
    let mut tx = svc.db.write().await?;
    // Read again in the writing transaction: the link may have been opened meanwhile.
    let user = tx.user_by_id(user.id).await?.ok_or_else(Error::not_found)?;
    if user.confirmed_at.is_some() {
        return Err(Error::forbidden("This method is only available while the e-mail is unconfirmed"));
    }
    let to = match new {
        Some(new) if new != user.email => {
            if tx.user_by_email(&new).await?.is_some() {
                return Err(Error::field("email", "ERR_TAKEN", "has already been taken"));
            }
            tx.set_user_email(user.id, &new, None).await?;
            // A reset link sent to the old address no longer works.
            tx.delete_mail_tokens(user.id, MailTokenKind::ResetPassword).await?;
            new
        }
        _ => user.email.clone(),
    };
    let user = User { email: to.clone(), ..user };
    send_confirmation(svc, &mut tx, &user, &account, &to).await?;
    tx.commit().await
}

/// `GET /api/v1/emails/check_confirmation`: whether the caller's address is confirmed.
pub async fn is_confirmed(svc: &Services, bearer: &str) -> Result<bool> {
    let (user, _) = crate::auth::unconfirmed_user(svc, bearer, "read:accounts").await?;
    Ok(user.confirmed_at.is_some())
}

/// `POST /auth/password`: a reset link to `email` if an account has that address. The answer
/// is the same either way, so the form tells no one who is here.
pub async fn request_password_reset(svc: &Services, email: &str) -> Result<()> {
    let email = crate::accounts::normalize_email(email).to_lowercase();
    // Looked up first without the writer: most requests of a form anyone may post end here.
    let (user, account) = {
        let mut tx = svc.db.read().await?;
        let Some(user) = tx.user_by_email(&email).await? else { return Ok(()) };
        let Some(account) = tx.account_by_id(user.account_id).await? else { return Ok(()) };
        (user, account)
    };
    if user.disabled || account.suspended_at.is_some() {
        return Ok(());
    }
    let mut tx = svc.db.write().await?;
    if mailed_recently(&mut tx, user.id, MailTokenKind::ResetPassword).await? {
        return Ok(());
    }
    let raw = issue(&mut tx, user.id, MailTokenKind::ResetPassword, &user.email, RESET_PASSWORD_TTL).await?;
    let link = format!("{}/auth/password/edit?reset_password_token={raw}", svc.base_url());
    crate::effects::mail_sent(&mut tx, mail(svc, &user, &account, &user.email, MailMessage::ResetPassword { link }))
        .await?;
    tx.commit().await
}

/// `PUT /auth/password`: a new password through a reset link. Every app signed in with the
/// old one is signed out, and the owner is told by mail. Following the link proves the
/// address, so an unconfirmed one is confirmed too.
pub async fn reset_password(svc: &Services, raw: &str, password: &str, confirmation: &str) -> Result<Account> {
    crate::accounts::validate_password(password)?;
    if password != confirmation {
        return Err(Error::field("password_confirmation", "ERR_INVALID", "doesn't match Password"));
    }
    let encrypted = hash_password(password).await?;
    let invalid = || Error::validation("This password reset link is invalid or has expired. Ask for a new one.");
    let mut tx = svc.db.write().await?;
    let token =
        tx.take_mail_token(MailTokenKind::ResetPassword, &hash_secret(raw), now()).await?.ok_or_else(invalid)?;
    let user = tx.user_by_id(token.user_id).await?.ok_or_else(invalid)?;
    let account = tx.account_by_id(user.account_id).await?.ok_or_else(invalid)?;
    // A link to an address the account no longer has, or for a login that may not act, is spent.
    if token.email != user.email || user.disabled || account.suspended_at.is_some() {
        tx.commit().await?;
        return Err(invalid());
    }
    tx.set_user_password(user.id, &encrypted).await?;
    if user.confirmed_at.is_none() && token.email == user.email {
        tx.set_user_flags(user.id, Some(now()), user.approved, user.disabled).await?;
    }
    tx.revoke_user_tokens(user.id, now()).await?;
    crate::effects::signed_out_everywhere(svc, &mut tx, account.id).await?;
    crate::effects::mail_sent(&mut tx, mail(svc, &user, &account, &user.email, MailMessage::PasswordChanged)).await?;
    tx.commit().await?;
    Ok(account)
}
