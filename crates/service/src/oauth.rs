//! OAuth 2 as Mastodon (Doorkeeper) does it: app registration, the authorization-code grant with
//! PKCE S256, client credentials, revocation, and the sign-in sessions of the HTML pages.

use base64::Engine;
use ferrodon_domain::model::{AccessGrant, AccessToken, Application, User, WebSession};
use ferrodon_kernel::{Error, ErrorKind, Id, Result};
use sha2::{Digest, Sha256};

use crate::Services;
use crate::auth::{Caller, Scopes, hash_secret, now, random_token, verify_password};

pub const OOB_REDIRECT: &str = "urn:ietf:wg:oauth:2.0:oob";
const CODE_LIFETIME_MS: i64 = 10 * 60 * 1000;

/// An OAuth protocol error (`{"error": code, "error_description": …}`).
#[derive(Debug, Clone)]
pub struct OAuthError {
    pub kind: ErrorKind,
    pub code: &'static str,
    pub description: String,
}

impl OAuthError {
    fn new(kind: ErrorKind, code: &'static str, description: impl Into<String>) -> Self {
        OAuthError { kind, code, description: description.into() }
    }
    fn invalid_grant() -> Self {
        Self::new(
            ErrorKind::BadRequest,
            "invalid_grant",
            "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
        )
    }
    fn invalid_client() -> Self {
        Self::new(
            ErrorKind::Unauthorized,
            "invalid_client",
            "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
        )
    }
}

impl From<Error> for OAuthError {
    fn from(e: Error) -> Self {
        OAuthError { kind: e.kind, code: "server_error", description: e.message }
    }
}

fn valid_redirect_uri(uri: &str) -> bool {
    if uri == OOB_REDIRECT {
        return true;
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let scheme = scheme.to_ascii_lowercase();
    !rest.is_empty()
        && !uri.contains('#')
        && !matches!(scheme.as_str(), "javascript" | "data" | "vbscript")
        && scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// `POST /api/v1/apps`.
pub async fn create_app(
    svc: &Services,
    name: Option<&str>,
    redirect_uris: &[String],
    scopes: Option<&str>,
    website: Option<&str>,
) -> Result<Application> {
    let name = name.map(str::trim).unwrap_or("");
    if name.is_empty() {
        return Err(Error::validation("Validation failed: Application name can't be blank"));
    }
    if name.chars().count() > 60 {
        return Err(Error::validation("Validation failed: Application name is too long (maximum is 60 characters)"));
    }
    let uris: Vec<String> = redirect_uris
        .iter()
        .flat_map(|u| u.split('\n'))
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .collect();
    if uris.is_empty() {
        return Err(Error::validation("Validation failed: Redirect URI can't be blank"));
    }
    if let Some(bad) = uris.iter().find(|u| !valid_redirect_uri(u) || u.len() > 2000) {
        return Err(Error::validation(format!("Validation failed: Redirect URI must be an absolute URI ({bad})")));
    }
    let scopes = Scopes::parse_or_default(scopes)
        .map_err(|e| Error::validation(format!("Validation failed: Scopes {}", e.message)))?;
    let website = website.map(str::trim).filter(|w| !w.is_empty()).map(str::to_string);
    if website.as_ref().is_some_and(|w| w.len() > 2000 || !(w.starts_with("http://") || w.starts_with("https://"))) {
        return Err(Error::validation("Validation failed: Website is invalid"));
    }
    let app = Application {
        id: Id::generate(),
        name: name.to_string(),
        website,
        redirect_uris: uris.join("\n"),
        scopes: scopes.to_string(),
        client_id: random_token(),
        client_secret: random_token(),
        created_at: now(),
    };
    let mut tx = svc.db.write().await?;
    tx.create_application(&app).await?;
    tx.commit().await?;
    Ok(app)
}

/// `GET /api/v1/apps/verify_credentials`: any valid token of the app.
pub async fn verify_app(svc: &Services, caller: &Caller) -> Result<Application> {
    let app_id = match caller {
        Caller::Anonymous => return Err(Error::unauthorized("The access token is invalid")),
        Caller::App(a) => a.token.application_id,
        Caller::User(v) => v.token.application_id,
    };
    let mut tx = svc.db.read().await?;
    tx.application_by_id(app_id).await?.ok_or_else(|| Error::unauthorized("The access token is invalid"))
}

/// The query of `GET /oauth/authorize`, carried through the consent form.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct AuthorizeParams {
    #[serde(default)]
    pub response_type: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub redirect_uri: String,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub code_challenge: Option<String>,
    #[serde(default)]
    pub code_challenge_method: Option<String>,
    #[serde(default)]
    pub force_login: Option<String>,
    #[serde(default)]
    pub lang: Option<String>,
}

/// A checked authorization request.
#[derive(Clone, Debug)]
pub struct AuthorizeRequest {
    pub app: Application,
    pub scopes: Scopes,
    pub params: AuthorizeParams,
}

/// Checks an authorization request. Errors here are shown on a page, never redirected (the
/// redirect URI is not trusted yet), except the ones `redirect_error` is for.
pub async fn check_authorize(svc: &Services, p: &AuthorizeParams) -> std::result::Result<AuthorizeRequest, OAuthError> {
    let mut tx = svc.db.read().await?;
    let app = tx.application_by_client_id(&p.client_id).await?.ok_or_else(OAuthError::invalid_client)?;
    if !app.redirect_uri_list().contains(&p.redirect_uri.as_str()) {
        return Err(OAuthError::new(
            ErrorKind::BadRequest,
            "invalid_redirect_uri",
            "The redirect uri included is not valid.",
        ));
    }
    if p.response_type != "code" {
        return Err(OAuthError::new(
            ErrorKind::BadRequest,
            "unsupported_response_type",
            "The authorization server does not support this response type.",
        ));
    }
    let registered = Scopes::parse(&app.scopes).unwrap_or_else(|_| Scopes::parse("read").unwrap());
    let scopes =
        Scopes::parse_or_default(p.scope.as_deref()).ok().filter(|s| s.within(&registered)).ok_or_else(|| {
            OAuthError::new(
                ErrorKind::BadRequest,
                "invalid_scope",
                "The requested scope is invalid, unknown, or malformed.",
            )
        })?;
    if let Some(method) = p.code_challenge_method.as_deref().filter(|m| !m.is_empty())
        && method != "S256"
    {
        return Err(OAuthError::new(ErrorKind::BadRequest, "invalid_request", "Code challenge method must be S256."));
    }
    Ok(AuthorizeRequest { app, scopes, params: p.clone() })
}

fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = uri.to_string();
    let mut sep = if uri.contains('?') { '&' } else { '?' };
    for (k, v) in pairs {
        out.push(sep);
        out.push_str(k);
        out.push('=');
        out.push_str(&percent_encode(v));
        sep = '&';
    }
    out
}

pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The user approved: issue a code. Returns where to send the browser (the app's redirect URI,
/// or the page that shows the code for out-of-band apps).
pub async fn approve(svc: &Services, user: &User, req: &AuthorizeRequest) -> Result<String> {
    let code = random_token();
    let grant = AccessGrant {
        id: Id::generate(),
        application_id: req.app.id,
        user_id: user.id,
        code_hash: hash_secret(&code),
        redirect_uri: req.params.redirect_uri.clone(),
        scopes: req.scopes.to_string(),
        code_challenge: req.params.code_challenge.clone().filter(|c| !c.is_empty()),
        expires_at: now() + CODE_LIFETIME_MS,
        used_at: None,
    };
    let mut tx = svc.db.write().await?;
    tx.create_grant(&grant).await?;
    tx.commit().await?;
    if req.params.redirect_uri == OOB_REDIRECT {
        return Ok(with_query("/oauth/authorize/native", &[("code", &code)]));
    }
    let mut pairs = vec![("code", code.as_str())];
    if let Some(state) = req.params.state.as_deref() {
        pairs.push(("state", state));
    }
    Ok(with_query(&req.params.redirect_uri, &pairs))
}

/// The user denied: where to send the browser.
pub fn deny(req: &AuthorizeRequest) -> String {
    let mut pairs = vec![
        ("error", "access_denied"),
        ("error_description", "The resource owner or authorization server denied the request."),
    ];
    if let Some(state) = req.params.state.as_deref() {
        pairs.push(("state", state));
    }
    if req.params.redirect_uri == OOB_REDIRECT {
        return with_query("/oauth/authorize/native", &pairs);
    }
    with_query(&req.params.redirect_uri, &pairs)
}

/// The body of `POST /oauth/token`.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct TokenRequest {
    #[serde(default)]
    pub grant_type: String,
    pub code: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub scope: Option<String>,
}

