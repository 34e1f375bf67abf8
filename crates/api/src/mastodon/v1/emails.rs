//! `/api/v1/emails`: the confirmation mail of an account still unconfirmed (whose token the
//! usual authentication refuses, so these read the bearer token themselves).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use ferrodon_kernel::Error;
use ferrodon_service::mail;

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::bearer;
use crate::params::Params;

fn token(headers: &HeaderMap) -> Result<String, Error> {
    bearer(headers).filter(|t| !t.is_empty()).ok_or_else(|| Error::unauthorized("The access token is invalid"))
}

/// `POST /api/v1/emails/confirmations` with an optional `email` (the unconfirmed address
/// replaced)
pub async fn confirmations(
    State(s): State<AppState>,
    headers: HeaderMap,
    p: Params,
) -> ApiResult<Json<serde_json::Value>> {
    mail::resend_confirmation(&s.svc, &token(&headers)?, p.str("email").as_deref()).await?;
    Ok(Json(serde_json::json!({})))
}

/// `GET /api/v1/emails/check_confirmation`
pub async fn check_confirmation(State(s): State<AppState>, headers: HeaderMap) -> ApiResult<Json<bool>> {
    Ok(Json(mail::is_confirmed(&s.svc, &token(&headers)?).await?))
}
