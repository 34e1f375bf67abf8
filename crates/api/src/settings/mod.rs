//! The settings pages of a signed-in browser (the sign-in of `/auth/sign_in`).
//!
//! | route | handler |
//! |---|---|
//! | `GET /settings/profile`, `POST /settings/profile` | [`profile`], [`save_profile`]: name, bio, avatar, header, fields, flags |
//! | `GET /settings/preferences`, `POST /settings/preferences` | [`preferences`], [`save_preferences`]: posting privacy, language, sensitive media |
//! | `GET /auth/edit` | [`account`]: the address, the password, deleting the account |
//! | `GET /settings/export`, `GET /settings/exports/:file.csv` | [`export`], [`export_file`]: Mastodon's CSV files |
//! | `GET /invites`, `POST /invites`, `POST /invites/:id` | [`invites`], [`create_invite`], [`expire_invite`]: links to sign up with |
//! | `GET /oauth/authorized_applications`, `POST /oauth/authorized_applications/:id` | [`apps`], [`revoke_app`]: the apps signed in, and signing one out |
//! | `POST /settings/email`, `POST /settings/password`, `POST /settings/delete` | [`change_email`], [`change_password`], [`delete_account`] |
//! | `GET /settings/two_factor_authentication` | [`two_factor`]: the state, and a form to set up or disable |
//! | `POST /settings/otp_authentication` | [`begin_otp`]: a new secret and its QR code |
//! | `POST /settings/two_factor_authentication/confirmation` | [`confirm_otp`]: enabled by a first code; the recovery codes |
//! | `POST /settings/two_factor_authentication/disable` | [`disable_otp`] |

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use ferrodon_domain::model::{Account, ProfileField, User};
use ferrodon_kernel::{Error, ErrorKind};
use ferrodon_service::oauth::{self, BrowserSession};
use ferrodon_service::{accounts, two_factor};

use crate::AppState;
use crate::error::ApiError;
use crate::oauth::{secure, session_cookie, with_session};
use crate::params::Params;
use crate::upload::WithFiles;
use crate::web::Site;

pub fn routes() -> Router<AppState> {
    let upload_limit = axum::extract::DefaultBodyLimit::max(
        ferrodon_service::media::PROFILE_IMAGE_SIZE_LIMIT as usize * 2 + 64 * 1024,
    );
    Router::new()
        .route("/settings/profile", get(profile).post(save_profile).layer(upload_limit))
        .route("/settings/preferences", get(preferences).post(save_preferences))
        .route("/auth/edit", get(account))
        .route("/settings/export", get(export))
        .route("/invites", get(invites).post(create_invite))
        .route("/invites/{id}", post(expire_invite))
        .route("/settings/exports/{file}", get(export_file))
        .route("/oauth/authorized_applications", get(apps))
        .route("/oauth/authorized_applications/{id}", post(revoke_app))
        .route("/settings/email", post(change_email))
        .route("/settings/password", post(change_password))
        .route("/settings/delete", post(delete_account))
        .route("/settings/two_factor_authentication", get(two_factor))
        .route("/settings/otp_authentication", post(begin_otp))
        .route("/settings/two_factor_authentication/confirmation", post(confirm_otp))
        .route("/settings/two_factor_authentication/disable", post(disable_otp))
}

#[derive(Template)]
#[template(path = "profile_settings.html")]
struct ProfilePage {
    site: Site,
    csrf: String,
    account: ferrodon_mastodon_api::Account,
    /// The bio as written.
    note: String,
    /// Four (label, content) rows.
    fields: Vec<(String, String)>,
    saved: bool,
    error: Option<String>,
}

fn profile_page(
    s: &AppState,
    session: &BrowserSession,
    account: &Account,
    saved: bool,
    error: Option<String>,
) -> ProfilePage {
    let mut fields: Vec<(String, String)> = account.fields().into_iter().map(|f| (f.name, f.value)).collect();
    fields.resize(ferrodon_service::limits::MAX_PROFILE_FIELDS, (String::new(), String::new()));
    ProfilePage {
        site: crate::web::site(s),
        csrf: session.session.csrf_token.clone(),
        account: ferrodon_service::present::account(&s.svc, account),
        note: account.note_source.clone(),
        fields,
        saved,
        error,
    }
}

