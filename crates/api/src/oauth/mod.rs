//! OAuth 2: the token endpoints (JSON, CORS) and the server-rendered sign-in and consent pages
//! (plain HTML forms, no JavaScript, CSRF token per browser session).
//!
//! Routes:
//! - `POST /oauth/token`, `POST /oauth/revoke`, `GET|POST /oauth/userinfo` (`api_routes`)
//! - `GET|POST /oauth/authorize`, `GET /oauth/authorize/native`
//! - `GET|POST /auth/sign_in`, `POST /auth/sign_out`
//! - `GET /auth/confirmation`, `GET /auth/password/new`, `GET /auth/password/edit`,
//!   `POST /auth/password` (`mailed`: the pages mails link to)
//! - `GET /auth/sign_up`, `POST /auth`, `GET /invite/:code` (`sign_up`)

mod mailed;
pub(crate) mod pages;
mod sign_up;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use ferrodon_service::oauth::{self, AuthorizeParams, BrowserSession, TokenRequest};
use ferrodon_service::present;

use crate::AppState;
use crate::error::{ApiError, OAuthApiError};
use crate::params::Params;

const SESSION_COOKIE: &str = "_ferrodon_session";

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
        .route("/oauth/userinfo", get(userinfo).post(userinfo))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/oauth/authorize", get(authorize).post(authorize_answer))
        .route("/oauth/authorize/native", get(native))
        .route("/auth/sign_in", get(sign_in_page).post(sign_in))
        .route("/auth/sign_out", post(sign_out))
        .route("/auth/confirmation", get(mailed::confirmation))
        .route("/auth/password/new", get(mailed::forgot_password))
        .route("/auth/password/edit", get(mailed::edit_password))
        .route("/auth/password", post(mailed::password))
        .route("/auth/sign_up", get(sign_up::page))
        .route("/auth", post(sign_up::create))
        .route("/invite/{code}", get(sign_up::invited))
}

/// HTTP Basic client credentials, if sent (`client_secret_basic`).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(value.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((oauth_decode(id), oauth_decode(secret)))
}

fn oauth_decode(s: &str) -> String {
    let mut p = Params::default();
    p.merge_form(&format!("v={s}"));
    p.str("v").unwrap_or_default()
}

/// `POST /oauth/token`
async fn token(State(s): State<AppState>, headers: HeaderMap, p: Params) -> Result<Response, OAuthApiError> {
    let basic = basic_credentials(&headers);
    let request = TokenRequest {
        grant_type: p.str("grant_type").unwrap_or_default(),
        code: p.str("code"),
        client_id: basic.as_ref().map(|b| b.0.clone()).or_else(|| p.str("client_id")),
        client_secret: basic.as_ref().map(|b| b.1.clone()).or_else(|| p.str("client_secret")),
        redirect_uri: p.str("redirect_uri"),
        code_verifier: p.str("code_verifier"),
        scope: p.str("scope"),
    };
    let token = oauth::token(&s.svc, &request).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(present::token(&token))).into_response())
}

/// `POST /oauth/revoke`
async fn revoke(
    State(s): State<AppState>,
    headers: HeaderMap,
    p: Params,
) -> Result<Json<serde_json::Value>, OAuthApiError> {
    let basic = basic_credentials(&headers);
    let client_id = basic.as_ref().map(|b| b.0.clone()).or_else(|| p.str("client_id"));
    let client_secret = basic.as_ref().map(|b| b.1.clone()).or_else(|| p.str("client_secret"));
    oauth::revoke(&s.svc, client_id.as_deref(), client_secret.as_deref(), &p.str("token").unwrap_or_default()).await?;
    Ok(Json(serde_json::json!({})))
}

/// `GET|POST /oauth/userinfo`
async fn userinfo(
    State(s): State<AppState>,
    crate::extract::Auth(caller): crate::extract::Auth,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(oauth::userinfo(&s.svc, &caller).await?))
}

pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == SESSION_COOKIE).then(|| v.to_string())
    })
}

