//! ActivityPub endpoints:
//!
//! | route | handler |
//! |---|---|
//! | `GET /users/:username` | [`actor`] |
//! | `GET /users/:username/statuses/:id` | [`status`] |
//! | `GET /users/:username/statuses/:id/activity` | [`status_activity`] |
//! | `GET /users/:username/outbox` | [`outbox`] |
//! | `GET /users/:username/followers`, `/following` | [`followers`], [`following`] |
//! | `GET /users/:username/collections/featured`, `/collections/tags` | [`featured`], [`featured_tags`] |
//! | `POST /users/:username/inbox`, `POST /inbox`, `POST /actor/inbox` | [`inbox`] |
//! | `GET /actor` | [`instance_actor`] |
//!
//! With `AUTHORIZED_FETCH=true` every GET here must be signed.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ferrodon_federation::inbox::Refused;
use ferrodon_federation::signatures::Incoming;
use ferrodon_federation::{Fed, render};
use ferrodon_kernel::{Error, Id};
use ferrodon_service::{activitypub, domains};
use serde_json::Value;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/users/{username}", get(actor))
        .route("/users/{username}/statuses/{id}", get(status))
        .route("/users/{username}/statuses/{id}/activity", get(status_activity))
        .route("/users/{username}/statuses/{id}/replies", get(replies))
        .route("/users/{username}/outbox", get(outbox))
        .route("/users/{username}/followers", get(followers))
        .route("/users/{username}/following", get(following))
        .route("/users/{username}/collections/featured", get(featured))
        .route("/users/{username}/collections/tags", get(featured_tags))
        .route("/users/{username}/inbox", post(inbox))
        .route("/inbox", post(inbox))
        .route("/actor", get(instance_actor))
        .route("/actor/inbox", post(inbox))
}

const LD_JSON: &str = "application/activity+json; charset=utf-8";

fn activity_json(doc: Value) -> Response {
    ([(header::CONTENT_TYPE, LD_JSON), (header::VARY, "Accept, Signature")], doc.to_string()).into_response()
}

fn federation(s: &AppState) -> Result<&Fed, ApiError> {
    s.fed.as_ref().ok_or_else(|| ApiError(Error::unavailable("federation is not running in this process")))
}

