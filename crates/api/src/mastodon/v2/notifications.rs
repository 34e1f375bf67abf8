//! `/api/v2/notifications`

use axum::extract::{OriginalUri, State};
use axum::response::{IntoResponse, Response};
use ferrodon_domain::model::NotificationType;
use ferrodon_service::{notifications, present};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, page};
use crate::link::link_header;
use crate::params::Params;

/// `GET /api/v2/notifications` (grouped)
pub async fn index(
    State(s): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    p: Params,
) -> ApiResult<Response> {
    let me = caller.require_user("read:notifications")?;
    let grouped: Vec<NotificationType> = match p.get("grouped_types") {
        Some(_) => notifications::parse_types(&p.list("grouped_types")),
        None => NotificationType::ALL.iter().copied().filter(|t| t.groupable()).collect(),
    };
    let page =
        notifications::grouped(&s.svc, me, &crate::mastodon::v1::notifications::filter(&p), &page(&p, 40)?, &grouped)
            .await?;
    let header = if page.items.is_empty() {
        None
    } else {
        link_header(&s.svc.base_url(), &uri, page.next_max_id, page.prev_min_id)
    };
    let body = present::grouped_notifications(&s.svc, me, &page.items).await?;
    let mut response = axum::Json(body).into_response();
    if let Some(v) = header {
        response.headers_mut().insert(axum::http::header::LINK, v);
    }
    Ok(response)
}

/// `GET /api/v2/notifications/:group_key`
pub async fn show(
    State(s): State<AppState>,
    Auth(caller): Auth,
    axum::extract::Path(key): axum::extract::Path<String>,
) -> ApiResult<axum::Json<ferrodon_mastodon_api::GroupedNotifications>> {
    let me = caller.require_user("read:notifications")?;
    let groups = notifications::group(&s.svc, me, &key).await?;
    Ok(axum::Json(present::grouped_notifications(&s.svc, me, &groups).await?))
}

/// `POST /api/v2/notifications/:group_key/dismiss`
pub async fn dismiss(
    State(s): State<AppState>,
    Auth(caller): Auth,
    axum::extract::Path(key): axum::extract::Path<String>,
) -> ApiResult<axum::Json<serde_json::Value>> {
    let me = caller.require_user("write:notifications")?;
    notifications::dismiss_group(&s.svc, me, &key).await?;
    Ok(axum::Json(serde_json::json!({})))
}

/// `GET /api/v2/notifications/unread_count`
pub async fn unread_count(
    State(s): State<AppState>,
    Auth(caller): Auth,
    p: Params,
) -> ApiResult<axum::Json<serde_json::Value>> {
    let me = caller.require_user("read:notifications")?;
    let limit = p.int("limit")?.unwrap_or(100).clamp(1, 1000) as u32;
    Ok(axum::Json(serde_json::json!({ "count": notifications::unread_count(&s.svc, me, limit).await? })))
}