fn same_secret(a: &str, b: &str) -> bool {
    // Constant time over the length of the known secret.
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn authenticate_client(
    tx: &mut Box<dyn ferrodon_domain::ports::Tx>,
    client_id: Option<&str>,
    client_secret: Option<&str>,
) -> std::result::Result<Application, OAuthError> {
    let app = tx.application_by_client_id(client_id.unwrap_or("")).await?.ok_or_else(OAuthError::invalid_client)?;
    if !same_secret(&app.client_secret, client_secret.unwrap_or("")) {
        return Err(OAuthError::invalid_client());
    }
    Ok(app)
}

/// A token just issued: the secret the client gets (only its hash is kept) and the stored token.
pub struct IssuedToken {
    pub access_token: String,
    pub token: AccessToken,
}

/// `POST /oauth/token`.
pub async fn token(svc: &Services, r: &TokenRequest) -> std::result::Result<IssuedToken, OAuthError> {
    let mut tx = svc.db.write().await?;
    let app = authenticate_client(&mut tx, r.client_id.as_deref(), r.client_secret.as_deref()).await?;
    let now = now();
    let (user_id, scopes) = match r.grant_type.as_str() {
        "authorization_code" => {
            let code = r.code.as_deref().filter(|c| !c.is_empty()).ok_or_else(|| {
                OAuthError::new(ErrorKind::BadRequest, "invalid_request", "Missing required parameter: code.")
            })?;
            let grant = tx.grant_by_code_hash(&hash_secret(code)).await?.ok_or_else(OAuthError::invalid_grant)?;
            let redirect_ok = r.redirect_uri.as_deref().is_none_or(|u| u == grant.redirect_uri);
            if grant.application_id != app.id || grant.used_at.is_some() || grant.expires_at < now || !redirect_ok {
                return Err(OAuthError::invalid_grant());
            }
            if let Some(challenge) = &grant.code_challenge {
                let verifier = r.code_verifier.as_deref().unwrap_or("");
                let digest = Sha256::digest(verifier.as_bytes());
                let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
                if verifier.is_empty() || !same_secret(challenge, &computed) {
                    return Err(OAuthError::invalid_grant());
                }
            }
            if !tx.use_grant(grant.id, now).await? {
                return Err(OAuthError::invalid_grant());
            }
            let user = tx.user_by_id(grant.user_id).await?.ok_or_else(OAuthError::invalid_grant)?;
            (Some(user.id), grant.scopes)
        }
        "client_credentials" => {
            let registered = Scopes::parse(&app.scopes).unwrap_or_else(|_| Scopes::parse("read").unwrap());
            let requested = match r.scope.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => Scopes::parse("read").unwrap(),
                Some(s) => Scopes::parse(s).map_err(|_| invalid_scope())?,
            };
            if !requested.within(&registered) {
                return Err(invalid_scope());
            }
            (None, requested.to_string())
        }
        "" => {
            return Err(OAuthError::new(
                ErrorKind::BadRequest,
                "invalid_request",
                "Missing required parameter: grant_type.",
            ));
        }
        _ => {
            return Err(OAuthError::new(
                ErrorKind::BadRequest,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.",
            ));
        }
    };
    let raw = random_token();
    let token = AccessToken {
        id: Id::generate(),
        application_id: app.id,
        user_id,
        token_hash: hash_secret(&raw),
        scopes,
        created_at: now,
        revoked_at: None,
    };
    tx.create_token(&token).await?;
    tx.commit().await?;
    Ok(IssuedToken { access_token: raw, token })
}

fn invalid_scope() -> OAuthError {
    OAuthError::new(ErrorKind::BadRequest, "invalid_scope", "The requested scope is invalid, unknown, or malformed.")
}

/// `POST /oauth/revoke` (RFC 7009): revokes a token of this client; unknown tokens are fine.
pub async fn revoke(
    svc: &Services,
    client_id: Option<&str>,
    client_secret: Option<&str>,
    token: &str,
) -> std::result::Result<(), OAuthError> {
    let mut tx = svc.db.write().await?;
    let app = authenticate_client(&mut tx, client_id, client_secret).await.map_err(|_| {
        OAuthError::new(ErrorKind::Forbidden, "unauthorized_client", "You are not authorized to revoke this token")
    })?;
    if let Some(t) = tx.token_by_hash(&hash_secret(token)).await? {
        if t.application_id != app.id {
            return Err(OAuthError::new(
                ErrorKind::Forbidden,
                "unauthorized_client",
                "You are not authorized to revoke this token",
            ));
        }
        tx.revoke_token(t.id, now()).await?;
        let owner = match t.user_id {
            Some(user) => tx.user_by_id(user).await?.map(|u| u.account_id),
            None => None,
        };
        if let Some(account) = owner {
            crate::effects::token_revoked(svc, &mut tx, account, t.id).await?;
        }
        tx.commit().await?;
        return Ok(());
    }
    tx.commit().await?;
    Ok(())
}

