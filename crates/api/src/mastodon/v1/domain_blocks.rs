//! `/api/v1/domain_blocks`: the domains a user blocks.

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::response::{IntoResponse, Response};
use ferrodon_service::relationships;
use serde_json::{Value, json};

use super::paged;
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, page};
use crate::params::Params;

/// `GET /api/v1/domain_blocks`: domain names, newest first (`limit` 100, at most 200).
pub async fn index(
    State(s): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    p: Params,
) -> ApiResult<Response> {
    let me = caller.require_user("read:blocks")?;
    let page = relationships::blocked_domains(&s.svc, me, &page(&p, 100)?).await?;
    Ok(paged(&s, uri, page).into_response())
}

/// `POST /api/v1/domain_blocks` (`domain`): answers `{}`.
pub async fn create(State(s): State<AppState>, Auth(caller): Auth, p: Params) -> ApiResult<Json<Value>> {
    let me = caller.require_user("write:blocks")?;
    relationships::block_domain(&s.svc, me, p.str("domain").as_deref()).await?;
    Ok(Json(json!({})))
}

/// `DELETE /api/v1/domain_blocks` (`domain`): answers `{}`.
pub async fn destroy(State(s): State<AppState>, Auth(caller): Auth, p: Params) -> ApiResult<Json<Value>> {
    let me = caller.require_user("write:blocks")?;
    relationships::unblock_domain(&s.svc, me, p.str("domain").as_deref()).await?;
    Ok(Json(json!({})))
}
