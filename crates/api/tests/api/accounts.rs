//! Accounts: credentials, profile updates, lookup, relationships, follows, follow requests,
//! blocks and mutes.

use crate::support::*;

async fn account(app: &TestApp, token: &str, id: &str) -> Value {
    ok(app.get(&format!("/api/v1/accounts/{id}"), token).await)
}

async fn relationship(app: &TestApp, token: &str, id: &str) -> Value {
    let body = ok(app.get(&format!("/api/v1/accounts/relationships?id[]={id}"), token).await);
    assert_eq!(body.as_array().unwrap().len(), 1, "{body}");
    body[0].clone()
}

both_engines!(verify_credentials_has_source, |app| async move {
    let (id, token) = app.create_user("alice").await;
    let me = ok(app.get("/api/v1/accounts/verify_credentials", &token).await);
    assert_eq!(me["id"], id.as_str());
    assert_eq!(me["username"], "alice");
    assert_eq!(me["acct"], "alice");
    assert_eq!(me["url"], format!("{BASE_URL}/@alice"));
    assert_eq!(me["uri"], format!("{BASE_URL}/users/alice"));
    assert_eq!(me["display_name"], "");
    assert_eq!(me["locked"], false);
    assert_eq!(me["bot"], false);
    assert_eq!(me["statuses_count"], 0);
    assert_eq!(me["followers_count"], 0);
    assert_eq!(me["following_count"], 0);
    assert!(me["created_at"].as_str().unwrap().ends_with('Z'), "{me}");
    let source = &me["source"];
    assert_eq!(source["privacy"], "public", "{me}");
    assert_eq!(source["sensitive"], false);
    assert_eq!(source["note"], "");
    assert_eq!(source["fields"], json!([]));
    assert_eq!(source["follow_requests_count"], 0);
    assert_eq!(me["role"]["id"], "-99", "{me}");
    // Other people's view of the account has no source.
    let (_, other) = app.create_user("bob").await;
    let seen = account(&app, &other, &id).await;
    assert!(seen.get("source").is_none_or(Value::is_null), "{seen}");
    assert!(seen.get("role").is_none_or(Value::is_null), "{seen}");
});

both_engines!(update_credentials_changes_the_profile, |app| async move {
    let (bob_id, _) = app.create_user("bob").await;
    let (id, token) = app.create_user("alice").await;
    let me = ok(app
        .patch_form(
            "/api/v1/accounts/update_credentials",
            &token,
            &[
                ("display_name", "Alice A."),
                ("note", "Hi <b>there</b> & @bob #Rustacean"),
                ("fields_attributes[0][name]", "Pronouns"),
                ("fields_attributes[0][value]", "she/her"),
                ("fields_attributes[1][name]", "Site"),
                ("fields_attributes[1][value]", "<x> & y"),
                ("locked", "true"),
                ("bot", "1"),
                ("source[privacy]", "unlisted"),
                ("source[sensitive]", "true"),
                ("source[language]", "de"),
            ],
        )
        .await);
    assert_eq!(me["display_name"], "Alice A.");
    let note = me["note"].as_str().unwrap();
    assert!(note.starts_with("<p>"), "{note}");
    assert!(note.contains("&lt;b&gt;there&lt;/b&gt; &amp;"), "{note}");
    assert!(!note.contains("<b>"), "{note}");
    assert!(note.contains(&format!("href=\"{BASE_URL}/@bob\" class=\"u-url mention\"")), "{note}");
    assert!(note.to_lowercase().contains(&format!("href=\"{BASE_URL}/tags/rustacean\"")), "{note}");
    assert_eq!(me["fields"][0]["name"], "Pronouns");
    assert_eq!(me["fields"][0]["value"], "she/her");
    assert_eq!(me["fields"][1]["name"], "Site");
    assert_eq!(me["fields"][1]["value"], "&lt;x&gt; &amp; y");
    assert_eq!(me["fields"].as_array().unwrap().len(), 2);
    assert_eq!(me["locked"], true);
    assert_eq!(me["bot"], true);
    assert_eq!(me["source"]["privacy"], "unlisted");
    assert_eq!(me["source"]["sensitive"], true);
    assert_eq!(me["source"]["language"], "de");
    assert_eq!(me["source"]["note"], "Hi <b>there</b> & @bob #Rustacean");
    assert_eq!(me["source"]["fields"][1]["value"], "<x> & y");

    // It is stored: verify_credentials and the public view agree.
    let again = ok(app.get("/api/v1/accounts/verify_credentials", &token).await);
    assert_eq!(again["display_name"], "Alice A.");
    assert_eq!(again["note"], me["note"]);
    assert_eq!(again["source"]["privacy"], "unlisted");
    let public = ok(app.get(&format!("/api/v1/accounts/{id}"), ANON).await);
    assert_eq!(public["locked"], true);
    assert_eq!(public["fields"], me["fields"]);
    // The posting default is used.
    let s = post_status(&app, &token, &[("status", "default visibility")]).await;
    assert_eq!(s["visibility"], "unlisted");
    assert_eq!(s["sensitive"], true);
    assert_eq!(s["language"], "de");

    // Absent fields stay; JSON bodies with an array of fields work too.
    let me = ok(app
        .patch_json(
            "/api/v1/accounts/update_credentials",
            &token,
            &json!({"fields_attributes": [{"name": "Only", "value": "one"}], "locked": false}),
        )
        .await);
    assert_eq!(me["display_name"], "Alice A.");
    assert_eq!(me["locked"], false);
    assert_eq!(me["fields"], json!([{"name": "Only", "value": "one", "verified_at": null}]));

    // Validation.
    let (status, _, body) =
        app.patch_form("/api/v1/accounts/update_credentials", &token, &[("display_name", &"x".repeat(31))]).await;
    assert_eq!(status, 422, "{body}");
    let (status, _, body) =
        app.patch_form("/api/v1/accounts/update_credentials", &token, &[("source[privacy]", "direct")]).await;
    assert_eq!(status, 422, "{body}");
    let _ = bob_id;
});

