//! `/api/v1/apps`

use axum::Json;
use axum::extract::State;
use ferrodon_mastodon_api::Application;
use ferrodon_service::{oauth, present};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::Auth;
use crate::params::Params;

/// `POST /api/v1/apps`
pub async fn create(State(s): State<AppState>, p: Params) -> ApiResult<Json<Application>> {
    let redirect_uris = p.list("redirect_uris");
    let app = oauth::create_app(
        &s.svc,
        p.str("client_name").as_deref(),
        &redirect_uris,
        p.str("scopes").as_deref(),
        p.str("website").as_deref(),
    )
    .await?;
    Ok(Json(present::credential_application(&app)))
}

/// `GET /api/v1/apps/verify_credentials`
pub async fn verify_credentials(State(s): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<Application>> {
    let app = oauth::verify_app(&s.svc, &caller).await?;
    Ok(Json(present::application(&app)))
}
