//! `/api/v1/timelines/*`

use axum::extract::{OriginalUri, Path, State};
use axum::response::{IntoResponse, Response};
use ferrodon_domain::model::PublicFilter;
use ferrodon_service::{lists, present, timelines};

use super::paged;
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, page};
use crate::params::Params;

fn public_filter(p: &Params) -> PublicFilter {
    PublicFilter {
        local: p.bool("local").unwrap_or(false),
        remote: p.bool("remote").unwrap_or(false),
        only_media: p.bool("only_media").unwrap_or(false),
    }
}

/// `GET /api/v1/timelines/home`
pub async fn home(
    State(s): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    p: Params,
) -> ApiResult<Response> {
    let me = caller.require_user("read:statuses")?;
    let page = timelines::home(&s.svc, me, &page(&p, 20)?).await?;
    Ok(paged(&s, uri, present::status_page(&s.svc, Some(me), page).await?).into_response())
}

/// `GET /api/v1/timelines/list/:list_id`
pub async fn list(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    p: Params,
) -> ApiResult<Response> {
    let me = caller.require_user("read:lists")?;
    let page = lists::timeline(&s.svc, me, &id, &page(&p, 20)?).await?;
    Ok(paged(&s, uri, present::status_page(&s.svc, Some(me), page).await?).into_response())
}

/// `GET /api/v1/timelines/public`
pub async fn public(
    State(s): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    p: Params,
) -> ApiResult<Response> {
    let page = timelines::public(&s.svc, &caller, public_filter(&p), &page(&p, 20)?).await?;
    Ok(paged(&s, uri, present::status_page(&s.svc, caller.viewer(), page).await?).into_response())
}

/// `GET /api/v1/timelines/tag/:hashtag`
pub async fn tag(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(tag): Path<String>,
    OriginalUri(uri): OriginalUri,
    p: Params,
) -> ApiResult<Response> {
    let page = timelines::tag(&s.svc, &caller, &tag, public_filter(&p), &page(&p, 20)?).await?;
    Ok(paged(&s, uri, present::status_page(&s.svc, caller.viewer(), page).await?).into_response())
}
