//! `POST /api/v1/reports`, and what moderators then see (`reports::list`).

use crate::support::*;

both_engines!(a_report_names_an_account_and_its_statuses, |app| async move {
    let (_, reporter) = app.create_user("reporter").await;
    let (target_id, target) = app.create_user("troll").await;
    let (_, other) = app.create_user("bystander").await;
    let bad = post(&app, &target, "something bad").await;
    let unrelated = post(&app, &other, "something fine").await;

    let (status, _, body) = app
        .post_form(
            "/api/v1/reports",
            &reporter,
            &[("account_id", &target_id), ("status_ids[]", &bad), ("comment", "please look"), ("category", "spam")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let r = body;
    assert_eq!(r["target_account"]["id"], target_id.as_str());
    assert_eq!((r["category"].as_str(), r["comment"].as_str()), (Some("spam"), Some("please look")));
    assert_eq!(r["status_ids"], serde_json::json!([bad]));
    assert_eq!((r["action_taken"].as_bool(), r["forwarded"].as_bool()), (Some(false), Some(false)));
    assert!(r["action_taken_at"].is_null());

    // Moderators see it, with who reported whom.
    let listed = ferrodon_service::reports::list(&app.svc, false, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].1.as_str(), listed[0].2.as_str()), ("reporter", "troll"));
    assert_eq!(listed[0].0.id.to_string(), r["id"].as_str().unwrap());

    // Without a category: other.
    let (status, _, body) = app.post_form("/api/v1/reports", &reporter, &[("account_id", &target_id)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["category"], "other", "{body}");

    // Errors, each leaving nothing behind.
    let cases: Vec<(Vec<(&str, &str)>, u16)> = vec![
        (vec![], 404),
        (vec![("account_id", "123456789")], 404),
        (vec![("account_id", &target_id), ("status_ids[]", &unrelated)], 404),
        (vec![("account_id", &target_id), ("category", "annoying")], 422),
        (vec![("account_id", &target_id), ("rule_ids[]", "1")], 422),
    ];
    let long = "x".repeat(1001);
    let mut cases = cases;
    cases.push((vec![("account_id", &target_id), ("comment", &long)], 422));
    for (pairs, expected) in cases {
        let (status, _, body) = app.post_form("/api/v1/reports", &reporter, &pairs).await;
        assert_eq!(status, expected, "{pairs:?}: {body}");
        assert!(body["error"].is_string(), "{body}");
    }
    assert_eq!(ferrodon_service::reports::list(&app.svc, true, 10).await.unwrap().len(), 2);

    // The scope is write:reports.
    let (_, read_only) = app.create_user_with_scopes("reader", "read").await;
    let (status, _, _) = app.post_form("/api/v1/reports", &read_only, &[("account_id", &target_id)]).await;
    assert_eq!(status, 403);
});
