//! Statuses: posting (visibility, formatting, limits, polls, idempotency), threads, the
//! per-viewer actions, edits, deletion and who may see what.

use crate::support::*;

both_engines!(posting_with_each_visibility, |app| async move {
    let (alice, token) = app.create_user("alice").await;
    let mut posted = Vec::new();
    for visibility in ["public", "unlisted", "private", "direct"] {
        let s =
            post_status(&app, &token, &[("status", &format!("a {visibility} post")), ("visibility", visibility)]).await;
        assert_eq!(s["visibility"], visibility);
        assert_eq!(s["content"], format!("<p>a {visibility} post</p>"));
        assert_eq!(s["account"]["id"], alice.as_str());
        // Direct statuses are not counted (Mastodon's counter caches skip them).
        let counted = posted.len() as i64 + i64::from(visibility != "direct");
        assert_eq!(s["account"]["statuses_count"], counted);
        assert_eq!(s["uri"], format!("{BASE_URL}/users/alice/statuses/{}", s["id"].as_str().unwrap()));
        assert_eq!(s["url"], format!("{BASE_URL}/@alice/{}", s["id"].as_str().unwrap()));
        assert_eq!(s["application"]["name"], "ferrodon tests");
        assert_eq!(s["favourited"], false);
        assert_eq!(s["reblogged"], false);
        assert_eq!(s["bookmarked"], false);
        assert_eq!(s["pinned"], false);
        assert_eq!(s["replies_count"], 0);
        assert!(s["in_reply_to_id"].is_null());
        assert!(s["created_at"].as_str().unwrap().ends_with('Z'));
        posted.push(s["id"].as_str().unwrap().to_string());
    }
    // Without a visibility: the account's default (public).
    let s = post_status(&app, &token, &[("status", "default")]).await;
    assert_eq!(s["visibility"], "public");
    // Unknown visibility, blank text.
    let (status, _, body) =
        app.post_form("/api/v1/statuses", &token, &[("status", "x"), ("visibility", "secret")]).await;
    assert_eq!(status, 422, "{body}");
    let (status, _, body) = app.post_form("/api/v1/statuses", &token, &[("status", "   ")]).await;
    assert_eq!(status, 422, "{body}");
    // Spoiler text makes a status sensitive.
    let s = post_status(&app, &token, &[("status", "x"), ("spoiler_text", "cw")]).await;
    assert_eq!(s["spoiler_text"], "cw");
    assert_eq!(s["sensitive"], true);

    // GET /api/v1/statuses?id[]= returns those visible to the caller, in the order asked.
    let q = posted.iter().rev().map(|id| format!("id[]={id}")).collect::<Vec<_>>().join("&");
    let mine = ok(app.get(&format!("/api/v1/statuses?{q}"), &token).await);
    assert_eq!(ids(&mine), posted.iter().rev().cloned().collect::<Vec<_>>());
    let anon = ok(app.get(&format!("/api/v1/statuses?{q}"), ANON).await);
    assert_eq!(ids(&anon), vec![posted[1].clone(), posted[0].clone()]);
});

