//! `/.well-known/*` documents.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/.well-known/oauth-authorization-server", get(oauth_authorization_server))
}

/// `GET /.well-known/oauth-authorization-server`
async fn oauth_authorization_server(State(s): State<AppState>) -> Json<serde_json::Value> {
    Json(ferrodon_service::instance::oauth_metadata(&s.svc))
}
