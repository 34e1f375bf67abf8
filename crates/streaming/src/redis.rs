//! [`RedisBus`]: the event bus over Redis pub/sub, for roles in separate processes (`web`,
//! `worker`, `streaming`). It keeps Mastodon's contract: channels `timeline:…` (prefixed with
//! `REDIS_NAMESPACE:` when one is set), messages `{"event": …, "payload": …}`, and the keys
//! `subscribed:<channel>` that streaming processes keep alive (18 min, refreshed every 6 min) so
//! that publishers skip channels no one holds.
//!
//! Every process subscribes once per channel name and fans out to its own connections through
//! a [`LocalBus`]; a process that publishes gets its own events back from Redis like any other
//! (so each subscriber sees one order). Subscriptions run on a RESP3 connection that reconnects
//! and resubscribes by itself; a reconciliation loop also re-subscribes what its connections
//! hold, so a Redis restart or failover heals within seconds.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ferrodon_domain::ports::{Event, EventBus, EventReceiver, StatusSubject};
use ferrodon_kernel::Id;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, ProtocolVersion, PushKind, Value};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::LocalBus;

/// Mastodon's lifetime of a `subscribed:<channel>` key, and how often a holder renews it.
const SUBSCRIBED_TTL: Duration = Duration::from_secs(18 * 60);
const SUBSCRIBED_REFRESH: Duration = Duration::from_secs(6 * 60);
/// How often subscriptions are reconciled with the connections that hold them.
const RECONCILE: Duration = Duration::from_secs(5);
/// Publishes sent in one pipeline at most.
const PUBLISH_BATCH: usize = 512;
/// Keys asked in one `MGET` at most.
const MGET_BATCH: usize = 1000;

/// The event bus over Redis.
pub struct RedisBus {
    local: Arc<LocalBus>,
    prefix: String,
    commands: ConnectionManager,
    publish: mpsc::UnboundedSender<(String, Vec<u8>)>,
    subscriptions: mpsc::UnboundedSender<Request>,
}

enum Request {
    /// A channel got its first connection in this process.
    Subscribe(String),
    /// Answer once the requests before this one are done.
    Ready(oneshot::Sender<()>),
}

/// An event as it travels through Redis: Mastodon's two fields plus what connections filter on.
#[derive(Serialize, Deserialize)]
struct Wire<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    payload: Option<Cow<'a, str>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    about: Option<About<'a>>,
}

#[derive(Serialize, Deserialize)]
struct About<'a> {
    author: Id,
    others: Vec<Id>,
    #[serde(borrow)]
    domain: Option<Cow<'a, str>>,
    #[serde(borrow)]
    language: Option<Cow<'a, str>>,
    status_id: Id,
    #[serde(borrow)]
    text: Cow<'a, str>,
}

fn encode(event: &Event) -> Vec<u8> {
    let about = event.about.as_ref().map(|a| About {
        author: a.author,
        others: a.others.clone(),
        domain: a.domain.as_deref().map(Cow::Borrowed),
        language: a.language.as_deref().map(Cow::Borrowed),
        status_id: a.status_id,
        text: Cow::Borrowed(&a.text),
    });
    let wire = Wire { event: Cow::Borrowed(&event.name), payload: event.payload.as_deref().map(Cow::Borrowed), about };
    serde_json::to_vec(&wire).unwrap_or_default()
}

fn decode(bytes: &[u8]) -> Option<Arc<Event>> {
    let wire: Wire = serde_json::from_slice(bytes).ok()?;
    let about = wire.about.map(|a| StatusSubject {
        author: a.author,
        others: a.others,
        domain: a.domain.map(Cow::into_owned),
        language: a.language.map(Cow::into_owned),
        status_id: a.status_id,
        text: a.text.into(),
    });
    Some(Event::new(&wire.event, wire.payload.map(Cow::into_owned), about))
}

