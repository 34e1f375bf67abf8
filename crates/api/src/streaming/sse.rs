//! `GET /api/v1/streaming/{user, user/notification, public[/local|/remote], hashtag[/local],
//! list, direct}` (server-sent events): one stream per request, frames `event: …` / `data: …`,
//! a `:thump` comment every 15 s.

use std::convert::Infallible;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use ferrodon_kernel::Error;
use ferrodon_service::streaming::Stream;

use super::HEARTBEAT;
use super::connection::{Connection, Next, token};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;

/// The stream a path names (`public/local` with `only_media` is `public:local:media`).
fn stream_name(path: &str, only_media: bool) -> Option<String> {
    let media = if only_media { ":media" } else { "" };
    Some(match path {
        "user" => "user".into(),
        "user/notification" => "user:notification".into(),
        "public" => format!("public{media}"),
        "public/local" => format!("public:local{media}"),
        "public/remote" => format!("public:remote{media}"),
        "hashtag" => "hashtag".into(),
        "hashtag/local" => "hashtag:local".into(),
        "list" => "list".into(),
        "direct" => "direct".into(),
        _ => return None,
    })
}

pub async fn sse(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(path): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let mut query = Params::default();
    query.merge_form(raw.as_deref().unwrap_or(""));
    // The channel is checked first, as Mastodon's streaming server does.
    let name = stream_name(path.trim_end_matches('/'), query.bool("only_media").unwrap_or(false))
        .ok_or_else(|| ApiError(Error::bad_request("Unknown channel requested")))?;
    let mut conn = Connection::authenticate(&s.svc, token(&headers, &query).as_deref()).await?;
    let stream = Stream::parse(&name, query.str("tag").as_deref(), query.str("list").as_deref())?;
    conn.subscribe(stream).await?;
    let events = futures_util::stream::unfold(conn, |mut conn| async move {
        loop {
            match conn.next().await {
                Next::Send(_, e) => {
                    let frame = SseEvent::default().event(&e.name).data(e.payload.as_deref().unwrap_or(""));
                    return Some((Ok::<_, Infallible>(frame), conn));
                }
                Next::Reload => conn.reload().await,
                Next::Close(_) => return None,
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(HEARTBEAT).text("thump")).into_response())
}