/// `GET|POST /oauth/userinfo` (OpenID Connect claims, `profile` scope).
pub async fn userinfo(svc: &Services, caller: &Caller) -> Result<serde_json::Value> {
    let me = match caller.require_user("profile") {
        Ok(v) => v,
        Err(e) if e.kind == ErrorKind::Forbidden => caller.require_user("read:accounts")?,
        Err(e) => return Err(e),
    };
    let a = &me.account;
    Ok(serde_json::json!({
        "iss": format!("{}/", svc.base_url()),
        "sub": a.uri,
        "name": if a.display_name.is_empty() { &a.username } else { &a.display_name },
        "preferred_username": a.username,
        "profile": a.url,
        "picture": svc.avatar_missing(),
    }))
}

/// A browser session of the HTML pages, with its raw cookie value.
pub struct BrowserSession {
    pub cookie: String,
    pub session: WebSession,
}

/// Finds the session behind a cookie, or starts a new one (every form needs a CSRF token).
pub async fn browser_session(svc: &Services, cookie: Option<&str>) -> Result<BrowserSession> {
    if let Some(c) = cookie.filter(|c| !c.is_empty()) {
        let mut tx = svc.db.read().await?;
        if let Some(session) = tx.web_session(&hash_secret(c)).await? {
            return Ok(BrowserSession { cookie: c.to_string(), session });
        }
    }
    let cookie = random_token();
    let session = WebSession {
        id: Id::generate(),
        session_hash: hash_secret(&cookie),
        user_id: None,
        csrf_token: random_token(),
        created_at: now(),
    };
    let mut tx = svc.db.write().await?;
    tx.create_web_session(&session).await?;
    tx.commit().await?;
    Ok(BrowserSession { cookie, session })
}

/// Rejects a form whose CSRF token is not the session's (Rails' `InvalidAuthenticityToken`).
pub fn check_csrf(session: &WebSession, token: Option<&str>) -> Result<()> {
    if same_secret(&session.csrf_token, token.unwrap_or("")) {
        Ok(())
    } else {
        Err(Error::validation("Can't verify CSRF token authenticity."))
    }
}

/// The signed-in user of a browser session, if any (and still allowed to sign in).
pub async fn session_user(svc: &Services, session: &WebSession) -> Result<Option<User>> {
    let Some(user_id) = session.user_id else {
        return Ok(None);
    };
    let mut tx = svc.db.read().await?;
    let user = tx.user_by_id(user_id).await?;
    Ok(user.filter(|u| !u.disabled))
}

/// Signs a browser in with e-mail and password. The session is replaced by a new one (new
/// cookie, new CSRF token), so a cookie planted before sign-in is worth nothing after it.
pub async fn sign_in(svc: &Services, session: &WebSession, email: &str, password: &str) -> Result<SignedIn> {
    let invalid = || Error::unauthorized("Invalid E-mail address or password.");
    let user = {
        let mut tx = svc.db.read().await?;
        tx.user_by_email(&email.trim().to_lowercase()).await?
    };
    let Some(user) = user else {
        // Spend the same time as a real check, so the answer does not tell which e-mails exist.
        let _ = crate::auth::hash_password(password).await;
        return Err(invalid());
    };
    if !verify_password(password, &user.encrypted_password).await {
        return Err(invalid());
    }
    if user.disabled {
        return Err(Error::forbidden("Your account is disabled."));
    }
    if user.confirmed_at.is_none() {
        return Err(Error::forbidden("You have to confirm your email address before continuing."));
    }
    if crate::two_factor::enabled(svc, user.id).await? {
        // The password was right: the new session waits for the code.
        let (cookie, fresh) = new_session(None);
        let mut tx = svc.db.write().await?;
        tx.delete_web_session(session.id).await?;
        tx.create_web_session(&fresh).await?;
        tx.put_otp_challenge(fresh.id, user.id, now()).await?;
        tx.commit().await?;
        return Ok(SignedIn::SecondStep(BrowserSession { cookie, session: fresh }));
    }
    Ok(SignedIn::Done(signed_in(svc, session, user.id).await?))
}

/// How long the second step of a sign-in may wait for its code.
const SECOND_STEP_MS: i64 = 5 * 60 * 1000;
/// Wrong codes one challenge takes before the password is asked again.
const SECOND_STEP_ATTEMPTS: i64 = 5;

/// How a sign-in went: signed in, or the password was right and a code is wanted next.
pub enum SignedIn {
    Done(BrowserSession),
    SecondStep(BrowserSession),
}

