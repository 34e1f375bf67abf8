//! Paged responses: the JSON list plus an RFC 8288 `Link` header with `next` (older, `max_id`)
//! and `prev` (newer, `min_id`), keeping the request's other query parameters, as Mastodon does.

use axum::Json;
use axum::http::header::LINK;
use axum::http::{HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use ferrodon_kernel::{Id, Page};
use serde::Serialize;

pub struct Paged<T> {
    pub page: Page<T>,
    pub base_url: String,
    pub uri: Uri,
}

fn url_with(base: &str, uri: &Uri, key: &str, id: Id) -> String {
    let mut query: Vec<String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .filter(|kv| {
            let k = kv.split('=').next().unwrap_or("");
            !matches!(k, "max_id" | "min_id" | "since_id" | "access_token")
        })
        .map(str::to_string)
        .collect();
    query.push(format!("{key}={id}"));
    format!("{base}{}?{}", uri.path(), query.join("&"))
}

/// The `Link` header for a page whose cursors are `next` (older) and `prev` (newer).
pub fn link_header(base: &str, uri: &Uri, next: Option<Id>, prev: Option<Id>) -> Option<HeaderValue> {
    let mut links = Vec::new();
    if let Some(max) = next {
        links.push(format!("<{}>; rel=\"next\"", url_with(base, uri, "max_id", max)));
    }
    if let Some(min) = prev {
        links.push(format!("<{}>; rel=\"prev\"", url_with(base, uri, "min_id", min)));
    }
    if links.is_empty() { None } else { HeaderValue::from_str(&links.join(", ")).ok() }
}

impl<T: Serialize> IntoResponse for Paged<T> {
    fn into_response(self) -> Response {
        let header = if self.page.items.is_empty() {
            None
        } else {
            link_header(&self.base_url, &self.uri, self.page.next_max_id, self.page.prev_min_id)
        };
        let mut response = Json(self.page.items).into_response();
        if let Some(v) = header {
            response.headers_mut().insert(LINK, v);
        }
        response
    }
}
