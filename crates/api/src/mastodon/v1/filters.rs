//! `/api/v1/filters`: the older filters, one keyword each (a v2 filter's keyword, by its id).

use axum::Json;
use axum::extract::{Path, State};
use ferrodon_mastodon_api::V1Filter;
use ferrodon_service::filters::{self, V1Params};
use ferrodon_service::present;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::Auth;
use crate::mastodon::v2::filters::{context, expires_in};
use crate::params::Params;

/// `GET /api/v1/filters`
pub async fn index(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<Vec<V1Filter>>> {
    let all = filters::v1_list(&s.svc, caller.require_user("read:filters")?).await?;
    Ok(Json(present::v1_filters(&all)))
}

/// `GET /api/v1/filters/:id`
pub async fn show(State(s): State<AppState>, Auth(caller): Auth, Path(id): Path<String>) -> ApiResult<Json<V1Filter>> {
    let filter = filters::v1_show(&s.svc, caller.require_user("read:filters")?, &id).await?;
    Ok(Json(present::v1_filter(&filter)))
}

/// `POST /api/v1/filters` (`phrase`, `context[]`, `irreversible`, `whole_word`, `expires_in`)
pub async fn create(State(s): State<AppState>, Auth(caller): Auth, p: Params) -> ApiResult<Json<V1Filter>> {
    let me = caller.require_user("write:filters")?;
    let filter = filters::v1_create(&s.svc, me, params(&p)?).await?;
    Ok(Json(present::v1_filter(&filter)))
}

/// `PUT /api/v1/filters/:id`
pub async fn update(
    State(s): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    p: Params,
) -> ApiResult<Json<V1Filter>> {
    let me = caller.require_user("write:filters")?;
    let filter = filters::v1_update(&s.svc, me, &id, params(&p)?).await?;
    Ok(Json(present::v1_filter(&filter)))
}

/// `DELETE /api/v1/filters/:id`: answers `{}`.
pub async fn destroy(State(s): State<AppState>, Auth(caller): Auth, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    filters::v1_delete(&s.svc, caller.require_user("write:filters")?, &id).await?;
    Ok(Json(json!({})))
}

fn params(p: &Params) -> ApiResult<V1Params> {
    Ok(V1Params {
        phrase: p.str("phrase"),
        context: context(p),
        irreversible: p.bool("irreversible"),
        whole_word: p.bool("whole_word"),
        expires_in: expires_in(p)?,
    })
}
