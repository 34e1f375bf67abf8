//! The public web pages: what a browser, or a crawler, finds at the addresses the API hands out.
//! Rendered on the server from `crates/api/templates` (askama), without JavaScript, light or
//! dark as the reader's system is. Only what is public is shown; the same addresses asked for
//! ActivityPub answer its documents.
//!
//! | route | handler |
//! |---|---|
//! | `GET /` | [`home`]: the instance and its recent local public posts |
//! | `GET /about`, `GET /privacy-policy` | [`about`], [`privacy_policy`] |
//! | `GET /@:username` (`.rss`) | [`profile`]: the account, its pinned and recent public posts |
//! | `GET /@:username/:id` | [`status`]: a public post with its public thread |
//! | `GET /tags/:tag` (`.rss`) | [`tag`]: the hashtag's recent public posts |
//! | `GET /api/oembed?url=` | [`oembed`]: a post's oEmbed description |

mod view;

use askama::Template;
use axum::Router;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use ferrodon_config::RegistrationsMode;
use ferrodon_domain::model::PublicFilter;
use ferrodon_kernel::{Error, Id, PageRequest};
use ferrodon_mastodon_api as api;
use ferrodon_service::pages::{self, Shown};
use ferrodon_service::{Caller, accounts, present, settings, statuses, timelines};

use crate::AppState;
use crate::error::ApiResult;
use crate::params::Params;
pub(crate) use view::Site;
use view::{Feed, Page, Profile, Thread, Timeline};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/about", get(about))
        .route("/privacy-policy", get(privacy_policy))
        .route("/@{username}", get(profile))
        .route("/@{username}/{id}", get(status))
        .route("/tags/{tag}", get(tag))
        .route("/api/oembed", get(oembed))
}

/// Posts per page, as Mastodon's public pages show them.
const PER_PAGE: u32 = 20;

/// What every page shows of the server (whether sign-ups are open is read only by the pages
/// that say so: [`with_registrations`]).
pub(crate) fn site(s: &AppState) -> Site {
    Site { domain: s.svc.config.local_domain.clone(), registrations_open: false }
}

pub(crate) async fn with_registrations(s: &AppState) -> ApiResult<Site> {
    let mode = settings::current_registrations_mode(&s.svc).await?;
    Ok(Site { registrations_open: mode != RegistrationsMode::None, ..site(s) })
}

