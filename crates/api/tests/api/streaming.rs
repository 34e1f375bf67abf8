//! The streaming API over real sockets (the router served on a loopback port): a slow client
//! is dropped without holding up the others, and the user stream's fan-out agrees with the home
//! timeline. Client-visible behaviour (events per action, auth, filtering) is covered by the
//! acceptance suite through Mastodon.py and a WebSocket client.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ferrodon_domain::ports::{Event, channel};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use crate::support::*;

/// Serves the app on 127.0.0.1 on a free port; returns the address.
async fn serve(app: &TestApp) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let service = axum::ServiceExt::<axum::extract::Request>::into_make_service(ferrodon_api::app(
        app.svc.clone(),
        Some(app.fed.clone()),
    ));
    tokio::spawn(async move { axum::serve(listener, service).await });
    address
}

/// Opens a WebSocket handshake by hand and then never reads: a client that stopped reading.
async fn stalled_client(address: std::net::SocketAddr, token: &str) -> tokio::net::TcpStream {
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "GET /api/v1/streaming?stream=public:local&access_token={token} HTTP/1.1\r\nHost: {address}\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0u8; 12];
    socket.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 101", "the stalled client's handshake");
    socket
}

#[tokio::test]
async fn a_slow_client_is_dropped_and_never_holds_up_the_others() {
    let Some(app) = TestApp::start(Engine::Sqlite).await else { return };
    let (_, token) = app.create_user("reader").await;
    let address = serve(&app).await;

    let stalled = stalled_client(address, &token).await;
    let url = format!("ws://{address}/api/v1/streaming?stream=public:local&access_token={token}");
    let (fast, _) = tokio_tungstenite::connect_async(url).await.expect("the fast client connects");
    let received = Arc::new(AtomicUsize::new(0));
    let reader = {
        let received = received.clone();
        tokio::spawn(async move {
            let mut fast = fast;
            let mut ids = Vec::new();
            while let Some(Ok(message)) = fast.next().await {
                if let Message::Text(text) = message {
                    let frame: Value = serde_json::from_str(text.as_str()).unwrap();
                    assert_eq!(frame["stream"], json!(["public:local"]));
                    assert_eq!(frame["event"], "delete");
                    ids.push(frame["payload"].as_str().unwrap().len());
                    received.fetch_add(1, Ordering::SeqCst);
                }
            }
            ids
        })
    };
    // Both connections are subscribed once the bus has two receivers on the channel.
    let public_local = channel::public(Some("local"), false);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !app.svc.events.has_subscribers(&public_local) {
        assert!(Instant::now() < deadline, "no subscriber on {public_local}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;

    // 600 events of 64 KiB (about 38 MiB): far more than the stalled client's socket buffers
    // plus the channel's 256 events. The fast client is never more than 64 events behind.
    let payload = "7".repeat(64 * 1024);
    let started = Instant::now();
    for n in 0..600usize {
        app.svc.events.publish(&public_local, Event::new("delete", Some(payload.clone()), None));
        let deadline = Instant::now() + Duration::from_secs(5);
        while n >= 64 && received.load(Ordering::SeqCst) < n - 64 {
            assert!(Instant::now() < deadline, "the fast client stalled at {} of {n}", received.load(Ordering::SeqCst));
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while received.load(Ordering::SeqCst) < 600 {
        assert!(Instant::now() < deadline, "the fast client got {} of 600", received.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(started.elapsed() < Duration::from_secs(10), "600 events took {:?}", started.elapsed());

    // The stalled client was dropped: what it can still read ends with the connection closed,
    // well short of the 38 MiB published.
    let mut stalled = stalled;
    let mut buffered = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stalled.read_to_end(&mut buffered)).await;
    assert!(read.is_ok(), "the stalled connection is still open");
    assert!(buffered.len() < 600 * 64 * 1024, "the stalled client got everything ({} bytes)", buffered.len());
    reader.abort();
}

both_engines!(the_user_stream_fans_out_to_whom_the_home_timeline_shows, |app| async move {
    let (author_id, author) = app.create_user("author").await;
    let (_, plain) = app.create_user("plain").await;
    let (_, quiet) = app.create_user("quiet").await;
    let (_, mentioned) = app.create_user("mentioned").await;
    let (stranger_id, stranger) = app.create_user("stranger").await;
    let (_, outsider) = app.create_user("outsider").await;
    let readers = [("plain", &plain), ("quiet", &quiet), ("mentioned", &mentioned), ("outsider", &outsider)];
    for (_, token) in &readers[..3] {
        follow(&app, token, &author_id).await;
    }
    // `quiet` hides the author's reblogs; `plain` also follows the stranger.
    ok(app.post_form(&format!("/api/v1/accounts/{author_id}/follow"), &quiet, &[("reblogs", "false")]).await);
    follow(&app, &plain, &stranger_id).await;

    let stranger_post = post(&app, &stranger, "a stranger's post").await;
    let id_of = |v: Value| v["id"].as_str().unwrap().to_string();
    let mut posted = vec![
        post(&app, &author, "public").await,
        id_of(post_status(&app, &author, &[("status", "followers"), ("visibility", "private")]).await),
        id_of(post_status(&app, &author, &[("status", "@mentioned direct"), ("visibility", "direct")]).await),
        id_of(post_status(&app, &author, &[("status", "@stranger reply"), ("in_reply_to_id", &stranger_post)]).await),
    ];
    let reblog = ok(app.post_form(&format!("/api/v1/statuses/{stranger_post}/reblog"), &author, &[]).await);
    posted.push(reblog["id"].as_str().unwrap().to_string());

    // Who should get what (public, private, direct to `mentioned`, reply to the stranger, reblog):
    // replies reach those who follow both, reblogs those who don't hide them.
    let expected = [
        ("plain", [true, true, false, true, true]),
        ("quiet", [true, true, false, false, false]),
        ("mentioned", [true, true, true, false, true]),
        ("outsider", [false, false, false, false, false]),
    ];
    for (index, id) in posted.iter().enumerate() {
        let status_id = ferrodon_kernel::Id::parse(id).unwrap();
        let mut tx = app.database().read().await.unwrap();
        let status = tx.status_by_id(status_id).await.unwrap().unwrap();
        let recipients = tx.home_feed_recipients(&status).await.unwrap();
        drop(tx);
        for (name, token) in &readers {
            let home = ok(app.get("/api/v1/timelines/home?limit=40", *token).await);
            let shown = ids(&home).contains(id);
            let me =
                ok(app.get("/api/v1/accounts/verify_credentials", *token).await)["id"].as_str().unwrap().to_string();
            let fanned_out = recipients.iter().any(|r| r.to_string() == me);
            assert_eq!(
                fanned_out, shown,
                "{name} and status {id} ({}): fan-out {fanned_out}, home {shown}",
                status.text
            );
            let want = expected.iter().find(|(n, _)| n == name).unwrap().1[index];
            assert_eq!(shown, want, "{name} and status {index} ({})", status.text);
        }
    }
});

fn note_by(author: &ferrodon_domain::model::Account, text: &str) -> ferrodon_domain::model::ReceivedPost {
    remote_note(&format!("{}/statuses/{}", author.uri, ferrodon_kernel::Id::generate()), text)
}

#[tokio::test]
async fn a_blocked_domains_posts_never_reach_the_public_stream() {
    let Some(app) = TestApp::start(Engine::Sqlite).await else { return };
    let (_, token) = app.create_user("blocker").await;
    ok(app.post_form("/api/v1/domain_blocks", &token, &[("domain", "blocked.example")]).await);
    let blocked = remote_account(&app, "noisy", "blocked.example").await;
    let fine = remote_account(&app, "calm", "fine.example").await;
    let address = serve(&app).await;
    let url = format!("ws://{address}/api/v1/streaming?stream=public:remote&access_token={token}");
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.expect("connects");
    let remote_public = channel::public(Some("remote"), false);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !app.svc.events.has_subscribers(&remote_public) {
        assert!(Instant::now() < deadline, "no subscriber on {remote_public}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    ferrodon_service::remote::store_post(&app.svc, &blocked, note_by(&blocked, "from the blocked domain"))
        .await
        .unwrap();
    ferrodon_service::remote::store_post(&app.svc, &fine, note_by(&fine, "from elsewhere")).await.unwrap();
    app.run_jobs(ferrodon_domain::model::Queue::Default, &["DistributeStatus"]).await;
    // The first update to arrive is the other domain's; the blocked one never comes.
    let frame = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(Ok(Message::Text(text))) = socket.next().await {
                break serde_json::from_str::<Value>(text.as_str()).unwrap();
            }
        }
    })
    .await
    .expect("an update");
    assert_eq!(frame["event"], "update");
    let payload: Value = serde_json::from_str(frame["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["account"]["acct"], "calm@fine.example", "{payload}");
    let more = tokio::time::timeout(Duration::from_millis(300), socket.next()).await;
    assert!(more.is_err(), "nothing else: {more:?}");
}

/// The `acct` of the next `update` on `socket`, or None when none comes within `wait`.
async fn next_update_by<S>(socket: &mut S, wait: Duration) -> Option<String>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    tokio::time::timeout(wait, async {
        loop {
            if let Some(Ok(Message::Text(text))) = socket.next().await {
                let frame: Value = serde_json::from_str(text.as_str()).unwrap();
                if frame["event"] == "update" {
                    let payload: Value = serde_json::from_str(frame["payload"].as_str().unwrap()).unwrap();
                    break payload["account"]["acct"].as_str().unwrap().to_string();
                }
            }
        }
    })
    .await
    .ok()
}

both_engines!(a_silenced_domains_accounts_are_limited_everywhere, |app| async move {
    let (_, viewer) = app.create_user("viewer").await;
    let (fan_id, fan) = app.create_user("fan").await;
    let known = remote_account(&app, "known", "quiet.example").await;
    ferrodon_service::domains::block(&app.svc, "quiet.example", "silence", false, false).await.unwrap();
    // An account arriving after the block is limited too; another domain's is not.
    let late = remote_account(&app, "late", "quiet.example").await;
    let calm = remote_account(&app, "calm", "fine.example").await;
    let fan_account = ferrodon_kernel::Id::parse(&fan_id).unwrap();
    let mut tx = app.database().write().await.unwrap();
    let follow = ferrodon_domain::model::Follow {
        id: ferrodon_kernel::Id::generate(),
        account_id: fan_account,
        target_account_id: known.id,
        show_reblogs: true,
        notify: false,
        languages: None,
        created_at: ferrodon_kernel::time::now_ms(),
    };
    tx.upsert_follow(ferrodon_domain::model::RelationKind::Follow, &follow).await.unwrap();
    tx.commit().await.unwrap();
    let limited = |id: ferrodon_kernel::Id| {
        let (app, viewer) = (&app, viewer.clone());
        async move { ok(app.get(&format!("/api/v1/accounts/{id}"), &viewer).await)["limited"].clone() }
    };
    assert_eq!(limited(known.id).await, true);
    assert_eq!(limited(late.id).await, true);
    assert_eq!(limited(calm.id).await, false);

    // Streams: the limited accounts' public posts reach neither the public nor the hashtag
    // streams; the other domain's do.
    let address = serve(&app).await;
    let mut sockets = Vec::new();
    for stream in ["stream=public:remote", "stream=hashtag&tag=quiet"] {
        let url = format!("ws://{address}/api/v1/streaming?{stream}&access_token={viewer}");
        sockets.push(tokio_tungstenite::connect_async(url).await.expect("connects").0);
    }
    for c in [channel::public(Some("remote"), false), channel::hashtag("quiet", false)] {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !app.svc.events.has_subscribers(&c) {
            assert!(Instant::now() < deadline, "no subscriber on {c}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let tagged = |author: &ferrodon_domain::model::Account, text: &str| {
        let mut note = note_by(author, &format!("{text} #quiet"));
        note.tags = vec!["quiet".into()];
        note
    };
    let mut from_known = tagged(&known, "from a limited account");
    // It mentions the viewer and the fan: only the fan, who follows it, is notified.
    let mut tx = app.database().read().await.unwrap();
    let (viewer_account, fan_acc) = (
        tx.account_by_username("viewer", "").await.unwrap().unwrap(),
        tx.account_by_username("fan", "").await.unwrap().unwrap(),
    );
    drop(tx);
    from_known.mentions = vec![viewer_account.uri.clone(), fan_acc.uri];
    let known_post = ferrodon_service::remote::store_post(&app.svc, &known, from_known).await.unwrap();
    ferrodon_service::remote::store_post(&app.svc, &late, tagged(&late, "from a late limited account")).await.unwrap();
    ferrodon_service::remote::store_post(&app.svc, &calm, tagged(&calm, "from elsewhere")).await.unwrap();
    app.run_jobs(ferrodon_domain::model::Queue::Default, &["DistributeStatus"]).await;
    for socket in &mut sockets {
        assert_eq!(next_update_by(socket, Duration::from_secs(5)).await.as_deref(), Some("calm@fine.example"));
        assert_eq!(next_update_by(socket, Duration::from_millis(300)).await, None, "nothing else");
    }

    // REST agrees: off the public and hashtag timelines, still in the follower's home.
    let known_id = known_post.id.to_string();
    let public = ids(&ok(app.get("/api/v1/timelines/public?limit=40", &viewer).await));
    let tag = ids(&ok(app.get("/api/v1/timelines/tag/quiet?limit=40", &viewer).await));
    assert_eq!((public.len(), tag.len()), (1, 1), "only the other domain's post: {public:?} {tag:?}");
    assert!(!public.contains(&known_id) && !tag.contains(&known_id));
    assert!(ids(&ok(app.get("/api/v1/timelines/home", &fan).await)).contains(&known_id));
    let notified = |token: String| {
        let app = &app;
        async move { ok(app.get("/api/v1/notifications", &token).await).as_array().unwrap().len() }
    };
    assert_eq!(notified(fan.clone()).await, 1, "the follower is notified");
    assert_eq!(notified(viewer.clone()).await, 0, "a non-follower is not");

    // Unblocked, the accounts are no longer limited and their posts come back.
    assert!(ferrodon_service::domains::unblock(&app.svc, "quiet.example").await.unwrap());
    assert_eq!(limited(known.id).await, false);
    assert_eq!(limited(late.id).await, false);
    let public = ids(&ok(app.get("/api/v1/timelines/public?limit=40", &viewer).await));
    assert!(public.contains(&known_id), "{public:?}");
});

/// The next text frame on `socket`, as JSON (`None` after `wait` without one).
async fn next_frame<S>(socket: &mut S, wait: Duration) -> Option<Value>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    tokio::time::timeout(wait, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => break serde_json::from_str::<Value>(text.as_str()).unwrap(),
                Some(Ok(_)) => continue,
                other => panic!("the socket ended: {other:?}"),
            }
        }
    })
    .await
    .ok()
}

/// Waits until someone holds (`true`) or no one holds (`false`) `channel` on the bus.
async fn until_held(app: &TestApp, channel: &str, held: bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.svc.events.has_subscribers(channel) != held {
        assert!(Instant::now() < deadline, "{channel} still {}", if held { "not held" } else { "held" });
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

// masto.js subscribes to `user:notification` and at once follows from another account: the
// follow may be handled before the socket's subscribe is read. The event goes out from a job,
// later; whether anyone listens must be asked then, not while the follow is handled.
both_engines!(an_action_right_after_a_subscribe_reaches_the_new_subscription, |app| async move {
    use futures_util::SinkExt;
    let (alice_id, alice) = app.create_user("alice").await;
    let (_, bob) = app.create_user("bob").await;
    let address = serve(&app).await;
    let url = format!("ws://{address}/api/v1/streaming?access_token={alice}");
    // No Nagle delay on the client: each frame leaves when it is sent.
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await.expect("connects");
    let notifications = channel::notifications(ferrodon_kernel::Id::parse(&alice_id).unwrap());
    let subscribe = json!({"type": "subscribe", "stream": "user:notification"}).to_string();
    let unsubscribe = json!({"type": "unsubscribe", "stream": "user:notification"}).to_string();
    for round in 0..40 {
        // Subscribe, and act at once, without waiting for anything.
        socket.send(Message::Text(subscribe.clone().into())).await.unwrap();
        ok(app.post_form(&format!("/api/v1/accounts/{alice_id}/follow"), &bob, &[]).await);
        // The worker runs the job after the server has read the subscribe (here: made sure of).
        until_held(&app, &notifications, true).await;
        app.run_jobs(ferrodon_domain::model::Queue::Default, &["PublishNotification"]).await;
        let frame = next_frame(&mut socket, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("round {round}: no notification"));
        assert_eq!(frame["event"], "notification", "round {round}: {frame}");
        assert_eq!(frame["stream"], json!(["user:notification"]));
        let payload: Value = serde_json::from_str(frame["payload"].as_str().unwrap()).unwrap();
        assert_eq!((payload["type"].as_str(), payload["account"]["username"].as_str()), (Some("follow"), Some("bob")));
        // Back to no subscription and no follow for the next round.
        socket.send(Message::Text(unsubscribe.clone().into())).await.unwrap();
        until_held(&app, &notifications, false).await;
        ok(app.post_form(&format!("/api/v1/accounts/{alice_id}/unfollow"), &bob, &[]).await);
    }
    assert!(next_frame(&mut socket, Duration::from_millis(200)).await.is_none(), "one notification a round");
});

// A connection opened during a timed mute shows the muted account again once the mute ends
// (nothing tells the connection then: it must know when its mutes run out).
both_engines!(a_stream_shows_a_muted_account_again_once_the_mute_expires, |app| async move {
    let (alice_id, alice) = app.create_user("alice").await;
    let (bob_id, bob) = app.create_user("bob").await;
    follow(&app, &alice, &bob_id).await;
    ok(app.post_form(&format!("/api/v1/accounts/{bob_id}/mute"), &alice, &[("duration", "1")]).await);
    let address = serve(&app).await;
    let url = format!("ws://{address}/api/v1/streaming?stream=user&access_token={alice}");
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await.expect("connects");
    until_held(&app, &channel::home(ferrodon_kernel::Id::parse(&alice_id).unwrap()), true).await;
    let distribute = || app.run_jobs(ferrodon_domain::model::Queue::Default, &["DistributeStatus"]);

    post(&app, &bob, "while muted").await;
    distribute().await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let after = post(&app, &bob, "after the mute").await;
    distribute().await;
    // The first update to come is the later post: the one made during the mute was hidden.
    let frame = next_frame(&mut socket, Duration::from_secs(5)).await.expect("bob's post after the mute");
    assert_eq!(frame["event"], "update", "{frame}");
    let payload: Value = serde_json::from_str(frame["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["id"], after.as_str(), "{payload}");
});
