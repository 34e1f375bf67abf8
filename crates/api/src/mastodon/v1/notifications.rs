//! `/api/v1/notifications/*`

use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::response::{IntoResponse, Response};
use ferrodon_domain::model::NotificationFilter;
use ferrodon_kernel::Id;
use ferrodon_mastodon_api::Notification;
use ferrodon_service::{notifications, present};

use super::paged;
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, page};
use crate::params::Params;

pub(crate) fn filter(p: &Params) -> NotificationFilter {
    NotificationFilter {
        types: p.get("types").map(|_| notifications::parse_types(&p.list("types"))),
        exclude_types: notifications::parse_types(&p.list("exclude_types")),
        account_id: p.str("account_id").and_then(|a| Id::parse(&a)),
        group_key: None,
    }
}

/// `GET /api/v1/notifications`
pub async fn index(
    State(s): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    p: Params,
) -> ApiResult<Response> {
    let me = caller.require_user("read:notifications")?;
    let page = notifications::list(&s.svc, me, &filter(&p), &page(&p, 40)?).await?;
    Ok(paged(&s, uri, present::notification_page(&s.svc, me, page).await?).into_response())
}

/// `GET /api/v1/notifications/:id`
pub async fn show(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Notification>> {
    let me = caller.require_user("read:notifications")?;
    let notification = notifications::get(&s.svc, me, &id).await?;
    Ok(Json(present::notification(&s.svc, me, &notification).await?))
}

/// `POST /api/v1/notifications/:id/dismiss`
pub async fn dismiss(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let me = caller.require_user("write:notifications")?;
    notifications::dismiss(&s.svc, me, &id).await?;
    Ok(Json(serde_json::json!({})))
}

/// `POST /api/v1/notifications/clear`
pub async fn clear(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<serde_json::Value>> {
    let me = caller.require_user("write:notifications")?;
    notifications::clear(&s.svc, me).await?;
    Ok(Json(serde_json::json!({})))
}

/// `GET /api/v1/notifications/unread_count`
pub async fn unread_count(
    State(s): State<AppState>,
    Auth(caller): Auth,
    p: Params,
) -> ApiResult<Json<serde_json::Value>> {
    let me = caller.require_user("read:notifications")?;
    let limit = p.int("limit")?.unwrap_or(100).clamp(1, 1000) as u32;
    Ok(Json(serde_json::json!({ "count": notifications::unread_count(&s.svc, me, limit).await? })))
}
