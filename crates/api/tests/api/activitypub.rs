//! ActivityPub endpoints through the router: actor and status documents, the inbox's signature
//! check, and a signed Follow applied through the ingress queue with its Accept queued for
//! delivery. (Two real servers and a Fedify peer talk to each other in the acceptance suite.)

use std::time::SystemTime;

use ferrodon_domain::model::{Activity, FollowRef, Queue, RemoteAccount};
use ferrodon_federation::signatures::{PrivateKey, Scheme, sign};

use crate::support::*;

async fn get_ap(app: &TestApp, path: &str) -> RawResponse {
    app.raw(Method::GET, path, ANON, None, &[("accept", "application/activity+json")]).await
}

both_engines!(actor_documents_carry_a_key_and_endpoints, |app| async move {
    let (id, token) = app.create_user("actress").await;
    let r = get_ap(&app, "/users/actress").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.header("content-type").unwrap().starts_with("application/activity+json"));
    let doc = r.json();
    assert_eq!(doc["id"], format!("{BASE_URL}/users/actress"));
    assert_eq!(doc["type"], "Person");
    assert_eq!(doc["preferredUsername"], "actress");
    assert_eq!(doc["inbox"], format!("{BASE_URL}/users/actress/inbox"));
    assert_eq!(doc["endpoints"]["sharedInbox"], format!("{BASE_URL}/inbox"));
    assert_eq!(doc["publicKey"]["id"], format!("{BASE_URL}/users/actress#main-key"));
    assert!(doc["publicKey"]["publicKeyPem"].as_str().unwrap().starts_with("-----BEGIN PUBLIC KEY-----"));
    // The key is made once and kept.
    let again = get_ap(&app, "/users/actress").await.json();
    assert_eq!(again["publicKey"], doc["publicKey"]);
    assert_eq!(get_ap(&app, "/users/nobody").await.status, StatusCode::NOT_FOUND);

    // A public status is served as a Note; a followers-only one is not served at all.
    let public = post(&app, &token, "hello #fediverse").await;
    let note = get_ap(&app, &format!("/users/actress/statuses/{public}")).await;
    assert_eq!(note.status, StatusCode::OK, "{}", note.text());
    let note = note.json();
    assert_eq!(note["type"], "Note");
    assert_eq!(note["attributedTo"], format!("{BASE_URL}/users/actress"));
    assert_eq!(note["to"][0], "https://www.w3.org/ns/activitystreams#Public");
    assert_eq!(note["cc"][0], format!("{BASE_URL}/users/actress/followers"));
    assert_eq!(note["tag"][0]["type"], "Hashtag");
    let private = post_status(&app, &token, &[("status", "secret"), ("visibility", "private")]).await;
    let path = format!("/users/actress/statuses/{}", private["id"].as_str().unwrap());
    assert_eq!(get_ap(&app, &path).await.status, StatusCode::NOT_FOUND);
    let _ = id;
});

both_engines!(unsigned_and_badly_signed_inbox_posts_are_401_and_leave_nothing, |app| async move {
    app.create_user("target").await;
    let body = serde_json::json!({
        "id": "https://remote.example/f/1", "type": "Follow",
        "actor": "https://remote.example/users/x", "object": format!("{BASE_URL}/users/target"),
    });
    let bytes = body.to_string().into_bytes();
    for path in ["/inbox", "/users/target/inbox"] {
        let r = app.raw(Method::POST, path, ANON, Some(("application/activity+json", bytes.clone())), &[]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}: {}", r.text());
        assert!(r.json()["error"].is_string());
    }
    // A signature by a key we cannot fetch (remote.example is not reachable, and not allowed).
    let key = PrivateKey::generate().unwrap();
    let url = url::Url::parse(&format!("{BASE_URL}/inbox")).unwrap();
    let mut headers = http::HeaderMap::new();
    sign(
        Scheme::Cavage,
        &key,
        "https://remote.example/users/x#main-key",
        &http::Method::POST,
        &url,
        &mut headers,
        Some(&bytes),
        SystemTime::now(),
    )
    .unwrap();
    let pairs: Vec<(String, String)> =
        headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string())).collect();
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = app.raw(Method::POST, "/inbox", ANON, Some(("application/activity+json", bytes.clone())), &pairs).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text());
    assert!(app.run_jobs(Queue::Ingress, &["ProcessActivity"]).await.is_empty(), "nothing may be queued");
});