both_engines!(mentions_and_hashtags_become_links, |app| async move {
    let (bob, bob_token) = app.create_user("bob").await;
    let (_, token) = app.create_user("alice").await;
    let s = post_status(
        &app,
        &token,
        &[("status", "Hi @bob and @nobody, see #Rust and #rust_lang https://example.com/x?a=1")],
    )
    .await;
    let content = s["content"].as_str().unwrap();
    assert!(
        content.contains(&format!(
            "<span class=\"h-card\" translate=\"no\"><a href=\"{BASE_URL}/@bob\" class=\"u-url mention\">@<span>bob</span></a></span>"
        )),
        "{content}"
    );
    assert!(content.contains("@nobody"), "{content}");
    assert!(!content.contains("/@nobody"), "unknown accounts are not linked: {content}");
    assert!(
        content.contains(&format!(
            "<a href=\"{BASE_URL}/tags/Rust\" class=\"mention hashtag\" rel=\"tag\">#<span>Rust</span></a>"
        )) || content.contains(&format!(
            "<a href=\"{BASE_URL}/tags/rust\" class=\"mention hashtag\" rel=\"tag\">#<span>Rust</span></a>"
        )),
        "{content}"
    );
    assert!(content.contains("#<span>rust_lang</span></a>"), "{content}");
    assert!(content.contains("href=\"https://example.com/x?a=1\""), "{content}");
    assert!(content.contains("rel=\"nofollow noopener"), "{content}");

    assert_eq!(s["mentions"].as_array().unwrap().len(), 1, "{s}");
    assert_eq!(s["mentions"][0]["id"], bob.as_str());
    assert_eq!(s["mentions"][0]["acct"], "bob");
    assert_eq!(s["mentions"][0]["username"], "bob");
    assert_eq!(s["mentions"][0]["url"], format!("{BASE_URL}/@bob"));
    let mut tags: Vec<&str> = s["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    tags.sort();
    assert_eq!(tags, vec!["rust", "rust_lang"]);
    assert_eq!(s["tags"][0]["url"], format!("{BASE_URL}/tags/{}", s["tags"][0]["name"].as_str().unwrap()));

    // The mentioned account is notified.
    let notes = ok(app.get("/api/v1/notifications", &bob_token).await);
    assert_eq!(notes.as_array().unwrap().len(), 1, "{notes}");
    assert_eq!(notes[0]["type"], "mention");
    assert_eq!(notes[0]["status"]["id"], s["id"]);
});

both_engines!(status_length_is_limited, |app| async move {
    let (_, token) = app.create_user("alice").await;
    let exactly = "a".repeat(500);
    let s = post_status(&app, &token, &[("status", &exactly)]).await;
    assert_eq!(s["content"], format!("<p>{exactly}</p>"));
    let (status, _, body) = app.post_form("/api/v1/statuses", &token, &[("status", &"a".repeat(501))]).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("500"), "{body}");
    // The content warning counts too.
    let (status, _, body) = app
        .post_form("/api/v1/statuses", &token, &[("status", &"a".repeat(490)), ("spoiler_text", &"b".repeat(11))])
        .await;
    assert_eq!(status, 422, "{body}");
    // A URL counts as 23 characters whatever its length.
    let long_url = format!("https://example.com/{}", "p".repeat(200));
    let text = format!("{} {long_url}", "a".repeat(476));
    post_status(&app, &token, &[("status", &text)]).await;
    // Multi-byte characters count as one.
    post_status(&app, &token, &[("status", &"é".repeat(500))]).await;
});

both_engines!(polls_are_validated_and_votable, |app| async move {
    let (_, alice) = app.create_user("alice").await;
    let (_, bob) = app.create_user("bob").await;
    let poll_form = |options: &[&str]| {
        let mut pairs: Vec<(String, String)> =
            vec![("status".into(), "Which one?".into()), ("poll[expires_in]".into(), "3600".into())];
        pairs.extend(options.iter().map(|o| ("poll[options][]".to_string(), o.to_string())));
        pairs
    };
    let send = |pairs: Vec<(String, String)>| {
        let app = &app;
        let alice = alice.clone();
        async move {
            let p: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            app.post_form("/api/v1/statuses", &alice, &p).await
        }
    };

    let (status, _, body) = send(poll_form(&["a", "b", "c", "d", "e"])).await;
    assert_eq!(status, 422, "five options: {body}");
    let (status, _, body) = send(poll_form(&["only"])).await;
    assert_eq!(status, 422, "one option: {body}");
    let fifty_one = "x".repeat(51);
    let (status, _, body) = send(poll_form(&["a", &fifty_one])).await;
    assert_eq!(status, 422, "long option: {body}");
    let (status, _, body) = send(poll_form(&["same", "same"])).await;
    assert_eq!(status, 422, "duplicates: {body}");
    let mut short = poll_form(&["a", "b"]);
    short[1].1 = "60".into();
    let (status, _, body) = send(short).await;
    assert_eq!(status, 422, "too short: {body}");

    let fifty = "y".repeat(50);
    let (status, _, s) = send(poll_form(&["a", "b", "c", &fifty])).await;
    assert_eq!(status, 200, "{s}");
    let poll = &s["poll"];
    let titles: Vec<&str> = poll["options"].as_array().unwrap().iter().map(|o| o["title"].as_str().unwrap()).collect();
    assert_eq!(titles, vec!["a", "b", "c", fifty.as_str()]);
    assert_eq!(poll["expired"], false);
    assert_eq!(poll["multiple"], false);
    assert_eq!(poll["votes_count"], 0);
    assert!(poll["expires_at"].is_string());
    let poll_id = poll["id"].as_str().unwrap().to_string();

    // Bob votes once.
    let voted = ok(app.post_form(&format!("/api/v1/polls/{poll_id}/votes"), &bob, &[("choices[]", "1")]).await);
    assert_eq!(voted["votes_count"], 1);
    assert_eq!(voted["voted"], true);
    assert_eq!(voted["own_votes"], json!([1]));
    assert_eq!(voted["options"][1]["votes_count"], 1);
    assert_eq!(voted["options"][0]["votes_count"], 0);
    let (status, _, body) = app.post_form(&format!("/api/v1/polls/{poll_id}/votes"), &bob, &[("choices[]", "0")]).await;
    assert_eq!(status, 422, "{body}");
    // The author cannot vote; choices must exist.
    let (status, _, _) = app.post_form(&format!("/api/v1/polls/{poll_id}/votes"), &alice, &[("choices[]", "0")]).await;
    assert_eq!(status, 422);
    let shown = ok(app.get(&format!("/api/v1/polls/{poll_id}"), ANON).await);
    assert_eq!(shown["votes_count"], 1);
    assert!(shown.get("voted").is_none_or(Value::is_null), "{shown}");
});

