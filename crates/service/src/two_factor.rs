//! Two-factor sign-in, as Mastodon has it: a TOTP secret (RFC 6238: SHA-1, 6 digits, 30-second
//! steps, one step of clock drift either way) confirmed by a first code, ten single-use recovery
//! codes, and a second step after the password when signing in. No code is taken twice.

use ferrodon_domain::model::{Account, MailMessage, User};
use ferrodon_domain::ports::{OtpSecret, Tx};
use ferrodon_kernel::{Error, Id, Result};
use rand::RngCore;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::Services;
use crate::auth::{hash_secret, now};

/// Recovery codes given when the second factor is enabled.
const RECOVERY_CODES: usize = 10;
const STEP_SECONDS: u64 = 30;

/// A second factor being set up: the secret to give an authenticator app, as text and as the
/// `otpauth://` address its QR code holds.
pub struct Setup {
    pub secret: String,
    pub uri: String,
}

fn totp(secret: &str) -> Result<TOTP> {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().map_err(|_| Error::internal("bad OTP secret"))?;
    TOTP::new(Algorithm::SHA1, 6, 1, STEP_SECONDS, bytes).map_err(Error::internal)
}

/// Whether `user_id` signs in with a second factor.
pub async fn enabled(svc: &Services, user_id: Id) -> Result<bool> {
    Ok(svc.db.read().await?.otp_secret(user_id).await?.is_some_and(|s| s.enabled_at.is_some()))
}

/// The owner's password, asked again before the second factor changes (a session cookie alone
/// may not lock its owner out).
async fn check_password(user: &User, password: &str) -> Result<()> {
    if crate::auth::verify_password(password, &user.encrypted_password).await {
        Ok(())
    } else {
        Err(Error::field("current_password", "ERR_INVALID", "is invalid"))
    }
}

/// Starts setting up a second factor, the password given again: a new secret, not used until a
/// code confirms it.
pub async fn begin(svc: &Services, user: &User, account: &Account, password: &str) -> Result<Setup> {
    check_password(user, password).await?;
    let mut tx = svc.db.write().await?;
    if tx.otp_secret(user.id).await?.is_some_and(|s| s.enabled_at.is_some()) {
        return Err(Error::validation("Two-factor authentication is already enabled"));
    }
    let mut bytes = [0u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    let Secret::Encoded(secret) = Secret::Raw(bytes.to_vec()).to_encoded() else {
        return Err(Error::internal("the secret was not encoded"));
    };
    tx.put_otp_secret(&OtpSecret { user_id: user.id, secret: secret.clone(), enabled_at: None, last_step: 0 }).await?;
    tx.commit().await?;
    let issuer = &svc.config.local_domain;
    let label = format!("{issuer}:{}", account.username);
    let uri = format!(
        "otpauth://totp/{}?secret={secret}&issuer={}&algorithm=SHA1&digits=6&period={STEP_SECONDS}",
        encode(&label),
        encode(issuer)
    );
    Ok(Setup { secret, uri })
}

/// Enables the second factor being set up, if `code` is right; returns the recovery codes (shown
/// once, kept only as hashes). The owner is told by mail.
pub async fn confirm(svc: &Services, user: &User, account: &Account, code: &str) -> Result<Vec<String>> {
    let mut tx = svc.db.write().await?;
    let Some(pending) = tx.otp_secret(user.id).await?.filter(|s| s.enabled_at.is_none()) else {
        return Err(Error::validation("Set up two-factor authentication first"));
    };
    let Some(step) = take_code(&mut tx, &pending, code).await? else {
        return Err(Error::field("otp_attempt", "ERR_INVALID", "is not the right code"));
    };
    tx.put_otp_secret(&OtpSecret { enabled_at: Some(now()), last_step: step, ..pending }).await?;
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
    let hashes: Vec<String> = codes.iter().map(|c| hash_secret(c)).collect();
    tx.set_recovery_codes(user.id, &hashes).await?;
    let mail = crate::mail::mail(svc, user, account, &user.email, MailMessage::TwoFactorEnabled);
    crate::effects::mail_sent(&mut tx, mail).await?;
    tx.commit().await?;
    Ok(codes)
}

/// Turns the second factor off, with the password and a code (or a recovery code) to prove it is
/// the owner. The owner is told by mail.
pub async fn disable(svc: &Services, user: &User, account: &Account, password: &str, code: &str) -> Result<()> {
    check_password(user, password).await?;
    let mut tx = svc.db.write().await?;
    if !verify(&mut tx, user.id, code).await? {
        return Err(Error::field("otp_attempt", "ERR_INVALID", "is not the right code"));
    }
    tx.delete_otp(user.id).await?;
    let mail = crate::mail::mail(svc, user, account, &user.email, MailMessage::TwoFactorDisabled);
    crate::effects::mail_sent(&mut tx, mail).await?;
    tx.commit().await
}

/// Whether `code` is a current code of `user_id`'s enabled second factor, or one of its
/// recovery codes (used up either way), in the caller's transaction.
pub(crate) async fn verify(tx: &mut Box<dyn Tx>, user_id: Id, code: &str) -> Result<bool> {
    let Some(secret) = tx.otp_secret(user_id).await?.filter(|s| s.enabled_at.is_some()) else { return Ok(false) };
    let code = code.trim();
    if take_code(tx, &secret, code).await?.is_some() {
        return Ok(true);
    }
    tx.take_recovery_code(user_id, &hash_secret(&code.to_ascii_lowercase())).await
}

fn current_step() -> i64 {
    now().div_euclid(1000) / STEP_SECONDS as i64
}

/// Takes a TOTP code of the step before, this one or the next, if none as late was taken;
/// returns its step.
async fn take_code(tx: &mut Box<dyn Tx>, secret: &OtpSecret, code: &str) -> Result<Option<i64>> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let totp = totp(&secret.secret)?;
    let step = current_step();
    for s in [step - 1, step, step + 1] {
        if s > secret.last_step && totp.generate(s as u64 * STEP_SECONDS) == code {
            return Ok(tx.take_otp_step(secret.user_id, s).await?.then_some(s));
        }
    }
    Ok(None)
}

/// A recovery code: ten lower-case letters and digits in two groups.
fn recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 10];
    rand::rng().fill_bytes(&mut bytes);
    let chars: String = bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
