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
use serde_json::{Value, json};

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
    if fed.refuses(&sig.key_id).await? {
        return Err(ApiError(Error::forbidden("This domain is blocked here")));
    }
    fed.verify(&sig).await.map_err(|e| ApiError(Error::unauthorized(e)))?;
    Ok(())
}

async fn local_account(s: &AppState, username: &str) -> ApiResult<ferrodon_domain::model::Account> {
    let mut tx = s.svc.db.read().await?;
    let a = tx.account_by_username(username, "").await?.ok_or_else(Error::not_found)?;
    Ok(a)
}

/// `GET /users/:username`: the actor (a browser asking for HTML goes to the profile page).
async fn actor(
    State(s): State<AppState>,
    Path(username): Path<String>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    let a = local_account(&s, &username).await?;
    if wants_html(&headers) {
        return Ok((StatusCode::FOUND, [(header::LOCATION, a.url.clone())]).into_response());
    }
    authorize_fetch(&s, &headers, &uri).await?;
    let fed = federation(&s)?;
    let key = fed.key_of(&a).await?;
    Ok(activity_json(render::actor(&s.svc.base_url(), &a, &key.public_key_pem())))
}

/// `GET /actor`: the instance actor.
async fn instance_actor(State(s): State<AppState>) -> ApiResult<Response> {
    let fed = federation(&s)?;
    let key = fed.instance_key().await?;
    Ok(activity_json(render::instance_actor(&s.svc.base_url(), &s.svc.config.local_domain, &key.public_key_pem())))
}

fn wants_html(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.contains("text/html") && !accept.contains("activity+json") && !accept.contains("ld+json")
}

async fn served_status(s: &AppState, username: &str, id: &str) -> ApiResult<(ferrodon_domain::model::Account, Value)> {
    let a = local_account(s, username).await?;
    let id = Id::parse(id).ok_or_else(Error::not_found)?;
    let mut tx = s.svc.db.read().await?;
    let status = tx.status_by_id(id).await?.filter(|st| st.account_id == a.id).ok_or_else(Error::not_found)?;
    let note = render::served_note(&mut tx, &s.svc.base_url(), &status).await?;
    Ok((a, note))
}

/// `GET /users/:username/statuses/:id`: a public or unlisted status as a Note.
async fn status(
    State(s): State<AppState>,
    Path((username, id)): Path<(String, String)>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    authorize_fetch(&s, &headers, &uri).await?;
    let (_, note) = served_status(&s, &username, &id).await?;
    Ok(activity_json(note))
}

/// `GET /users/:username/statuses/:id/activity`: its Create.
async fn status_activity(
    State(s): State<AppState>,
    Path((username, id)): Path<(String, String)>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    authorize_fetch(&s, &headers, &uri).await?;
    let (a, mut note) = served_status(&s, &username, &id).await?;
    if let Some(o) = note.as_object_mut() {
        o.remove("@context");
    }
    Ok(activity_json(render::create(note, &a)))
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
    let a = local_account(&s, &username).await?;
    let id = Id::parse(&id).ok_or_else(Error::not_found)?;
    let mut tx = s.svc.db.read().await?;
    let status = tx.status_by_id(id).await?.filter(|st| st.account_id == a.id).ok_or_else(Error::not_found)?;
    // Only what would be served itself (public or unlisted, local, not a reblog).
    render::served_note(&mut tx, &s.svc.base_url(), &status).await?;
    let thread = tx.conversation(status.conversation_id, 4096).await?;
    let items: Vec<String> = thread
        .iter()
        .filter(|r| r.in_reply_to_id == Some(status.id))
        .filter(|r| {
            matches!(
                r.visibility,
                ferrodon_domain::model::Visibility::Public | ferrodon_domain::model::Visibility::Unlisted
            )
        })
        .take(REPLIES_PAGE)
        .map(|r| r.uri.clone())
        .collect();
    let page_only = p.str("page").is_some_and(|v| v == "true");
    Ok(activity_json(render::replies(&status.uri, &items, page_only)))
}

/// Replies listed by the replies collection.
const REPLIES_PAGE: usize = 40;

