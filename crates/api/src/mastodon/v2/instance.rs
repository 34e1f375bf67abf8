//! `/api/v2/instance`

use axum::Json;
use axum::extract::State;
use ferrodon_service::{instance, present};

use crate::AppState;
use crate::error::ApiResult;

/// `GET /api/v2/instance`
pub async fn show(State(s): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    let usage = instance::v2(&s.svc).await?;
    Ok(Json(present::instance(&s.svc, &usage)))
}
