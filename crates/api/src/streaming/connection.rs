//! What both transports share: authentication, subscriptions, the filter, and turning bus
//! events into what the client receives.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::HeaderMap;
use ferrodon_domain::ports::{Event, channel};
use ferrodon_kernel::{Error, Id, Result};
use ferrodon_service::Services;
use ferrodon_service::Viewer;
use ferrodon_service::streaming::{Filtered, Stream, StreamFilter, Subscription, open, owns_list, require_viewer};

use crate::params::Params;
use tokio_stream::StreamExt;
use tokio_stream::StreamMap;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

/// How soon a failed reload that was due is tried again.
const RELOAD_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

/// A point in time of the filter (milliseconds since the epoch) as a timer's instant.
fn reload_instant(at: Option<ferrodon_kernel::time::Millis>) -> Option<tokio::time::Instant> {
    let wait = at?.saturating_sub(ferrodon_kernel::time::now_ms()).max(0);
    Some(tokio::time::Instant::now() + std::time::Duration::from_millis(wait as u64))
}

/// One client's connection: who it is, what it listens to, what it hides.
pub struct Connection {
    svc: Services,
    viewer: Box<Viewer>,
    filter: StreamFilter,
    /// (stream key, channel) → events. The stream key is the label joined with NUL.
    channels: StreamMap<(String, String), BroadcastStream<Arc<Event>>>,
    /// Stream key → the label events carry.
    labels: HashMap<String, Vec<String>>,
    /// The account's system channel (relations changed, token revoked).
    system: BroadcastStream<Arc<Event>>,
    /// What [`Connection::put_back`] returned, handed out first.
    returned: Option<Next>,
    /// When the filter must be loaded again by itself (a timed mute ends).
    reload_at: Option<tokio::time::Instant>,
}

