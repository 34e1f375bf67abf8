//! Who is calling: bearer tokens, OAuth scopes, and the signed-in viewer.

use base64::Engine;
use ferrodon_domain::model::{AccessToken, Account, Application, User};
use ferrodon_kernel::{Error, Result, time::now_ms};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::Services;

/// Every scope Mastodon knows, top-level and granular.
pub const ALL_SCOPES: &[&str] = &[
    "read",
    "write",
    "follow",
    "push",
    "profile",
    "admin:read",
    "admin:write",
    "read:accounts",
    "read:blocks",
    "read:bookmarks",
    "read:favourites",
    "read:filters",
    "read:follows",
    "read:lists",
    "read:mutes",
    "read:notifications",
    "read:search",
    "read:statuses",
    "write:accounts",
    "write:blocks",
    "write:bookmarks",
    "write:conversations",
    "write:favourites",
    "write:filters",
    "write:follows",
    "write:lists",
    "write:media",
    "write:mutes",
    "write:notifications",
    "write:reports",
    "write:statuses",
    "admin:read:accounts",
    "admin:read:reports",
    "admin:read:domain_allows",
    "admin:read:domain_blocks",
    "admin:read:ip_blocks",
    "admin:read:email_domain_blocks",
    "admin:read:canonical_email_blocks",
    "admin:write:accounts",
    "admin:write:reports",
    "admin:write:domain_allows",
    "admin:write:domain_blocks",
    "admin:write:ip_blocks",
    "admin:write:email_domain_blocks",
    "admin:write:canonical_email_blocks",
];

/// A set of granted scopes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// Parses a space- (or `+`-) separated list; unknown scopes are an error.
    pub fn parse(s: &str) -> Result<Scopes> {
        let mut out: Vec<String> = Vec::new();
        for part in s.split([' ', '+', ',']).map(str::trim).filter(|p| !p.is_empty()) {
            if !ALL_SCOPES.contains(&part) {
                return Err(Error::bad_request(format!(
                    "The requested scope is invalid, unknown, or malformed: {part}"
                )));
            }
            if !out.iter().any(|o| o == part) {
                out.push(part.to_string());
            }
        }
        Ok(Scopes(out))
    }

    /// Parses, defaulting to `read` when empty (Mastodon's default scope).
    pub fn parse_or_default(s: Option<&str>) -> Result<Scopes> {
        match s.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(Scopes(vec!["read".into()])),
            Some(s) => Scopes::parse(s),
        }
    }

    /// True when `required` (e.g. `read:statuses`) is granted directly or by its parent
    /// (`read`), or by the legacy `follow` scope for blocks, follows and mutes.
    pub fn allows(&self, required: &str) -> bool {
        self.0.iter().any(|granted| {
            granted == required
                || required.strip_prefix(granted.as_str()).is_some_and(|rest| rest.starts_with(':'))
                || (granted == "follow"
                    && matches!(
                        required,
                        "read:blocks"
                            | "write:blocks"
                            | "read:follows"
                            | "write:follows"
                            | "read:mutes"
                            | "write:mutes"
                    ))
        })
    }

    /// True when every scope of `self` is inside `outer` (requested ⊆ registered).
    pub fn within(&self, outer: &Scopes) -> bool {
        self.0.iter().all(|s| outer.allows(s))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.0.clone()
    }
}

impl std::fmt::Display for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

/// A signed-in local user.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub account: Account,
    pub user: User,
    pub token: AccessToken,
    pub scopes: Scopes,
}

/// An app calling with its own (client-credentials) token.
#[derive(Clone, Debug)]
pub struct AppCaller {
    pub app: Application,
    pub token: AccessToken,
    pub scopes: Scopes,
}

/// Whoever sent a request.
#[derive(Clone, Debug)]
pub enum Caller {
    Anonymous,
    /// A client-credentials token: the app itself, no user.
    App(Box<AppCaller>),
    User(Box<Viewer>),
}

impl Caller {
    /// The viewer, if a user token; `None` for apps and anonymous callers.
    pub fn viewer(&self) -> Option<&Viewer> {
        match self {
            Caller::User(v) => Some(v),
            _ => None,
        }
    }

    fn scopes(&self) -> Option<&Scopes> {
        match self {
            Caller::Anonymous => None,
            Caller::App(a) => Some(&a.scopes),
            Caller::User(v) => Some(&v.scopes),
        }
    }

    /// A user token with `scope`: 401 without a token, 422 for an app token (Mastodon's
    /// `require_user!`), 403 without the scope.
    pub fn require_user(&self, scope: &str) -> Result<&Viewer> {
        match self {
            Caller::Anonymous => Err(Error::unauthorized("The access token is invalid")),
            Caller::App(_) => Err(Error::validation("This method requires an authenticated user")),
            Caller::User(v) => {
                if !v.scopes.allows(scope) {
                    return Err(Error::forbidden("This action is outside the authorized scopes"));
                }
                Ok(v)
            }
        }
    }