both_engines!(idempotency_key_returns_the_same_status, |app| async move {
    let (alice, token) = app.create_user("alice").await;
    let send = |key: &'static str| {
        let app = &app;
        let token = token.clone();
        async move {
            app.form(Method::POST, "/api/v1/statuses", &token, &[("status", "only once")], &[("idempotency-key", key)])
                .await
        }
    };
    let first = ok(send("key-1").await);
    let again = ok(send("key-1").await);
    assert_eq!(first["id"], again["id"]);
    assert_eq!(again["content"], "<p>only once</p>");
    let other = ok(send("key-2").await);
    assert_ne!(first["id"], other["id"]);
    let me = ok(app.get(&format!("/api/v1/accounts/{alice}"), ANON).await);
    assert_eq!(me["statuses_count"], 2);
    let mine = ok(app.get(&format!("/api/v1/accounts/{alice}/statuses"), ANON).await);
    assert_eq!(mine.as_array().unwrap().len(), 2);
});

both_engines!(replies_and_context, |app| async move {
    let (alice, alice_token) = app.create_user("alice").await;
    let (bob, bob_token) = app.create_user("bob").await;
    let root = post(&app, &alice_token, "root").await;
    let reply = post_status(&app, &bob_token, &[("status", "@alice a reply"), ("in_reply_to_id", &root)]).await;
    assert_eq!(reply["in_reply_to_id"], root.as_str());
    assert_eq!(reply["in_reply_to_account_id"], alice.as_str());
    let reply = reply["id"].as_str().unwrap().to_string();
    let leaf =
        post_status(&app, &alice_token, &[("status", "@bob a reply to the reply"), ("in_reply_to_id", &reply)]).await;
    assert_eq!(leaf["in_reply_to_account_id"], bob.as_str());
    let leaf = leaf["id"].as_str().unwrap().to_string();
    let other =
        post_status(&app, &bob_token, &[("status", "second reply to root"), ("in_reply_to_id", &root)]).await["id"]
            .as_str()
            .unwrap()
            .to_string();

    let r = ok(app.get(&format!("/api/v1/statuses/{root}"), ANON).await);
    assert_eq!(r["replies_count"], 2);
    let middle = ok(app.get(&format!("/api/v1/statuses/{reply}/context"), ANON).await);
    assert_eq!(ids(&middle["ancestors"]), vec![root.clone()]);
    assert_eq!(ids(&middle["descendants"]), vec![leaf.clone()]);
    let top = ok(app.get(&format!("/api/v1/statuses/{root}/context"), &bob_token).await);
    assert_eq!(top["ancestors"], json!([]));
    assert_eq!(ids(&top["descendants"]), vec![reply.clone(), leaf.clone(), other.clone()]);
    let bottom = ok(app.get(&format!("/api/v1/statuses/{leaf}/context"), ANON).await);
    assert_eq!(ids(&bottom["ancestors"]), vec![root.clone(), reply.clone()]);
    assert_eq!(bottom["descendants"], json!([]));

    // Replying to something that does not exist.
    let (status, _, body) =
        app.post_form("/api/v1/statuses", &bob_token, &[("status", "x"), ("in_reply_to_id", "12345")]).await;
    assert_eq!(status, 404, "{body}");
    // Deleting a reply moves the counter back.
    ok(app.delete(&format!("/api/v1/statuses/{other}"), &bob_token).await);
    let r = ok(app.get(&format!("/api/v1/statuses/{root}"), ANON).await);
    assert_eq!(r["replies_count"], 1);
});

