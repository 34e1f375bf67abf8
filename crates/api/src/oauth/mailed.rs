//! The pages mails link to, and the form that sends one: the confirmation of an e-mail address
//! and the reset of a forgotten password.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use ferrodon_kernel::ErrorKind;
use ferrodon_service::{mail, oauth};

use super::{pages, secure, session_cookie, with_session};
use crate::AppState;
use crate::error::ApiError;
use crate::params::Params;

/// Whether an error is the visitor's to fix (shown on the page) rather than ours.
fn theirs(kind: ErrorKind) -> bool {
    !matches!(kind, ErrorKind::Internal | ErrorKind::Unavailable)
}

/// `GET /auth/confirmation?confirmation_token=…`: the link of a confirmation mail.
pub(super) async fn confirmation(State(s): State<AppState>, p: Params) -> Result<Response, ApiError> {
    let token = p.str("confirmation_token").unwrap_or_default();
    let sign_in = Some(("/auth/sign_in", "Log in"));
    match mail::confirm(&s.svc, &token).await {
        Ok(account) => {
            let message = format!("Your e-mail address has been confirmed, @{}. You can log in now.", account.username);
            Ok(Html(pages::notice("E-mail address confirmed", &message, sign_in, false)).into_response())
        }
        Err(e) if theirs(e.kind) => {
            let page = pages::notice("The address could not be confirmed", &e.message, sign_in, true);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /auth/password/new`: the form that asks for a reset link.
pub(super) async fn forgot_password(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let session = oauth::browser_session(&s.svc, session_cookie(&headers).as_deref()).await?;
    let page = pages::forgot_password(&session.session.csrf_token, None);
    Ok(with_session(&session, secure(&s), Html(page).into_response()))
}

/// `GET /auth/password/edit?reset_password_token=…`: the form for a new password.
pub(super) async fn edit_password(
    State(s): State<AppState>,
    headers: HeaderMap,
    p: Params,
) -> Result<Response, ApiError> {
    let session = oauth::browser_session(&s.svc, session_cookie(&headers).as_deref()).await?;
    let token = p.str("reset_password_token").unwrap_or_default();
    let page = pages::reset_password(&session.session.csrf_token, &token, None);
    Ok(with_session(&session, secure(&s), Html(page).into_response()))
}

/// `POST /auth/password`: a reset link sent to the address given; with `_method=put` and the
/// link's token, the new password set.
pub(super) async fn password(State(s): State<AppState>, headers: HeaderMap, p: Params) -> Result<Response, ApiError> {
    let session = oauth::browser_session(&s.svc, session_cookie(&headers).as_deref()).await?;
    let csrf = session.session.csrf_token.clone();
    let user = p.object("user").unwrap_or_default();
    let token = user.str("reset_password_token");
    let answer =
        |status: StatusCode, page: String| with_session(&session, secure(&s), (status, Html(page)).into_response());
    if let Err(e) = oauth::check_csrf(&session.session, p.str("authenticity_token").as_deref()) {
        let page = match &token {
            Some(t) => pages::reset_password(&csrf, t, Some(&e.message)),
            None => pages::forgot_password(&csrf, Some(&e.message)),
        };
        return Ok(answer(StatusCode::UNPROCESSABLE_ENTITY, page));
    }
    let sign_in = Some(("/auth/sign_in", "Log in"));
    let Some(token) = token else {
        mail::request_password_reset(&s.svc, &user.str("email").unwrap_or_default()).await?;
        let message = "If your e-mail address is in our database, a link to choose a new password will reach it in a \
                       few minutes. Look in your spam folder if it does not.";
        return Ok(answer(StatusCode::OK, pages::notice("Check your inbox", message, sign_in, false)));
    };
    let password = user.str("password").unwrap_or_default();
    let confirmation = user.str("password_confirmation").unwrap_or_default();
    match mail::reset_password(&s.svc, &token, &password, &confirmation).await {
        Ok(_) => {
            let message = "Your password has been changed, and every app signed in with the old one signed out. \
                           You can log in with the new one now.";
            Ok(answer(StatusCode::OK, pages::notice("Password changed", message, sign_in, false)))
        }
        Err(e) if theirs(e.kind) => {
            Ok(answer(StatusCode::UNPROCESSABLE_ENTITY, pages::reset_password(&csrf, &token, Some(&e.message))))
        }
        Err(e) => Err(e.into()),
    }
}
