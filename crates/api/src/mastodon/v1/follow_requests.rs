//! `/api/v1/follow_requests/*`

use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::response::{IntoResponse, Response};
use ferrodon_domain::ports::RelatedAccounts;
use ferrodon_mastodon_api::Relationship;
use ferrodon_service::{accounts, present, relationships};

use super::paged;
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, page};
use crate::params::Params;

/// `GET /api/v1/follow_requests`
pub async fn index(
    State(s): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    p: Params,
) -> ApiResult<Response> {
    let me = caller.require_user("read:follows")?;
    let page = accounts::related(&s.svc, RelatedAccounts::FollowRequests(me.account.id), &page(&p, 40)?).await?;
    Ok(paged(&s, uri, page.map(|a| present::account(&s.svc, &a))).into_response())
}

/// `POST /api/v1/follow_requests/:id/authorize`
pub async fn authorize(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Relationship>> {
    let me = caller.require_user("write:follows")?;
    let relationship = relationships::answer_follow_request(&s.svc, me, &id, true).await?;
    Ok(Json(present::relationship(&relationship)))
}

/// `POST /api/v1/follow_requests/:id/reject`
pub async fn reject(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Relationship>> {
    let me = caller.require_user("write:follows")?;
    let relationship = relationships::answer_follow_request(&s.svc, me, &id, false).await?;
    Ok(Json(present::relationship(&relationship)))
}