/// An `OrderedCollection` that shows only its size (Mastodon's followers and following when
/// the owner hides them, and ours until paging them is needed).
fn counted_collection(id: String, total: i64) -> Value {
    json!({"@context": "https://www.w3.org/ns/activitystreams", "id": id, "type": "OrderedCollection", "totalItems": total})
}

/// `GET /users/:username/followers`
async fn followers(
    State(s): State<AppState>,
    Path(username): Path<String>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    authorize_fetch(&s, &headers, &uri).await?;
    let a = local_account(&s, &username).await?;
    Ok(activity_json(counted_collection(render::followers(&a), a.followers_count)))
}

/// `GET /users/:username/following`
async fn following(
    State(s): State<AppState>,
    Path(username): Path<String>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    authorize_fetch(&s, &headers, &uri).await?;
    let a = local_account(&s, &username).await?;
    Ok(activity_json(counted_collection(format!("{}/following", a.uri), a.following_count)))
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
    let a = local_account(&s, &username).await?;
    let id = format!("{}/outbox", a.uri);
    if p.str("page").as_deref() != Some("true") {
        return Ok(activity_json(json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": id,
            "type": "OrderedCollection",
            "totalItems": a.statuses_count,
            "first": format!("{id}?page=true"),
            "last": format!("{id}?min_id=0&page=true"),
        })));
    }
    let page = ferrodon_kernel::PageRequest {
        max_id: p.str("max_id").and_then(|m| Id::parse(&m)),
        limit: 20,
        ..Default::default()
    };
    let mut tx = s.svc.db.read().await?;
    let filter = ferrodon_domain::model::AccountStatusFilter { exclude_reblogs: true, ..Default::default() };
    let statuses = tx.account_statuses(a.id, &filter, &page).await?;
    let base = s.svc.base_url();
    let mut items = Vec::new();
    for st in &statuses {
        if let Ok(mut note) = render::served_note(&mut tx, &base, st).await {
            if let Some(o) = note.as_object_mut() {
                o.remove("@context");
            }
            let mut create = render::create(note, &a);
            if let Some(o) = create.as_object_mut() {
                o.remove("@context");
            }
            items.push(create);
        }
    }
    let mut doc = json!({
        "@context": render::context(),
        "id": format!("{id}?page=true{}", p.str("max_id").map(|m| format!("&max_id={m}")).unwrap_or_default()),
        "type": "OrderedCollectionPage",
        "partOf": id,
        "orderedItems": items,
    });
    if let Some(last) = statuses.last().filter(|_| statuses.len() == 20) {
        doc["next"] = json!(format!("{id}?max_id={}&page=true", last.id));
    }
    Ok(activity_json(doc))
}

/// `GET /users/:username/collections/featured`: pinned posts.
async fn featured(
    State(s): State<AppState>,
    Path(username): Path<String>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    authorize_fetch(&s, &headers, &uri).await?;
    let a = local_account(&s, &username).await?;
    let mut tx = s.svc.db.read().await?;
    let page = ferrodon_kernel::PageRequest { limit: 20, ..Default::default() };
    let pinned: Vec<Id> = tx
        .marked_statuses(ferrodon_domain::ports::StatusMark::Pin, a.id, &page)
        .await?
        .into_iter()
        .map(|k| k.item)
        .collect();
    let pinned = tx.statuses_by_ids(&pinned).await?;
    let base = s.svc.base_url();
    let mut items = Vec::new();
    for st in &pinned {
        if let Ok(mut note) = render::served_note(&mut tx, &base, st).await {
            if let Some(o) = note.as_object_mut() {
                o.remove("@context");
            }
            items.push(note);
        }
    }
    Ok(activity_json(json!({
        "@context": render::context(),
        "id": format!("{}/collections/featured", a.uri),
        "type": "OrderedCollection",
        "totalItems": items.len(),
        "orderedItems": items,
    })))
}

/// `GET /users/:username/collections/tags`: featured hashtags (none yet).
async fn featured_tags(State(s): State<AppState>, Path(username): Path<String>) -> ApiResult<Response> {
    let a = local_account(&s, &username).await?;
    Ok(activity_json(json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/collections/tags", a.uri),
        "type": "Collection",
        "totalItems": 0,
        "items": [],
    })))
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
