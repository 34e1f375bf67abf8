//! The Redis event bus against a real Redis: `TEST_REDIS_URL` for the shared one (skipped with a
//! printed reason when unset, except under `CI=true`), and a `redis-server` of the test's own
//! for the restart.

use std::sync::Arc;
use std::time::Duration;

use ferrodon_domain::ports::{Event, EventBus, EventReceiver, StatusSubject};
use ferrodon_kernel::Id;
use ferrodon_streaming::RedisBus;
use tokio::time::timeout;

fn redis_url() -> Option<String> {
    match std::env::var("TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("TEST_REDIS_URL is not set and CI=true: the Redis tests must run in CI (redis://127.0.0.1:6379)")
        }
        _ => {
            eprintln!("skipped: TEST_REDIS_URL is not set");
            None
        }
    }
}

/// A namespace of this test's own, so tests sharing one Redis never see each other's events.
fn namespace() -> String {
    format!("ferrodon-test-{}", Id::generate())
}

async fn next(rx: &mut EventReceiver) -> Arc<Event> {
    timeout(Duration::from_secs(5), rx.recv()).await.expect("no event within 5 s").expect("channel closed")
}

#[tokio::test]
async fn events_cross_between_processes_with_what_connections_filter_on() {
    let Some(url) = redis_url() else { return };
    let ns = namespace();
    let streaming = RedisBus::connect(&url, Some(&ns)).await.unwrap();
    let web = RedisBus::connect(&url, Some(&ns)).await.unwrap();

    assert!(web.listened(vec!["timeline:public:local".into()]).await.is_empty());
    let mut local = streaming.subscribe("timeline:public:local");
    let mut home = streaming.subscribe("timeline:7");
    streaming.ready().await;
    assert_eq!(
        web.listened(vec!["timeline:public".into(), "timeline:public:local".into(), "timeline:7".into()]).await,
        vec!["timeline:public:local".to_string(), "timeline:7".to_string()]
    );

    let about = StatusSubject {
        author: Id(7),
        others: vec![Id(9)],
        domain: None,
        language: Some("de".into()),
        status_id: Id(42),
        text: "Grüße".into(),
    };
    web.publish("timeline:public:local", Event::new("update", Some(r#"{"id":"42"}"#.into()), Some(about.clone())));
    web.publish("timeline:public", Event::new("update", Some("{}".into()), None));
    web.publish("timeline:7", Event::new("delete", Some("42".into()), None));
    let got = next(&mut local).await;
    assert_eq!((got.name.as_str(), got.payload.as_deref()), ("update", Some(r#"{"id":"42"}"#)));
    assert_eq!(got.about.as_ref(), Some(&about));
    let deleted = next(&mut home).await;
    assert_eq!((deleted.name.as_str(), deleted.payload.as_deref()), ("delete", Some("42")));
    // Nothing from the channel no one held, nor twice.
    assert!(timeout(Duration::from_millis(300), local.recv()).await.is_err());

    // A process gets its own events back like the others, in publishing order (fewer than an
    // account channel keeps for a receiver that is behind).
    for n in 0..20 {
        streaming.publish("timeline:7", Event::new("delete", Some(n.to_string()), None));
    }
    for n in 0..20 {
        assert_eq!(next(&mut home).await.payload, Some(n.to_string()));
    }

    // Another namespace is another server.
    let other = RedisBus::connect(&url, Some(&namespace())).await.unwrap();
    other.publish("timeline:7", Event::new("delete", Some("other".into()), None));
    assert!(other.listened(vec!["timeline:7".into()]).await.is_empty());
    assert!(timeout(Duration::from_millis(300), home.recv()).await.is_err());
}

#[tokio::test]
async fn a_channel_no_connection_holds_is_unsubscribed() {
    let Some(url) = redis_url() else { return };
    let ns = namespace();
    let bus = RedisBus::connect(&url, Some(&ns)).await.unwrap();
    let rx = bus.subscribe("timeline:hashtag:rust");
    bus.ready().await;
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let subscribers = |conn: &mut redis::aio::MultiplexedConnection| {
        let mut conn = conn.clone();
        let channel = format!("{ns}:timeline:hashtag:rust");
        async move {
            let (_, n): (String, i64) =
                redis::cmd("PUBSUB").arg("NUMSUB").arg(&channel).query_async(&mut conn).await.unwrap();
            n
        }
    };
    assert_eq!(subscribers(&mut conn).await, 1);
    drop(rx);
    let mut waited = 0;
    while subscribers(&mut conn).await != 0 {
        waited += 1;
        assert!(waited < 100, "still subscribed 10 s after the last connection left");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(bus.channel_count(), 0);
}

/// A `redis-server` of the test's own on a free loopback port, without persistence.
struct OwnRedis {
    port: u16,
    child: std::process::Child,
}

impl OwnRedis {
    fn start(port: u16) -> Option<OwnRedis> {
        let child = match std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(_) if std::env::var("CI").as_deref() == Ok("true") => panic!("redis-server must be installed in CI"),
            Err(_) => {
                eprintln!("skipped: redis-server is not installed");
                return None;
            }
        };
        let server = OwnRedis { port, child };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start on port {port}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn subscriptions_come_back_after_redis_restarts() {
    let port = free_port();
    let Some(server) = OwnRedis::start(port) else { return };
    let streaming = RedisBus::connect(&server.url(), None).await.unwrap();
    let web = RedisBus::connect(&server.url(), None).await.unwrap();
    let mut rx = streaming.subscribe("timeline:public");
    streaming.ready().await;
    web.publish("timeline:public", Event::new("delete", Some("1".into()), None));
    assert_eq!(next(&mut rx).await.payload.as_deref(), Some("1"));

    // Redis goes away and comes back empty (a restart, or a failover to a fresh replica).
    drop(server);
    let server = OwnRedis::start(port).unwrap();
    // The connections heal by themselves; events flow again within seconds.
    let mut delivered = false;
    for n in 0..100 {
        web.publish("timeline:public", Event::new("delete", Some(format!("again {n}")), None));
        if let Ok(Ok(event)) = timeout(Duration::from_millis(200), rx.recv()).await {
            assert!(event.payload.as_deref().unwrap().starts_with("again"));
            delivered = true;
            break;
        }
    }
    assert!(delivered, "no event 20 s after Redis came back");
    // And publishers see the channel held again (the keys died with the old server).
    let mut held = Vec::new();
    for _ in 0..100 {
        held = web.listened(vec!["timeline:public".into()]).await;
        if !held.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(held, vec!["timeline:public".to_string()]);
    drop(server);
}
