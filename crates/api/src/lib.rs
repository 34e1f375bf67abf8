//! HTTP: the Mastodon client API, OAuth and its HTML pages, and the well-known documents, on
//! axum. Handlers extract inputs, make one service call and present the result with
//! `ferrodon_service::present`.
//!
//! Finding an endpoint from its URL: every route is listed in one table per area
//! ([`mastodon::routes`], [`oauth::routes`]), and handlers live in a file per resource that
//! mirrors the URL (`/api/v1/statuses/:id/favourite` is `mastodon/v1/statuses.rs`, function
//! `favourite`, documented with its route). One file per resource rather than per action keeps
//! the ~100 small handlers of a resource together with their shared helpers. The images the
//! instance and accounts advertise (`/thumbnail.png`, the missing avatar and header) are in
//! `assets.rs`.

pub mod activitypub;
mod assets;
pub mod error;
pub mod extract;
pub mod link;
pub mod mastodon;
pub mod oauth;
pub mod params;
mod settings;
pub mod streaming;
mod upload;
mod web;
mod well_known;

use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::routing::get;
use ferrodon_service::Services;
use tower::Layer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::normalize_path::{NormalizePath, NormalizePathLayer};
use tower_http::trace::TraceLayer;

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub svc: Services,
    /// Federation, when this process serves ActivityPub (`serve`, `web`).
    pub fed: Option<ferrodon_federation::Fed>,
}

/// The whole HTTP application, as a service: paths are matched with any trailing slash removed
/// (Rails does the same, and clients such as Mastodon.py request `/api/v2/instance/`).
pub fn app(svc: Services, fed: Option<ferrodon_federation::Fed>) -> NormalizePath<Router> {
    NormalizePathLayer::trim_trailing_slash().layer(router(svc, fed))
}

/// The streaming API alone (`ferrodon streaming`), with the health check.
pub fn streaming_app(svc: Services) -> NormalizePath<Router> {
    let router = Router::new()
        .merge(streaming::routes())
        .route("/health", get(|| async { "OK" }))
        .layer(TraceLayer::new_for_http())
        .with_state(AppState { svc, fed: None });
    NormalizePathLayer::trim_trailing_slash().layer(router)
}

/// The routes (without path normalisation; see [`app`]).
pub fn router(svc: Services, fed: Option<ferrodon_federation::Fed>) -> Router {
    let state = AppState { svc, fed };
    // Mastodon allows any origin on the API, OAuth token endpoints and well-known documents.
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([header::LINK, header::HeaderName::from_static("x-ratelimit-reset")]);
    let api = mastodon::routes()
        .merge(streaming::routes())
        .merge(well_known::routes())
        .merge(oauth::api_routes())
        .layer(cors);
    Router::new()
        .merge(api)
        .merge(activitypub::routes())
        .merge(oauth::routes())
        .merge(assets::routes())
        .merge(web::routes())
        .merge(settings::routes())
        .route("/health", get(|| async { ([(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))], "OK") }))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