/// Adds the session cookie to a response.
pub(crate) fn with_session(session: &BrowserSession, secure: bool, mut response: Response) -> Response {
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax{}",
        session.cookie,
        if secure { "; Secure" } else { "" }
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub(crate) fn secure(s: &AppState) -> bool {
    s.svc.config.scheme == "https"
}

/// A local path to come back to after signing in (never another site).
fn safe_return_path(p: &str) -> Option<String> {
    // Browsers drop tabs and line breaks from addresses (`/\t/evil.example` is `//evil.example`).
    let plain = !p.bytes().any(|b| b < 0x20 || b == 0x7f);
    (plain && p.starts_with('/') && !p.starts_with("//") && !p.contains('\\')).then(|| p.to_string())
}

fn authorize_path(p: &AuthorizeParams) -> String {
    let query = serde_urlencoded_like(p);
    format!("/oauth/authorize?{query}")
}

fn serde_urlencoded_like(p: &AuthorizeParams) -> String {
    let pairs: Vec<(&str, Option<&str>)> = vec![
        ("response_type", Some(p.response_type.as_str())),
        ("client_id", Some(p.client_id.as_str())),
        ("redirect_uri", Some(p.redirect_uri.as_str())),
        ("scope", p.scope.as_deref()),
        ("state", p.state.as_deref()),
        ("code_challenge", p.code_challenge.as_deref()),
        ("code_challenge_method", p.code_challenge_method.as_deref()),
    ];
    pairs
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", oauth::percent_encode(v))))
        .collect::<Vec<_>>()
        .join("&")
}

/// `GET /oauth/authorize`: sign-in first if needed, then the consent page.
async fn authorize(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<AuthorizeParams>,
) -> Result<Response, ApiError> {
    let session = oauth::browser_session(&s.svc, session_cookie(&headers).as_deref()).await?;
    let req = match oauth::check_authorize(&s.svc, &p).await {
        Ok(r) => r,
        Err(e) => {
            let page = pages::error(e.code, &e.description);
            return Ok(with_session(&session, secure(&s), (StatusCode::BAD_REQUEST, Html(page)).into_response()));
        }
    };
    let force_login = p.force_login.as_deref().is_some_and(|v| matches!(v, "true" | "1"));
    let user = oauth::session_user(&s.svc, &session.session).await?;
    let Some(user) = user.filter(|_| !force_login) else {
        if force_login {
            oauth::sign_out(&s.svc, &session.session).await?;
        }
        let to = format!("/auth/sign_in?return_to={}", oauth::percent_encode(&authorize_path(&p)));
        return Ok(with_session(&session, secure(&s), Redirect::to(&to).into_response()));
    };
    let page = pages::consent(&req, &session.session.csrf_token, &user.email);
    Ok(with_session(&session, secure(&s), Html(page).into_response()))
}

/// `POST /oauth/authorize`: the consent form (approve, or deny with `_method=delete`).
async fn authorize_answer(State(s): State<AppState>, headers: HeaderMap, p: Params) -> Result<Response, ApiError> {
    let session = oauth::browser_session(&s.svc, session_cookie(&headers).as_deref()).await?;
    oauth::check_csrf(&session.session, p.str("authenticity_token").as_deref())?;
    let Some(user) = oauth::session_user(&s.svc, &session.session).await? else {
        return Ok(Redirect::to("/auth/sign_in").into_response());
    };
    let params = AuthorizeParams {
        response_type: p.str("response_type").unwrap_or_default(),
        client_id: p.str("client_id").unwrap_or_default(),
        redirect_uri: p.str("redirect_uri").unwrap_or_default(),
        scope: p.str("scope"),
        state: p.str("state").filter(|s| !s.is_empty()),
        code_challenge: p.str("code_challenge").filter(|s| !s.is_empty()),
        code_challenge_method: p.str("code_challenge_method").filter(|s| !s.is_empty()),
        force_login: None,
        lang: None,
    };
    let req = match oauth::check_authorize(&s.svc, &params).await {
        Ok(r) => r,
        Err(e) => {
            return Ok((StatusCode::BAD_REQUEST, Html(pages::error(e.code, &e.description))).into_response());
        }
    };
    let target = if p.str("_method").is_some_and(|m| m.eq_ignore_ascii_case("delete")) {
        oauth::deny(&req)
    } else {
        oauth::approve(&s.svc, &user, &req).await?
    };
    Ok(with_session(&session, secure(&s), Redirect::to(&target).into_response()))
}

#[derive(serde::Deserialize)]
struct NativeQuery {
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /oauth/authorize/native`: shows the code to out-of-band apps.
async fn native(Query(q): Query<NativeQuery>) -> Response {
    match (q.code, q.error) {
        (Some(code), _) => Html(pages::native_code(&code)).into_response(),
        (None, Some(error)) => Html(pages::error(&error, q.error_description.as_deref().unwrap_or(""))).into_response(),
        (None, None) => (StatusCode::BAD_REQUEST, Html(pages::error("invalid_request", "No code."))).into_response(),
    }
}

#[derive(serde::Deserialize)]
struct SignInQuery {
    return_to: Option<String>,
}

/// `GET /auth/sign_in`
async fn sign_in_page(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<SignInQuery>,
) -> Result<Response, ApiError> {
    let session = oauth::browser_session(&s.svc, session_cookie(&headers).as_deref()).await?;
    let return_to = q.return_to.as_deref().and_then(safe_return_path).unwrap_or_else(|| "/".into());
    if oauth::session_user(&s.svc, &session.session).await?.is_some() && return_to != "/" {
        return Ok(with_session(&session, secure(&s), Redirect::to(&return_to).into_response()));
    }
    let page = pages::sign_in(&session.session.csrf_token, &return_to, None, "");
    Ok(with_session(&session, secure(&s), Html(page).into_response()))
}

/// `POST /auth/sign_in`
async fn sign_in(State(s): State<AppState>, headers: HeaderMap, p: Params) -> Result<Response, ApiError> {
    let session = oauth::browser_session(&s.svc, session_cookie(&headers).as_deref()).await?;
    if let Err(e) = oauth::check_csrf(&session.session, p.str("authenticity_token").as_deref()) {
        let page = pages::sign_in(&session.session.csrf_token, "/", Some(&e.message), "");
        return Ok(with_session(&session, secure(&s), (StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response()));
    }
    let user = p.object("user").unwrap_or_default();
    let return_to = p.str("return_to").as_deref().and_then(safe_return_path).unwrap_or_else(|| "/".into());
    let theirs = |e: &ferrodon_kernel::Error| {
        e.kind != ferrodon_kernel::ErrorKind::Internal && e.kind != ferrodon_kernel::ErrorKind::Unavailable
    };
    // The second step: the code from the authenticator app (or a recovery code).
    if let Some(code) = user.str("otp_attempt") {
        return match oauth::sign_in_second_step(&s.svc, &session.session, &code).await {
            Ok(signed_in) => Ok(with_session(&signed_in, secure(&s), Redirect::to(&return_to).into_response())),
            Err(e) if theirs(&e) => {
                let page = pages::two_factor(&session.session.csrf_token, &return_to, Some(&e.message));
                Ok(with_session(&session, secure(&s), (StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response()))
            }
            Err(e) => Err(e.into()),
        };
    }
    let email = user.str("email").unwrap_or_default();
    let password = user.str("password").unwrap_or_default();
    match oauth::sign_in(&s.svc, &session.session, &email, &password).await {
        Ok(oauth::SignedIn::Done(signed_in)) => {
            Ok(with_session(&signed_in, secure(&s), Redirect::to(&return_to).into_response()))
        }
        Ok(oauth::SignedIn::SecondStep(waiting)) => {
            let page = pages::two_factor(&waiting.session.csrf_token, &return_to, None);
            Ok(with_session(&waiting, secure(&s), Html(page).into_response()))
        }
        Err(e) if theirs(&e) => {
            let page = pages::sign_in(&session.session.csrf_token, &return_to, Some(&e.message), &email);
            Ok(with_session(&session, secure(&s), (StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response()))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /auth/sign_out`
async fn sign_out(State(s): State<AppState>, headers: HeaderMap, p: Params) -> Result<Response, ApiError> {
    let session = oauth::browser_session(&s.svc, session_cookie(&headers).as_deref()).await?;
    oauth::check_csrf(&session.session, p.str("authenticity_token").as_deref())?;
    oauth::sign_out(&s.svc, &session.session).await?;
    Ok(with_session(&session, secure(&s), Redirect::to("/auth/sign_in").into_response()))
}
