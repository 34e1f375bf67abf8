//! `/api/v1/instance` and `/api/v1/custom_emojis`

use axum::Json;
use axum::extract::State;
use ferrodon_service::{instance, present};

use crate::AppState;
use crate::error::ApiResult;

/// `GET /api/v1/instance`
pub async fn v1(State(s): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    let stats = instance::v1(&s.svc).await?;
    Ok(Json(present::v1_instance(&s.svc, &stats)))
}

/// `GET /api/v1/custom_emojis`
pub async fn custom_emojis(State(s): State<AppState>) -> ApiResult<Json<Vec<ferrodon_mastodon_api::CustomEmoji>>> {
    let list = ferrodon_service::emoji::list(&s.svc).await?;
    Ok(Json(present::custom_emojis(&s.svc, &list)))
}
