//! Images the instance and its accounts advertise, embedded in the binary (drawn by
//! `assets/make_images.py`; none of them is Mastodon's):
//!
//! | route | what |
//! |---|---|
//! | `GET /thumbnail.png` | the instance thumbnail (`thumbnail.url` of `/api/v2/instance`) |
//! | `GET /avatars/original/missing.png` | the avatar of an account without one |
//! | `GET /headers/original/missing.png` | the header of an account without one |
//!
//! and the uploaded files kept on local disk, under `/system/` as Mastodon serves them
//! (with object storage, their URLs point there instead).

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ferrodon_service::media;
use tower::ServiceExt;

use crate::AppState;

const THUMBNAIL: &[u8] = include_bytes!("../assets/thumbnail.png");
const MISSING_AVATAR: &[u8] = include_bytes!("../assets/missing-avatar.png");
const MISSING_HEADER: &[u8] = include_bytes!("../assets/missing-header.png");

/// Cached as Mastodon's nginx configuration caches these paths: 28 days, then revalidated (a
/// new release may draw them anew).
const CACHE_CONTROL: HeaderValue = HeaderValue::from_static("public, max-age=2419200, must-revalidate");

fn png(bytes: &'static [u8]) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("image/png")), (header::CACHE_CONTROL, CACHE_CONTROL)], bytes)
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/thumbnail.png", get(|| async { png(THUMBNAIL) }))
        .route("/avatars/original/missing.png", get(|| async { png(MISSING_AVATAR) }))
        .route("/headers/original/missing.png", get(|| async { png(MISSING_HEADER) }))
        .route("/system/{*key}", get(system_file))
}

/// `GET /system/*key`: a stored file. Its name never changes (a new upload is a new key), so it
/// is cached for a year; it is served with its type from the extension the processing gave it,
/// `nosniff`, and a policy that never lets it run as a page (as Mastodon's nginx does).
async fn system_file(State(s): State<AppState>, Path(key): Path<String>, req: Request) -> Response {
    let Some(path) = media::local_file(&s.svc, &key) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let served = match tower_http::services::ServeFile::new(path).oneshot(req).await {
        Ok(r) => r.map(axum::body::Body::new),
        Err(never) => match never {},
    };
    let mut response = served.into_response();
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        let h = response.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    }
    let h = response.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; form-action 'none'; sandbox"),
    );
    response
}
