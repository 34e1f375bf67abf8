//! The sign-up page (`GET /auth/sign_up`, `POST /auth`): an account made in the browser,
//! unconfirmed until the link it is mailed is opened.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use ferrodon_config::RegistrationsMode;
use ferrodon_kernel::{Error, ErrorKind};
use ferrodon_service::{accounts, oauth, settings};

use super::{pages, secure, session_cookie, with_session};
use crate::AppState;
use crate::error::ApiError;
use crate::params::Params;
use crate::web::Site;

#[derive(Template)]
#[template(path = "sign_up.html")]
struct SignUpPage<'a> {
    site: Site,
    csrf: &'a str,
    errors: Vec<String>,
    username: &'a str,
    email: &'a str,
    approval_required: bool,
    /// The invitation's code, when signing up with one.
    invite_code: &'a str,
}

/// What an error says on the form: each field's problem, or the message.
fn problems(e: &Error) -> Vec<String> {
    if e.details.is_empty() {
        return vec![e.message.clone()];
    }
    e.details
        .iter()
        .map(|d| {
            let mut label = d.field.replace('_', " ");
            if let Some(first) = label.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            format!("{label} {}", d.description)
        })
        .collect()
}

async fn render(
    s: &AppState,
    csrf: &str,
    errors: Vec<String>,
    username: &str,
    email: &str,
    invite_code: &str,
) -> Result<String, ApiError> {
    let mode = settings::current_registrations_mode(&s.svc).await?;
    let mut site = crate::web::with_registrations(s).await?;
    // An invitation opens the form even while sign-ups are closed.
    site.registrations_open |= !invite_code.is_empty();
    let page = SignUpPage {
        site,
        csrf,
        errors,
        username,
        email,
        approval_required: mode == RegistrationsMode::Approved && invite_code.is_empty(),
        invite_code,
    };
    page.render().map_err(|e| ApiError(Error::internal(e)))
}

/// `GET /auth/sign_up`
pub(super) async fn page(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let session = oauth::browser_session(&s.svc, session_cookie(&headers).as_deref()).await?;
    let page = render(&s, &session.session.csrf_token, Vec::new(), "", "", "").await?;
    Ok(with_session(&session, secure(&s), Html(page).into_response()))
}

/// `GET /invite/:code`: the sign-up page with an invitation.
pub(super) async fn invited(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::extract::Path(code): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    let session = oauth::browser_session(&s.svc, session_cookie(&headers).as_deref()).await?;
    if ferrodon_service::invites::valid(&s.svc, &code).await?.is_none() {
        let message = "This invitation is invalid or has expired.";
        let page = pages::notice("Invitation", message, Some(("/", "Start page")), true);
        return Ok(with_session(&session, secure(&s), (StatusCode::NOT_FOUND, Html(page)).into_response()));
    }
    let page = render(&s, &session.session.csrf_token, Vec::new(), "", "", &code).await?;
    Ok(with_session(&session, secure(&s), Html(page).into_response()))
}

/// `POST /auth`: the form sent.
pub(super) async fn create(State(s): State<AppState>, headers: HeaderMap, p: Params) -> Result<Response, ApiError> {
    let session = oauth::browser_session(&s.svc, session_cookie(&headers).as_deref()).await?;
    let csrf = session.session.csrf_token.clone();
    let user = p.object("user").unwrap_or_default();
    let account = user.object("account_attributes").unwrap_or_default();
    let username = account.str("username").unwrap_or_default();
    let email = user.str("email").unwrap_or_default();
    let invite_code = user.str("invite_code").unwrap_or_default();
    let reason = user.object("invite_request_attributes").and_then(|r| r.str("text"));
    let refused =
        |status: StatusCode, page: String| with_session(&session, secure(&s), (status, Html(page)).into_response());
    if let Err(e) = oauth::check_csrf(&session.session, p.str("authenticity_token").as_deref()) {
        let page = render(&s, &csrf, vec![e.message], &username, &email, &invite_code).await?;
        return Ok(refused(StatusCode::UNPROCESSABLE_ENTITY, page));
    }
    let password = user.str("password").unwrap_or_default();
    let confirmation = user.str("password_confirmation").unwrap_or_default();
    let agreement = user.str("agreement").is_some_and(|a| matches!(a.as_str(), "1" | "true" | "on"));
    let sign_up = accounts::SignUp {
        username: &username,
        email: &email,
        password: &password,
        password_confirmation: Some(&confirmation),
        agreement,
        locale: "en",
        invite_code: Some(&invite_code),
        reason: reason.as_deref(),
    };
    match accounts::sign_up(&s.svc, sign_up).await {
        Ok(_) => {
            let message = format!(
                "A link to confirm your e-mail address was sent to {email}. Open it to finish signing up; look in \
                 your spam folder if it does not arrive."
            );
            let page = pages::notice("Check your inbox", &message, Some(("/auth/sign_in", "Log in")), false);
            Ok(with_session(&session, secure(&s), Html(page).into_response()))
        }
        Err(e) if !matches!(e.kind, ErrorKind::Internal | ErrorKind::Unavailable) => {
            let page = render(&s, &csrf, problems(&e), &username, &email, &invite_code).await?;
            let status =
                if e.kind == ErrorKind::Forbidden { StatusCode::FORBIDDEN } else { StatusCode::UNPROCESSABLE_ENTITY };
            Ok(refused(status, page))
        }
        Err(e) => Err(e.into()),
    }
}