impl RedisBus {
    /// Connects (failing when Redis cannot be reached) and starts the publishing and
    /// subscription tasks. `namespace` is Mastodon's `REDIS_NAMESPACE`.
    pub async fn connect(url: &str, namespace: Option<&str>) -> Result<Arc<RedisBus>, String> {
        let info = url.into_connection_info().map_err(|e| format!("REDIS_URL: {e}"))?;
        let fail = |e: redis::RedisError| format!("cannot connect to Redis: {e}");
        let commands = redis::Client::open(info.clone())
            .map_err(fail)?
            .get_connection_manager_with_config(ConnectionManagerConfig::new().set_max_delay(Duration::from_secs(2)))
            .await
            .map_err(fail)?;

        let prefix = namespace.filter(|n| !n.is_empty()).map(|n| format!("{n}:")).unwrap_or_default();
        let local = Arc::new(LocalBus::default());
        let settings = info.redis_settings().clone().set_protocol(ProtocolVersion::RESP3);
        let push_local = local.clone();
        let push_prefix = prefix.clone();
        // Set when the subscription connection drops: the server it comes back to may have lost
        // the `subscribed:` keys (a restart, a failover).
        let lost = Arc::new(AtomicBool::new(false));
        let push_lost = lost.clone();
        let config = ConnectionManagerConfig::new()
            .set_max_delay(Duration::from_secs(2))
            .set_automatic_resubscription()
            .set_push_sender(move |push: redis::PushInfo| {
                if push.kind == PushKind::Disconnection {
                    push_lost.store(true, Ordering::Relaxed);
                }
                deliver(&push_local, &push_prefix, push);
                Ok::<(), ()>(())
            });
        let subscriber = redis::Client::open(info.set_redis_settings(settings))
            .map_err(fail)?
            .get_connection_manager_with_config(config)
            .await
            .map_err(fail)?;

        let (publish, publish_rx) = mpsc::unbounded_channel();
        let (subscriptions, subscriptions_rx) = mpsc::unbounded_channel();
        tokio::spawn(publisher(commands.clone(), prefix.clone(), publish_rx));
        let held = Subscriptions {
            conn: subscriber,
            keys: commands.clone(),
            local: local.clone(),
            prefix: prefix.clone(),
            lost,
        };
        tokio::spawn(held.run(subscriptions_rx));
        Ok(Arc::new(RedisBus { local, prefix, commands, publish, subscriptions }))
    }

    /// Channels this process holds (metrics, tests).
    pub fn channel_count(&self) -> usize {
        self.local.channel_count()
    }
}

/// A message from Redis goes to this process' connections on its channel.
fn deliver(local: &LocalBus, prefix: &str, push: redis::PushInfo) {
    if push.kind != PushKind::Message {
        return;
    }
    let (Some(Value::BulkString(channel)), Some(Value::BulkString(body))) = (push.data.first(), push.data.get(1))
    else {
        return;
    };
    let Some(channel) = std::str::from_utf8(channel).ok().and_then(|c| c.strip_prefix(prefix)) else {
        return;
    };
    match decode(body) {
        Some(event) => local.publish(channel, event),
        None => tracing::warn!(channel, "ignoring an event from Redis that is not ferrodon's"),
    }
}

/// Sends publishes in order, as pipelines of whatever is waiting. Redis pub/sub delivers at
/// most once: while Redis is away, events are dropped (with a warning), as Mastodon's are.
async fn publisher(mut conn: ConnectionManager, prefix: String, mut rx: mpsc::UnboundedReceiver<(String, Vec<u8>)>) {
    while let Some(first) = rx.recv().await {
        let mut pipe = redis::pipe();
        let mut next = Some(first);
        let mut n = 0;
        while let Some((channel, body)) = next {
            pipe.publish(format!("{prefix}{channel}"), body).ignore();
            n += 1;
            next = if n < PUBLISH_BATCH { rx.try_recv().ok() } else { None };
        }
        if let Err(e) = pipe.query_async::<()>(&mut conn).await {
            tracing::warn!(error = %e, events = n, "publishing events to Redis failed");
        }
    }
}

/// Keeps Redis subscriptions equal to the channels this process' connections hold, and their
/// `subscribed:` keys alive.
struct Subscriptions {
    conn: ConnectionManager,
    keys: ConnectionManager,
    local: Arc<LocalBus>,
    prefix: String,
    lost: Arc<AtomicBool>,
}

