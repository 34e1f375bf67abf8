//! Notifications: the v1 list with its filters, dismiss and clear, markers and the unread
//! count, and v2 grouped notifications.

use crate::support::*;

fn types(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|n| n["type"].as_str().unwrap().to_string())
        .collect()
}

both_engines!(v1_list_filters_dismiss_and_clear, |app| async move {
    let (alice_id, alice) = app.create_user("alice").await;
    let (bob_id, bob) = app.create_user("bob").await;
    let status = post(&app, &alice, "notify me").await;
    follow(&app, &bob, &alice_id).await;
    ok(app.post_form(&format!("/api/v1/statuses/{status}/favourite"), &bob, &[]).await);
    ok(app.post_form(&format!("/api/v1/statuses/{status}/reblog"), &bob, &[]).await);
    let mention = post(&app, &bob, "hey @alice").await;

    let all = ok(app.get("/api/v1/notifications", &alice).await);
    assert_eq!(types(&all), vec!["mention", "reblog", "favourite", "follow"]);
    for n in all.as_array().unwrap() {
        assert_eq!(n["account"]["id"], bob_id.as_str(), "{n}");
        assert!(n["created_at"].as_str().unwrap().ends_with('Z'));
        assert!(n["group_key"].is_string(), "{n}");
    }
    assert_eq!(all[0]["status"]["id"], mention.as_str());
    assert_eq!(all[1]["status"]["id"], status.as_str());
    assert_eq!(all[2]["status"]["id"], status.as_str());
    assert_eq!(all[2]["status"]["favourites_count"], 1);
    assert!(all[3].get("status").is_none_or(Value::is_null), "{}", all[3]);

    let only = |q: &'static str| {
        let app = &app;
        let alice = alice.clone();
        async move { types(&ok(app.get(&format!("/api/v1/notifications?{q}"), &alice).await)) }
    };
    assert_eq!(only("types[]=mention").await, vec!["mention"]);
    assert_eq!(only("types[]=favourite&types[]=reblog").await, vec!["reblog", "favourite"]);
    assert_eq!(only("exclude_types[]=follow&exclude_types[]=mention").await, vec!["reblog", "favourite"]);
    assert_eq!(only("types[]=poll").await, Vec::<String>::new());
    assert_eq!(only("limit=2").await, vec!["mention", "reblog"]);
    assert_eq!(only("account_id=1").await, Vec::<String>::new(), "account_id filters by sender");

    // Paging with min_id / max_id and the Link header.
    let all_ids = ids(&all);
    let (_, headers, page) = app.get("/api/v1/notifications?limit=2", &alice).await;
    let next = link(&headers, "next").unwrap();
    assert_eq!(query_param(&next, "max_id").as_deref(), Some(all_ids[1].as_str()));
    let rest = ok(app.get(&path_of(&next), &alice).await);
    assert_eq!(ids(&rest), all_ids[2..].to_vec());
    let above = ok(app.get(&format!("/api/v1/notifications?min_id={}&limit=2", all_ids[3]), &alice).await);
    assert_eq!(ids(&above), vec![all_ids[1].clone(), all_ids[2].clone()]);
    assert_eq!(ids(&page), all_ids[..2].to_vec());

    // One notification; dismiss it.
    let fav_id = all[2]["id"].as_str().unwrap().to_string();
    let one = ok(app.get(&format!("/api/v1/notifications/{fav_id}"), &alice).await);
    assert_eq!(one["type"], "favourite");
    let (status_code, _, _) = app.get(&format!("/api/v1/notifications/{fav_id}"), &bob).await;
    assert_eq!(status_code, 404, "not bob's notification");
    assert_eq!(ok(app.post_form(&format!("/api/v1/notifications/{fav_id}/dismiss"), &alice, &[]).await), json!({}));
    let (status_code, _, body) = app.get(&format!("/api/v1/notifications/{fav_id}"), &alice).await;
    assert_eq!(status_code, 404, "{body}");
    assert_eq!(only("").await, vec!["mention", "reblog", "follow"]);

    // Unread count follows the notifications marker.
    assert_eq!(ok(app.get("/api/v1/notifications/unread_count", &alice).await), json!({"count": 3}));
    let markers = ok(app.post_form("/api/v1/markers", &alice, &[("notifications[last_read_id]", &all_ids[1])]).await);
    assert_eq!(markers["notifications"]["last_read_id"], all_ids[1].as_str());
    assert_eq!(markers["notifications"]["version"], 1);
    assert_eq!(ok(app.get("/api/v1/notifications/unread_count", &alice).await), json!({"count": 1}));
    let markers = ok(app
        .post_form(
            "/api/v1/markers",
            &alice,
            &[("notifications[last_read_id]", &all_ids[0]), ("home[last_read_id]", &status)],
        )
        .await);
    assert_eq!(markers["notifications"]["version"], 2);
    assert_eq!(markers["home"]["version"], 1);
    let shown = ok(app.get("/api/v1/markers?timeline[]=home", &alice).await);
    assert_eq!(shown["home"]["last_read_id"], status.as_str());
    assert!(shown.get("notifications").is_none(), "{shown}");
    assert_eq!(ok(app.get("/api/v1/notifications/unread_count", &alice).await), json!({"count": 0}));

    // Clear.
    assert_eq!(ok(app.post_form("/api/v1/notifications/clear", &alice, &[]).await), json!({}));
    assert_eq!(ok(app.get("/api/v1/notifications", &alice).await), json!([]));
    // Undoing a favourite removes its notification (checked on a fresh one).
    ok(app.post_form(&format!("/api/v1/statuses/{status}/unfavourite"), &bob, &[]).await);
    ok(app.post_form(&format!("/api/v1/statuses/{status}/favourite"), &bob, &[]).await);
    assert_eq!(only("").await, vec!["favourite"]);
    ok(app.post_form(&format!("/api/v1/statuses/{status}/unfavourite"), &bob, &[]).await);
    assert_eq!(only("").await, Vec::<String>::new());
});

