//! Errors as Mastodon clients expect them: statuses and `{"error": …}` bodies.

use crate::support::*;

both_engines!(missing_or_bad_tokens_are_401, |app| async move {
    let (status, _, body) = app.get("/api/v1/accounts/verify_credentials", ANON).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    let (status, _, body) = app.get("/api/v1/accounts/verify_credentials", "not-a-real-token").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body, json!({"error": "The access token is invalid"}));
    // Even on endpoints that work anonymously, a bad token is refused.
    let (status, _, _) = app.get("/api/v1/timelines/public", "not-a-real-token").await;
    assert_eq!(status, 401);
    let (status, _, _) = app.post_form("/api/v1/statuses", ANON, &[("status", "who am I")]).await;
    assert_eq!(status, 401);
    // The legacy access_token query parameter is honoured.
    let (_, token) = app.create_user("alice").await;
    let me = ok(app.get(&format!("/api/v1/accounts/verify_credentials?access_token={token}"), ANON).await);
    assert_eq!(me["username"], "alice");
});

both_engines!(unknown_records_are_404, |app| async move {
    let (_, token) = app.create_user("alice").await;
    let not_found = json!({"error": "Record not found"});
    for path in [
        "/api/v1/statuses/123456789",
        "/api/v1/statuses/not-a-number",
        "/api/v1/statuses/123456789/context",
        "/api/v1/accounts/123456789",
        "/api/v1/accounts/123456789/statuses",
        "/api/v1/polls/123456789",
        "/api/v1/notifications/123456789",
        "/api/v1/no/such/endpoint",
    ] {
        let (status, _, body) = app.get(path, &token).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body, not_found, "{path}");
    }
    for path in [
        "/api/v1/statuses/123456789/favourite",
        "/api/v1/statuses/123456789/reblog",
        "/api/v1/accounts/123456789/block",
    ] {
        let (status, _, body) = app.post_form(path, &token, &[]).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body, not_found, "{path}");
    }
    let (status, _, body) = app.delete("/api/v1/statuses/123456789", &token).await;
    assert_eq!(status, 404);
    assert_eq!(body, not_found);
});

both_engines!(search_needs_q, |app| async move {
    let (alice, token) = app.create_user("alice").await;
    post(&app, &token, "about #searching").await;
    let (status, _, body) = app.get("/api/v2/search", &token).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains('q'), "{body}");
    let (status, _, _) = app.get("/api/v2/search?q=", &token).await;
    assert_eq!(status, 400);

    let found = ok(app.get("/api/v2/search?q=ali", &token).await);
    assert_eq!(ids(&found["accounts"]), vec![alice]);
    assert_eq!(found["statuses"], json!([]));
    let found = ok(app.get("/api/v2/search?q=%23search&type=hashtags", &token).await);
    assert_eq!(found["accounts"], json!([]));
    assert_eq!(found["hashtags"][0]["name"], "searching");
    assert_eq!(found["hashtags"][0]["url"], format!("{BASE_URL}/tags/searching"));
    // Offsets need a user and a type.
    let (status, _, _) = app.get("/api/v2/search?q=ali&offset=1", ANON).await;
    assert_eq!(status, 401);
    let (status, _, _) = app.get("/api/v2/search?q=ali&limit=-1", &token).await;
    assert_eq!(status, 400);
});

both_engines!(bad_bodies_and_parameters, |app| async move {
    let (_, token) = app.create_user("alice").await;
    // Malformed JSON.
    let r = app
        .raw(Method::POST, "/api/v1/statuses", &token, Some(("application/json", b"{\"status\": ".to_vec())), &[])
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let body = r.json();
    assert!(body["error"].as_str().unwrap().starts_with("Error occurred while parsing request parameters"), "{body}");
    // JSON that is not an object.
    let (status, _, body) = app.post_json("/api/v1/statuses", &token, &json!([1, 2])).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].is_string());
    // A JSON body of the wrong type for a field.
    let (status, _, body) = app
        .post_json(
            "/api/v1/statuses",
            &token,
            &json!({"status": "x", "poll": {"options": ["a", "b"], "expires_in": "soon"}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    // A valid JSON body works, with booleans and nested objects.
    let s = ok(app
        .post_json(
            "/api/v1/statuses",
            &token,
            &json!({"status": "json", "visibility": "unlisted", "sensitive": true,
                    "poll": {"options": ["a", "b"], "expires_in": 600, "multiple": true}}),
        )
        .await);
    assert_eq!(s["visibility"], "unlisted");
    assert_eq!(s["sensitive"], true);
    assert_eq!(s["poll"]["multiple"], true);
    // Blank text is a validation error, not a parse error.
    let (status, _, body) = app.post_json("/api/v1/statuses", &token, &json!({})).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("Text can't be blank"), "{body}");
    // Bad paging parameters.
    let (status, _, _) = app.get("/api/v1/timelines/home?limit=abc", &token).await;
    assert_eq!(status, 400);
    // An attachment that does not exist: a clear 422.
    let (status, _, body) = app.post_form("/api/v1/statuses", &token, &[("status", "x"), ("media_ids[]", "1")]).await;
    assert_eq!(status, 422, "{body}");
});