both_engines!(lookup_finds_local_accounts, |app| async move {
    let (id, token) = app.create_user("alice").await;
    for acct in ["alice", "ALICE", "@alice", "alice@localhost:3000"] {
        let found = ok(app.get(&format!("/api/v1/accounts/lookup?acct={}", percent_encode(acct)), ANON).await);
        assert_eq!(found["id"], id.as_str(), "{acct}");
        assert_eq!(found["acct"], "alice");
    }
    let (status, _, body) = app.get("/api/v1/accounts/lookup?acct=nobody", &token).await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({"error": "Record not found"}));
    let (status, _, _) = app.get("/api/v1/accounts/lookup", &token).await;
    assert_eq!(status, 400);
    // Search by prefix.
    let found = ok(app.get("/api/v1/accounts/search?q=ali", &token).await);
    assert_eq!(ids(&found), vec![id.clone()]);
});

both_engines!(follow_and_unfollow_move_counters, |app| async move {
    let (alice, alice_token) = app.create_user("alice").await;
    let (bob, bob_token) = app.create_user("bob").await;

    let rel = follow(&app, &alice_token, &bob).await;
    assert_eq!(rel["id"], bob.as_str());
    assert_eq!(rel["following"], true);
    assert_eq!(rel["showing_reblogs"], true);
    assert_eq!(rel["notifying"], false);
    assert_eq!(rel["requested"], false);
    assert_eq!(rel["followed_by"], false);

    assert_eq!(account(&app, &alice_token, &bob).await["followers_count"], 1);
    assert_eq!(account(&app, &alice_token, &alice).await["following_count"], 1);
    assert_eq!(account(&app, &alice_token, &bob).await["following_count"], 0);

    // Following again changes options, not counters.
    let rel = ok(app
        .post_form(&format!("/api/v1/accounts/{bob}/follow"), &alice_token, &[("reblogs", "false"), ("notify", "true")])
        .await);
    assert_eq!(rel["showing_reblogs"], false);
    assert_eq!(rel["notifying"], true);
    assert_eq!(account(&app, &alice_token, &bob).await["followers_count"], 1);

    // Both sides of the relationship; unknown ids are left out.
    let rels =
        ok(app.get(&format!("/api/v1/accounts/relationships?id[]={alice}&id[]=1234&id[]=abc"), &bob_token).await);
    assert_eq!(rels.as_array().unwrap().len(), 1, "{rels}");
    assert_eq!(rels[0]["id"], alice.as_str());
    assert_eq!(rels[0]["followed_by"], true);
    assert_eq!(rels[0]["following"], false);

    let followers = ok(app.get(&format!("/api/v1/accounts/{bob}/followers"), ANON).await);
    assert_eq!(ids(&followers), vec![alice.clone()]);
    let following = ok(app.get(&format!("/api/v1/accounts/{alice}/following"), ANON).await);
    assert_eq!(ids(&following), vec![bob.clone()]);

    // Follow notification for bob.
    let notes = ok(app.get("/api/v1/notifications", &bob_token).await);
    assert_eq!(notes[0]["type"], "follow", "{notes}");
    assert_eq!(notes[0]["account"]["id"], alice.as_str());

    let rel = ok(app.post_form(&format!("/api/v1/accounts/{bob}/unfollow"), &alice_token, &[]).await);
    assert_eq!(rel["following"], false);
    assert_eq!(account(&app, &alice_token, &bob).await["followers_count"], 0);
    assert_eq!(account(&app, &alice_token, &alice).await["following_count"], 0);
    let followers = ok(app.get(&format!("/api/v1/accounts/{bob}/followers"), ANON).await);
    assert_eq!(followers, json!([]));

    // Yourself and unknown accounts.
    let (status, _, _) = app.post_form(&format!("/api/v1/accounts/{alice}/follow"), &alice_token, &[]).await;
    assert_eq!(status, 403);
    let (status, _, body) = app.post_form("/api/v1/accounts/99999/follow", &alice_token, &[]).await;
    assert_eq!(status, 404, "{body}");
});

