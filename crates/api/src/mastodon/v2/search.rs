//! `/api/v2/search`

use axum::Json;
use axum::extract::State;
use ferrodon_kernel::Error;
use ferrodon_mastodon_api::Search;
use ferrodon_service::present;
use ferrodon_service::search::{SearchQuery, search};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::Auth;
use crate::params::Params;

/// `GET /api/v2/search?q=`
pub async fn index(State(s): State<AppState>, Auth(caller): Auth, p: Params) -> ApiResult<Json<Search>> {
    let q = p.required("q")?;
    let offset = p.int("offset")?.unwrap_or(0);
    let limit = p.int("limit")?.unwrap_or(20);
    if offset < 0 || limit < 0 {
        return Err(Error::bad_request("limit and offset must be positive numbers").into());
    }
    let kind = p.str("type").filter(|t| !t.is_empty());
    let query = SearchQuery {
        q: &q,
        kind: kind.as_deref(),
        limit: limit.clamp(1, 40) as u32,
        offset: offset as u32,
        resolve: p.bool("resolve").unwrap_or(false),
    };
    let found = search(&s.svc, &caller, query).await?;
    Ok(Json(present::search(&s.svc, caller.viewer(), &found).await?))
}