both_engines!(favourite_reblog_bookmark_pin, |app| async move {
    let (alice, alice_token) = app.create_user("alice").await;
    let (bob, bob_token) = app.create_user("bob").await;
    let id = post(&app, &alice_token, "interact with me").await;
    let act = |path: String, token: String| {
        let app = &app;
        async move { ok(app.post_form(&path, &token, &[]).await) }
    };
    let url = |a: &str| format!("/api/v1/statuses/{id}/{a}");

    let s = act(url("favourite"), bob_token.clone()).await;
    assert_eq!(s["favourited"], true);
    assert_eq!(s["favourites_count"], 1);
    // Idempotent.
    let s = act(url("favourite"), bob_token.clone()).await;
    assert_eq!(s["favourites_count"], 1);
    let by = ok(app.get(&url("favourited_by"), ANON).await);
    assert_eq!(ids(&by), vec![bob.clone()]);
    let favs = ok(app.get("/api/v1/favourites", &bob_token).await);
    assert_eq!(ids(&favs), vec![id.clone()]);

    let r = act(url("reblog"), bob_token.clone()).await;
    assert_eq!(r["reblog"]["id"], id.as_str(), "{r}");
    assert_eq!(r["reblog"]["reblogs_count"], 1);
    assert_eq!(r["reblog"]["reblogged"], true);
    // Mastodon's answer says at the top level what bob did to the original: reblogged, and
    // favourited (above), not bookmarked.
    let top = |r: &Value| (r["reblogged"].clone(), r["favourited"].clone(), r["bookmarked"].clone());
    assert_eq!(top(&r), (json!(true), json!(true), json!(false)), "{r}");
    assert_eq!(r["account"]["id"], bob.as_str());
    assert_ne!(r["id"], id.as_str());
    let again = act(url("reblog"), bob_token.clone()).await;
    assert_eq!(again["id"], r["id"], "reblogging twice gives the same reblog");
    assert_eq!(top(&again), (json!(true), json!(true), json!(false)), "{again}");
    // In a timeline the reblog's own flags stay false (they are the reblog's, not the
    // original's), as Mastodon's relationships maps have them.
    let home = ok(app.get("/api/v1/timelines/home", &bob_token).await);
    let listed = home.as_array().unwrap().iter().find(|s| s["id"] == r["id"]).expect("the reblog in bob's home");
    assert_eq!(top(listed), (json!(false), json!(false), json!(false)), "{listed}");
    assert_eq!(listed["reblog"]["reblogged"], true);
    let by = ok(app.get(&url("reblogged_by"), ANON).await);
    assert_eq!(ids(&by), vec![bob.clone()]);

    let s = act(url("bookmark"), bob_token.clone()).await;
    assert_eq!(s["bookmarked"], true);
    let marks = ok(app.get("/api/v1/bookmarks", &bob_token).await);
    assert_eq!(ids(&marks), vec![id.clone()]);

    // What the author sees.
    let seen = ok(app.get(&format!("/api/v1/statuses/{id}"), &alice_token).await);
    assert_eq!(seen["favourites_count"], 1);
    assert_eq!(seen["reblogs_count"], 1);
    assert_eq!(seen["favourited"], false);
    assert_eq!(seen["bookmarked"], false);
    let seen = ok(app.get(&format!("/api/v1/statuses/{id}"), &bob_token).await);
    assert_eq!(seen["favourited"], true);
    assert_eq!(seen["reblogged"], true);
    assert_eq!(seen["bookmarked"], true);
    let anon = ok(app.get(&format!("/api/v1/statuses/{id}"), ANON).await);
    assert!(anon.get("favourited").is_none_or(Value::is_null), "{anon}");

    // Pins: only your own.
    let s = act(url("pin"), alice_token.clone()).await;
    assert_eq!(s["pinned"], true);
    let pinned = ok(app.get(&format!("/api/v1/accounts/{alice}/statuses?pinned=true"), ANON).await);
    assert_eq!(ids(&pinned), vec![id.clone()]);
    let (status, _, body) = app.post_form(&url("pin"), &bob_token, &[]).await;
    assert_eq!(status, 422, "{body}");

    // Undo everything.
    let s = act(url("unfavourite"), bob_token.clone()).await;
    assert_eq!(s["favourited"], false);
    assert_eq!(s["favourites_count"], 0);
    let s = act(url("unreblog"), bob_token.clone()).await;
    assert_eq!(s["id"], id.as_str());
    assert_eq!(s["reblogged"], false);
    assert_eq!(s["reblogs_count"], 0);
    let s = act(url("unbookmark"), bob_token.clone()).await;
    assert_eq!(s["bookmarked"], false);
    let s = act(url("unpin"), alice_token.clone()).await;
    assert_eq!(s["pinned"], false);
    assert_eq!(ok(app.get("/api/v1/bookmarks", &bob_token).await), json!([]));
    assert_eq!(ok(app.get("/api/v1/favourites", &bob_token).await), json!([]));
    let pinned = ok(app.get(&format!("/api/v1/accounts/{alice}/statuses?pinned=true"), ANON).await);
    assert_eq!(pinned, json!([]));
    // The reblog is gone from bob's profile.
    let bobs = ok(app.get(&format!("/api/v1/accounts/{bob}/statuses"), ANON).await);
    assert_eq!(bobs, json!([]));
});