impl Subscriptions {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Request>) {
        let prefix = self.prefix.clone();
        let mut held: HashSet<String> = HashSet::new();
        let mut tick = tokio::time::interval(RECONCILE);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut refreshed = Instant::now();
        loop {
            let mut wanted: Vec<String> = Vec::new();
            let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
            let mut gone: Vec<String> = Vec::new();
            tokio::select! {
                request = rx.recv() => {
                    let Some(first) = request else { return };
                    let mut next = Some(first);
                    while let Some(r) = next {
                        match r {
                            Request::Subscribe(c) if !held.contains(&c) => wanted.push(c),
                            Request::Subscribe(_) => {}
                            Request::Ready(done) => waiting.push(done),
                        }
                        next = rx.try_recv().ok();
                    }
                }
                _ = tick.tick() => {
                    let now: HashSet<String> = self.local.channels().into_iter().collect();
                    wanted.extend(now.iter().filter(|c| !held.contains(*c)).cloned());
                    gone.extend(held.iter().filter(|c| !now.contains(*c)).cloned());
                    let lost = self.lost.swap(false, Ordering::Relaxed);
                    if lost || refreshed.elapsed() >= SUBSCRIBED_REFRESH {
                        let alive: Vec<String> = held.iter().filter(|c| now.contains(*c)).cloned().collect();
                        match mark_subscribed(&mut self.keys, &prefix, &alive).await {
                            Ok(()) => refreshed = Instant::now(),
                            Err(e) => {
                                self.lost.store(lost, Ordering::Relaxed);
                                tracing::warn!(error = %e, "refreshing subscribed keys in Redis failed");
                            }
                        }
                    }
                }
            }
            wanted.sort();
            wanted.dedup();
            if !wanted.is_empty() {
                let names: Vec<String> = wanted.iter().map(|c| format!("{prefix}{c}")).collect();
                match self.conn.subscribe(&names).await {
                    Ok(()) => {
                        if let Err(e) = mark_subscribed(&mut self.keys, &prefix, &wanted).await {
                            tracing::warn!(error = %e, "marking channels subscribed in Redis failed");
                        }
                        held.extend(wanted);
                    }
                    // Left out of `held`: the next reconciliation tries again.
                    Err(e) => tracing::warn!(error = %e, channels = wanted.len(), "subscribing in Redis failed"),
                }
            }
            if !gone.is_empty() {
                let names: Vec<String> = gone.iter().map(|c| format!("{prefix}{c}")).collect();
                match self.conn.unsubscribe(&names).await {
                    Ok(()) => {
                        for c in &gone {
                            held.remove(c);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "unsubscribing in Redis failed"),
                }
            }
            for done in waiting {
                let _ = done.send(());
            }
        }
    }
}

/// Sets `subscribed:<channel>` for each channel, with Mastodon's lifetime.
async fn mark_subscribed(keys: &mut ConnectionManager, prefix: &str, channels: &[String]) -> redis::RedisResult<()> {
    for chunk in channels.chunks(MGET_BATCH) {
        let mut pipe = redis::pipe();
        for c in chunk {
            pipe.set_ex(format!("{prefix}subscribed:{c}"), "1", SUBSCRIBED_TTL.as_secs()).ignore();
        }
        pipe.query_async::<()>(keys).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl EventBus for RedisBus {
    fn publish(&self, channel: &str, event: Arc<Event>) {
        let _ = self.publish.send((channel.to_string(), encode(&event)));
    }

    fn subscribe(&self, channel: &str) -> EventReceiver {
        let rx = self.local.subscribe(channel);
        let _ = self.subscriptions.send(Request::Subscribe(channel.to_string()));
        rx
    }

    async fn ready(&self) {
        let (done, wait) = oneshot::channel();
        if self.subscriptions.send(Request::Ready(done)).is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), wait).await;
        }
    }

    /// Another process may hold any channel: ask [`EventBus::listened`].
    fn has_subscribers(&self, _channel: &str) -> bool {
        true
    }

    async fn listened(&self, channels: Vec<String>) -> Vec<String> {
        let mut conn = self.commands.clone();
        let mut out = Vec::with_capacity(channels.len());
        for chunk in channels.chunks(MGET_BATCH) {
            let keys: Vec<String> = chunk.iter().map(|c| format!("{}subscribed:{c}", self.prefix)).collect();
            match redis::cmd("MGET").arg(&keys).query_async::<Vec<Option<String>>>(&mut conn).await {
                Ok(found) => out.extend(chunk.iter().zip(found).filter(|(_, v)| v.is_some()).map(|(c, _)| c.clone())),
                // Unknown: better render for no one than lose events.
                Err(e) => {
                    tracing::warn!(error = %e, "asking Redis which channels are held failed");
                    out.extend(chunk.iter().cloned());
                }
            }
        }
        out
    }

    fn close(&self) {
        self.local.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_cross_the_wire_unchanged() {
        let about = StatusSubject {
            author: Id(7),
            others: vec![Id(8), Id(9)],
            domain: Some("example.com".into()),
            language: Some("en".into()),
            status_id: Id(10),
            text: "hello \"world\"".into(),
        };
        let sent = Event::new("update", Some(r#"{"id":"10"}"#.into()), Some(about.clone()));
        let got = decode(&encode(&sent)).unwrap();
        assert_eq!(got.name, "update");
        assert_eq!(got.payload.as_deref(), Some(r#"{"id":"10"}"#));
        assert_eq!(got.about, Some(about));

        let delete = decode(&encode(&Event::new("delete", Some("10".into()), None))).unwrap();
        assert_eq!(
            (delete.name.as_str(), delete.payload.as_deref(), delete.about.as_ref()),
            ("delete", Some("10"), None)
        );
        let bare = decode(br#"{"event":"filters_changed"}"#).unwrap();
        assert_eq!((bare.name.as_str(), bare.payload.as_deref()), ("filters_changed", None));
        assert!(decode(b"not json").is_none());
    }
}
