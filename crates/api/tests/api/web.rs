//! The public web pages: profiles, posts, hashtags, the start and about pages, their feeds; what
//! is not public is not shown; the same addresses asked for ActivityPub answer documents.

use crate::support::*;

async fn page(app: &TestApp, path: &str) -> RawResponse {
    app.raw(Method::GET, path, ANON, None, &[("accept", "text/html")]).await
}

async fn activity(app: &TestApp, path: &str) -> RawResponse {
    app.raw(Method::GET, path, ANON, None, &[("accept", "application/activity+json")]).await
}

both_engines!(a_profile_shows_its_public_posts_and_nothing_else, |app| async move {
    let (alice, token) = app.create_user("alice").await;
    ok(app
        .patch_form(
            "/api/v1/accounts/update_credentials",
            &token,
            &[("display_name", "Alice <Wonder>"), ("note", "I write #rust")],
        )
        .await);
    let public = post_status(&app, &token, &[("status", "hello #rust world")]).await;
    post_status(&app, &token, &[("status", "only for my followers"), ("visibility", "private")]).await;
    post_status(&app, &token, &[("status", "a secret for @alice"), ("visibility", "direct")]).await;
    let pinned = post_status(&app, &token, &[("status", "pinned and older")]).await;
    let pinned_id = pinned["id"].as_str().unwrap();
    ok(app.post_form(&format!("/api/v1/statuses/{pinned_id}/pin"), &token, &[]).await);
    post_status(&app, &token, &[("status", "newest of all")]).await;

    let r = page(&app, "/@alice").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type").as_deref(), Some("text/html; charset=utf-8"));
    let html = r.text();
    assert!(html.contains("Alice &#60;Wonder&#62;") || html.contains("Alice &lt;Wonder&gt;"), "escaped name: {html}");
    assert!(!html.contains("Alice <Wonder>"));
    assert!(html.contains("hello <a"), "{html}");
    assert!(!html.contains("only for my followers") && !html.contains("a secret for"), "{html}");
    assert!(html.find("pinned and older").unwrap() < html.find("newest of all").unwrap(), "pinned first");
    assert!(
        html.contains(
            "<link rel=\"alternate\" type=\"application/activity+json\" href=\"http://localhost:3000/users/alice\">"
        ),
        "{html}"
    );
    assert!(html.contains("property=\"og:title\""));

    // Its feed: the public posts, as RSS.
    let rss = page(&app, "/@alice.rss").await;
    assert_eq!(rss.status, StatusCode::OK);
    assert_eq!(rss.header("content-type").as_deref(), Some("application/rss+xml; charset=utf-8"));
    let xml = rss.text();
    assert!(xml.starts_with("<?xml") && xml.contains("<rss version=\"2.0\""), "{xml}");
    assert!(xml.contains(&format!("http://localhost:3000/@alice/{}", public["id"].as_str().unwrap())));
    assert!(!xml.contains("only for my followers"));
    assert!(
        xml.contains("&#60;p&#62;hello") || xml.contains("&lt;p&gt;hello"),
        "HTML in the description is escaped: {xml}"
    );

    // Asked for ActivityPub: the actor.
    let actor = activity(&app, "/@alice").await;
    assert_eq!(actor.status, StatusCode::OK);
    assert_eq!(actor.json()["id"], format!("{BASE_URL}/users/alice"));
    let _ = alice;
});