both_engines!(editing_keeps_a_history, |app| async move {
    let (_, token) = app.create_user("alice").await;
    let (_, bob) = app.create_user("bob").await;
    let id = post(&app, &token, "first version").await;
    let history = ok(app.get(&format!("/api/v1/statuses/{id}/history"), ANON).await);
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");

    let edited = ok(app
        .put_form(
            &format!("/api/v1/statuses/{id}"),
            &token,
            &[("status", "second version #edited"), ("spoiler_text", "cw")],
        )
        .await);
    assert_eq!(edited["id"], id.as_str());
    assert!(edited["content"].as_str().unwrap().starts_with("<p>second version"), "{edited}");
    assert_eq!(edited["spoiler_text"], "cw");
    assert!(edited["edited_at"].is_string(), "{edited}");
    assert_eq!(edited["tags"][0]["name"], "edited");

    let history = ok(app.get(&format!("/api/v1/statuses/{id}/history"), ANON).await);
    let entries = history.as_array().unwrap();
    assert_eq!(entries.len(), 2, "{history}");
    assert_eq!(entries[0]["content"], "<p>first version</p>");
    assert_eq!(entries[0]["spoiler_text"], "");
    assert!(entries[1]["content"].as_str().unwrap().contains("second version"));
    assert_eq!(entries[1]["spoiler_text"], "cw");
    assert_eq!(entries[1]["account"]["username"], "alice");

    let source = ok(app.get(&format!("/api/v1/statuses/{id}/source"), &token).await);
    assert_eq!(source, json!({"id": id, "text": "second version #edited", "spoiler_text": "cw"}));

    // A JSON edit, then a third history entry.
    let edited = ok(app.put_json(&format!("/api/v1/statuses/{id}"), &token, &json!({"status": "third"})).await);
    assert_eq!(edited["content"], "<p>third</p>");
    let history = ok(app.get(&format!("/api/v1/statuses/{id}/history"), ANON).await);
    assert_eq!(history.as_array().unwrap().len(), 3);

    // Only the author edits.
    let (status, _, _) = app.put_form(&format!("/api/v1/statuses/{id}"), &bob, &[("status", "mine now")]).await;
    assert_eq!(status, 404);
    let shown = ok(app.get(&format!("/api/v1/statuses/{id}"), ANON).await);
    assert_eq!(shown["content"], "<p>third</p>");
});

// The response shows the status as it was before it went: its poll, what its author had done
// to it, and the author's count with it (the rows are gone once the deletion commits).
both_engines!(a_deleted_status_is_shown_as_it_was, |app| async move {
    let (_, token) = app.create_user("alice").await;
    let pairs = [
        ("status", "Which one?"),
        ("poll[expires_in]", "3600"),
        ("poll[options][]", "this"),
        ("poll[options][]", "that"),
    ];
    let id = post_status(&app, &token, &pairs).await["id"].as_str().unwrap().to_string();
    for action in ["favourite", "bookmark", "pin"] {
        ok(app.post_form(&format!("/api/v1/statuses/{id}/{action}"), &token, &[]).await);
    }
    let deleted = ok(app.delete(&format!("/api/v1/statuses/{id}"), &token).await);
    assert_eq!(deleted["text"], "Which one?");
    assert_eq!(deleted["poll"]["options"][1]["title"], "that");
    assert_eq!(deleted["poll"]["voted"], true);
    assert_eq!(
        (&deleted["favourited"], &deleted["bookmarked"], &deleted["pinned"]),
        (&json!(true), &json!(true), &json!(true))
    );
    assert_eq!(deleted["favourites_count"], 1);
    assert_eq!(deleted["account"]["statuses_count"], 1);
});