/// Stores a remote actor whose key we hold, as if it had been fetched.
async fn remote_actor(app: &TestApp, name: &str) -> (String, PrivateKey) {
    let key = PrivateKey::generate().unwrap();
    let uri = format!("https://remote.example/users/{name}");
    let mut tx = app.database().write().await.unwrap();
    tx.upsert_remote_account(
        &RemoteAccount {
            uri: uri.clone(),
            url: format!("https://remote.example/@{name}"),
            username: name.into(),
            domain: "remote.example".into(),
            actor_type: "Person".into(),
            fields_json: "[]".into(),
            inbox_url: format!("{uri}/inbox"),
            shared_inbox_url: "https://remote.example/inbox".into(),
            followers_url: format!("{uri}/followers"),
            public_key_pem: key.public_key_pem(),
            key_id: format!("{uri}#main-key"),
            ..Default::default()
        },
        ferrodon_kernel::time::now_ms(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    (uri, key)
}

async fn signed_post(
    app: &TestApp,
    scheme: Scheme,
    key: &PrivateKey,
    key_id: &str,
    path: &str,
    body: &serde_json::Value,
) -> RawResponse {
    let bytes = body.to_string().into_bytes();
    let url = url::Url::parse(&format!("{BASE_URL}{path}")).unwrap();
    let mut headers = http::HeaderMap::new();
    sign(scheme, key, key_id, &http::Method::POST, &url, &mut headers, Some(&bytes), SystemTime::now()).unwrap();
    let pairs: Vec<(String, String)> =
        headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string())).collect();
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    app.raw(Method::POST, path, ANON, Some(("application/activity+json", bytes)), &pairs).await
}

both_engines!(a_signed_follow_is_applied_and_accepted, |app| async move {
    let (target_id, token) = app.create_user("popular").await;
    for (n, scheme) in [Scheme::Cavage, Scheme::Rfc9421].into_iter().enumerate() {
        let (uri, key) = remote_actor(&app, &format!("fan{n}")).await;
        let follow = serde_json::json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{uri}#follows/1"), "type": "Follow",
            "actor": uri, "object": format!("{BASE_URL}/users/popular"),
        });
        let r = signed_post(&app, scheme, &key, &format!("{uri}#main-key"), "/users/popular/inbox", &follow).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{scheme:?}: {}", r.text());
        assert_eq!(app.run_jobs(Queue::Ingress, &["ProcessActivity"]).await.len(), 1);
        // The Accept is built and queued for the follower's inbox, naming the Follow.
        let federate = app.run_jobs(Queue::Push, &["Federate"]).await;
        assert!(!federate.is_empty());
        let now = ferrodon_kernel::time::now_ms();
        let pending = app.queue.claim(Queue::Push, "peek", now, now + 1000, 100).await.unwrap();
        let accept = pending.iter().find(|j| j.kind == "DeliverActivity").expect("a delivery of the Accept");
        let payload: serde_json::Value = serde_json::from_str(&accept.payload).unwrap();
        // Addressed to one actor: its own inbox, as Mastodon sends it.
        assert_eq!(payload["inbox"], format!("{uri}/inbox"));
        let activity: serde_json::Value = serde_json::from_str(payload["body"].as_str().unwrap()).unwrap();
        assert_eq!(activity["type"], "Accept");
        assert_eq!(activity["object"]["id"], format!("{uri}#follows/1"));
        // Delivered: no remote.example to send to here.
        app.queue.complete_many("peek", &pending).await.unwrap();
    }
    let followers = ok(app.get(&format!("/api/v1/accounts/{target_id}/followers"), &token).await);
    assert_eq!(followers.as_array().unwrap().len(), 2, "{followers}");
    let notifications = ok(app.get("/api/v1/notifications", &token).await);
    assert_eq!(notifications[0]["type"], "follow");
    assert_eq!(notifications[0]["account"]["acct"], "fan1@remote.example");
});