both_engines!(v2_groups_favourites_of_one_status, |app| async move {
    let (_, alice) = app.create_user("alice").await;
    let (bob_id, bob) = app.create_user("bob").await;
    let (carol_id, carol) = app.create_user("carol").await;
    let status = post(&app, &alice, "like me").await;
    ok(app.post_form(&format!("/api/v1/statuses/{status}/favourite"), &bob, &[]).await);
    ok(app.post_form(&format!("/api/v1/statuses/{status}/favourite"), &carol, &[]).await);
    let mention = post(&app, &bob, "@alice hello").await;

    let (code, headers, body) = app.get("/api/v2/notifications", &alice).await;
    assert_eq!(code, 200, "{body}");
    let groups = body["notification_groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{body}");
    // Newest first: the mention, then the favourites folded into one group.
    assert_eq!(groups[0]["type"], "mention");
    assert_eq!(groups[0]["notifications_count"], 1);
    assert_eq!(groups[0]["status_id"], mention.as_str());
    assert!(groups[0]["group_key"].as_str().unwrap().starts_with("ungrouped-"));
    // An integer here, unlike every other id: Mastodon's own JSON, which the iOS app relies on.
    assert!(groups[0]["most_recent_notification_id"].is_number(), "{body}");
    assert_eq!(groups[0]["most_recent_notification_id"].to_string(), groups[0]["page_max_id"].as_str().unwrap());
    let favs = &groups[1];
    assert_eq!(favs["type"], "favourite");
    assert_eq!(favs["notifications_count"], 2, "{body}");
    assert_eq!(favs["status_id"], status.as_str());
    assert_eq!(favs["sample_account_ids"], json!([carol_id, bob_id]));
    assert!(!favs["group_key"].as_str().unwrap().starts_with("ungrouped-"));
    assert!(favs["latest_page_notification_at"].is_string());
    // The accounts and statuses the groups refer to come along, once each.
    let mut accounts = ids(&body["accounts"]);
    accounts.sort();
    let mut want = vec![bob_id.clone(), carol_id.clone()];
    want.sort();
    assert_eq!(accounts, want);
    let mut statuses = ids(&body["statuses"]);
    statuses.sort();
    let mut want = vec![status.clone(), mention.clone()];
    want.sort();
    assert_eq!(statuses, want);
    assert!(link(&headers, "prev").is_some());

    // Grouping only reblogs: the favourites come apart.
    let body = ok(app.get("/api/v2/notifications?grouped_types[]=reblog", &alice).await);
    let groups = body["notification_groups"].as_array().unwrap();
    assert_eq!(groups.len(), 3, "{body}");
    assert!(groups.iter().all(|g| g["notifications_count"] == 1));
    // Filters apply before grouping.
    let body = ok(app.get("/api/v2/notifications?types[]=favourite", &alice).await);
    assert_eq!(body["notification_groups"].as_array().unwrap().len(), 1);
    assert_eq!(body["notification_groups"][0]["notifications_count"], 2);
    let body = ok(app.get("/api/v2/notifications?exclude_types[]=favourite&exclude_types[]=mention", &alice).await);
    assert_eq!(body["notification_groups"], json!([]));
});

// Mastodon (Notification.browserable): `types[]` are intersected with the known types, so a
// type the server does not know selects nothing rather than everything.
both_engines!(unknown_types_select_nothing, |app| async move {
    let (alice, alice_token) = app.create_user("alice").await;
    let (_, bob) = app.create_user("bob").await;
    follow(&app, &bob, &alice).await;
    let notes = ok(app.get("/api/v1/notifications?types[]=quote", &alice_token).await);
    assert_eq!(notes, json!([]), "an unknown type matched everything");
    let notes = ok(app.get("/api/v1/notifications?types[]=quote&types[]=follow", &alice_token).await);
    assert_eq!(types(&notes), vec!["follow"]);
    // Unknown excluded types are simply ignored.
    let notes = ok(app.get("/api/v1/notifications?exclude_types[]=quote", &alice_token).await);
    assert_eq!(types(&notes), vec!["follow"]);
});

// In v2 `limit` counts groups (reference §3: "v2 counts groups"), and a group's count covers
// its notifications, not only those that fit in the first `limit` rows.
both_engines!(v2_limit_counts_groups, |app| async move {
    let (_, alice) = app.create_user("alice").await;
    let status = post(&app, &alice, "popular").await;
    let mut fans = Vec::new();
    for name in ["bob", "carol", "dave"] {
        let (id, token) = app.create_user(name).await;
        ok(app.post_form(&format!("/api/v1/statuses/{status}/favourite"), &token, &[]).await);
        fans.push((id, token));
    }
    post(&app, &fans[0].1, "@alice look").await;

    let body = ok(app.get("/api/v2/notifications?limit=2", &alice).await);
    let groups = body["notification_groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{body}");
    assert_eq!(groups[0]["type"], "mention");
    assert_eq!(groups[1]["type"], "favourite");
    assert_eq!(groups[1]["notifications_count"], 3, "{body}");
    assert_eq!(groups[1]["sample_account_ids"].as_array().unwrap().len(), 3);
});