both_engines!(deleting_returns_the_source_text, |app| async move {
    let (alice, token) = app.create_user("alice").await;
    let (_, bob) = app.create_user("bob").await;
    let id = post(&app, &token, "to be deleted, @bob #gone").await;
    ok(app.post_form(&format!("/api/v1/statuses/{id}/reblog"), &bob, &[]).await);
    let (status, _, _) = app.delete(&format!("/api/v1/statuses/{id}"), &bob).await;
    assert_eq!(status, 404, "only the author deletes");

    let deleted = ok(app.delete(&format!("/api/v1/statuses/{id}"), &token).await);
    assert_eq!(deleted["id"], id.as_str());
    assert_eq!(deleted["text"], "to be deleted, @bob #gone");
    assert!(deleted["content"].as_str().unwrap().contains("to be deleted"));
    let (status, _, body) = app.get(&format!("/api/v1/statuses/{id}"), &token).await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({"error": "Record not found"}));
    let me = ok(app.get(&format!("/api/v1/accounts/{alice}"), ANON).await);
    assert_eq!(me["statuses_count"], 0);
    // The reblog went with it.
    assert_eq!(ok(app.get("/api/v1/timelines/home", &bob).await), json!([]));
    let (status, _, _) = app.delete(&format!("/api/v1/statuses/{id}"), &token).await;
    assert_eq!(status, 404);
});

both_engines!(visibility_rules, |app| async move {
    let (alice, alice_token) = app.create_user("alice").await;
    let (bob, follower) = app.create_user("bob").await;
    let (_, stranger) = app.create_user("carol").await;
    follow(&app, &follower, &alice).await;

    let private =
        post_status(&app, &alice_token, &[("status", "followers only"), ("visibility", "private")]).await["id"]
            .as_str()
            .unwrap()
            .to_string();
    let direct = post_status(&app, &alice_token, &[("status", "@carol just for you"), ("visibility", "direct")]).await
        ["id"]
        .as_str()
        .unwrap()
        .to_string();
    let unlisted = post_status(&app, &alice_token, &[("status", "quiet"), ("visibility", "unlisted")]).await["id"]
        .as_str()
        .unwrap()
        .to_string();

    let get = |id: String, token: Option<String>| {
        let app = &app;
        async move { app.get(&format!("/api/v1/statuses/{id}"), token).await.0 }
    };
    // Private: the author and followers.
    assert_eq!(get(private.clone(), Some(alice_token.clone())).await, 200);
    assert_eq!(get(private.clone(), Some(follower.clone())).await, 200);
    assert_eq!(get(private.clone(), Some(stranger.clone())).await, 404);
    assert_eq!(get(private.clone(), None).await, 404);
    // Direct: the author and those mentioned.
    assert_eq!(get(direct.clone(), Some(alice_token.clone())).await, 200);
    assert_eq!(get(direct.clone(), Some(stranger.clone())).await, 200);
    assert_eq!(get(direct.clone(), Some(follower.clone())).await, 404);
    assert_eq!(get(direct.clone(), None).await, 404);
    // Unlisted: anyone with the link.
    assert_eq!(get(unlisted.clone(), None).await, 200);

    // Context, favourites and replies follow the same rule.
    let (status, _, _) = app.get(&format!("/api/v1/statuses/{private}/context"), &stranger).await;
    assert_eq!(status, 404);
    let (status, _, _) = app.post_form(&format!("/api/v1/statuses/{private}/favourite"), &stranger, &[]).await;
    assert_eq!(status, 404);
    // Nobody but the author reblogs a private status.
    let (status, _, _) = app.post_form(&format!("/api/v1/statuses/{private}/reblog"), &follower, &[]).await;
    assert_eq!(status, 403);

    // Feeds: the follower's home has the private one and not the direct one.
    let home = ok(app.get("/api/v1/timelines/home", &follower).await);
    assert_eq!(ids(&home), vec![unlisted.clone(), private.clone()]);
    // The public timeline has none of them.
    assert_eq!(ok(app.get("/api/v1/timelines/public", ANON).await), json!([]));
    // Profiles show what the viewer may see.
    let seen = |token: Option<String>| {
        let app = &app;
        let alice = alice.clone();
        async move { ids(&ok(app.get(&format!("/api/v1/accounts/{alice}/statuses"), token).await)) }
    };
    assert_eq!(seen(None).await, vec![unlisted.clone()]);
    assert_eq!(seen(Some(follower.clone())).await, vec![unlisted.clone(), private.clone()]);
    assert_eq!(seen(Some(stranger.clone())).await, vec![unlisted.clone(), direct.clone()]);
    assert_eq!(seen(Some(alice_token.clone())).await, vec![unlisted.clone(), direct.clone(), private.clone()]);
    let _ = bob;
});

