//! `/api/v2/filters`: custom filters, their keywords and their statuses.

use axum::Json;
use axum::extract::{Path, State};
use ferrodon_mastodon_api::{Filter, FilterKeyword, FilterStatus};
use ferrodon_service::filters::{self, FilterParams, KeywordParams};
use ferrodon_service::present;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::Auth;
use crate::params::{Params, value_bool, value_str};

const READ: &str = "read:filters";
const WRITE: &str = "write:filters";

/// `GET /api/v2/filters`
pub async fn index(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<Vec<Filter>>> {
    let all = filters::list(&s.svc, caller.require_user(READ)?).await?;
    Ok(Json(present::filters(&all)))
}

/// `GET /api/v2/filters/:id`
pub async fn show(State(s): State<AppState>, Auth(caller): Auth, Path(id): Path<String>) -> ApiResult<Json<Filter>> {
    let filter = filters::show(&s.svc, caller.require_user(READ)?, &id).await?;
    Ok(Json(present::filter(&filter)))
}

/// `POST /api/v2/filters`
pub async fn create(State(s): State<AppState>, Auth(caller): Auth, p: Params) -> ApiResult<Json<Filter>> {
    let me = caller.require_user(WRITE)?;
    let filter = filters::create(&s.svc, me, filter_params(&p)?).await?;
    Ok(Json(present::filter(&filter)))
}

/// `PUT /api/v2/filters/:id`
pub async fn update(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Json<Filter>> {
    let me = caller.require_user(WRITE)?;
    let filter = filters::update(&s.svc, me, &id, filter_params(&p)?).await?;
    Ok(Json(present::filter(&filter)))
}

/// `DELETE /api/v2/filters/:id`: answers `{}`.
pub async fn destroy(State(s): State<AppState>, Auth(caller): Auth, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    filters::delete(&s.svc, caller.require_user(WRITE)?, &id).await?;
    Ok(Json(json!({})))
}

/// `GET /api/v2/filters/:filter_id/keywords`
pub async fn keywords(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<FilterKeyword>>> {
    let keywords = filters::keywords(&s.svc, caller.require_user(READ)?, &id).await?;
    Ok(Json(present::filter_keywords(&keywords)))
}

/// `POST /api/v2/filters/:filter_id/keywords` (`keyword`, `whole_word`)
pub async fn add_keyword(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Json<FilterKeyword>> {
    let me = caller.require_user(WRITE)?;
    let keyword = filters::add_keyword(&s.svc, me, &id, keyword_params(&p)).await?;
    Ok(Json(present::filter_keyword(&keyword)))
}

/// `GET /api/v2/filters/keywords/:id`
pub async fn keyword(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<FilterKeyword>> {
    let keyword = filters::keyword(&s.svc, caller.require_user(READ)?, &id).await?;
    Ok(Json(present::filter_keyword(&keyword)))
}

/// `PUT /api/v2/filters/keywords/:id`
pub async fn update_keyword(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Json<FilterKeyword>> {
    let me = caller.require_user(WRITE)?;
    let keyword = filters::update_keyword(&s.svc, me, &id, keyword_params(&p)).await?;
    Ok(Json(present::filter_keyword(&keyword)))
}

/// `DELETE /api/v2/filters/keywords/:id`: answers `{}`.
pub async fn destroy_keyword(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    filters::delete_keyword(&s.svc, caller.require_user(WRITE)?, &id).await?;
    Ok(Json(json!({})))
}

/// `GET /api/v2/filters/:filter_id/statuses`
pub async fn statuses(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<FilterStatus>>> {
    let statuses = filters::statuses(&s.svc, caller.require_user(READ)?, &id).await?;
    Ok(Json(present::filter_statuses(&statuses)))
}

/// `POST /api/v2/filters/:filter_id/statuses` (`status_id`)
pub async fn add_status(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Json<FilterStatus>> {
    let me = caller.require_user(WRITE)?;
    let status_id = p.required("status_id")?;
    let added = filters::add_status(&s.svc, me, &id, Some(&status_id)).await?;
    Ok(Json(present::filter_status(&added)))
}

/// `GET /api/v2/filters/statuses/:id`
pub async fn status(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<FilterStatus>> {
    let status = filters::status(&s.svc, caller.require_user(READ)?, &id).await?;
    Ok(Json(present::filter_status(&status)))
}

/// `DELETE /api/v2/filters/statuses/:id`: answers the removed `FilterStatus`.
pub async fn destroy_status(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<FilterStatus>> {
    let removed = filters::delete_status(&s.svc, caller.require_user(WRITE)?, &id).await?;
    Ok(Json(present::filter_status(&removed)))
}

/// `expires_in`: absent (unchanged), blank or null (no expiry), or seconds.
pub(crate) fn expires_in(p: &Params) -> ApiResult<Option<Option<i64>>> {
    if !p.0.contains_key("expires_in") {
        return Ok(None);
    }
    Ok(Some(p.int("expires_in")?))
}

/// `context[]`, when given.
pub(crate) fn context(p: &Params) -> Option<Vec<String>> {
    p.0.contains_key("context").then(|| p.list("context"))
}

fn filter_params(p: &Params) -> ApiResult<FilterParams> {
    // `keywords_attributes[][keyword]=…` (an array) or `keywords_attributes[0][keyword]=…`.
    let attributes: Vec<Value> = match p.get("keywords_attributes") {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::Object(o)) => o.values().cloned().collect(),
        _ => Vec::new(),
    };
    let keywords = attributes
        .iter()
        .filter_map(Value::as_object)
        .map(|k| KeywordParams {
            id: k.get("id").and_then(value_str),
            keyword: k.get("keyword").and_then(value_str),
            whole_word: k.get("whole_word").and_then(value_bool),
            destroy: k.get("_destroy").and_then(value_bool).unwrap_or(false),
        })
        .collect();
    Ok(FilterParams {
        title: p.str("title"),
        context: context(p),
        filter_action: p.str("filter_action"),
        expires_in: expires_in(p)?,
        keywords,
    })
}

fn keyword_params(p: &Params) -> KeywordParams {
    KeywordParams { id: None, keyword: p.str("keyword"), whole_word: p.bool("whole_word"), destroy: false }
}