/// `GET /settings/profile`
async fn profile(
    State(s): State<AppState>,
    SignedIn { session, user: _, account }: SignedIn,
) -> Result<Response, ApiError> {
    page(&s, &session, StatusCode::OK, profile_page(&s, &session, &account, false, None))
}

/// `POST /settings/profile` (multipart: the images with the form)
async fn save_profile(
    State(s): State<AppState>,
    SignedIn { session, user, account }: SignedIn,
    mut form: WithFiles,
) -> Result<Response, ApiError> {
    let (avatar, header) = (form.take("avatar"), form.take("header"));
    form.no_other_files()?;
    let p = form.params;
    check(&session, &p)?;
    let fields = p.object("fields_attributes").map(|f| {
        (0..ferrodon_service::limits::MAX_PROFILE_FIELDS)
            .filter_map(|i| f.object(&i.to_string()))
            .map(|o| ProfileField {
                name: o.str("name").unwrap_or_default(),
                value: o.str("value").unwrap_or_default(),
            })
            .collect()
    });
    // The form sends every field; a box left unticked sends nothing.
    let ticked = |name: &str| Some(p.str(name).is_some());
    let update = accounts::CredentialsUpdate {
        display_name: p.str("display_name"),
        note: p.str("note"),
        locked: ticked("locked"),
        bot: ticked("bot"),
        discoverable: ticked("discoverable"),
        indexable: None,
        hide_collections: None,
        fields,
        privacy: None,
        sensitive: None,
        language: None,
        avatar,
        header,
    };
    match accounts::update_profile(&s.svc, &user, &account, update).await {
        Ok(saved) => page(&s, &session, StatusCode::OK, profile_page(&s, &session, &saved.account, true, None)),
        Err(e) if theirs(&e) => {
            let shown = profile_page(&s, &session, &account, false, Some(e.message));
            page(&s, &session, StatusCode::UNPROCESSABLE_ENTITY, shown)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "account_settings.html")]
struct AccountPage {
    site: Site,
    csrf: String,
    email: String,
    notice: Option<String>,
    error: Option<String>,
}

fn account_page(
    s: &AppState,
    session: &BrowserSession,
    user: &User,
    status: StatusCode,
    outcome: Result<String, Error>,
) -> Result<Response, ApiError> {
    let (notice, error) = match outcome {
        Ok(notice) => (Some(notice).filter(|n| !n.is_empty()), None),
        Err(e) => (None, Some(e.message)),
    };
    let shown = AccountPage {
        site: crate::web::site(s),
        csrf: session.session.csrf_token.clone(),
        email: user.email.clone(),
        notice,
        error,
    };
    self::page(s, session, status, shown)
}

/// Answers a change: the page again, saying how it went.
fn changed(
    s: &AppState,
    session: &BrowserSession,
    user: &User,
    done: ferrodon_kernel::Result<()>,
    notice: &str,
) -> Result<Response, ApiError> {
    match done {
        Ok(()) => account_page(s, session, user, StatusCode::OK, Ok(notice.to_string())),
        Err(e) if theirs(&e) => account_page(s, session, user, StatusCode::UNPROCESSABLE_ENTITY, Err(e)),
        Err(e) => Err(e.into()),
    }
}

/// `GET /auth/edit`
async fn account(
    State(s): State<AppState>,
    SignedIn { session, user, account: _ }: SignedIn,
) -> Result<Response, ApiError> {
    account_page(&s, &session, &user, StatusCode::OK, Ok(String::new()))
}

/// `POST /settings/email`
async fn change_email(
    State(s): State<AppState>,
    SignedIn { session, user, account: _ }: SignedIn,
    p: Params,
) -> Result<Response, ApiError> {
    check(&session, &p)?;
    let (email, password) = (p.str("email").unwrap_or_default(), p.str("current_password").unwrap_or_default());
    let done = accounts::change_email(&s.svc, &user, &email, &password).await;
    changed(
        &s,
        &session,
        &user,
        done,
        "A link to confirm the new address was sent to it; your address changes once it is opened.",
    )
}

/// `POST /settings/password`
async fn change_password(
    State(s): State<AppState>,
    SignedIn { session, user, account: _ }: SignedIn,
    p: Params,
) -> Result<Response, ApiError> {
    check(&session, &p)?;
    let current = p.str("current_password").unwrap_or_default();
    let (new, confirmation) =
        (p.str("password").unwrap_or_default(), p.str("password_confirmation").unwrap_or_default());
    let done = accounts::change_password(&s.svc, &user, Some(session.session.id), &current, &new, &confirmation).await;
    changed(&s, &session, &user, done, "Your password was changed; apps signed in with the old one were signed out.")
}

/// `POST /settings/delete`
async fn delete_account(
    State(s): State<AppState>,
    SignedIn { session, user, account: _ }: SignedIn,
    p: Params,
) -> Result<Response, ApiError> {
    check(&session, &p)?;
    match accounts::delete_own(&s.svc, &user, &p.str("password").unwrap_or_default()).await {
        Ok(()) => {
            let page = crate::oauth::pages::notice(
                "Account deleted",
                "Your account and everything it held are gone.",
                Some(("/", "Start page")),
                false,
            );
            Ok(Html(page).into_response())
        }
        Err(e) if theirs(&e) => account_page(&s, &session, &user, StatusCode::UNPROCESSABLE_ENTITY, Err(e)),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "authorized_apps.html")]
struct AppsPage {
    site: Site,
    csrf: String,
    apps: Vec<oauth::AuthorizedApp>,
}

/// `GET /oauth/authorized_applications`
async fn apps(
    State(s): State<AppState>,
    SignedIn { session, user, account: _ }: SignedIn,
) -> Result<Response, ApiError> {
    let apps = oauth::authorized_apps(&s.svc, &user).await?;
    let shown = AppsPage { site: crate::web::site(&s), csrf: session.session.csrf_token.clone(), apps };
    page(&s, &session, StatusCode::OK, shown)
}

/// `POST /oauth/authorized_applications/:id` (`_method=delete`): the app signed out.
async fn revoke_app(
    State(s): State<AppState>,
    SignedIn { session, user, account: _ }: SignedIn,
    axum::extract::Path(id): axum::extract::Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    check(&session, &p)?;
    let id = ferrodon_kernel::Id::parse(&id).ok_or_else(Error::not_found)?;
    oauth::revoke_app(&s.svc, &user, id).await?;
    Ok(with_session(&session, secure(&s), Redirect::to("/oauth/authorized_applications").into_response()))
}

#[derive(Template)]
#[template(path = "export.html")]
struct ExportPage {
    site: Site,
    files: Vec<(&'static str, &'static str)>,
}

/// `GET /settings/export`
async fn export(
    State(s): State<AppState>,
    SignedIn { session, user: _, account: _ }: SignedIn,
) -> Result<Response, ApiError> {
    use ferrodon_service::exports::Export;
    let what = |e: Export| match e {
        Export::Follows => "Follows",
        Export::Lists => "Lists",
        Export::Blocks => "Blocked accounts",
        Export::Mutes => "Muted accounts",
        Export::DomainBlocks => "Blocked domains",
        Export::Bookmarks => "Bookmarks",
    };
    let files = Export::ALL.into_iter().map(|e| (e.file_name(), what(e))).collect();
    page(&s, &session, StatusCode::OK, ExportPage { site: crate::web::site(&s), files })
}

/// `GET /settings/exports/:file`: one CSV file, to download.
async fn export_file(
    State(s): State<AppState>,
    SignedIn { session, user: _, account }: SignedIn,
    axum::extract::Path(file): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    let what = ferrodon_service::exports::Export::from_file_name(&file).ok_or_else(Error::not_found)?;
    let csv = ferrodon_service::exports::export(&s.svc, &account, what).await?;
    let disposition = format!("attachment; filename=\"{}\"", what.file_name());
    let response = (
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        csv,
    );
    Ok(with_session(&session, secure(&s), response.into_response()))
}

#[derive(Template)]
#[template(path = "preferences.html")]
struct PreferencesPage {
    site: Site,
    csrf: String,
    visibilities: [(&'static str, &'static str); 3],
    privacy: String,
    language: String,
    sensitive: bool,
    saved: bool,
    error: Option<String>,
}

fn preferences_page(
    s: &AppState,
    session: &BrowserSession,
    user: &User,
    saved: bool,
    error: Option<String>,
) -> Result<String, ApiError> {
    let page = PreferencesPage {
        site: crate::web::site(s),
        csrf: session.session.csrf_token.clone(),
        visibilities: [("public", "Public"), ("unlisted", "Unlisted"), ("private", "Followers only")],
        privacy: user.default_visibility.as_str().to_string(),
        language: user.default_language.clone().unwrap_or_default(),
        sensitive: user.default_sensitive,
        saved,
        error,
    };
    page.render().map_err(|e| ApiError(Error::internal(e)))
}

/// `GET /settings/preferences`
async fn preferences(
    State(s): State<AppState>,
    SignedIn { session, user, account: _ }: SignedIn,
) -> Result<Response, ApiError> {
    let body = preferences_page(&s, &session, &user, false, None)?;
    Ok(with_session(&session, secure(&s), Html(body).into_response()))
}

/// `POST /settings/preferences`
async fn save_preferences(
    State(s): State<AppState>,
    SignedIn { session, user, account }: SignedIn,
    p: Params,
) -> Result<Response, ApiError> {
    check(&session, &p)?;
    let update = accounts::CredentialsUpdate {
        privacy: p.str("privacy"),
        sensitive: Some(p.str("sensitive").is_some()),
        language: Some(p.str("language").unwrap_or_default().trim().to_ascii_lowercase()),
        ..Default::default()
    };
    let (status, body) = match accounts::update_profile(&s.svc, &user, &account, update).await {
        Ok(saved) => (StatusCode::OK, preferences_page(&s, &session, &saved.user, true, None)?),
        Err(e) if theirs(&e) => {
            (StatusCode::UNPROCESSABLE_ENTITY, preferences_page(&s, &session, &user, false, Some(e.message))?)
        }
        Err(e) => return Err(e.into()),
    };
    Ok(with_session(&session, secure(&s), (status, Html(body)).into_response()))
}

/// An invitation as the page lists it.
struct InviteRow {
    id: String,
    link: String,
    uses: String,
    expires: String,
    valid: bool,
}

#[derive(Template)]
#[template(path = "invites.html")]
struct InvitesPage {
    site: Site,
    csrf: String,
    uses: Vec<(String, String)>,
    durations: Vec<(String, String)>,
    invites: Vec<InviteRow>,
    error: Option<String>,
}

async fn invites_page(
    s: &AppState,
    session: &BrowserSession,
    user: &User,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, ApiError> {
    use ferrodon_service::invites;
    let at = ferrodon_kernel::time::now_ms();
    let rows = invites::of(&s.svc, user)
        .await?
        .into_iter()
        .map(|i| InviteRow {
            id: i.id.to_string(),
            link: invites::link(&s.svc, &i),
            uses: match i.max_uses {
                Some(max) => format!("{} / {max}", i.uses),
                None => format!("{} / ∞", i.uses),
            },
            expires: match i.expires_at {
                Some(e) if e <= at => "Expired".to_string(),
                Some(e) => {
                    ferrodon_kernel::time::rfc3339(e).replace('T', " ").chars().take(16).collect::<String>() + " UTC"
                }
                None => "Never".to_string(),
            },
            valid: i.valid(at),
        })
        .collect();
    let uses = invites::MAX_USES
        .iter()
        .map(|u| {
            (
                u.map(|n| n.to_string()).unwrap_or_default(),
                u.map_or("No limit".to_string(), |n| format!("{n} use{}", if n == 1 { "" } else { "s" })),
            )
        })
        .collect();
    let durations = invites::EXPIRES_IN
        .iter()
        .map(|d| {
            let label = match d {
                None => "Never".to_string(),
                Some(s) if *s < 3600 => format!("{} minutes", s / 60),
                Some(s) if *s < 86_400 => format!("{} hour{}", s / 3600, if *s == 3600 { "" } else { "s" }),
                Some(s) => format!("{} day{}", s / 86_400, if *s == 86_400 { "" } else { "s" }),
            };
            (d.map(|n| n.to_string()).unwrap_or_default(), label)
        })
        .collect();
    let shown = InvitesPage {
        site: crate::web::site(s),
        csrf: session.session.csrf_token.clone(),
        uses,
        durations,
        invites: rows,
        error,
    };
    self::page(s, session, status, shown)
}

/// `GET /invites`
async fn invites(
    State(s): State<AppState>,
    SignedIn { session, user, account: _ }: SignedIn,
) -> Result<Response, ApiError> {
    invites_page(&s, &session, &user, StatusCode::OK, None).await
}

/// `POST /invites`
async fn create_invite(
    State(s): State<AppState>,
    SignedIn { session, user, account: _ }: SignedIn,
    p: Params,
) -> Result<Response, ApiError> {
    check(&session, &p)?;
    let form = p.object("invite").unwrap_or_default();
    let number = |k: &str| form.str(k).filter(|v| !v.is_empty()).and_then(|v| v.parse::<i64>().ok());
    match ferrodon_service::invites::create(&s.svc, &user, number("max_uses"), number("expires_in")).await {
        Ok(_) => invites_page(&s, &session, &user, StatusCode::OK, None).await,
        Err(e) if theirs(&e) => {
            invites_page(&s, &session, &user, StatusCode::UNPROCESSABLE_ENTITY, Some(e.message)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /invites/:id` (`_method=delete`): the invitation expires now.
async fn expire_invite(
    State(s): State<AppState>,
    SignedIn { session, user, account: _ }: SignedIn,
    axum::extract::Path(id): axum::extract::Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    check(&session, &p)?;
    let id = ferrodon_kernel::Id::parse(&id).ok_or_else(Error::not_found)?;
    ferrodon_service::invites::expire(&s.svc, &user, id).await?;
    Ok(with_session(&session, secure(&s), Redirect::to("/invites").into_response()))
}

/// A second factor being set up, as the page shows it.
struct SetupView {
    secret: String,
    qr_svg: String,
}

#[derive(Template)]
#[template(path = "two_factor.html")]
struct TwoFactorPage {
    site: Site,
    csrf: String,
    enabled: bool,
    setup: Option<SetupView>,
    codes: Vec<String>,
    error: Option<String>,
}

/// A signed-in browser: its session, user and account. A browser not signed in is sent to sign
/// in first, and back to the page it asked for (the settings page, after a form).
struct SignedIn {
    session: BrowserSession,
    user: User,
    account: Account,
}

impl axum::extract::FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, s: &AppState) -> Result<Self, Response> {
        let found = async {
            let session = oauth::browser_session(&s.svc, session_cookie(&parts.headers).as_deref()).await?;
            let Some(user) = oauth::session_user(&s.svc, &session.session).await? else {
                return Ok::<_, ApiError>(Err(session));
            };
            let account = accounts::get(&s.svc, user.account_id).await?;
            Ok(Ok(SignedIn { session, user, account }))
        };
        match found.await {
            Ok(Ok(signed_in)) => Ok(signed_in),
            Ok(Err(session)) => {
                let back = if parts.method == axum::http::Method::GET { parts.uri.path() } else { "/settings/profile" };
                let to = format!("/auth/sign_in?return_to={}", oauth::percent_encode(back));
                Err(with_session(&session, secure(s), Redirect::to(&to).into_response()))
            }
            Err(e) => Err(e.into_response()),
        }
    }
}

/// A settings page, rendered and sent with the session's cookie.
fn page(s: &AppState, session: &BrowserSession, status: StatusCode, page: impl Template) -> Result<Response, ApiError> {
    let body = page.render().map_err(|e| ApiError(Error::internal(e)))?;
    Ok(with_session(session, secure(s), (status, Html(body)).into_response()))
}

fn view(s: &AppState, session: &BrowserSession, enabled: bool) -> TwoFactorPage {
    TwoFactorPage {
        site: crate::web::site(s),
        csrf: session.session.csrf_token.clone(),
        enabled,
        setup: None,
        codes: Vec::new(),
        error: None,
    }
}

/// The form's CSRF token, checked; a page saying what went wrong otherwise.
fn check(session: &BrowserSession, p: &Params) -> Result<(), Error> {
    oauth::check_csrf(&session.session, p.str("authenticity_token").as_deref())
}

fn theirs(e: &Error) -> bool {
    !matches!(e.kind, ErrorKind::Internal | ErrorKind::Unavailable)
}

/// `GET /settings/two_factor_authentication`
async fn two_factor(
    State(s): State<AppState>,
    SignedIn { session, user, account: _ }: SignedIn,
) -> Result<Response, ApiError> {
    let enabled = two_factor::enabled(&s.svc, user.id).await?;
    page(&s, &session, StatusCode::OK, view(&s, &session, enabled))
}

/// `POST /settings/otp_authentication`: a new secret, shown with its QR code.
async fn begin_otp(
    State(s): State<AppState>,
    SignedIn { session, user, account }: SignedIn,
    p: Params,
) -> Result<Response, ApiError> {
    check(&session, &p)?;
    let password = p.str("current_password").unwrap_or_default();
    let setup = match two_factor::begin(&s.svc, &user, &account, &password).await {
        Ok(setup) => setup,
        Err(e) if theirs(&e) => {
            let shown = TwoFactorPage { error: Some(e.message), ..view(&s, &session, false) };
            return page(&s, &session, StatusCode::UNPROCESSABLE_ENTITY, shown);
        }
        Err(e) => return Err(e.into()),
    };
    let qr = qrcode::QrCode::new(setup.uri.as_bytes()).map_err(|e| ApiError(Error::internal(e)))?;
    let qr_svg = qr
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .dark_color(qrcode::render::svg::Color("#000"))
        .light_color(qrcode::render::svg::Color("#fff"))
        .build();
    let shown = TwoFactorPage { setup: Some(SetupView { secret: setup.secret, qr_svg }), ..view(&s, &session, false) };
    page(&s, &session, StatusCode::OK, shown)
}

/// `POST /settings/two_factor_authentication/confirmation`: enabled by a first code.
async fn confirm_otp(
    State(s): State<AppState>,
    SignedIn { session, user, account }: SignedIn,
    p: Params,
) -> Result<Response, ApiError> {
    check(&session, &p)?;
    let code = p.object("form_two_factor_confirmation").and_then(|f| f.str("otp_attempt")).unwrap_or_default();
    match two_factor::confirm(&s.svc, &user, &account, &code).await {
        Ok(codes) => page(&s, &session, StatusCode::OK, TwoFactorPage { codes, ..view(&s, &session, true) }),
        Err(e) if theirs(&e) => {
            let shown =
                TwoFactorPage { error: Some(format!("{} Set up again.", e.message)), ..view(&s, &session, false) };
            page(&s, &session, StatusCode::UNPROCESSABLE_ENTITY, shown)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /settings/two_factor_authentication/disable`
async fn disable_otp(
    State(s): State<AppState>,
    SignedIn { session, user, account }: SignedIn,
    p: Params,
) -> Result<Response, ApiError> {
    check(&session, &p)?;
    let code = p.object("two_factor_authentication").and_then(|f| f.str("otp_attempt")).unwrap_or_default();
    let password = p.str("current_password").unwrap_or_default();
    match two_factor::disable(&s.svc, &user, &account, &password, &code).await {
        Ok(()) => page(&s, &session, StatusCode::OK, view(&s, &session, false)),
        Err(e) if theirs(&e) => {
            let shown = TwoFactorPage { error: Some(e.message), ..view(&s, &session, true) };
            page(&s, &session, StatusCode::UNPROCESSABLE_ENTITY, shown)
        }
        Err(e) => Err(e.into()),
    }
}
