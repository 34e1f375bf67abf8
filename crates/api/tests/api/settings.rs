//! The settings pages of a signed-in browser: the profile (name, bio, avatar, fields, flags).

use std::io::Cursor;

use crate::support::*;

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 4) as u8, (y * 4) as u8, 200]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

both_engines!(the_profile_page_changes_the_name_bio_avatar_and_fields, |app| async move {
    let (id, token) = app.create_user("painter").await;
    let mut browser = Browser::new();
    assert!(browser.get(&app, "/settings/profile").await.location().starts_with("/auth/sign_in?return_to="));
    let page = browser.get(&app, "/auth/sign_in").await;
    let csrf = hidden_input(&page.text(), "authenticity_token").unwrap();
    let email = email_of("painter");
    let pairs = [("authenticity_token", csrf.as_str()), ("user[email]", email.as_str()), ("user[password]", PASSWORD)];
    assert!(browser.post_form(&app, "/auth/sign_in", &pairs).await.status.is_redirection());
    let form = browser.get(&app, "/settings/profile").await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = hidden_input(&form.text(), "authenticity_token").unwrap();

    let fields = [
        ("authenticity_token", csrf.as_str()),
        ("display_name", "The Painter"),
        ("note", "I paint #colours"),
        ("fields_attributes[0][name]", "Studio"),
        ("fields_attributes[0][value]", "North light"),
        ("fields_attributes[1][name]", ""),
        ("fields_attributes[1][value]", ""),
        ("locked", "1"),
    ];
    let avatar = png(120, 90);
    let (content_type, body) = multipart_files(&fields, &[("avatar", "me.png", &avatar), ("header", "", b"")]);
    let cookie = browser.cookie.clone().unwrap();
    let saved =
        app.raw(Method::POST, "/settings/profile", ANON, Some((content_type, body)), &[("cookie", &cookie)]).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    assert!(saved.text().contains("Changes saved"));

    let me = ok(app.get(&format!("/api/v1/accounts/{id}"), &token).await);
    assert_eq!(me["display_name"], "The Painter");
    assert!(me["note"].as_str().unwrap().contains("#<span>colours</span>"), "{me}");
    assert_eq!(me["fields"].as_array().map(Vec::len), Some(1), "{me}");
    assert_eq!(me["locked"], true);
    assert_eq!(me["bot"], false);
    let avatar_url = me["avatar"].as_str().unwrap();
    assert!(!avatar_url.ends_with("missing.png"), "{avatar_url}");
    let served = app.raw(Method::GET, &path_of(avatar_url), ANON, None, &[]).await;
    assert_eq!(served.status, StatusCode::OK);
    let image = image::load_from_memory(&served.body).unwrap();
    assert_eq!((image.width(), image.height()), (400, 400), "cropped to Mastodon's avatar size");

    // Without the form's token: refused, nothing changed.
    let (content_type, body) = multipart_files(&[("display_name", "Forged")], &[]);
    let forged =
        app.raw(Method::POST, "/settings/profile", ANON, Some((content_type, body)), &[("cookie", &cookie)]).await;
    assert!(forged.status.is_client_error(), "{}", forged.status);
    assert_eq!(ok(app.get(&format!("/api/v1/accounts/{id}"), &token).await)["display_name"], "The Painter");
});

async fn signed_in(app: &TestApp, username: &str, password: &str) -> Browser {
    signed_in_as(app, &email_of(username), password).await
}

async fn account_form(app: &TestApp, browser: &mut Browser, action: &str, fields: &[(&str, &str)]) -> RawResponse {
    let page = browser.get(app, "/auth/edit").await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = hidden_input(&page.text(), "authenticity_token").unwrap();
    let mut pairs = vec![("authenticity_token", csrf.as_str())];
    pairs.extend_from_slice(fields);
    browser.post_form(app, action, &pairs).await
}

async fn mails(app: &TestApp) -> Vec<serde_json::Value> {
    let jobs = app.run_jobs(ferrodon_domain::model::Queue::Mailers, &["DeliverMail"]).await;
    jobs.iter().map(|j| serde_json::from_str(&j.payload).unwrap()).collect()
}