both_engines!(locked_accounts_get_follow_requests, |app| async move {
    let (alice, alice_token) = app.create_user("alice").await;
    let (bob, bob_token) = app.create_user("bob").await;
    let (carol, carol_token) = app.create_user("carol").await;
    ok(app.patch_form("/api/v1/accounts/update_credentials", &bob_token, &[("locked", "true")]).await);

    let rel = follow(&app, &alice_token, &bob).await;
    assert_eq!(rel["following"], false, "{rel}");
    assert_eq!(rel["requested"], true, "{rel}");
    follow(&app, &carol_token, &bob).await;
    assert_eq!(account(&app, &bob_token, &bob).await["followers_count"], 0);

    let requests = ok(app.get("/api/v1/follow_requests", &bob_token).await);
    let mut got = ids(&requests);
    got.sort();
    let mut want = vec![alice.clone(), carol.clone()];
    want.sort();
    assert_eq!(got, want);
    let me = ok(app.get("/api/v1/accounts/verify_credentials", &bob_token).await);
    assert_eq!(me["source"]["follow_requests_count"], 2);
    let rel = relationship(&app, &bob_token, &alice).await;
    assert_eq!(rel["requested_by"], true);
    let notes = ok(app.get("/api/v1/notifications?types[]=follow_request", &bob_token).await);
    assert_eq!(notes.as_array().unwrap().len(), 2, "{notes}");

    // Accept alice.
    let rel = ok(app.post_form(&format!("/api/v1/follow_requests/{alice}/authorize"), &bob_token, &[]).await);
    assert_eq!(rel["followed_by"], true, "{rel}");
    assert_eq!(rel["requested_by"], false, "{rel}");
    let rel = relationship(&app, &alice_token, &bob).await;
    assert_eq!(rel["following"], true);
    assert_eq!(rel["requested"], false);
    assert_eq!(account(&app, &bob_token, &bob).await["followers_count"], 1);
    assert_eq!(account(&app, &bob_token, &alice).await["following_count"], 1);
    // The request notification became a follow notification.
    let notes = ok(app.get("/api/v1/notifications", &bob_token).await);
    let from_alice: Vec<&str> = notes
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["account"]["id"] == alice.as_str())
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert_eq!(from_alice, vec!["follow"], "{notes}");

    // Reject carol.
    let rel = ok(app.post_form(&format!("/api/v1/follow_requests/{carol}/reject"), &bob_token, &[]).await);
    assert_eq!(rel["followed_by"], false);
    assert_eq!(rel["requested_by"], false);
    let rel = relationship(&app, &carol_token, &bob).await;
    assert_eq!(rel["following"], false);
    assert_eq!(rel["requested"], false);
    assert_eq!(ok(app.get("/api/v1/follow_requests", &bob_token).await), json!([]));
    // Nothing left to answer.
    let (status, _, _) = app.post_form(&format!("/api/v1/follow_requests/{carol}/authorize"), &bob_token, &[]).await;
    assert_eq!(status, 404);
});

