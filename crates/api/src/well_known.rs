//! `/.well-known/*` documents and NodeInfo:
//!
//! | route | handler |
//! |---|---|
//! | `GET /.well-known/oauth-authorization-server` | [`oauth_authorization_server`] |
//! | `GET /.well-known/webfinger?resource=…` | [`webfinger`] |
//! | `GET /.well-known/host-meta` | [`host_meta`] |
//! | `GET /.well-known/nodeinfo` | [`nodeinfo_links`] |
//! | `GET /nodeinfo/2.0`, `GET /nodeinfo/2.1` | [`nodeinfo`] |

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ferrodon_service::discovery;

use crate::AppState;
use crate::error::ApiResult;
use crate::params::Params;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/oauth-authorization-server", get(oauth_authorization_server))
        .route("/.well-known/webfinger", get(webfinger))
        .route("/.well-known/host-meta", get(host_meta))
        .route("/.well-known/nodeinfo", get(nodeinfo_links))
        .route("/nodeinfo/{version}", get(nodeinfo))
}

/// `GET /.well-known/oauth-authorization-server`
async fn oauth_authorization_server(State(s): State<AppState>) -> Json<serde_json::Value> {
    Json(ferrodon_service::instance::oauth_metadata(&s.svc))
}

/// `GET /.well-known/webfinger?resource=acct:user@domain` (or the actor's URL).
async fn webfinger(State(s): State<AppState>, p: Params) -> ApiResult<Response> {
    let jrd = discovery::webfinger(&s.svc, &p.str("resource").unwrap_or_default()).await?;
    Ok(([(header::CONTENT_TYPE, "application/jrd+json; charset=utf-8")], Json(jrd).into_response().into_body())
        .into_response())
}

/// `GET /.well-known/host-meta`
async fn host_meta(State(s): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "application/xrd+xml; charset=utf-8")], discovery::host_meta(&s.svc)).into_response()
}

/// `GET /.well-known/nodeinfo`
async fn nodeinfo_links(State(s): State<AppState>) -> Json<serde_json::Value> {
    Json(discovery::nodeinfo_links(&s.svc))
}

/// `GET /nodeinfo/2.0` and `/nodeinfo/2.1`
async fn nodeinfo(State(s): State<AppState>, Path(version): Path<String>) -> ApiResult<Response> {
    let doc = discovery::nodeinfo(&s.svc, &version).await?;
    let profile = format!("application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/{version}#\"");
    Ok(([(header::CONTENT_TYPE, profile)], Json(doc).into_response().into_body()).into_response())
}