/// The full URI of a request to us, for RFC 9421's `@target-uri`.
fn target_uri(s: &AppState, uri: &axum::http::Uri) -> String {
    format!("{}{}", s.svc.base_url(), uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
}

/// With `AUTHORIZED_FETCH`, a GET must carry a valid signature of a known, unblocked actor.
async fn authorize_fetch(s: &AppState, headers: &HeaderMap, uri: &axum::http::Uri) -> Result<(), ApiError> {
    // Limited federation implies signed fetches, as in Mastodon.
    if !s.svc.config.authorized_fetch && !s.svc.config.limited_federation_mode {
        return Ok(());
    }
    let fed = federation(s)?;
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let target = target_uri(s, uri);
    let req = Incoming { method: &Method::GET, path_and_query: path, target_uri: &target, headers, body: None };
    let sig = ferrodon_federation::signatures::parse(&req, std::time::SystemTime::now())
        .map_err(|e| ApiError(Error::unauthorized(format!("Request not signed: {e}"))))?;
    if domains::refuses(&s.svc, &sig.key_id).await? {
        return Err(ApiError(Error::forbidden("This domain is blocked here")));
    }
    fed.verify(&sig).await.map_err(|e| ApiError(Error::unauthorized(e)))?;
    Ok(())
}

/// `GET /users/:username`: the actor (a browser asking for HTML goes to the profile page).
pub(crate) async fn actor(
    State(s): State<AppState>,
    Path(username): Path<String>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    if wants_html(&headers) {
        let a = activitypub::account(&s.svc, &username).await?;
        return Ok((StatusCode::FOUND, [(header::LOCATION, a.url.clone())]).into_response());
    }
    authorize_fetch(&s, &headers, &uri).await?;
    let local = activitypub::actor(&s.svc, &username).await?;
    Ok(activity_json(render::actor(&s.svc.base_url(), &local)))
}

/// `GET /actor`: the instance actor.
async fn instance_actor(State(s): State<AppState>) -> ApiResult<Response> {
    let fed = federation(&s)?;
    let key = activitypub::instance_actor(&s.svc).await?;
    Ok(activity_json(fed.instance_actor(&key)?))
}

/// Whether a request asks for an ActivityPub document (rather than a page).
pub(crate) fn wants_activity_json(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.contains("activity+json") || accept.contains("ld+json")
}

fn wants_html(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.contains("text/html") && !accept.contains("activity+json") && !accept.contains("ld+json")
}

/// `GET /users/:username/statuses/:id`: a public or unlisted status as a Note.
pub(crate) async fn status(
    State(s): State<AppState>,
    Path((username, id)): Path<(String, String)>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    authorize_fetch(&s, &headers, &uri).await?;
    let post = activitypub::post(&s.svc, &username, &id).await?;
    Ok(activity_json(render::served_note(&s.svc.base_url(), &post)))
}

/// `GET /users/:username/statuses/:id/activity`: its Create.
async fn status_activity(
    State(s): State<AppState>,
    Path((username, id)): Path<(String, String)>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    authorize_fetch(&s, &headers, &uri).await?;
    let post = activitypub::post(&s.svc, &username, &id).await?;
    Ok(activity_json(render::create(render::note(&s.svc.base_url(), &post), &post.author)))
}

/// `GET /users/:username/statuses/:id/replies[?page=true]`: the public and unlisted replies of
/// a public or unlisted status (what other servers fetch to complete a thread).
async fn replies(
    State(s): State<AppState>,
    Path((username, id)): Path<(String, String)>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    p: Params,
) -> ApiResult<Response> {
    authorize_fetch(&s, &headers, &uri).await?;
    let (status_uri, items) = activitypub::replies(&s.svc, &username, &id).await?;
    let page_only = p.str("page").is_some_and(|v| v == "true");
    Ok(activity_json(render::replies(&status_uri, &items, page_only)))
}

/// `GET /users/:username/followers`
async fn followers(
    State(s): State<AppState>,
    Path(username): Path<String>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    authorize_fetch(&s, &headers, &uri).await?;
    let a = activitypub::account(&s.svc, &username).await?;
    Ok(activity_json(render::counted_collection(render::followers(&a), a.followers_count)))
}

/// `GET /users/:username/following`
async fn following(
    State(s): State<AppState>,
    Path(username): Path<String>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    authorize_fetch(&s, &headers, &uri).await?;
    let a = activitypub::account(&s.svc, &username).await?;
    Ok(activity_json(render::counted_collection(format!("{}/following", a.uri), a.following_count)))
}

/// `GET /users/:username/outbox[?page=true&max_id=…]`: public posts as Create activities, 20 a page.
async fn outbox(
    State(s): State<AppState>,
    Path(username): Path<String>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    p: Params,
) -> ApiResult<Response> {
    authorize_fetch(&s, &headers, &uri).await?;
    if p.str("page").as_deref() != Some("true") {
        let a = activitypub::account(&s.svc, &username).await?;
        return Ok(activity_json(render::outbox(&a)));
    }
    let max_id = p.str("max_id");
    let (a, posts, next) = activitypub::outbox(&s.svc, &username, max_id.as_deref().and_then(Id::parse)).await?;
    Ok(activity_json(render::outbox_page(&s.svc.base_url(), &a, &posts, max_id.as_deref(), next)))
}

/// `GET /users/:username/collections/featured`: pinned posts.
async fn featured(
    State(s): State<AppState>,
    Path(username): Path<String>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    authorize_fetch(&s, &headers, &uri).await?;
    let (a, posts) = activitypub::featured(&s.svc, &username).await?;
    Ok(activity_json(render::featured(&s.svc.base_url(), &a, &posts)))
}

/// `GET /users/:username/collections/tags`: featured hashtags (none yet).
async fn featured_tags(State(s): State<AppState>, Path(username): Path<String>) -> ApiResult<Response> {
    let a = activitypub::account(&s.svc, &username).await?;
    Ok(activity_json(render::featured_tags(&a)))
}

/// `POST /inbox`, `POST /users/:username/inbox`: verify, queue on `ingress`, 202.
async fn inbox(
    State(s): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fed = match federation(&s) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    if body.len() > ferrodon_federation::inbox::MAX_ACTIVITY {
        return ApiError(Error::validation("The activity is too large")).into_response();
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let target = target_uri(&s, &uri);
    let req =
        Incoming { method: &method, path_and_query: path, target_uri: &target, headers: &headers, body: Some(&body) };
    match fed.receive(req).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(Refused::Unauthorized(why)) => {
            tracing::info!(why, "inbox request refused");
            ApiError(Error::unauthorized(format!("Request not signed or not verifiable: {why}"))).into_response()
        }
        Err(Refused::Forbidden(why)) => ApiError(Error::forbidden(why)).into_response(),
        Err(Refused::BadRequest(why)) => ApiError(Error::bad_request(why)).into_response(),
        Err(Refused::Unavailable(why)) => ApiError(Error::unavailable(why)).into_response(),
    }
}