both_engines!(blocking_removes_follows_and_hides_statuses, |app| async move {
    let (alice, alice_token) = app.create_user("alice").await;
    let (bob, bob_token) = app.create_user("bob").await;
    follow(&app, &alice_token, &bob).await;
    follow(&app, &bob_token, &alice).await;
    let bobs = post(&app, &bob_token, "bob speaking").await;
    let alices = post(&app, &alice_token, "alice speaking").await;

    let rel = ok(app.post_form(&format!("/api/v1/accounts/{bob}/block"), &alice_token, &[]).await);
    assert_eq!(rel["blocking"], true, "{rel}");
    assert_eq!(rel["following"], false, "{rel}");
    assert_eq!(rel["followed_by"], false, "{rel}");
    let rel = relationship(&app, &bob_token, &alice).await;
    assert_eq!(rel["blocked_by"], true, "{rel}");
    assert_eq!(rel["following"], false, "{rel}");
    for who in [&alice, &bob] {
        let a = account(&app, &alice_token, who).await;
        assert_eq!(a["followers_count"], 0, "{a}");
        assert_eq!(a["following_count"], 0, "{a}");
    }
    assert_eq!(ids(&ok(app.get("/api/v1/blocks", &alice_token).await)), vec![bob.clone()]);

    // Bob no longer sees alice's status; alice's feeds drop bob's.
    let (status, _, body) = app.get(&format!("/api/v1/statuses/{alices}"), &bob_token).await;
    assert_eq!(status, 404, "{body}");
    let public = ok(app.get("/api/v1/timelines/public", &alice_token).await);
    assert!(!ids(&public).contains(&bobs), "{public}");
    assert!(ids(&public).contains(&alices));
    let public = ok(app.get("/api/v1/timelines/public", &bob_token).await);
    assert!(!ids(&public).contains(&alices), "{public}");
    let home = ok(app.get("/api/v1/timelines/home", &alice_token).await);
    assert_eq!(ids(&home), vec![alices.clone()]);
    let theirs = ok(app.get(&format!("/api/v1/accounts/{alice}/statuses"), &bob_token).await);
    assert_eq!(theirs, json!([]));
    // Anonymous readers are not affected.
    let public = ok(app.get("/api/v1/timelines/public", ANON).await);
    assert_eq!(ids(&public).len(), 2);

    // Bob cannot follow back, cannot favourite or reply.
    let (status, _, _) = app.post_form(&format!("/api/v1/accounts/{alice}/follow"), &bob_token, &[]).await;
    assert_eq!(status, 403);
    let (status, _, _) = app.post_form(&format!("/api/v1/statuses/{alices}/favourite"), &bob_token, &[]).await;
    assert_eq!(status, 404);
    let (status, _, _) =
        app.post_form("/api/v1/statuses", &bob_token, &[("status", "reply"), ("in_reply_to_id", &alices)]).await;
    assert_eq!(status, 404);

    // Unblock restores visibility, not the follows.
    let rel = ok(app.post_form(&format!("/api/v1/accounts/{bob}/unblock"), &alice_token, &[]).await);
    assert_eq!(rel["blocking"], false);
    assert_eq!(rel["following"], false);
    ok(app.get(&format!("/api/v1/statuses/{alices}"), &bob_token).await);
});

