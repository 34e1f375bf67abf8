//! Timelines (home, public, hashtag) and paging with `max_id` / `since_id` / `min_id` and the
//! `Link` header.

use crate::support::*;

/// Compares ids as Mastodon tells clients to: longer first, then lexical.
fn newer(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

both_engines!(home_public_and_tag_timelines, |app| async move {
    let (_, alice) = app.create_user("alice").await;
    let (bob_id, bob) = app.create_user("bob").await;
    let (_, carol) = app.create_user("carol").await;
    follow(&app, &alice, &bob_id).await;

    let tagged = post(&app, &bob, "hello #Ferrodon").await;
    let unlisted = post_status(&app, &bob, &[("status", "quiet #ferrodon"), ("visibility", "unlisted")]).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let own = post(&app, &alice, "my own").await;
    let strangers = post(&app, &carol, "not followed #ferrodon").await;
    let reply_to_stranger =
        post_status(&app, &bob, &[("status", "@carol hi"), ("in_reply_to_id", &strangers)]).await["id"]
            .as_str()
            .unwrap()
            .to_string();

    // Home: own and followed, not the stranger's, not replies to people alice does not follow.
    let home = ok(app.get("/api/v1/timelines/home", &alice).await);
    assert_eq!(ids(&home), vec![own.clone(), unlisted.clone(), tagged.clone()]);
    // Home needs a user.
    let (status, _, _) = app.get("/api/v1/timelines/home", ANON).await;
    assert_eq!(status, 401);

    // Public: public statuses only, no replies to others, anonymous allowed.
    let public = ok(app.get("/api/v1/timelines/public", ANON).await);
    assert_eq!(ids(&public), vec![strangers.clone(), own.clone(), tagged.clone()]);
    let local = ok(app.get("/api/v1/timelines/public?local=true", &alice).await);
    assert_eq!(ids(&local), ids(&public));
    let remote = ok(app.get("/api/v1/timelines/public?remote=true", &alice).await);
    assert_eq!(remote, json!([]));
    assert!(!ids(&public).contains(&reply_to_stranger));

    // Tag: public statuses with the tag, case-insensitively.
    for tag in ["ferrodon", "FERRODON", "Ferrodon"] {
        let t = ok(app.get(&format!("/api/v1/timelines/tag/{tag}"), ANON).await);
        assert_eq!(ids(&t), vec![strangers.clone(), tagged.clone()], "{tag}");
    }
    assert_eq!(ok(app.get("/api/v1/timelines/tag/unused", ANON).await), json!([]));

    // Statuses carry the rendered account and content.
    assert_eq!(public[2]["account"]["username"], "bob");
    assert!(public[2]["content"].as_str().unwrap().contains("hello"));
});

both_engines!(link_header_pages_through_everything_once, |app| async move {
    let (_, token) = app.create_user("alice").await;
    let mut posted = Vec::new();
    for i in 0..7 {
        posted.push(post(&app, &token, &format!("status {i}")).await);
    }
    let newest_first: Vec<String> = posted.iter().rev().cloned().collect();

    for base in ["/api/v1/timelines/home", "/api/v1/timelines/public"] {
        let mut seen: Vec<String> = Vec::new();
        let mut path = format!("{base}?limit=3");
        let mut pages = 0;
        let mut first_page: Vec<String> = Vec::new();
        let mut second_prev: Option<String> = None;
        loop {
            let (status, headers, body) = app.get(&path, &token).await;
            assert_eq!(status, 200, "{body}");
            let page = ids(&body);
            pages += 1;
            assert!(pages <= 5, "paging does not end: {seen:?}");
            if page.is_empty() {
                assert!(link(&headers, "next").is_none(), "an empty page has no next link");
                break;
            }
            assert!(page.len() <= 3);
            let prev = link(&headers, "prev").expect("rel=prev");
            assert_eq!(query_param(&prev, "min_id").as_deref(), page.first().map(String::as_str));
            let next = link(&headers, "next");
            // A full page says where the next one is; a short one may end the list.
            if page.len() == 3 {
                assert!(next.is_some(), "a full page without rel=next");
            }
            if pages == 1 {
                first_page = page.clone();
            }
            if pages == 2 {
                second_prev = Some(prev.clone());
            }
            let last = page.last().cloned();
            seen.extend(page);
            let Some(next) = next else { break };
            assert!(next.starts_with(&format!("{BASE_URL}{base}?")), "{next}");
            assert!(next.contains("limit=3"), "other parameters are kept: {next}");
            assert_eq!(query_param(&next, "max_id"), last);
            assert!(!next.contains("access_token"));
            path = path_of(&next);
        }
        assert_eq!(seen, newest_first, "{base}: every status once, newest first");
        for w in seen.windows(2) {
            assert!(newer(&w[0], &w[1]), "{w:?}");
        }
        // The second page's prev link leads back to the first page.
        let back = ok(app.get(&path_of(&second_prev.unwrap()), &token).await);
        assert_eq!(ids(&back), first_page, "{base}");
    }

    // An account's statuses page the same way.
    let me = ok(app.get("/api/v1/accounts/verify_credentials", &token).await);
    let account = me["id"].as_str().unwrap();
    let (_, headers, body) = app.get(&format!("/api/v1/accounts/{account}/statuses?limit=4"), ANON).await;
    assert_eq!(ids(&body), newest_first[..4].to_vec());
    let next = link(&headers, "next").unwrap();
    let rest = ok(app.get(&path_of(&next), ANON).await);
    assert_eq!(ids(&rest), newest_first[4..].to_vec());
});

both_engines!(min_id_since_id_and_max_id, |app| async move {
    let (_, token) = app.create_user("alice").await;
    let mut s = Vec::new();
    for i in 0..7 {
        s.push(post(&app, &token, &format!("status {i}")).await);
    }
    // s[0] is the oldest.
    let get = |query: String| {
        let app = &app;
        let token = token.clone();
        async move { ids(&ok(app.get(&format!("/api/v1/timelines/home?{query}"), &token).await)) }
    };
    // min_id: the statuses just above it, still newest first.
    assert_eq!(get(format!("min_id={}&limit=2", s[1])).await, vec![s[3].clone(), s[2].clone()]);
    // since_id: the newest ones above it.
    assert_eq!(get(format!("since_id={}&limit=2", s[1])).await, vec![s[6].clone(), s[5].clone()]);
    // max_id: below it.
    assert_eq!(get(format!("max_id={}&limit=2", s[5])).await, vec![s[4].clone(), s[3].clone()]);
    // Both bounds.
    assert_eq!(get(format!("max_id={}&min_id={}", s[5], s[1])).await, vec![s[4].clone(), s[3].clone(), s[2].clone()]);
    // Nothing above the newest.
    assert_eq!(get(format!("min_id={}", s[6])).await, Vec::<String>::new());
    // Limits are clamped (max 40 here), negative limits are refused.
    assert_eq!(get("limit=1000".into()).await.len(), 7);
    let (status, _, _) = app.get("/api/v1/timelines/home?limit=-1", &token).await;
    assert_eq!(status, 400);
    // The public timeline honours min_id too.
    let public = ok(app.get(&format!("/api/v1/timelines/public?min_id={}&limit=3", s[0]), ANON).await);
    assert_eq!(ids(&public), vec![s[3].clone(), s[2].clone(), s[1].clone()]);
});