both_engines!(followers_move_with_a_moved_account, |app| async move {
    let (_, token) = app.create_user("loyal").await;
    let (old_uri, _) = remote_actor(&app, "oldname").await;
    let (new_uri, _) = remote_actor(&app, "newname").await;
    let mut tx = app.database().read().await.unwrap();
    let old = tx.account_by_uri(&old_uri).await.unwrap().unwrap();
    let new = tx.account_by_uri(&new_uri).await.unwrap().unwrap();
    drop(tx);
    // Following a remote account is a request until it accepts.
    let rel = follow(&app, &token, &old.id.to_string()).await;
    assert_eq!(rel["requested"], true, "{rel}");
    let me = rel_owner(&app, &token).await;
    let me = app.database().read().await.unwrap().account_by_id(me).await.unwrap().unwrap();
    let accept = Activity::Accept { object: FollowRef { id: None, actor: Some(me.uri.clone()) } };
    ferrodon_service::inbox::apply(&app.svc, &old, accept).await.unwrap();
    let rel = ok(app.get(&format!("/api/v1/accounts/relationships?id[]={}", old.id), &token).await);
    assert_eq!(rel[0]["following"], true, "{rel}");

    assert_eq!(ferrodon_service::inbox::move_followers(&app.svc, &old, &new).await.unwrap(), 1);
    let rel = ok(app.get(&format!("/api/v1/accounts/relationships?id[]={}&id[]={}", old.id, new.id), &token).await);
    assert_eq!(rel[0]["following"], false, "{rel}");
    assert_eq!(rel[1]["requested"], true, "{rel}");
    // And a Follow of the new account is on its way.
    let built = app.run_jobs(Queue::Push, &["Federate"]).await;
    assert!(built.iter().any(|j| j.payload.contains("\"Follow\"") && j.payload.contains(&new.id.0.to_string())));
});

async fn rel_owner(app: &TestApp, token: &str) -> ferrodon_kernel::Id {
    let me = ok(app.get("/api/v1/accounts/verify_credentials", token).await);
    ferrodon_kernel::Id::parse(me["id"].as_str().unwrap()).unwrap()
}

both_engines!(a_suspended_domain_is_refused_and_its_accounts_suspended, |app| async move {
    app.create_user("guarded").await;
    let (uri, key) = remote_actor(&app, "troll").await;
    ferrodon_service::domains::block(&app.svc, "remote.example", "suspend", false, false).await.unwrap();
    let follow = serde_json::json!({
        "id": format!("{uri}#follows/9"), "type": "Follow", "actor": uri, "object": format!("{BASE_URL}/users/guarded"),
    });
    let r = signed_post(&app, Scheme::Cavage, &key, &format!("{uri}#main-key"), "/inbox", &follow).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(app.run_jobs(Queue::Ingress, &["ProcessActivity"]).await.is_empty());
    let troll = app.database().read().await.unwrap().account_by_uri(&uri).await.unwrap().unwrap();
    assert!(troll.suspended_at.is_some(), "the domain's accounts are suspended");
    // Lifting the block lifts the suspension it caused.
    assert!(ferrodon_service::domains::unblock(&app.svc, "remote.example").await.unwrap());
    let troll = app.database().read().await.unwrap().account_by_uri(&uri).await.unwrap().unwrap();
    assert!(troll.suspended_at.is_none());
});