both_engines!(muting_hides_from_home, |app| async move {
    let (alice, alice_token) = app.create_user("alice").await;
    let (bob, bob_token) = app.create_user("bob").await;
    follow(&app, &alice_token, &bob).await;
    let bobs = post(&app, &bob_token, "bob speaking").await;
    let alices = post(&app, &alice_token, "alice speaking").await;
    let home = ok(app.get("/api/v1/timelines/home", &alice_token).await);
    assert_eq!(ids(&home), vec![alices.clone(), bobs.clone()]);

    let rel = ok(app.post_form(&format!("/api/v1/accounts/{bob}/mute"), &alice_token, &[]).await);
    assert_eq!(rel["muting"], true, "{rel}");
    assert_eq!(rel["muting_notifications"], true, "{rel}");
    assert_eq!(rel["following"], true, "muting keeps the follow: {rel}");
    let home = ok(app.get("/api/v1/timelines/home", &alice_token).await);
    assert_eq!(ids(&home), vec![alices.clone()]);
    let public = ok(app.get("/api/v1/timelines/public", &alice_token).await);
    assert!(!ids(&public).contains(&bobs));
    // A muted account's status is still there when asked for directly.
    ok(app.get(&format!("/api/v1/statuses/{bobs}"), &alice_token).await);
    // Notifications from bob are dropped.
    ok(app.post_form(&format!("/api/v1/statuses/{alices}/favourite"), &bob_token, &[]).await);
    assert_eq!(ok(app.get("/api/v1/notifications", &alice_token).await), json!([]));
    assert_eq!(ids(&ok(app.get("/api/v1/mutes", &alice_token).await)), vec![bob.clone()]);

    // Muting without hiding notifications, with a duration.
    let rel = ok(app
        .post_form(
            &format!("/api/v1/accounts/{bob}/mute"),
            &alice_token,
            &[("notifications", "false"), ("duration", "3600")],
        )
        .await);
    assert_eq!(rel["muting_notifications"], false, "{rel}");
    assert!(rel["muting_expires_at"].is_string(), "{rel}");

    let rel = ok(app.post_form(&format!("/api/v1/accounts/{bob}/unmute"), &alice_token, &[]).await);
    assert_eq!(rel["muting"], false);
    let home = ok(app.get("/api/v1/timelines/home", &alice_token).await);
    assert_eq!(ids(&home), vec![alices, bobs]);
    let _ = alice;
});

both_engines!(profile_limits, |app| async move {
    let (_, token) = app.create_user("alice").await;
    let mut five: Vec<(String, String)> = Vec::new();
    for i in 0..5 {
        five.push((format!("fields_attributes[{i}][name]"), format!("n{i}")));
        five.push((format!("fields_attributes[{i}][value]"), format!("v{i}")));
    }
    let pairs: Vec<(&str, &str)> = five.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, _, body) = app.patch_form("/api/v1/accounts/update_credentials", &token, &pairs).await;
    assert_eq!(status, 422, "five fields: {body}");
    // Four are fine, and blank ones are dropped.
    let me = ok(app.patch_form("/api/v1/accounts/update_credentials", &token, &pairs[..8]).await);
    assert_eq!(me["fields"].as_array().unwrap().len(), 4, "{me}");
    let (status, _, body) =
        app.patch_form("/api/v1/accounts/update_credentials", &token, &[("note", &"n".repeat(501))]).await;
    assert_eq!(status, 422, "{body}");
    // Nothing was changed by the refused updates.
    let me = ok(app.get("/api/v1/accounts/verify_credentials", &token).await);
    assert_eq!(me["note"], "");
    assert_eq!(me["fields"].as_array().unwrap().len(), 4);
});

// Mastodon's AfterBlockService deletes the blocker's notifications from the blocked account.
both_engines!(blocking_clears_notifications_from_the_blocked, |app| async move {
    let (alice, alice_token) = app.create_user("alice").await;
    let (bob, bob_token) = app.create_user("bob").await;
    let status = post(&app, &alice_token, "hello").await;
    follow(&app, &bob_token, &alice).await;
    ok(app.post_form(&format!("/api/v1/statuses/{status}/favourite"), &bob_token, &[]).await);
    assert_eq!(ok(app.get("/api/v1/notifications", &alice_token).await).as_array().unwrap().len(), 2);

    ok(app.post_form(&format!("/api/v1/accounts/{bob}/block"), &alice_token, &[]).await);
    let notes = ok(app.get("/api/v1/notifications", &alice_token).await);
    assert_eq!(notes, json!([]), "notifications from a blocked account remain");
    let grouped = ok(app.get("/api/v2/notifications", &alice_token).await);
    assert_eq!(grouped["notification_groups"], json!([]));
    assert_eq!(ok(app.get("/api/v1/notifications/unread_count", &alice_token).await), json!({"count": 0}));
});

// In Mastodon a follow's notification belongs to the follow (`dependent: :destroy`).
both_engines!(unfollowing_removes_the_follow_notification, |app| async move {
    let (alice, alice_token) = app.create_user("alice").await;
    let (_, bob_token) = app.create_user("bob").await;
    follow(&app, &bob_token, &alice).await;
    let notes = ok(app.get("/api/v1/notifications", &alice_token).await);
    assert_eq!(notes[0]["type"], "follow");
    ok(app.post_form(&format!("/api/v1/accounts/{alice}/unfollow"), &bob_token, &[]).await);
    let notes = ok(app.get("/api/v1/notifications", &alice_token).await);
    assert_eq!(notes, json!([]), "the follow notification outlived the follow");
});

