//! `/api/v1/statuses/*`

use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use ferrodon_mastodon_api::{Context, Status, StatusEdit, StatusSource};
use ferrodon_service::present;
use ferrodon_service::statuses::{self, Action, MediaAttribute, PollParams, StatusParams};

use super::paged;
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, page};
use crate::params::Params;

fn status_params(p: &Params) -> ApiResult<StatusParams> {
    let poll = match p.object("poll") {
        Some(poll) => Some(PollParams {
            options: poll.list("options"),
            expires_in: poll.int("expires_in")?,
            multiple: poll.bool("multiple").unwrap_or(false),
            hide_totals: poll.bool("hide_totals").unwrap_or(false),
        }),
        None => None,
    };
    Ok(StatusParams {
        status: p.str("status"),
        spoiler_text: p.str("spoiler_text"),
        sensitive: p.bool("sensitive"),
        visibility: p.str("visibility"),
        language: p.str("language"),
        in_reply_to_id: p.str("in_reply_to_id"),
        media_ids: p.get("media_ids").map(|_| p.list("media_ids")),
        media_attributes: media_attributes(p),
        poll,
        scheduled_at: p.str("scheduled_at"),
    })
}

/// `media_attributes[][id|description|focus]` (a list, or an object keyed by index as forms give it).
fn media_attributes(p: &Params) -> Vec<MediaAttribute> {
    let items: Vec<serde_json::Value> = match p.get("media_attributes") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(serde_json::Value::Object(o)) => o.values().cloned().collect(),
        _ => Vec::new(),
    };
    items
        .into_iter()
        .filter_map(|v| match v {
            serde_json::Value::Object(o) => Some(Params(o)),
            _ => None,
        })
        .filter_map(|a| {
            Some(MediaAttribute { id: a.str("id")?, description: a.str("description"), focus: a.str("focus") })
        })
        .collect()
}

/// `POST /api/v1/statuses`
pub async fn create(
    State(s): State<AppState>,
    Auth(caller): Auth,
    headers: HeaderMap,
    p: Params,
) -> ApiResult<Json<Status>> {
    let me = caller.require_user("write:statuses")?;
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    let status = statuses::create(&s.svc, me, status_params(&p)?, key).await?;
    Ok(Json(present::status(&s.svc, Some(me), &status).await?))
}

/// `GET /api/v1/statuses?id[]=`
pub async fn index(State(s): State<AppState>, Auth(caller): Auth, p: Params) -> ApiResult<Json<Vec<Status>>> {
    let found = statuses::get_many(&s.svc, &caller, &p.list("id")).await?;
    Ok(Json(present::statuses(&s.svc, caller.viewer(), &found).await?))
}

/// `GET /api/v1/statuses/:id`
pub async fn show(State(s): State<AppState>, Auth(caller): Auth, Path(id): Path<String>) -> ApiResult<Json<Status>> {
    let status = statuses::get(&s.svc, &caller, &id).await?;
    Ok(Json(present::status(&s.svc, caller.viewer(), &status).await?))
}