/// The second step of signing in: a code from the authenticator app, or a recovery code.
pub async fn sign_in_second_step(svc: &Services, session: &WebSession, code: &str) -> Result<BrowserSession> {
    let mut tx = svc.db.write().await?;
    let Some(user_id) = tx.otp_challenge(session.id, now() - SECOND_STEP_MS).await? else {
        return Err(Error::unauthorized("Your sign-in took too long. Log in again."));
    };
    if !crate::two_factor::verify(&mut tx, user_id, code).await? {
        // A few wrong codes and the password is asked again: no guessing through one challenge.
        tx.fail_otp_challenge(session.id, SECOND_STEP_ATTEMPTS).await?;
        tx.commit().await?;
        return Err(Error::unauthorized("Invalid two-factor code."));
    }
    let (cookie, fresh) = new_session(Some(user_id));
    tx.delete_web_session(session.id).await?;
    tx.create_web_session(&fresh).await?;
    tx.commit().await?;
    Ok(BrowserSession { cookie, session: fresh })
}

/// A new session (and its cookie), signed in as `user_id` or not.
fn new_session(user_id: Option<Id>) -> (String, WebSession) {
    let cookie = random_token();
    let session = WebSession {
        id: Id::generate(),
        session_hash: hash_secret(&cookie),
        user_id,
        csrf_token: random_token(),
        created_at: now(),
    };
    (cookie, session)
}

/// Replaces `session` with a new one signed in as `user_id`.
async fn signed_in(svc: &Services, session: &WebSession, user_id: Id) -> Result<BrowserSession> {
    let (cookie, fresh) = new_session(Some(user_id));
    let mut tx = svc.db.write().await?;
    tx.delete_web_session(session.id).await?;
    tx.create_web_session(&fresh).await?;
    tx.commit().await?;
    Ok(BrowserSession { cookie, session: fresh })
}

pub async fn sign_out(svc: &Services, session: &WebSession) -> Result<()> {
    let mut tx = svc.db.write().await?;
    tx.set_web_session_user(session.id, None).await?;
    tx.commit().await
}

/// An app a user authorized: its name and site, what it may do, and since when.
pub struct AuthorizedApp {
    pub id: Id,
    pub name: String,
    pub website: Option<String>,
    pub scopes: Vec<String>,
    pub since: ferrodon_kernel::time::Millis,
}

/// The apps `user` has signed in to (Doorkeeper's authorized applications), by first sign-in.
pub async fn authorized_apps(svc: &Services, user: &User) -> Result<Vec<AuthorizedApp>> {
    let mut tx = svc.db.read().await?;
    let tokens = tx.user_tokens(user.id).await?;
    let mut ids: Vec<Id> = tokens.iter().map(|t| t.application_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let apps = tx.applications_by_ids(&ids).await?;
    let mut out: Vec<AuthorizedApp> = apps
        .into_iter()
        .map(|a| {
            let of_app = || tokens.iter().filter(|t| t.application_id == a.id);
            let mut scopes: Vec<String> =
                of_app().flat_map(|t| t.scopes.split_whitespace().map(str::to_string)).collect();
            scopes.sort();
            scopes.dedup();
            let since = of_app().map(|t| t.created_at).min().unwrap_or_default();
            AuthorizedApp { id: a.id, name: a.name, website: a.website, scopes, since }
        })
        .collect();
    out.sort_by_key(|a| a.since);
    Ok(out)
}

/// Signs `user` out of an app: every token it holds for the user is revoked, and the streams
/// using them close.
pub async fn revoke_app(svc: &Services, user: &User, app_id: Id) -> Result<()> {
    let mut tx = svc.db.write().await?;
    for token in tx.user_tokens(user.id).await?.into_iter().filter(|t| t.application_id == app_id) {
        tx.revoke_token(token.id, now()).await?;
        crate::effects::token_revoked(svc, &mut tx, user.account_id, token.id).await?;
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_checked() {
        assert!(valid_redirect_uri(OOB_REDIRECT));
        assert!(valid_redirect_uri("https://app.example/callback"));
        assert!(valid_redirect_uri("com.example.app:/oauth"));
        assert!(!valid_redirect_uri("javascript:alert(1)"));
        assert!(!valid_redirect_uri("not a uri"));
    }

    #[test]
    fn query_is_appended() {
        assert_eq!(with_query("https://a/cb", &[("code", "x y")]), "https://a/cb?code=x%20y");
        assert_eq!(with_query("https://a/cb?x=1", &[("code", "z")]), "https://a/cb?x=1&code=z");
    }
}