/// What the connection should do next.
pub enum Next {
    /// Send this event under this label.
    Send(Vec<String>, Arc<Event>),
    /// The account's blocks or mutes changed, or a timed mute ended: call [`Connection::reload`].
    Reload,
    /// Close: the client fell behind, or its token was revoked.
    Close(&'static str),
}

/// The token of a streaming request: `Authorization: Bearer`, then `access_token` in the query,
/// then (WebSocket) the `Sec-WebSocket-Protocol` header, as Mastodon's streaming server reads it.
pub fn token(headers: &HeaderMap, query: &Params) -> Option<String> {
    let protocol = || {
        headers
            .get(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
    };
    crate::extract::bearer(headers).or_else(|| query.str("access_token")).or_else(protocol).filter(|t| !t.is_empty())
}

impl Connection {
    /// Authenticates the request's token; every failure is a 401 (Mastodon's wording).
    pub async fn authenticate(svc: &Services, token: Option<&str>) -> Result<Connection> {
        let caller = ferrodon_service::auth::authenticate(svc, token).await.map_err(|e| {
            if e.kind == ferrodon_kernel::ErrorKind::Unauthorized {
                Error::unauthorized("Invalid access token")
            } else {
                e
            }
        })?;
        let viewer = Box::new(require_viewer(&caller)?.clone());
        let filter = StreamFilter::load(svc, viewer.account.id).await?;
        let system = BroadcastStream::new(svc.events.subscribe(&channel::system(viewer.account.id)));
        let reload_at = reload_instant(filter.reload_at());
        let conn = Connection {
            svc: svc.clone(),
            system,
            viewer,
            filter,
            channels: StreamMap::new(),
            labels: HashMap::new(),
            returned: None,
            reload_at,
        };
        Ok(conn)
    }

    /// Checks and opens `stream` (again: a second subscribe to the same stream changes nothing).
    pub async fn subscribe(&mut self, stream: Stream) -> Result<Subscription> {
        owns_list(&self.svc, &self.viewer, &stream).await?;
        let sub = open(&self.viewer, stream)?;
        let key = sub.label.join("\0");
        if !self.labels.contains_key(&key) {
            for c in &sub.channels {
                self.channels.insert((key.clone(), c.clone()), BroadcastStream::new(self.svc.events.subscribe(c)));
            }
            self.labels.insert(key, sub.label.clone());
            // In place before the client is told it is subscribed (a shared bus subscribes
            // in the background).
            self.svc.events.ready().await;
        }
        Ok(sub)
    }

    /// Stops `stream`; unknown streams are ignored.
    pub fn unsubscribe(&mut self, stream: &Stream) {
        let key = stream.label().join("\0");
        if self.labels.remove(&key).is_some() {
            let keys: Vec<(String, String)> = self.channels.keys().filter(|(k, _)| *k == key).cloned().collect();
            for k in keys {
                self.channels.remove(&k);
            }
        }
    }

    /// Reloads the filter (after [`Next::Reload`]); on a database error the old one stays, and
    /// a reload it was due for is tried again a little later.
    pub async fn reload(&mut self) {
        match StreamFilter::load(&self.svc, self.viewer.account.id).await {
            Ok(f) => {
                self.reload_at = reload_instant(f.reload_at());
                self.filter = f;
            }
            Err(e) => {
                tracing::warn!(error = %e, "reloading a streaming filter failed");
                let now = tokio::time::Instant::now();
                if self.reload_at.is_some_and(|at| at <= now) {
                    self.reload_at = Some(now + RELOAD_RETRY);
                }
            }
        }
    }

    pub fn token_id(&self) -> Id {
        self.viewer.token.id
    }

    /// The next event if one is ready now (to batch a burst into one write).
    pub fn ready(&mut self) -> Option<Next> {
        use futures_util::FutureExt;
        self.next().now_or_never()
    }

    /// Gives back what [`Connection::ready`] returned, for the next [`Connection::next`].
    pub fn put_back(&mut self, next: Next) {
        self.returned = Some(next);
    }

    /// Waits for the next event this client should get.
    /// Cancel-safe (nothing is awaited once an event is taken): a change of blocks or mutes
    /// comes back as [`Next::Reload`], for the caller to [`Connection::reload`] outside any
    /// `select!`, so a busy client can never starve the reload.
    pub async fn next(&mut self) -> Next {
        if let Some(next) = self.returned.take() {
            return next;
        }
        loop {
            let reload_at = self.reload_at;
            // The system channel first: a block published before a post must apply to it.
            let (key, event) = tokio::select! {
                biased;
                // A timed mute ended: statuses it hid come through again.
                _ = tokio::time::sleep_until(reload_at.unwrap_or_else(tokio::time::Instant::now)), if reload_at.is_some() => {
                    return Next::Reload;
                }
                Some(item) = self.system.next() => {
                    let Ok(event) = item else { return Next::Close("fell behind") };
                    match event.name.as_str() {
                        Event::KILL
                            if event.payload.as_ref().is_none_or(|token| *token == self.token_id().to_string()) =>
                        {
                            return Next::Close("token revoked");
                        }
                        Event::RELATIONS_CHANGED => return Next::Reload,
                        _ => continue,
                    }
                }
                Some(((key, channel), item)) = self.channels.next() => match item {
                    Ok(event) => {
                        if self.filter.hides_domain_of(&channel, &event) {
                            continue;
                        }
                        match self.filter.custom(&channel, &event) {
                            Filtered::Unchanged => (key, event),
                            Filtered::Hidden => continue,
                            Filtered::Marked(marked) => (key, marked),
                        }
                    }
                    Err(BroadcastStreamRecvError::Lagged(_)) => return Next::Close("fell behind"),
                },
                else => return Next::Close("the event bus closed"),
            };
            if !self.filter.allows(&event) {
                continue;
            }
            if let Some(label) = self.labels.get(&key) {
                return Next::Send(label.clone(), event);
            }
        }
    }
}
