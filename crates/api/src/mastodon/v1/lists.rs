//! `/api/v1/lists`: a user's lists of followed accounts, and their members.

use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::response::{IntoResponse, Response};
use ferrodon_mastodon_api::List;
use ferrodon_service::lists::{self, ListParams};
use ferrodon_service::present;
use serde_json::{Value, json};

use super::paged;
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{Auth, page};
use crate::params::Params;

const READ: &str = "read:lists";
const WRITE: &str = "write:lists";

/// `GET /api/v1/lists`
pub async fn index(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<Vec<List>>> {
    let all = lists::index(&s.svc, caller.require_user(READ)?).await?;
    Ok(Json(present::lists(&all)))
}

/// `GET /api/v1/lists/:id`
pub async fn show(State(s): State<AppState>, Auth(caller): Auth, Path(id): Path<String>) -> ApiResult<Json<List>> {
    let list = lists::show(&s.svc, caller.require_user(READ)?, &id).await?;
    Ok(Json(present::list(&list)))
}

/// `POST /api/v1/lists` (`title`, `replies_policy`, `exclusive`)
pub async fn create(State(s): State<AppState>, Auth(caller): Auth, p: Params) -> ApiResult<Json<List>> {
    let me = caller.require_user(WRITE)?;
    let title = p.required("title")?;
    let params = ListParams { title: Some(title), ..params(&p) };
    let list = lists::create(&s.svc, me, params).await?;
    Ok(Json(present::list(&list)))
}

/// `PUT /api/v1/lists/:id`
pub async fn update(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Json<List>> {
    let me = caller.require_user(WRITE)?;
    let list = lists::update(&s.svc, me, &id, params(&p)).await?;
    Ok(Json(present::list(&list)))
}

/// `DELETE /api/v1/lists/:id`: answers `{}`.
pub async fn destroy(State(s): State<AppState>, Auth(caller): Auth, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    lists::delete(&s.svc, caller.require_user(WRITE)?, &id).await?;
    Ok(Json(json!({})))
}

/// `GET /api/v1/lists/:id/accounts`: `limit` 40 by default, 0 for all.
pub async fn accounts(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    p: Params,
) -> ApiResult<Response> {
    let me = caller.require_user(READ)?;
    let mut request = page(&p, 40)?;
    if p.int("limit")? == Some(0) {
        request.limit = 0;
    }
    let members = lists::members(&s.svc, me, &id, &request).await?;
    Ok(paged(&s, uri, members.map(|a| present::account(&s.svc, &a))).into_response())
}

/// `POST /api/v1/lists/:id/accounts` (`account_ids[]`): answers `{}`.
pub async fn add_accounts(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let me = caller.require_user(WRITE)?;
    lists::add_members(&s.svc, me, &id, &p.list("account_ids")).await?;
    Ok(Json(json!({})))
}

/// `DELETE /api/v1/lists/:id/accounts` (`account_ids[]`): answers `{}`.
pub async fn remove_accounts(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Json<Value>> {
    let me = caller.require_user(WRITE)?;
    lists::remove_members(&s.svc, me, &id, &p.list("account_ids")).await?;
    Ok(Json(json!({})))
}

fn params(p: &Params) -> ListParams {
    ListParams { title: p.str("title"), replies_policy: p.str("replies_policy"), exclusive: p.bool("exclusive") }
}
