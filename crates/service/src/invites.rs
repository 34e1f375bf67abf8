//! Invitations to sign up (Mastodon's invites): a signed-in user makes a link with a code, used
//! at most so many times and until some time; whoever signs up with it needs no approval, and
//! may sign up while sign-ups are otherwise closed.

use ferrodon_domain::model::User;
use ferrodon_domain::ports::Invite;
use ferrodon_kernel::time::Millis;
use ferrodon_kernel::{Error, Id, Result};
use rand::Rng;

use crate::Services;
use crate::auth::now;

/// The uses an invitation may be given (Mastodon's choices; `None`: no limit).
pub const MAX_USES: [Option<i64>; 7] = [None, Some(1), Some(5), Some(10), Some(25), Some(50), Some(100)];
/// How long it may last, in seconds (Mastodon's choices; `None`: for good).
pub const EXPIRES_IN: [Option<i64>; 7] =
    [None, Some(1800), Some(3600), Some(21_600), Some(43_200), Some(86_400), Some(604_800)];

/// The address of an invitation.
pub fn link(svc: &Services, invite: &Invite) -> String {
    format!("{}/invite/{}", svc.base_url(), invite.code)
}

/// A new invitation by `user`.
pub async fn create(svc: &Services, user: &User, max_uses: Option<i64>, expires_in: Option<i64>) -> Result<Invite> {
    if !MAX_USES.contains(&max_uses) || !EXPIRES_IN.contains(&expires_in) {
        return Err(Error::validation("Validation failed: choose a number of uses and a time from the list"));
    }
    let at = now();
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let code: String = {
        let mut rng = rand::rng();
        (0..8).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
    };
    let invite = Invite {
        id: Id::generate(),
        user_id: user.id,
        code,
        max_uses,
        uses: 0,
        expires_at: expires_in.map(|s| at + s * 1000),
        created_at: at,
    };
    let mut tx = svc.db.write().await?;
    tx.insert_invite(&invite).await?;
    tx.commit().await?;
    Ok(invite)
}

/// `user`'s invitations, newest first.
pub async fn of(svc: &Services, user: &User) -> Result<Vec<Invite>> {
    svc.db.read().await?.invites_of(user.id).await
}

/// Ends one of `user`'s invitations now.
pub async fn expire(svc: &Services, user: &User, id: Id) -> Result<()> {
    let mut tx = svc.db.write().await?;
    tx.expire_invite(user.id, id, now()).await?;
    tx.commit().await
}

/// The invitation of `code`, if it still lets someone sign up.
pub async fn valid(svc: &Services, code: &str) -> Result<Option<Invite>> {
    let at: Millis = now();
    Ok(svc.db.read().await?.invite_by_code(code).await?.filter(|i| i.valid(at)))
}
