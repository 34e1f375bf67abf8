//! `/api/v1/announcements`: the admins' announcements, dismissed and reacted to by users.

use axum::Json;
use axum::extract::{Path, State};
use ferrodon_mastodon_api::Announcement;
use ferrodon_service::{announcements, present};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::Auth;

/// `GET /api/v1/announcements`
pub async fn index(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<Vec<Announcement>>> {
    let me = caller.require_user("read")?;
    let published = announcements::index(&s.svc).await?;
    Ok(Json(present::announcements(&s.svc, me, &published).await?))
}

/// `POST /api/v1/announcements/:id/dismiss`: answers `{}`.
pub async fn dismiss(State(s): State<AppState>, Auth(caller): Auth, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    announcements::dismiss(&s.svc, caller.require_user("write:accounts")?, &id).await?;
    Ok(Json(json!({})))
}

/// `PUT /api/v1/announcements/:id/reactions/:name`: answers `{}`.
pub async fn react(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    announcements::react(&s.svc, caller.require_user("write:favourites")?, &id, &name).await?;
    Ok(Json(json!({})))
}

/// `DELETE /api/v1/announcements/:id/reactions/:name`: answers `{}`.
pub async fn unreact(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    announcements::unreact(&s.svc, caller.require_user("write:favourites")?, &id, &name).await?;
    Ok(Json(json!({})))
}