// A follow request's notification goes with the request when it is rejected or withdrawn.
both_engines!(answered_or_withdrawn_requests_leave_no_notification, |app| async move {
    let (bob, bob_token) = app.create_user("bob").await;
    let (alice, alice_token) = app.create_user("alice").await;
    let (_, carol_token) = app.create_user("carol").await;
    ok(app.patch_form("/api/v1/accounts/update_credentials", &bob_token, &[("locked", "1")]).await);
    follow(&app, &alice_token, &bob).await;
    follow(&app, &carol_token, &bob).await;
    assert_eq!(ok(app.get("/api/v1/notifications", &bob_token).await).as_array().unwrap().len(), 2);
    // Alice is rejected; carol withdraws.
    ok(app.post_form(&format!("/api/v1/follow_requests/{alice}/reject"), &bob_token, &[]).await);
    ok(app.post_form(&format!("/api/v1/accounts/{bob}/unfollow"), &carol_token, &[]).await);
    assert_eq!(ok(app.get("/api/v1/follow_requests", &bob_token).await), json!([]));
    let notes = ok(app.get("/api/v1/notifications", &bob_token).await);
    assert_eq!(notes, json!([]), "stale follow_request notifications: {notes}");
});

// Double-clicking "follow": concurrent requests must all succeed and make one follow. (A race:
// repeated so that it shows on PostgreSQL, where requests really run at once.)
both_engines!(concurrent_follows_are_idempotent, |app| async move {
    let (bob, _) = app.create_user("bob").await;
    let (alice, alice_token) = app.create_user("alice").await;
    let path = format!("/api/v1/accounts/{bob}/follow");
    for round in 0..5 {
        let (a, b, c) = tokio::join!(
            app.post_form(&path, &alice_token, &[]),
            app.post_form(&path, &alice_token, &[]),
            app.post_form(&path, &alice_token, &[])
        );
        for r in [a, b, c] {
            assert_eq!(r.0, 200, "round {round}: {}", r.2);
            assert_eq!(r.2["following"], true);
        }
        let me = ok(app.get(&format!("/api/v1/accounts/{alice}"), ANON).await);
        assert_eq!(me["following_count"], 1);
        let them = ok(app.get(&format!("/api/v1/accounts/{bob}"), ANON).await);
        assert_eq!(them["followers_count"], 1);
        ok(app.post_form(&format!("/api/v1/accounts/{bob}/unfollow"), &alice_token, &[]).await);
    }
});

both_engines!(registrations_follow_the_admin_setting, |app| async move {
    let client = app.create_app("read write").await;
    let body = ok(app.client_credentials(&client, Some("write:accounts")).await);
    let app_token = body["access_token"].as_str().unwrap().to_string();
    let register = |username: &'static str| {
        let app = &app;
        let app_token = app_token.clone();
        async move {
            let email = format!("{username}@example.test");
            let pairs = [
                ("username", username),
                ("email", email.as_str()),
                ("password", "a long enough password"),
                ("agreement", "true"),
                ("locale", "en"),
            ];
            app.post_form("/api/v1/accounts", &app_token, &pairs).await
        }
    };
    // Closed: nobody signs up, and the instance says so.
    ferrodon_service::settings::set_registrations_mode(&app.svc, "none").await.unwrap();
    let (status, _, body) = register("closed_door").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(ok(app.get("/api/v2/instance", None::<&str>).await)["registrations"]["enabled"], false);
    // Approval: the account is made but cannot act until approved (and confirmed).
    ferrodon_service::settings::set_registrations_mode(&app.svc, "approved").await.unwrap();
    let instance = ok(app.get("/api/v2/instance", None::<&str>).await);
    assert_eq!(
        (instance["registrations"]["enabled"].clone(), instance["registrations"]["approval_required"].clone()),
        (json!(true), json!(true))
    );
    let (status, _, body) = register("waiting").await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_string();
    let modification = ferrodon_service::accounts::Modification { confirm: false, ..Default::default() };
    ferrodon_service::accounts::modify(&app.svc, "waiting", modification).await.unwrap();
    let (status, _, body) = app.get("/api/v1/accounts/verify_credentials", &token).await;
    assert_eq!(status, 403, "{body}");
    // Open again: a new sign-up needs only its e-mail confirmation.
    ferrodon_service::settings::set_registrations_mode(&app.svc, "open").await.unwrap();
    let (status, _, body) = register("welcome").await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_string();
    let modification = ferrodon_service::accounts::Modification { confirm: true, ..Default::default() };
    ferrodon_service::accounts::modify(&app.svc, "welcome", modification).await.unwrap();
    ok(app.get("/api/v1/accounts/verify_credentials", &token).await);
});