both_engines!(a_statuses_replies_collection_lists_its_public_replies, |app| async move {
    let (_, token) = app.create_user("threader").await;
    let (_, other) = app.create_user("replier").await;
    let root = post(&app, &token, "the root").await;
    let reply = post_status(&app, &other, &[("status", "@threader public reply"), ("in_reply_to_id", &root)]).await;
    post_status(&app, &other, &[("status", "@threader hidden"), ("in_reply_to_id", &root), ("visibility", "private")])
        .await;
    let doc = get_ap(&app, &format!("/users/threader/statuses/{root}/replies")).await;
    assert_eq!(doc.status, StatusCode::OK, "{}", doc.text());
    let doc = doc.json();
    let collection = format!("{BASE_URL}/users/threader/statuses/{root}/replies");
    assert_eq!((doc["type"].as_str(), doc["id"].as_str()), (Some("Collection"), Some(collection.as_str())));
    assert_eq!(doc["first"]["type"], "CollectionPage");
    assert_eq!(doc["first"]["items"], serde_json::json!([reply["uri"]]), "only the public reply");
    let page = get_ap(&app, &format!("/users/threader/statuses/{root}/replies?page=true")).await.json();
    assert_eq!((page["type"].as_str(), &page["items"]), (Some("CollectionPage"), &doc["first"]["items"]));
    // The replies of a status that is not served are not served either.
    let private = post_status(&app, &token, &[("status", "secret"), ("visibility", "private")]).await;
    let path = format!("/users/threader/statuses/{}/replies", private["id"].as_str().unwrap());
    assert_eq!(get_ap(&app, &path).await.status, StatusCode::NOT_FOUND);
});

