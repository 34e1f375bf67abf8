use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ferrodon_mastodon_api::MediaAttachment;
use ferrodon_service::media::Processing;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::Auth;
use crate::upload::WithFiles;

/// `POST /api/v2/media`: 200 once processed (images), 202 (with `url: null`) while video and
/// audio wait for processing
pub async fn create(
    State(s): State<AppState>,
    Auth(caller): Auth,
    form: WithFiles,
) -> ApiResult<(StatusCode, Json<MediaAttachment>)> {
    let presented = crate::mastodon::v1::media::upload(&s, &caller, form, Processing::Later).await?;
    let status = if presented.url.is_some() { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok((status, Json(presented)))
}