/// `DELETE /api/v1/statuses/:id` (`delete_media` removes its attachments; otherwise they are
/// kept, free to be posted again, as by "delete and redraft")
pub async fn destroy(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Json<Status>> {
    let me = caller.require_user("write:statuses")?;
    let deleted = statuses::delete(&s.svc, me, &id, p.bool("delete_media").unwrap_or(false)).await?;
    Ok(Json(present::deleted_status(&s.svc, me, &deleted).await?))
}

/// `PUT /api/v1/statuses/:id`
pub async fn update(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Json<Status>> {
    let me = caller.require_user("write:statuses")?;
    let status = statuses::edit(&s.svc, me, &id, status_params(&p)?).await?;
    Ok(Json(present::status(&s.svc, Some(me), &status).await?))
}

/// `GET /api/v1/statuses/:id/context`
pub async fn context(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Context>> {
    let thread = statuses::context(&s.svc, &caller, &id).await?;
    Ok(Json(present::context(&s.svc, caller.viewer(), &thread).await?))
}

/// `GET /api/v1/statuses/:id/history`
pub async fn history(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<StatusEdit>>> {
    let history = statuses::history(&s.svc, &caller, &id).await?;
    Ok(Json(present::history(&s.svc, &history)))
}

/// `GET /api/v1/statuses/:id/source`
pub async fn source(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<StatusSource>> {
    caller.require_token("read:statuses")?;
    let status = statuses::source(&s.svc, &caller, &id).await?;
    Ok(Json(present::status_source(&status)))
}

/// `GET /api/v1/statuses/:id/favourited_by`
pub async fn favourited_by(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    p: Params,
) -> ApiResult<Response> {
    let page = statuses::interacted_by(&s.svc, &caller, &id, false, &page(&p, 40)?).await?;
    Ok(paged(&s, uri, page.map(|a| present::account(&s.svc, &a))).into_response())
}

/// `GET /api/v1/statuses/:id/reblogged_by`
pub async fn reblogged_by(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    p: Params,
) -> ApiResult<Response> {
    let page = statuses::interacted_by(&s.svc, &caller, &id, true, &page(&p, 40)?).await?;
    Ok(paged(&s, uri, page.map(|a| present::account(&s.svc, &a))).into_response())
}

async fn act(
    s: AppState,
    caller: ferrodon_service::Caller,
    id: String,
    scope: &str,
    action: Action,
) -> ApiResult<Json<Status>> {
    let me = caller.require_user(scope)?;
    let status = statuses::act(&s.svc, me, &id, action).await?;
    Ok(Json(present::status(&s.svc, Some(me), &status).await?))
}

/// `POST /api/v1/statuses/:id/favourite`
pub async fn favourite(State(s): State<AppState>, Auth(c): Auth, Path(id): Path<String>) -> ApiResult<Json<Status>> {
    act(s, c, id, "write:favourites", Action::Favourite).await
}

/// `POST /api/v1/statuses/:id/unfavourite`
pub async fn unfavourite(State(s): State<AppState>, Auth(c): Auth, Path(id): Path<String>) -> ApiResult<Json<Status>> {
    act(s, c, id, "write:favourites", Action::Unfavourite).await
}

/// `POST /api/v1/statuses/:id/bookmark`
pub async fn bookmark(State(s): State<AppState>, Auth(c): Auth, Path(id): Path<String>) -> ApiResult<Json<Status>> {
    act(s, c, id, "write:bookmarks", Action::Bookmark).await
}

/// `POST /api/v1/statuses/:id/unbookmark`
pub async fn unbookmark(State(s): State<AppState>, Auth(c): Auth, Path(id): Path<String>) -> ApiResult<Json<Status>> {
    act(s, c, id, "write:bookmarks", Action::Unbookmark).await
}

/// `POST /api/v1/statuses/:id/pin`
pub async fn pin(State(s): State<AppState>, Auth(c): Auth, Path(id): Path<String>) -> ApiResult<Json<Status>> {
    act(s, c, id, "write:accounts", Action::Pin).await
}

/// `POST /api/v1/statuses/:id/unpin`
pub async fn unpin(State(s): State<AppState>, Auth(c): Auth, Path(id): Path<String>) -> ApiResult<Json<Status>> {
    act(s, c, id, "write:accounts", Action::Unpin).await
}

/// `POST /api/v1/statuses/:id/mute`
pub async fn mute(State(s): State<AppState>, Auth(c): Auth, Path(id): Path<String>) -> ApiResult<Json<Status>> {
    act(s, c, id, "write:mutes", Action::Mute).await
}

/// `POST /api/v1/statuses/:id/unmute`
pub async fn unmute(State(s): State<AppState>, Auth(c): Auth, Path(id): Path<String>) -> ApiResult<Json<Status>> {
    act(s, c, id, "write:mutes", Action::Unmute).await
}

/// `POST /api/v1/statuses/:id/reblog`
pub async fn reblog(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Json<Status>> {
    let me = caller.require_user("write:statuses")?;
    let reblog = statuses::reblog(&s.svc, me, &id, p.str("visibility").as_deref()).await?;
    Ok(Json(present::reblog(&s.svc, me, &reblog).await?))
}

/// `POST /api/v1/statuses/:id/unreblog`
pub async fn unreblog(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Status>> {
    let me = caller.require_user("write:statuses")?;
    let original = statuses::unreblog(&s.svc, me, &id).await?;
    Ok(Json(present::status(&s.svc, Some(me), &original).await?))
}