    /// Any token with `scope` (app or user).
    pub fn require_token(&self, scope: &str) -> Result<()> {
        match self.scopes() {
            None => Err(Error::unauthorized("The access token is invalid")),
            Some(s) if !s.allows(scope) => Err(Error::forbidden("This action is outside the authorized scopes")),
            Some(_) => Ok(()),
        }
    }

    /// For public endpoints: anonymous is fine, but a token present must carry `scope`.
    pub fn optional_user(&self, scope: &str) -> Result<Option<&Viewer>> {
        match self {
            Caller::Anonymous => Ok(None),
            Caller::App(a) => {
                if a.scopes.allows(scope) {
                    Ok(None)
                } else {
                    Err(Error::forbidden("This action is outside the authorized scopes"))
                }
            }
            Caller::User(v) => {
                if v.scopes.allows(scope) {
                    Ok(Some(v))
                } else {
                    Err(Error::forbidden("This action is outside the authorized scopes"))
                }
            }
        }
    }
}

/// 32 random bytes, URL-safe base64 (43 characters): tokens, codes, secrets.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Tokens and codes are stored as SHA-256 hex: a database leak does not leak credentials.
pub fn hash_secret(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The user a token belongs to, confirmed or not (the e-mail confirmation endpoints, which
/// exist for the unconfirmed), if the token has `scope`. Disabled and suspended users are
/// refused as everywhere else.
pub(crate) async fn unconfirmed_user(svc: &Services, bearer: &str, scope: &str) -> Result<(User, Account)> {
    let mut tx = svc.db.read().await?;
    let invalid = || Error::unauthorized("The access token is invalid");
    let (token, owner) = tx.token_owner(&hash_secret(bearer)).await?.ok_or_else(invalid)?;
    if token.revoked_at.is_some() {
        return Err(Error::unauthorized("The access token was revoked"));
    }
    let (user, account) = owner.ok_or_else(|| Error::forbidden("This method requires an authenticated user"))?;
    let scopes = Scopes::parse(&token.scopes).unwrap_or(Scopes(Vec::new()));
    if !scopes.allows(scope) {
        return Err(Error::forbidden("This action is outside the authorized scopes"));
    }
    if user.disabled || account.suspended_at.is_some() {
        return Err(Error::forbidden("Your login is currently disabled"));
    }
    Ok((user, account))
}

/// Resolves a bearer token to its caller. Unknown or revoked tokens are 401.
pub async fn authenticate(svc: &Services, bearer: Option<&str>) -> Result<Caller> {
    let Some(raw) = bearer else {
        return Ok(Caller::Anonymous);
    };
    let mut tx = svc.db.read().await?;
    let invalid = || Error::unauthorized("The access token is invalid");
    let (token, owner) = tx.token_owner(&hash_secret(raw)).await?.ok_or_else(invalid)?;
    if token.revoked_at.is_some() {
        return Err(Error::unauthorized("The access token was revoked"));
    }
    let scopes = Scopes::parse(&token.scopes).unwrap_or(Scopes(Vec::new()));
    let Some((user, account)) = owner else {
        if token.user_id.is_some() {
            return Err(invalid());
        }
        let app = tx.application_by_id(token.application_id).await?.ok_or_else(invalid)?;
        return Ok(Caller::App(Box::new(AppCaller { app, token, scopes })));
    };
    check_user_may_act(&user, &account)?;
    Ok(Caller::User(Box::new(Viewer { account, user, token, scopes })))
}

/// Mastodon's 403s for users who cannot act yet (or any more).
pub fn check_user_may_act(user: &User, account: &Account) -> Result<()> {
    if user.disabled {
        return Err(Error::forbidden("Your login is currently disabled"));
    }
    if account.suspended_at.is_some() {
        return Err(Error::forbidden("Your login is currently disabled"));
    }
    if user.confirmed_at.is_none() {
        return Err(Error::forbidden("Your login is missing a confirmed e-mail address"));
    }
    if !user.approved {
        return Err(Error::forbidden("Your login is currently pending approval"));
    }
    Ok(())
}

/// bcrypt, as Devise does (cost 10), off the async threads.
pub async fn hash_password(password: &str) -> Result<String> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || bcrypt::hash(password, 10))
        .await
        .map_err(Error::internal)?
        .map_err(Error::internal)
}

pub async fn verify_password(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false)).await.unwrap_or(false)
}

pub fn now() -> i64 {
    now_ms()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granular_scopes_are_inside_their_parent() {
        let s = Scopes::parse("read write:statuses follow").unwrap();
        assert!(s.allows("read:statuses"));
        assert!(s.allows("read"));
        assert!(s.allows("write:statuses"));
        assert!(!s.allows("write"));
        assert!(!s.allows("write:favourites"));
        assert!(s.allows("write:follows"));
        assert!(!Scopes::parse("read:statuses").unwrap().allows("read"));
        assert!(Scopes::parse("readx").is_err());
        assert!(Scopes::parse("read:statuses").unwrap().within(&Scopes::parse("read write").unwrap()));
        assert!(!Scopes::parse("write").unwrap().within(&Scopes::parse("read").unwrap()));
    }
}