// Mastodon (Status#increment_counter_caches): direct statuses are not counted in
// statuses_count, and only public and unlisted replies count in replies_count.
both_engines!(direct_statuses_and_private_replies_are_not_counted, |app| async move {
    let (alice, token) = app.create_user("alice").await;
    let root = post(&app, &token, "root").await;
    post_status(&app, &token, &[("status", "dm"), ("visibility", "direct")]).await;
    post_status(&app, &token, &[("status", "private reply"), ("visibility", "private"), ("in_reply_to_id", &root)])
        .await;
    post_status(&app, &token, &[("status", "unlisted reply"), ("visibility", "unlisted"), ("in_reply_to_id", &root)])
        .await;
    let me = ok(app.get(&format!("/api/v1/accounts/{alice}"), ANON).await);
    assert_eq!(me["statuses_count"], 3, "direct statuses are not counted: {me}");
    let r = ok(app.get(&format!("/api/v1/statuses/{root}"), ANON).await);
    assert_eq!(r["replies_count"], 1, "only distributable replies count: {r}");
});

both_engines!(pins_are_limited_to_five, |app| async move {
    let (_, token) = app.create_user("alice").await;
    for i in 0..6 {
        let id = post(&app, &token, &format!("pin {i}")).await;
        let (status, _, body) = app.post_form(&format!("/api/v1/statuses/{id}/pin"), &token, &[]).await;
        if i < 5 {
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["pinned"], true);
        } else {
            assert_eq!(status, 422, "{body}");
        }
    }
    let private = post_status(&app, &token, &[("status", "p"), ("visibility", "private")]).await;
    let (status, _, body) =
        app.post_form(&format!("/api/v1/statuses/{}/pin", private["id"].as_str().unwrap()), &token, &[]).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"], "Validation failed: You have already pinned the maximum number of posts");
});

// Mastodon's StatusPinValidator refuses a boost, someone else's post and a direct post; a
// followers-only post may be pinned (and is seen pinned by those who see it).
both_engines!(a_followers_only_post_may_be_pinned_a_direct_post_or_a_boost_not, |app| async move {
    let (alice_id, alice) = app.create_user("alice").await;
    let (_, follower) = app.create_user("follower").await;
    let (_, stranger) = app.create_user("stranger").await;
    follow(&app, &follower, &alice_id).await;
    let pin = |id: String, token: String| {
        let app = &app;
        async move { app.post_form(&format!("/api/v1/statuses/{id}/pin"), &token, &[]).await }
    };
    let id_of = |v: Value| v["id"].as_str().unwrap().to_string();

    let private = id_of(post_status(&app, &alice, &[("status", "for my followers"), ("visibility", "private")]).await);
    let (status, _, body) = pin(private.clone(), alice.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["pinned"].as_bool(), body["visibility"].as_str()), (Some(true), Some("private")), "{body}");
    let pinned_for = |token: Option<String>| {
        let app = &app;
        let path = format!("/api/v1/accounts/{alice_id}/statuses?pinned=true");
        async move { ids(&ok(app.get(&path, token.as_deref()).await)) }
    };
    assert_eq!(pinned_for(Some(follower.clone())).await, vec![private.clone()]);
    assert_eq!(pinned_for(Some(alice.clone())).await, vec![private.clone()]);
    assert_eq!(pinned_for(Some(stranger.clone())).await, Vec::<String>::new());
    assert_eq!(pinned_for(None).await, Vec::<String>::new());

    let refused = |status: StatusCode, body: &Value, message: &str| {
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"], format!("Validation failed: {message}"));
    };
    let direct = id_of(post_status(&app, &alice, &[("status", "@follower psst"), ("visibility", "direct")]).await);
    let (status, _, body) = pin(direct, alice.clone()).await;
    refused(status, &body, "Posts that are only visible to mentioned users cannot be pinned");
    let public = post(&app, &alice, "public").await;
    let (status, _, body) = pin(public.clone(), follower.clone()).await;
    refused(status, &body, "Someone else's post cannot be pinned");
    let own_boost = id_of(ok(app.post_form(&format!("/api/v1/statuses/{public}/reblog"), &alice, &[]).await));
    let (status, _, body) = pin(own_boost, alice.clone()).await;
    refused(status, &body, "A boost cannot be pinned");
    let boost = id_of(ok(app.post_form(&format!("/api/v1/statuses/{public}/reblog"), &follower, &[]).await));
    let (status, _, body) = pin(boost, follower.clone()).await;
    refused(status, &body, "A boost cannot be pinned");
    assert_eq!(pinned_for(Some(alice.clone())).await, vec![private]);
});

