use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferrodon_mastodon_api::MediaAttachment;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::Auth;
use crate::upload::WithFiles;

/// `POST /api/v2/media`: 200 once processed, 202 (with `url: null`) while it still is
pub async fn create(
    State(s): State<AppState>,
    Auth(caller): Auth,
    form: WithFiles,
) -> ApiResult<(StatusCode, Json<MediaAttachment>)> {
    let presented = crate::mastodon::v1::media::upload(&s, &caller, form).await?;
    let status = if presented.url.is_some() { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok((status, Json(presented)))
}
