//! `GET /api/v1/streaming` (WebSocket): one connection, many streams. The client sends
//! `{"type": "subscribe" | "unsubscribe", "stream": …, "tag"?: …, "list"?: …}`; the server
//! sends `{"stream": [name, tag or list?], "event": …, "payload": "<JSON as a string>"}`, and
//! errors as `{"error": …, "status": …}`.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{
    CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use ferrodon_domain::ports::Event;
use ferrodon_kernel::Error;
use ferrodon_service::streaming::Stream;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;

use super::HEARTBEAT;
use super::connection::{Connection, Next, token};
use crate::AppState;
use crate::error::{ApiError, status_of};
use crate::params::Params;

/// A send that takes longer than this means the client stopped reading: it is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Client messages are small commands.
const MAX_CLIENT_MESSAGE: usize = 16 * 1024;
/// Per-connection read buffer (tungstenite's default is 128 KiB, too much for 20,000 clients).
const READ_BUFFER: usize = 4 * 1024;
/// Frames are written out once this much is buffered, or when a burst is over.
const WRITE_BUFFER: usize = 8 * 1024;
/// At most this many ready events go out in one write.
const MAX_BURST: usize = 16;

/// `GET /api/v1/streaming`: authenticates (401 before the upgrade), upgrades, subscribes to
/// `?stream=` if given, then serves the connection.
pub async fn websocket(
    State(s): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let mut query = Params::default();
    query.merge_form(raw.as_deref().unwrap_or(""));
    let token = token(&headers, &query);
    let conn = match Connection::authenticate(&s.svc, token.as_deref()).await {
        Ok(c) => c,
        Err(e) => return ApiError(e).into_response(),
    };
    let Ok(upgrade) = upgrade else {
        return ApiError(Error::bad_request("Unknown channel requested")).into_response();
    };
    // A token passed as the subprotocol is echoed back, as the WebSocket handshake requires.
    let protocol = headers
        .get(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|p| token.as_deref() == Some(p.as_str()));
    let upgrade = match protocol {
        Some(p) => upgrade.protocols([p]),
        None => upgrade,
    };
    let initial = query.str("stream").filter(|s| !s.is_empty()).map(|name| Command {
        kind: "subscribe".into(),
        stream: Some(name),
        tag: query.str("tag"),
        list: query.str("list"),
    });
    upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| serve(socket, conn, initial))
}

#[derive(Deserialize)]
struct Command {
    #[serde(rename = "type")]
    kind: String,
    stream: Option<String>,
    tag: Option<String>,
    list: Option<String>,
}

fn error_frame(e: &Error) -> Message {
    let body = serde_json::json!({ "error": e.message, "status": status_of(e.kind).as_u16() });
    Message::Text(body.to_string().into())
}

/// The event as a text frame; the encoding is kept on the event for the next connection with
/// the same label.
fn event_frame(label: &[String], event: &Event) -> Message {
    let bytes = event.encoded_for(&label.join("\0"), || {
        let mut body = serde_json::json!({ "stream": label, "event": event.name });
        if let Some(p) = &event.payload {
            body["payload"] = serde_json::Value::String(p.clone());
        }
        Bytes::from(body.to_string())
    });
    match Utf8Bytes::try_from(bytes) {
        Ok(text) => Message::Text(text),
        Err(_) => Message::Text(Utf8Bytes::from_static("")),
    }
}

/// Runs a client's message; an error is sent back to it.
async fn command(conn: &mut Connection, text: &str) -> Result<(), Error> {
    let c: Command =
        serde_json::from_str(text).map_err(|_| Error::bad_request("Could not parse the message as JSON"))?;
    apply(conn, c).await
}

async fn apply(conn: &mut Connection, c: Command) -> Result<(), Error> {
    let stream = Stream::parse(c.stream.as_deref().unwrap_or(""), c.tag.as_deref(), c.list.as_deref())?;
    match c.kind.as_str() {
        "subscribe" => conn.subscribe(stream).await.map(|_| ()),
        "unsubscribe" => {
            conn.unsubscribe(&stream);
            Ok(())
        }
        _ => Err(Error::bad_request("Unknown message type")),
    }
}

async fn serve(socket: WebSocket, mut conn: Connection, initial: Option<Command>) {
    let (mut tx, mut rx) = socket.split();
    if let Some(c) = initial
        && let Err(e) = apply(&mut conn, c).await
        && tx.send(error_frame(&e)).await.is_err()
    {
        return;
    }
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
    let mut out = Vec::with_capacity(MAX_BURST);
    loop {
        let first = tokio::select! {
            message = rx.next() => match message {
                Some(Ok(Message::Text(text))) => match command(&mut conn, text.as_str()).await {
                    Ok(()) => continue,
                    Err(e) => error_frame(&e),
                },
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => continue, // pings are answered by the protocol layer
            },
            next = conn.next() => match next {
                Next::Send(label, event) => event_frame(&label, &event),
                Next::Reload => {
                    conn.reload().await;
                    continue;
                }
                Next::Close(why) => {
                    tracing::debug!(why, "closing a streaming connection");
                    break;
                }
            },
            _ = heartbeat.tick() => Message::Ping(Bytes::new()),
        };
        // Events published together (a post on `user` and `public:local`) go out in one write.
        out.push(first);
        while out.len() < MAX_BURST {
            match conn.ready() {
                Some(Next::Send(label, event)) => out.push(event_frame(&label, &event)),
                Some(other) => {
                    conn.put_back(other);
                    break;
                }
                None => break,
            }
        }
        let write = async {
            for frame in out.drain(..) {
                tx.feed(frame).await?;
            }
            tx.flush().await
        };
        match tokio::time::timeout(SEND_TIMEOUT, write).await {
            Ok(Ok(())) => {}
            _ => break,
        }
    }
    // A normal closure (1000), as Mastodon's streaming server closes.
    let close = Message::Close(Some(CloseFrame { code: 1000, reason: Utf8Bytes::from_static("") }));
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = tx.send(close).await;
        let _ = tx.close().await;
    })
    .await;
}