both_engines!(a_post_page_shows_a_public_thread_and_hides_the_rest, |app| async move {
    let (_, alice) = app.create_user("alice").await;
    let (_, bob) = app.create_user("bob").await;
    let root = post_status(&app, &alice, &[("status", "the start of a thread")]).await;
    let root_id = root["id"].as_str().unwrap().to_string();
    post_status(&app, &bob, &[("status", "@alice a public reply"), ("in_reply_to_id", &root_id)]).await;
    post_status(
        &app,
        &bob,
        &[("status", "@alice a private reply"), ("in_reply_to_id", &root_id), ("visibility", "private")],
    )
    .await;
    let hidden = post_status(&app, &alice, &[("status", "followers only"), ("visibility", "private")]).await;

    let r = page(&app, &format!("/@alice/{root_id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = r.text();
    assert!(html.contains("the start of a thread") && html.contains("a public reply"), "{html}");
    assert!(!html.contains("a private reply"), "{html}");
    assert!(html.contains("property=\"og:description\" content=\"the start of a thread\""), "{html}");
    assert!(html.contains("application/json+oembed"), "{html}");
    // Not public: a 404 page, the same as for a post that never was.
    let hidden_id = hidden["id"].as_str().unwrap();
    assert_eq!(page(&app, &format!("/@alice/{hidden_id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(page(&app, "/@alice/1234").await.status, StatusCode::NOT_FOUND);
    // Under another account's address: not found either.
    assert_eq!(page(&app, &format!("/@bob/{root_id}")).await.status, StatusCode::NOT_FOUND);
    // Asked for ActivityPub: the Note.
    let note = activity(&app, &format!("/@alice/{root_id}")).await;
    assert_eq!(note.status, StatusCode::OK);
    assert_eq!(note.json()["type"], "Note");
    // oEmbed for the post.
    let url = format!("{BASE_URL}/@alice/{root_id}");
    let embed = ok(app.get(&format!("/api/oembed?url={}", percent_encode(&url)), ANON).await);
    assert_eq!((embed["type"].as_str(), embed["version"].as_str()), (Some("rich"), Some("1.0")));
    let (status, _, _) =
        app.get(&format!("/api/oembed?url={}", percent_encode(&format!("{BASE_URL}/@alice/{hidden_id}"))), ANON).await;
    assert_eq!(status, 404);
});

both_engines!(hashtags_the_start_page_and_the_about_pages, |app| async move {
    let (_, alice) = app.create_user("alice").await;
    post_status(&app, &alice, &[("status", "learning #Rust today")]).await;
    post_status(&app, &alice, &[("status", "quietly #rust"), ("visibility", "unlisted")]).await;
    let tag = page(&app, "/tags/rust").await;
    assert_eq!(tag.status, StatusCode::OK);
    let html = tag.text();
    assert!(html.contains("learning") && !html.contains("quietly"), "unlisted posts stay off hashtag pages: {html}");
    let rss = page(&app, "/tags/rust.rss").await;
    assert!(rss.text().contains("<category>rust</category>"), "{}", rss.text());
    let home = page(&app, "/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.text().contains("learning"), "{}", home.text());
    for path in ["/about", "/privacy-policy"] {
        let r = page(&app, path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(r.text().starts_with("<!DOCTYPE html>"), "{path}");
    }
});

both_engines!(unknown_accounts_have_a_page_that_says_so_and_disabled_logins_keep_their_profile, |app| async move {
    let (_, token) = app.create_user("leaving").await;
    post_status(&app, &token, &[("status", "soon gone")]).await;
    let r = page(&app, "/@nobody").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.text().contains("isn't here"), "{}", r.text());
    ferrodon_service::accounts::modify(
        &app.svc,
        "leaving",
        ferrodon_service::accounts::Modification { disable: true, ..Default::default() },
    )
    .await
    .unwrap();
    // A disabled login still has its public profile; a suspended account does not.
    assert_eq!(page(&app, "/@leaving").await.status, StatusCode::OK);
});

both_engines!(unconfirmed_accounts_and_other_hosts_have_no_pages, |app| async move {
    let client = app.create_app("read write").await;
    let token =
        ok(app.client_credentials(&client, Some("write:accounts")).await)["access_token"].as_str().unwrap().to_string();
    let pairs = [
        ("username", "fresh"),
        ("email", "fresh@example.test"),
        ("password", "a long enough password"),
        ("agreement", "true"),
    ];
    ok(app.post_form("/api/v1/accounts", &token, &pairs).await);
    assert_eq!(page(&app, "/@fresh").await.status, StatusCode::NOT_FOUND, "not before its address is confirmed");
    // A remote handle is never looked up for a page.
    assert_eq!(page(&app, "/@someone@elsewhere.example").await.status, StatusCode::NOT_FOUND);
    let (_, alice) = app.create_user("alice").await;
    let post = post_status(&app, &alice, &[("status", "embed me")]).await;
    let id = post["id"].as_str().unwrap();
    for url in [
        format!("{BASE_URL}.evil.example/@alice/{id}"),
        format!("{BASE_URL}/@bob/{id}"),
        format!("{BASE_URL}/x/y/{id}"),
    ] {
        let (status, _, _) = app.get(&format!("/api/oembed?url={}", percent_encode(&url)), ANON).await;
        assert_eq!(status, 404, "{url}");
    }
    ok(app.get(&format!("/api/oembed?url={}", percent_encode(&format!("{BASE_URL}/@alice/{id}/"))), ANON).await);
    // A sensitive post's content and media stay folded.
    let warned = post_status(&app, &alice, &[("status", "behind a warning"), ("spoiler_text", "spoilers")]).await;
    let html = page(&app, &format!("/@alice/{}", warned["id"].as_str().unwrap())).await.text();
    assert!(html.contains("<details><summary>spoilers</summary>"), "{html}");
});