both_engines!(acting_on_a_reblog_acts_on_the_original, |app| async move {
    let (_, alice) = app.create_user("alice").await;
    let (_, bob) = app.create_user("bob").await;
    let (_, carol) = app.create_user("carol").await;
    let original = post(&app, &alice, "original").await;
    let reblog = ok(app.post_form(&format!("/api/v1/statuses/{original}/reblog"), &bob, &[]).await);
    let reblog_id = reblog["id"].as_str().unwrap();
    let s = ok(app.post_form(&format!("/api/v1/statuses/{reblog_id}/favourite"), &carol, &[]).await);
    assert_eq!(s["id"], original.as_str());
    assert_eq!(s["favourites_count"], 1);
    let again = ok(app.post_form(&format!("/api/v1/statuses/{reblog_id}/reblog"), &carol, &[]).await);
    assert_eq!(again["reblog"]["id"], original.as_str());
    assert_eq!(again["reblog"]["reblogs_count"], 2);
    // The reblog as seen on its own: wraps the original, no content of its own.
    let shown = ok(app.get(&format!("/api/v1/statuses/{reblog_id}"), &carol).await);
    assert_eq!(shown["reblog"]["id"], original.as_str());
    assert_eq!(shown["reblog"]["favourited"], true);
    assert_eq!(shown["content"], "");
    assert!(shown["url"].is_null());
});

// Retried requests with one Idempotency-Key may arrive together; one status must come of them.
// (A race: repeated so that it shows on PostgreSQL, where requests really run at once.)
both_engines!(concurrent_requests_with_one_idempotency_key_make_one_status, |app| async move {
    let (alice, token) = app.create_user("alice").await;
    for round in 0..5 {
        let key = format!("key-{round}");
        let headers = [("idempotency-key", key.as_str())];
        let form = [("status", "retried")];
        let send = || app.form(Method::POST, "/api/v1/statuses", &token, &form, &headers);
        let (a, b, c) = tokio::join!(send(), send(), send());
        for r in [&a, &b, &c] {
            assert_eq!(r.0, 200, "{}", r.2);
        }
        assert!(
            a.2["id"] == b.2["id"] && b.2["id"] == c.2["id"],
            "round {round}: several statuses for one idempotency key: {} {} {}",
            a.2["id"],
            b.2["id"],
            c.2["id"]
        );
    }
    let me = ok(app.get(&format!("/api/v1/accounts/{alice}"), ANON).await);
    assert_eq!(me["statuses_count"], 5);
});

// Reblogging is idempotent, also when requests race.
both_engines!(concurrent_reblogs_make_one_reblog, |app| async move {
    let (_, alice) = app.create_user("alice").await;
    let (bob_id, bob) = app.create_user("bob").await;
    let id = post(&app, &alice, "reblog me").await;
    let path = format!("/api/v1/statuses/{id}/reblog");
    for round in 0..3 {
        let (a, b, c) = tokio::join!(
            app.post_form(&path, &bob, &[]),
            app.post_form(&path, &bob, &[]),
            app.post_form(&path, &bob, &[])
        );
        for r in [&a, &b, &c] {
            assert_eq!(r.0, 200, "{}", r.2);
        }
        assert!(
            a.2["id"] == b.2["id"] && b.2["id"] == c.2["id"],
            "round {round}: several reblogs of one status by one account"
        );
        let original = ok(app.get(&format!("/api/v1/statuses/{id}"), ANON).await);
        assert_eq!(original["reblogs_count"], 1);
        let bobs = ok(app.get(&format!("/api/v1/accounts/{bob_id}/statuses"), ANON).await);
        assert_eq!(bobs.as_array().unwrap().len(), 1);
        ok(app.post_form(&format!("/api/v1/statuses/{id}/unreblog"), &bob, &[]).await);
    }
});
