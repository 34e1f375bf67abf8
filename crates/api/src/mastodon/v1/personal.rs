//! What the viewer saved or hides: `/api/v1/bookmarks`, `/api/v1/favourites`, `/api/v1/blocks`, `/api/v1/mutes`.

use axum::extract::{OriginalUri, State};
use axum::response::{IntoResponse, Response};
use ferrodon_domain::ports::{RelatedAccounts, StatusMark};
use ferrodon_service::{accounts, present, statuses};

use super::paged;
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, page};
use crate::params::Params;

/// `GET /api/v1/bookmarks`
pub async fn bookmarks(
    State(s): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    p: Params,
) -> ApiResult<Response> {
    let me = caller.require_user("read:bookmarks")?;
    let page = statuses::marked(&s.svc, me, StatusMark::Bookmark, &page(&p, 20)?).await?;
    Ok(paged(&s, uri, present::status_page(&s.svc, Some(me), page).await?).into_response())
}

/// `GET /api/v1/favourites`
pub async fn favourites(
    State(s): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    p: Params,
) -> ApiResult<Response> {
    let me = caller.require_user("read:favourites")?;
    let page = statuses::marked(&s.svc, me, StatusMark::Favourite, &page(&p, 20)?).await?;
    Ok(paged(&s, uri, present::status_page(&s.svc, Some(me), page).await?).into_response())
}

/// `GET /api/v1/blocks`
pub async fn blocks(
    State(s): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    p: Params,
) -> ApiResult<Response> {
    let me = caller.require_user("read:blocks")?;
    let page = accounts::related(&s.svc, RelatedAccounts::Blocks(me.account.id), &page(&p, 40)?).await?;
    Ok(paged(&s, uri, page.map(|a| present::account(&s.svc, &a))).into_response())
}

/// `GET /api/v1/mutes`
pub async fn mutes(
    State(s): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    p: Params,
) -> ApiResult<Response> {
    let me = caller.require_user("read:mutes")?;
    let mutes = RelatedAccounts::Mutes(me.account.id, ferrodon_kernel::time::now_ms());
    let page = accounts::related(&s.svc, mutes, &page(&p, 40)?).await?;
    Ok(paged(&s, uri, page.map(|a| present::account(&s.svc, &a))).into_response())
}