/// A rendered page; pages anyone may see can be cached by the browser and proxies a little.
fn html(status: StatusCode, page: Result<String, askama::Error>) -> ApiResult<Response> {
    let body = page.map_err(Error::internal)?;
    let mut response = (status, Html(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    Ok(response)
}

/// A page that says what is not here (404), or is gone (410).
async fn missing(s: &AppState, status: StatusCode) -> ApiResult<Response> {
    let (title, text) = if status == StatusCode::GONE {
        ("Gone", "This account has been suspended, and what it posted is no longer here.")
    } else {
        ("Not found", "The page you are looking for isn't here.")
    };
    let body = format!("<p>{text}</p><p><a href=\"/\">Go to the start page</a></p>");
    html(status, Page { site: site(s), title: title.into(), body }.render())
}

fn page_request(p: &Params) -> PageRequest {
    let max_id = p.str("max_id").and_then(|v| Id::parse(&v));
    PageRequest::new(max_id, None, None, None, PER_PAGE)
}

/// `GET /`
async fn home(State(s): State<AppState>, p: Params) -> ApiResult<Response> {
    let filter = PublicFilter { local: true, remote: false, only_media: false };
    let page = timelines::public(&s.svc, &Caller::Anonymous, filter, &page_request(&p)).await?;
    let older = page.next_max_id.map(|id| format!("/?max_id={id}"));
    let posts = view::posts(present::statuses(&s.svc, None, &page.items).await?, None);
    let intro = format!(
        "{} is a social network server of the fediverse: follow people here and on other servers, from any Mastodon app.",
        s.svc.config.local_domain
    );
    let page =
        Timeline { site: site(&s), heading: "Recent posts".into(), intro: Some(intro), posts, older, feed: None };
    html(StatusCode::OK, page.render())
}

/// `GET /about`
async fn about(State(s): State<AppState>) -> ApiResult<Response> {
    let site = with_registrations(&s).await?;
    let contact = &s.svc.config.contact_email;
    let body = format!(
        "<p>{domain} is a server of the fediverse, where people follow each other across servers with any \
         Mastodon app.</p><p>Sign-ups are {}.</p><h2>Contact</h2><p><a href=\"mailto:{contact}\">{contact}</a></p>",
        if site.registrations_open { "open" } else { "closed" },
        domain = view::escape(&site.domain),
        contact = view::escape(contact),
    );
    html(StatusCode::OK, Page { site, title: "About".into(), body }.render())
}

/// `GET /privacy-policy`
async fn privacy_policy(State(s): State<AppState>) -> ApiResult<Response> {
    let site = site(&s);
    let body = format!(
        "<p>{domain} keeps what you give it to run your account: your e-mail address and password (hashed), \
         what you post and upload, whom you follow, and the addresses you sign in from for a limited time.</p>\
         <p>Public and unlisted posts and your profile are sent to the servers of your followers and of the \
         people you mention, which keep them under their own rules. Followers-only posts go only to your \
         followers' servers; direct messages only to the servers of the people mentioned.</p>\
         <p>You can export your data, and delete your account, from the settings.</p>",
        domain = view::escape(&site.domain)
    );
    html(StatusCode::OK, Page { site, title: "Privacy policy".into(), body }.render())
}

/// `GET /@:username`, or its feed with `.rss`; an ActivityPub `Accept` gets the actor.
async fn profile(
    State(s): State<AppState>,
    Path(username): Path<String>,
    headers: HeaderMap,
    uri: OriginalUri,
    p: Params,
) -> ApiResult<Response> {
    let (username, rss) = match username.strip_suffix(".rss") {
        Some(name) => (name.to_string(), true),
        None => (username, false),
    };
    if !rss && crate::activitypub::wants_activity_json(&headers) {
        return crate::activitypub::actor(State(s), Path(username), headers, uri).await;
    }
    let found = match pages::profile(&s.svc, &username, &page_request(&p), rss).await? {
        Shown::Found(found) => found,
        Shown::Missing => return missing(&s, StatusCode::NOT_FOUND).await,
        Shown::Gone => return missing(&s, StatusCode::GONE).await,
    };
    let account = present::account(&s.svc, &found.account);
    let posts = view::posts(present::statuses(&s.svc, None, &found.statuses).await?, None);
    if rss {
        return feed(Feed {
            title: view::display_name(&account).to_string(),
            description: format!("Public posts from @{}@{}", account.acct, s.svc.config.local_domain),
            link: account.url.clone(),
            image: Some(account.avatar_static.clone()),
            posts,
        });
    }
    let older = found.next_max_id.map(|id| format!("{}?max_id={id}", account.url));
    let page = Profile::new(site(&s), account, posts, older);
    html(StatusCode::OK, page.render())
}

/// `GET /@:username/:id`: the post with its public thread; an ActivityPub `Accept` gets the
/// Note.
async fn status(
    State(s): State<AppState>,
    Path((username, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: OriginalUri,
) -> ApiResult<Response> {
    if crate::activitypub::wants_activity_json(&headers) {
        return crate::activitypub::status(State(s), Path((username, id)), headers, uri).await;
    }
    let thread = match pages::thread(&s.svc, &username, &id).await? {
        Shown::Found(thread) => thread,
        Shown::Missing => return missing(&s, StatusCode::NOT_FOUND).await,
        Shown::Gone => return missing(&s, StatusCode::GONE).await,
    };
    let rendered = present::statuses(&s.svc, None, &thread.statuses).await?;
    let main_id = thread.main.id.to_string();
    let Some(main) = rendered.iter().find(|r| r.id == main_id).cloned() else {
        return missing(&s, StatusCode::NOT_FOUND).await;
    };
    let page = Thread::new(site(&s), &s.svc.base_url(), &main, view::posts(rendered, Some(&main.id)));
    html(StatusCode::OK, page.render())
}

/// `GET /tags/:tag`, or its feed with `.rss`.
async fn tag(State(s): State<AppState>, Path(tag): Path<String>, p: Params) -> ApiResult<Response> {
    let (name, rss) = match tag.strip_suffix(".rss") {
        Some(name) => (name.to_string(), true),
        None => (tag, false),
    };
    let filter = PublicFilter { local: true, remote: false, only_media: false };
    let page = timelines::tag(&s.svc, &Caller::Anonymous, &name, filter, &page_request(&p)).await?;
    let posts = view::posts(present::statuses(&s.svc, None, &page.items).await?, None);
    let base = s.svc.base_url();
    let link = format!("{base}/tags/{}", view::path_segment(&name));
    if rss {
        let description = format!("Public posts tagged #{name} on {}", s.svc.config.local_domain);
        return feed(Feed { title: format!("#{name}"), description, link, image: None, posts });
    }
    let older = page.next_max_id.map(|id| format!("{link}?max_id={id}"));
    let heading = format!("#{name}");
    let page = Timeline { site: site(&s), heading, intro: None, posts, older, feed: Some(format!("{link}.rss")) };
    html(StatusCode::OK, page.render())
}

fn feed(feed: Feed) -> ApiResult<Response> {
    let body = feed.render().map_err(Error::internal)?;
    Ok((
        [(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=60")],
        body,
    )
        .into_response())
}

/// `GET /api/oembed?url=…`: an embed of a public local post (Mastodon's `rich` type).
async fn oembed(State(s): State<AppState>, p: Params) -> ApiResult<axum::Json<serde_json::Value>> {
    let url = p.str("url").unwrap_or_default();
    let base = s.svc.base_url();
    // A post of this server by its page (`/@user/ID`) or its ActivityPub id
    // (`/users/user/statuses/ID`), nothing else.
    let path = url.strip_prefix(&base).filter(|p| p.starts_with('/')).ok_or_else(Error::not_found)?;
    let path = path.split(['?', '#']).next().unwrap_or_default().trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let (username, id) = match segments.as_slice() {
        [at, id] if at.starts_with('@') => (&at[1..], *id),
        ["users", user, "statuses", id] => (*user, *id),
        _ => return Err(Error::not_found().into()),
    };
    let shown = statuses::get(&s.svc, &Caller::Anonymous, id).await.map_err(|_| Error::not_found())?;
    if !shown.local || accounts::public_local(&s.svc, username).await?.is_none_or(|a| a.id != shown.account_id) {
        return Err(Error::not_found().into());
    }
    let st: api::Status = present::status(&s.svc, None, &shown).await?;
    let link = st.url.clone().unwrap_or_else(|| st.uri.clone());
    let width = p.int("maxwidth").ok().flatten().unwrap_or(400).clamp(250, 800);
    Ok(axum::Json(serde_json::json!({
        "type": "rich",
        "version": "1.0",
        "title": format!("New status by {}", st.account.acct),
        "author_name": view::display_name(&st.account),
        "author_url": st.account.url,
        "provider_name": s.svc.config.local_domain,
        "provider_url": format!("{base}/"),
        "cache_age": 86400,
        "html": format!(
            "<blockquote class=\"ferrodon-embed\"><a href=\"{}\">{}</a></blockquote>",
            view::escape(&link),
            view::escape(&format!("A post by @{} on {}", st.account.acct, s.svc.config.local_domain))
        ),
        "width": width,
        "height": null,
    })))
}
