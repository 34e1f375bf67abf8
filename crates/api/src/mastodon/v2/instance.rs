//! `/api/v2/instance`

use axum::Json;
use axum::extract::State;

use crate::AppState;
use crate::error::ApiResult;

/// `GET /api/v2/instance`
pub async fn show(State(s): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(ferrodon_service::instance::v2(&s.svc).await?))
}