both_engines!(the_account_page_changes_the_password_and_the_address_and_deletes_the_account, |app| async move {
    let (id, token) = app.create_user("owner").await;
    let mut browser = signed_in(&app, "owner", PASSWORD).await;

    // The password: the current one is needed; apps are signed out; the owner is told.
    let wrong = account_form(
        &app,
        &mut browser,
        "/settings/password",
        &[
            ("current_password", "nope"),
            ("password", "a new long password"),
            ("password_confirmation", "a new long password"),
        ],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let done = account_form(
        &app,
        &mut browser,
        "/settings/password",
        &[
            ("current_password", PASSWORD),
            ("password", "a new long password"),
            ("password_confirmation", "a new long password"),
        ],
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    assert_eq!(app.get("/api/v1/accounts/verify_credentials", &token).await.0, 401);
    assert!(mails(&app).await.iter().any(|m| m["message"]["type"] == "password_changed"));
    let token = app.user_token(&email_of("owner"), "a new long password", "read write").await;

    // The address: confirmed at the new one before it changes; the old one is told.
    let moved = account_form(
        &app,
        &mut browser,
        "/settings/email",
        &[("email", "Owner@New.example"), ("current_password", "a new long password")],
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());
    let sent = mails(&app).await;
    let confirm = sent.iter().find(|m| m["to"] == "owner@new.example").expect("a link to the new address");
    let told = sent.iter().find(|m| m["message"]["type"] == "email_changed").expect("the old address told");
    assert_eq!(told["to"], email_of("owner"));
    app.user_token(&email_of("owner"), "a new long password", "read").await;
    let link = confirm["message"]["link"].as_str().unwrap();
    assert_eq!(app.raw(Method::GET, &path_of(link), ANON, None, &[]).await.status, StatusCode::OK);
    app.user_token("owner@new.example", "a new long password", "read").await;

    // Deleting: the password again; then the account is gone.
    let mut browser = signed_in_as(&app, "owner@new.example", "a new long password").await;
    let kept = account_form(&app, &mut browser, "/settings/delete", &[("password", "nope")]).await;
    assert_eq!(kept.status, StatusCode::UNPROCESSABLE_ENTITY);
    let gone = account_form(&app, &mut browser, "/settings/delete", &[("password", "a new long password")]).await;
    assert_eq!(gone.status, StatusCode::OK, "{}", gone.text());
    assert_eq!(app.get(&format!("/api/v1/accounts/{id}"), &token).await.0, 401);
    assert_eq!(app.get(&format!("/api/v1/accounts/{id}"), ANON).await.0, 404);
});

async fn signed_in_as(app: &TestApp, email: &str, password: &str) -> Browser {
    let mut browser = Browser::new();
    let page = browser.get(app, "/auth/sign_in").await;
    let csrf = hidden_input(&page.text(), "authenticity_token").unwrap();
    let pairs = [("authenticity_token", csrf.as_str()), ("user[email]", email), ("user[password]", password)];
    assert!(browser.post_form(app, "/auth/sign_in", &pairs).await.status.is_redirection());
    browser
}

both_engines!(authorized_apps_are_listed_and_signed_out, |app| async move {
    let (_, token) = app.create_user("many_apps").await;
    let mut browser = signed_in(&app, "many_apps", PASSWORD).await;
    let page = browser.get(&app, "/oauth/authorized_applications").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("ferrodon tests") && html.contains("<code>read</code>"), "{html}");
    let form = html.split("action=\"/oauth/authorized_applications/").nth(1).unwrap();
    let app_id = form.split('"').next().unwrap().to_string();
    let csrf = hidden_input(&html, "authenticity_token").unwrap();
    // Without the form's token nothing happens.
    let path = format!("/oauth/authorized_applications/{app_id}");
    assert!(browser.post_form(&app, &path, &[("_method", "delete")]).await.status.is_client_error());
    ok(app.get("/api/v1/accounts/verify_credentials", &token).await);
    let revoked = browser.post_form(&app, &path, &[("authenticity_token", &csrf), ("_method", "delete")]).await;
    assert!(revoked.status.is_redirection(), "{}", revoked.text());
    assert_eq!(app.get("/api/v1/accounts/verify_credentials", &token).await.0, 401);
    assert!(browser.get(&app, "/oauth/authorized_applications").await.text().contains("No app is signed in"));
});

async fn csv(app: &TestApp, browser: &mut Browser, name: &str) -> String {
    let r = browser.get(app, &format!("/settings/exports/{name}")).await;
    assert_eq!(r.status, StatusCode::OK, "{name}");
    assert_eq!(r.header("content-type").as_deref(), Some("text/csv; charset=utf-8"));
    r.text()
}

both_engines!(the_exports_are_mastodons_csv_files, |app| async move {
    let (_, me) = app.create_user("exporter").await;
    let (bob, bob_token) = app.create_user("bob").await;
    let (carol, _) = app.create_user("carol").await;
    let (dave, _) = app.create_user("dave").await;
    ok(app
        .post_form(&format!("/api/v1/accounts/{bob}/follow"), &me, &[("reblogs", "false"), ("notify", "true")])
        .await);
    ok(app.post_form(&format!("/api/v1/accounts/{carol}/follow"), &me, &[]).await);
    ok(app.post_form(&format!("/api/v1/accounts/{dave}/block"), &me, &[]).await);
    ok(app.post_form(&format!("/api/v1/accounts/{carol}/mute"), &me, &[("notifications", "false")]).await);
    ok(app.post_form("/api/v1/domain_blocks", &me, &[("domain", "spam.example")]).await);
    let post = post_status(&app, &bob_token, &[("status", "worth keeping")]).await;
    ok(app.post_form(&format!("/api/v1/statuses/{}/bookmark", post["id"].as_str().unwrap()), &me, &[]).await);
    let list = ok(app.post_form("/api/v1/lists", &me, &[("title", "Friends, close")]).await);
    ok(app
        .post_form(&format!("/api/v1/lists/{}/accounts", list["id"].as_str().unwrap()), &me, &[("account_ids[]", &bob)])
        .await);

    let mut browser = signed_in(&app, "exporter", PASSWORD).await;
    assert_eq!(browser.get(&app, "/settings/export").await.status, StatusCode::OK);
    let follows = csv(&app, &mut browser, "follows.csv").await;
    assert!(follows.starts_with("Account address,Show boosts,Notify on new posts,Languages\n"), "{follows}");
    assert!(follows.contains(&format!("bob@{LOCAL_DOMAIN},false,true,\n")), "{follows}");
    assert!(follows.contains(&format!("carol@{LOCAL_DOMAIN},true,false,\n")), "{follows}");
    assert_eq!(csv(&app, &mut browser, "blocks.csv").await, format!("dave@{LOCAL_DOMAIN}\n"));
    assert_eq!(
        csv(&app, &mut browser, "mutes.csv").await,
        format!("Account address,Hide notifications\ncarol@{LOCAL_DOMAIN},false\n")
    );
    assert_eq!(csv(&app, &mut browser, "domain_blocks.csv").await, "spam.example\n");
    assert_eq!(csv(&app, &mut browser, "bookmarks.csv").await, format!("{}\n", post["uri"].as_str().unwrap()));
    assert_eq!(csv(&app, &mut browser, "lists.csv").await, format!("\"Friends, close\",bob@{LOCAL_DOMAIN}\n"));
    assert_eq!(browser.get(&app, "/settings/exports/passwords.csv").await.status, StatusCode::NOT_FOUND);
});

both_engines!(the_preferences_page_sets_the_posting_defaults, |app| async move {
    let (_, token) = app.create_user("careful_poster").await;
    let mut browser = signed_in(&app, "careful_poster", PASSWORD).await;
    let page = browser.get(&app, "/settings/preferences").await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = hidden_input(&page.text(), "authenticity_token").unwrap();
    let pairs = [("authenticity_token", csrf.as_str()), ("privacy", "private"), ("language", "de"), ("sensitive", "1")];
    let saved = browser.post_form(&app, "/settings/preferences", &pairs).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    let prefs = ok(app.get("/api/v1/preferences", &token).await);
    assert_eq!(prefs["posting:default:visibility"], "private");
    assert_eq!(prefs["posting:default:language"], "de");
    assert_eq!(prefs["posting:default:sensitive"], true);
    let posted = post_status(&app, &token, &[("status", "quiet by default")]).await;
    assert_eq!(posted["visibility"], "private");
    let bad = [("authenticity_token", csrf.as_str()), ("privacy", "direct")];
    assert_eq!(browser.post_form(&app, "/settings/preferences", &bad).await.status, StatusCode::UNPROCESSABLE_ENTITY);
});

both_engines!(an_invitation_lets_people_in_while_sign_ups_are_closed, |app| async move {
    app.create_user("host").await;
    let mut browser = signed_in(&app, "host", PASSWORD).await;
    let page = browser.get(&app, "/invites").await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = hidden_input(&page.text(), "authenticity_token").unwrap();
    let made = browser
        .post_form(
            &app,
            "/invites",
            &[("authenticity_token", &csrf), ("invite[max_uses]", "1"), ("invite[expires_in]", "86400")],
        )
        .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    let link = made.text().split("<code class=\"invite-link\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    assert!(link.starts_with(&format!("{BASE_URL}/invite/")), "{link}");
    let code = link.rsplit('/').next().unwrap().to_string();

    // Closed to everyone else; the invitation's page opens the form, and its account needs no approval.
    ferrodon_service::settings::set_registrations_mode(&app.svc, "none").await.unwrap();
    let mut guest = Browser::new();
    let form = guest.get(&app, &path_of(&link)).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.text().contains("You were invited"), "{}", form.text());
    let csrf = hidden_input(&form.text(), "authenticity_token").unwrap();
    let pairs = [
        ("authenticity_token", csrf.as_str()),
        ("user[invite_code]", code.as_str()),
        ("user[account_attributes][username]", "guest"),
        ("user[email]", "guest@example.test"),
        ("user[password]", "a long enough password"),
        ("user[password_confirmation]", "a long enough password"),
        ("user[agreement]", "1"),
    ];
    let joined = guest.post_form(&app, "/auth", &pairs).await;
    assert_eq!(joined.status, StatusCode::OK, "{}", joined.text());
    // Through the API too, while the invitation has uses left: this one had one.
    let client = app.create_app("read write").await;
    let app_token =
        ok(app.client_credentials(&client, Some("write:accounts")).await)["access_token"].as_str().unwrap().to_string();
    let api_pairs = [
        ("username", "second"),
        ("email", "second@example.test"),
        ("password", "a long enough password"),
        ("agreement", "true"),
        ("invite_code", code.as_str()),
    ];
    let (status, _, body) = app.post_form("/api/v1/accounts", &app_token, &api_pairs).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["details"]["invite_code"][0]["error"], "ERR_INVALID", "{body}");
    assert_eq!(guest.get(&app, &path_of(&link)).await.status, StatusCode::NOT_FOUND, "used up");
    let (status, _, _) = app.post_form("/api/v1/accounts", &app_token, &api_pairs[..4]).await;
    assert_eq!(status, 403, "closed without an invitation");

    // Expired by its owner.
    let page = browser.get(&app, "/invites").await;
    let csrf = hidden_input(&page.text(), "authenticity_token").unwrap();
    let fresh = browser
        .post_form(
            &app,
            "/invites",
            &[("authenticity_token", &csrf), ("invite[max_uses]", ""), ("invite[expires_in]", "")],
        )
        .await;
    let fresh_link =
        fresh.text().split("<code class=\"invite-link\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    let id = fresh.text().split("action=\"/invites/").nth(1).unwrap().split('"').next().unwrap().to_string();
    assert_eq!(guest.get(&app, &path_of(&fresh_link)).await.status, StatusCode::OK);
    let expired = browser
        .post_form(&app, &format!("/invites/{id}"), &[("authenticity_token", &csrf), ("_method", "delete")])
        .await;
    assert!(expired.status.is_redirection());
    assert_eq!(guest.get(&app, &path_of(&fresh_link)).await.status, StatusCode::NOT_FOUND);
});
