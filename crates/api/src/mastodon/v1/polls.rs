//! `/api/v1/polls/*`

use axum::Json;
use axum::extract::{Path, State};
use ferrodon_mastodon_api::Poll;
use ferrodon_service::{present, statuses};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::Auth;
use crate::params::Params;

/// `GET /api/v1/polls/:id`
pub async fn show(State(s): State<AppState>, Auth(caller): Auth, Path(id): Path<String>) -> ApiResult<Json<Poll>> {
    let status = statuses::poll(&s.svc, &caller, &id).await?;
    Ok(Json(present::poll(&s.svc, caller.viewer(), &status).await?))
}

/// `POST /api/v1/polls/:id/votes`
pub async fn vote(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Json<Poll>> {
    let me = caller.require_user("write:statuses")?;
    let choices = p.list("choices");
    if choices.is_empty() {
        return Err(ferrodon_kernel::Error::bad_request("Missing required parameter: choices").into());
    }
    let status = statuses::vote(&s.svc, me, &id, &choices).await?;
    Ok(Json(present::poll(&s.svc, Some(me), &status).await?))
}
