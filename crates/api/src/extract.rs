//! Extractors shared by the handlers: the caller (bearer token) and paging parameters.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use ferrodon_kernel::{Error, Id, PageRequest};
use ferrodon_service::Caller;

use crate::AppState;
use crate::error::ApiError;

/// The authenticated caller: `Authorization: Bearer …` or the legacy `access_token` query
/// parameter. A token that is present but invalid is a 401 whatever the endpoint.
pub struct Auth(pub Caller);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).or_else(|| {
            parts
                .uri
                .query()
                .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("access_token=")).map(|t| t.to_string()))
        });
        let caller =
            ferrodon_service::auth::authenticate(&state.svc, token.as_deref().filter(|t| !t.is_empty())).await?;
        Ok(Auth(caller))
    }
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_string())
}

/// Paging parameters from the query string, with an endpoint family's default limit.
pub fn page(params: &crate::params::Params, default: u32) -> Result<PageRequest, ApiError> {
    let id = |k: &str| -> Result<Option<Id>, ApiError> {
        match params.str(k).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => Ok(Some(Id::parse(&s).unwrap_or(Id(0)))),
        }
    };
    let limit = params.int("limit")?;
    if limit.is_some_and(|l| l < 0) {
        return Err(Error::bad_request("limit must be a positive number").into());
    }
    let max_id = id("max_id")?.filter(|i| i.0 > 0);
    Ok(PageRequest::new(max_id, id("since_id")?, id("min_id")?, limit, default))
}
