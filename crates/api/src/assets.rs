//! Images the instance and its accounts advertise, embedded in the binary (drawn by
//! `assets/make_images.py`; none of them is Mastodon's):
//!
//! | route | what |
//! |---|---|
//! | `GET /thumbnail.png` | the instance thumbnail (`thumbnail.url` of `/api/v2/instance`) |
//! | `GET /avatars/original/missing.png` | the avatar of an account without one |
//! | `GET /headers/original/missing.png` | the header of an account without one |

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;

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
}
