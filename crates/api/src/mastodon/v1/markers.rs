//! `/api/v1/markers`

use axum::Json;
use axum::extract::State;
use ferrodon_service::{notifications, present};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::Auth;
use crate::params::Params;

/// `GET /api/v1/markers?timeline[]=`
pub async fn show(State(s): State<AppState>, Auth(caller): Auth, p: Params) -> ApiResult<Json<serde_json::Value>> {
    let me = caller.require_user("read:statuses")?;
    let markers = notifications::markers(&s.svc, me, &p.list("timeline")).await?;
    Ok(Json(present::markers(&markers).into()))
}

/// `POST /api/v1/markers` with `home[last_read_id]` and/or `notifications[last_read_id]`
pub async fn update(State(s): State<AppState>, Auth(caller): Auth, p: Params) -> ApiResult<Json<serde_json::Value>> {
    let me = caller.require_user("write:statuses")?;
    let updates: Vec<(String, String)> = ["home", "notifications"]
        .iter()
        .filter_map(|t| p.object(t).and_then(|o| o.str("last_read_id")).map(|id| (t.to_string(), id)))
        .collect();
    let markers = notifications::set_markers(&s.svc, me, &updates).await?;
    Ok(Json(present::markers(&markers).into()))
}