both_engines!(a_remote_posts_attachments_and_emoji_are_shown, |app| async move {
    let (me_id, token) = app.create_user("viewer").await;
    let (uri, key) = remote_actor(&app, "artist").await;
    let me = format!("{BASE_URL}/users/viewer");
    let note = serde_json::json!({
        "id": format!("{uri}/statuses/1"), "type": "Note", "attributedTo": uri,
        "content": "<p>look :blobcat: <a href=\"x\" class=\"u-url mention\">@viewer</a></p>",
        "to": ["https://www.w3.org/ns/activitystreams#Public"], "cc": [me],
        "published": "2026-11-24T10:00:00Z", "sensitive": true,
        "tag": [
            {"type": "Mention", "href": me, "name": "@viewer"},
            {"type": "Emoji", "name": ":blobcat:", "icon": {"type": "Image", "url": "https://remote.example/emoji/blobcat.png"}},
            {"type": "Emoji", "name": ":evil:", "icon": {"type": "Image", "url": "javascript:alert(1)"}},
        ],
        "attachment": [
            {"type": "Document", "mediaType": "image/png", "url": "https://remote.example/files/1.png",
             "name": "a cat", "blurhash": "UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH", "width": 800, "height": 600},
            {"type": "Document", "mediaType": "video/mp4", "url": {"type": "Link", "href": "https://remote.example/files/2.mp4"}},
            {"type": "PropertyValue", "name": "not media", "value": "x"},
        ],
    });
    let create = serde_json::json!({
        "@context": "https://www.w3.org/ns/activitystreams", "id": format!("{uri}/statuses/1/activity"),
        "type": "Create", "actor": uri, "object": note, "to": note["to"], "cc": note["cc"],
    });
    let r = signed_post(&app, Scheme::Cavage, &key, &format!("{uri}#main-key"), "/inbox", &create).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    app.run_jobs(Queue::Ingress, &["ProcessActivity"]).await;
    let notifications = ok(app.get("/api/v1/notifications", &token).await);
    let status = &notifications[0]["status"];
    assert_eq!(notifications[0]["type"], "mention", "{notifications}");
    let media = status["media_attachments"].as_array().unwrap();
    assert_eq!(media.len(), 2, "{status}");
    assert_eq!(
        (media[0]["type"].as_str(), media[0]["url"].as_str()),
        (Some("image"), Some("https://remote.example/files/1.png"))
    );
    assert_eq!(media[0]["remote_url"], "https://remote.example/files/1.png");
    assert_eq!(media[0]["description"], "a cat");
    assert_eq!(media[0]["meta"]["original"]["width"], 800);
    assert_eq!(
        (media[1]["type"].as_str(), media[1]["url"].as_str()),
        (Some("video"), Some("https://remote.example/files/2.mp4"))
    );
    assert_ne!(media[0]["id"], media[1]["id"]);
    let emojis = status["emojis"].as_array().unwrap();
    assert_eq!(emojis.len(), 1, "only http(s) icons: {status}");
    assert_eq!(
        (emojis[0]["shortcode"].as_str(), emojis[0]["url"].as_str()),
        (Some("blobcat"), Some("https://remote.example/emoji/blobcat.png"))
    );
    // It is on the media-only timelines.
    let media_only = ok(app.get("/api/v1/timelines/public?only_media=true&remote=true", &token).await);
    assert_eq!(ids(&media_only), vec![status["id"].as_str().unwrap().to_string()], "{media_only}");

    // An edit that drops the video and the emoji.
    let mut edited = note.clone();
    edited["attachment"] = serde_json::json!([note["attachment"][0]]);
    edited["tag"] = serde_json::json!([note["tag"][0]]);
    edited["content"] = serde_json::json!("<p>look again</p>");
    edited["updated"] = serde_json::json!("2026-11-24T11:00:00Z");
    let update = serde_json::json!({
        "@context": "https://www.w3.org/ns/activitystreams", "id": format!("{uri}/statuses/1#updates/1"),
        "type": "Update", "actor": uri, "object": edited,
    });
    let r = signed_post(&app, Scheme::Cavage, &key, &format!("{uri}#main-key"), "/inbox", &update).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    app.run_jobs(Queue::Ingress, &["ProcessActivity"]).await;
    let now = ok(app.get(&format!("/api/v1/statuses/{}", status["id"].as_str().unwrap()), &token).await);
    assert_eq!(now["media_attachments"].as_array().unwrap().len(), 1, "{now}");
    assert_eq!(now["emojis"], serde_json::json!([]));
    assert!(now["edited_at"].is_string(), "{now}");
    let _ = me_id;
});

both_engines!(statuses_received_together_are_stored_together_and_a_bad_one_fails_alone, |app| async move {
    let (_, token) = app.create_user("reader").await;
    let (good_uri, _) = remote_actor(&app, "good").await;
    let (gone_uri, _) = remote_actor(&app, "gone").await;
    let good = app.database().read().await.unwrap().account_by_uri(&good_uri).await.unwrap().unwrap();
    let gone = app.database().read().await.unwrap().account_by_uri(&gone_uri).await.unwrap().unwrap();
    // The second author's account is deleted while its status is on the way: its insert breaks
    // the foreign key, and with it the group's transaction.
    let mut tx = app.database().write().await.unwrap();
    tx.delete_account(gone.id).await.unwrap();
    tx.commit().await.unwrap();
    let note = |uri: &str, n: u32| remote_note(&format!("{uri}/statuses/{n}"), &format!("note {n}"));
    let (a, b, c) = tokio::join!(
        ferrodon_service::remote::store_post(&app.svc, &good, note(&good_uri, 1)),
        ferrodon_service::remote::store_post(&app.svc, &gone, note(&gone_uri, 2)),
        ferrodon_service::remote::store_post(&app.svc, &good, note(&good_uri, 3)),
    );
    assert!(b.is_err(), "{b:?}");
    let (a, c) = (a.unwrap(), c.unwrap());
    let public = ok(app.get("/api/v1/timelines/public", &token).await);
    let ids: Vec<&str> = public.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![c.id.to_string(), a.id.to_string()], "{public}");
    // The same status received twice in one group is stored once.
    let (d, e) = tokio::join!(
        ferrodon_service::remote::store_post(&app.svc, &good, note(&good_uri, 4)),
        ferrodon_service::remote::store_post(&app.svc, &good, note(&good_uri, 4)),
    );
    assert_eq!(d.unwrap().id, e.unwrap().id);
});

