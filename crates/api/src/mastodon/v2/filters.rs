//! `/api/v2/filters`: custom filters, their keywords and their statuses.

use axum::Json;
use axum::extract::{Path, State};
use ferrodon_mastodon_api::{Filter, FilterKeyword, FilterStatus};
use ferrodon_service::filters::{self, FilterParams, KeywordParams};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::Auth;
use crate::params::{Params, value_bool, value_str};

const READ: &str = "read:filters";
const WRITE: &str = "write:filters";

/// `GET /api/v2/filters`
pub async fn index(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<Vec<Filter>>> {
    Ok(Json(filters::list(&s.svc, caller.require_user(READ)?).await?))
}

/// `GET /api/v2/filters/:id`
pub async fn show(State(s): State<AppState>, Auth(caller): Auth, Path(id): Path<String>) -> ApiResult<Json<Filter>> {
    Ok(Json(filters::show(&s.svc, caller.require_user(READ)?, &id).await?))
}

/// `POST /api/v2/filters`
pub async fn create(State(s): State<AppState>, Auth(caller): Auth, p: Params) -> ApiResult<Json<Filter>> {
    let me = caller.require_user(WRITE)?;
    Ok(Json(filters::create(&s.svc, me, filter_params(&p)?).await?))
}

/// `PUT /api/v2/filters/:id`
pub async fn update(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Json<Filter>> {
    let me = caller.require_user(WRITE)?;
    Ok(Json(filters::update(&s.svc, me, &id, filter_params(&p)?).await?))
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
    Ok(Json(filters::keywords(&s.svc, caller.require_user(READ)?, &id).await?))
}

/// `POST /api/v2/filters/:filter_id/keywords` (`keyword`, `whole_word`)
pub async fn add_keyword(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Json<FilterKeyword>> {
    let me = caller.require_user(WRITE)?;
    Ok(Json(filters::add_keyword(&s.svc, me, &id, keyword_params(&p)).await?))
}

/// `GET /api/v2/filters/keywords/:id`
pub async fn keyword(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<FilterKeyword>> {
    Ok(Json(filters::keyword(&s.svc, caller.require_user(READ)?, &id).await?))
}

/// `PUT /api/v2/filters/keywords/:id`
pub async fn update_keyword(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Json<FilterKeyword>> {
    let me = caller.require_user(WRITE)?;
    Ok(Json(filters::update_keyword(&s.svc, me, &id, keyword_params(&p)).await?))
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
    Ok(Json(filters::statuses(&s.svc, caller.require_user(READ)?, &id).await?))
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
    Ok(Json(filters::add_status(&s.svc, me, &id, Some(&status_id)).await?))
}

/// `GET /api/v2/filters/statuses/:id`
pub async fn status(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<FilterStatus>> {
    Ok(Json(filters::status(&s.svc, caller.require_user(READ)?, &id).await?))
}

/// `DELETE /api/v2/filters/statuses/:id`: answers the removed `FilterStatus`.
pub async fn destroy_status(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<FilterStatus>> {
    Ok(Json(filters::delete_status(&s.svc, caller.require_user(WRITE)?, &id).await?))
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