// Mastodon checks an e-mail address with Devise's format, /\A[^@\s]+@[^@\s]+\z/, after
// stripping the whitespace around it: one @, something on each side, no whitespace inside.
both_engines!(sign_up_checks_the_e_mail_format_as_mastodon_does, |app| async move {
    let client = app.create_app("read write").await;
    let body = ok(app.client_credentials(&client, Some("write:accounts")).await);
    let app_token = body["access_token"].as_str().unwrap().to_string();
    let register = |n: usize, email: &'static str| {
        let (app, app_token) = (&app, app_token.clone());
        async move {
            let username = format!("signup{n}");
            let pairs = [
                ("username", username.as_str()),
                ("email", email),
                ("password", "a long enough password"),
                ("agreement", "true"),
                ("locale", "en"),
            ];
            app.post_form("/api/v1/accounts", &app_token, &pairs).await
        }
    };
    let accepted = ["x@localhost", "first.last+tag@sub.example.org", "üser@bücher.example", "  padded@example.test\t"];
    for (n, email) in accepted.into_iter().enumerate() {
        let (status, _, body) = register(n, email).await;
        assert_eq!(status, StatusCode::OK, "{email:?}: {body}");
    }
    // Stored without the whitespace around it: the address is taken as written plainly.
    let (status, _, body) = register(10, "padded@example.test").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["details"]["email"][0]["error"], "ERR_TAKEN", "{body}");
    let refused = ["localhost", "@localhost", "x@", "x@y@z", "x y@localhost", "x@local host", "x\n@localhost"];
    for (n, email) in refused.into_iter().enumerate() {
        let (status, _, body) = register(20 + n, email).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{email:?}: {body}");
        assert_eq!(body["details"]["email"][0]["error"], "ERR_INVALID", "{email:?}: {body}");
    }
    let (status, _, body) = register(30, "   ").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["details"]["email"][0]["error"], "ERR_BLANK", "{body}");
});

// A mute with a duration ends when it expires: from then on nothing treats it as in force,
// though the row stays until the hourly clean-up.
both_engines!(a_timed_mute_is_over_once_it_expires, |app| async move {
    let (_, alice) = app.create_user("alice").await;
    let (bob_id, bob) = app.create_user("bob").await;
    follow(&app, &alice, &bob_id).await;
    let early = post(&app, &bob, "posted while muted").await;
    let muted = ok(app.post_form(&format!("/api/v1/accounts/{bob_id}/mute"), &alice, &[("duration", "1")]).await);
    assert_eq!(
        (muted["muting"].as_bool(), muted["muting_notifications"].as_bool()),
        (Some(true), Some(true)),
        "{muted}"
    );
    assert!(muted["muting_expires_at"].is_string(), "{muted}");
    assert_eq!(ids(&ok(app.get("/api/v1/mutes", &alice).await)), vec![bob_id.clone()]);
    assert!(!ids(&ok(app.get("/api/v1/timelines/home", &alice).await)).contains(&early));

    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let rel = relationship(&app, &alice, &bob_id).await;
    assert_eq!((rel["muting"].as_bool(), rel["muting_notifications"].as_bool()), (Some(false), Some(false)), "{rel}");
    assert!(rel["muting_expires_at"].is_null(), "{rel}");
    assert_eq!(ok(app.get("/api/v1/mutes", &alice).await), json!([]));
    assert!(ids(&ok(app.get("/api/v1/timelines/home", &alice).await)).contains(&early), "bob's posts are back");
    // And bob's mentions notify alice again.
    post(&app, &bob, "@alice are you there?").await;
    let notifications = ok(app.get("/api/v1/notifications?types[]=mention", &alice).await);
    assert_eq!(notifications.as_array().map(Vec::len), Some(1), "{notifications}");
});
