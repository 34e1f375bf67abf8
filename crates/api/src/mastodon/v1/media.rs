use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ferrodon_kernel::Error;
use ferrodon_mastodon_api::MediaAttachment;
use ferrodon_service::media::{self, MediaParams, Processing};
use ferrodon_service::present;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::Auth;
use crate::params::Params;
use crate::upload::WithFiles;

/// Description, focus and a custom `thumbnail` (any other file is refused).
pub(crate) fn media_params(form: &mut WithFiles) -> ApiResult<MediaParams> {
    let thumbnail = form.take("thumbnail");
    form.no_other_files()?;
    let p: &Params = &form.params;
    Ok(MediaParams { description: p.str("description"), focus: p.str("focus"), thumbnail })
}

/// An upload in the request, processed and kept: what `POST /api/v1/media` and `/api/v2/media`
/// share.
pub(crate) async fn upload(
    s: &AppState,
    caller: &ferrodon_service::auth::Caller,
    mut form: WithFiles,
    when: Processing,
) -> ApiResult<MediaAttachment> {
    let me = caller.require_user("write:media")?;
    let file = form.take("file");
    let params = media_params(&mut form)?;
    let file = file.ok_or_else(|| Error::validation("Validation failed: File can't be blank"))?;
    let uploaded = media::upload(&s.svc, me, file, params, when).await?;
    Ok(present::media(&s.svc, &uploaded))
}

/// `POST /api/v1/media` (deprecated; processed before it answers)
pub async fn create(
    State(s): State<AppState>,
    Auth(caller): Auth,
    form: WithFiles,
) -> ApiResult<Json<MediaAttachment>> {
    Ok(Json(upload(&s, &caller, form, Processing::Now).await?))
}

/// `GET /api/v1/media/:id`: 206 while the upload is processed, 200 once done
pub async fn show(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<MediaAttachment>)> {
    let me = caller.require_user("write:media")?;
    let found = media::get(&s.svc, me, &id).await?;
    let presented = present::media(&s.svc, &found);
    let status = if presented.url.is_some() { StatusCode::OK } else { StatusCode::PARTIAL_CONTENT };
    Ok((status, Json(presented)))
}

/// `PUT /api/v1/media/:id`
pub async fn update(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    mut form: WithFiles,
) -> ApiResult<Json<MediaAttachment>> {
    let me = caller.require_user("write:media")?;
    let updated = media::update(&s.svc, me, &id, media_params(&mut form)?).await?;
    Ok(Json(present::media(&s.svc, &updated)))
}

/// `DELETE /api/v1/media/:id`
pub async fn destroy(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<MediaAttachment>> {
    let me = caller.require_user("write:media")?;
    let deleted = media::delete(&s.svc, me, &id).await?;
    Ok(Json(present::media(&s.svc, &deleted)))
}
