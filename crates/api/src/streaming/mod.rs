//! The streaming API (Mastodon's separate node.js service, here in the same binary):
//!
//! | route | handler |
//! |---|---|
//! | `GET /api/v1/streaming` (WebSocket; `?stream=…&tag=…&list=…`) | [`websocket`] |
//! | `GET /api/v1/streaming/health` | `OK` |
//! | `GET /api/v1/streaming/user`, `/user/notification`, `/public[/local\|/remote]`, `/hashtag[/local]`, `/list`, `/direct` (SSE) | [`sse`] |
//!
//! A connection authenticates once (bearer header, `access_token` query parameter, or the
//! WebSocket subprotocol), subscribes to the channels of its streams on the event bus, and
//! filters each status event through its own blocks and mutes (loaded once, reloaded when they
//! change). Each connection is one task with bounded buffers: one that falls behind its
//! channels is dropped, and never slows the others.

mod connection;
mod sse;
mod websocket;

use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::routing::get;

use crate::AppState;

pub use connection::Connection;

/// How often idle connections get a heartbeat (Mastodon: `:thump` every 15 s on SSE).
pub const HEARTBEAT: Duration = Duration::from_secs(15);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/streaming", get(websocket::websocket))
        .route("/api/v1/streaming/health", get(|| async { ([(header::CONTENT_TYPE, "text/plain")], "OK") }))
        .route("/api/v1/streaming/{*channel}", get(sse::sse))
}