both_engines!(a_blocked_domain_leaves_timelines_notifications_and_followers, |app| async move {
    let (me_id, token) = app.create_user("picky").await;
    let (uri, _) = remote_actor(&app, "loud").await;
    let remote = app.database().read().await.unwrap().account_by_uri(&uri).await.unwrap().unwrap();
    // It follows me, and posts publicly, mentioning me.
    let mut tx = app.database().write().await.unwrap();
    let follow = ferrodon_domain::model::Follow {
        id: ferrodon_kernel::Id::generate(),
        account_id: remote.id,
        target_account_id: ferrodon_kernel::Id::parse(&me_id).unwrap(),
        show_reblogs: true,
        notify: false,
        languages: None,
        created_at: ferrodon_kernel::time::now_ms(),
    };
    tx.upsert_follow(ferrodon_domain::model::RelationKind::Follow, &follow).await.unwrap();
    tx.set_relation_uri("follow", remote.id, follow.target_account_id, &format!("{uri}#follows/9")).await.unwrap();
    tx.commit().await.unwrap();
    let note = |n: u32| remote_note(&format!("{uri}/statuses/{n}"), &format!("loud {n}"));
    ferrodon_service::remote::store_post(&app.svc, &remote, note(1)).await.unwrap();
    let public = ok(app.get("/api/v1/timelines/public", &token).await);
    assert_eq!(public.as_array().unwrap().len(), 1, "{public}");

    // Blocking the domain (written as a URL, in capitals: normalised).
    let (status, _, body) =
        app.post_form("/api/v1/domain_blocks", &token, &[("domain", "https://REMOTE.example/")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, serde_json::json!({}));
    assert_eq!(ok(app.get("/api/v1/domain_blocks", &token).await), serde_json::json!(["remote.example"]));
    let rel = ok(app.get(&format!("/api/v1/accounts/relationships?id[]={}", remote.id), &token).await);
    assert_eq!(
        (rel[0]["domain_blocking"].as_bool(), rel[0]["followed_by"].as_bool()),
        (Some(true), Some(false)),
        "{rel}"
    );
    // Its posts leave the public timeline; its follow is gone and its server hears a Reject.
    assert_eq!(ok(app.get("/api/v1/timelines/public", &token).await), serde_json::json!([]));
    let built = app.run_jobs(Queue::Push, &["Federate"]).await;
    assert!(built.iter().any(|j| j.payload.contains("RejectFollow")), "{built:?}");
    // It no longer notifies.
    let mut mention = note(2);
    mention.mentions =
        vec![app.database().read().await.unwrap().account_by_username("picky", "").await.unwrap().unwrap().uri];
    ferrodon_service::remote::store_post(&app.svc, &remote, mention).await.unwrap();
    assert_eq!(ok(app.get("/api/v1/notifications", &token).await), serde_json::json!([]));

    // Errors, and unblocking.
    let (status, _, body) = app.post_form("/api/v1/domain_blocks", &token, &[("domain", " ")]).await;
    assert_eq!(status, 422, "{body}");
    let (status, _, _) =
        app.form(Method::DELETE, "/api/v1/domain_blocks", &token, &[("domain", "remote.example")], &[]).await;
    assert_eq!(status, 200);
    assert_eq!(ok(app.get("/api/v1/domain_blocks", &token).await), serde_json::json!([]));
    assert_eq!(ok(app.get("/api/v1/timelines/public", &token).await).as_array().unwrap().len(), 2);
});
