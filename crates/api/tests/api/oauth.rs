//! OAuth 2: app registration, the authorization-code grant with PKCE, the sign-in and consent
//! pages, client credentials, revocation, scopes, and the metadata document.

use base64::Engine as _;

use crate::support::*;

both_engines!(app_registration_is_validated, |app| async move {
    // No name.
    let (status, _, body) =
        app.post_form("/api/v1/apps", ANON, &[("redirect_uris", "https://client.example/cb")]).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("Application name"), "{body}");
    // No redirect URI.
    let (status, _, body) = app.post_form("/api/v1/apps", ANON, &[("client_name", "x")]).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("Redirect URI"), "{body}");
    // A forbidden scheme, an unknown scope.
    let (status, _, body) =
        app.post_form("/api/v1/apps", ANON, &[("client_name", "x"), ("redirect_uris", "javascript:alert(1)")]).await;
    assert_eq!(status, 422, "{body}");
    let (status, _, body) = app
        .post_form(
            "/api/v1/apps",
            ANON,
            &[("client_name", "x"), ("redirect_uris", REDIRECT_URI), ("scopes", "read bogus")],
        )
        .await;
    assert_eq!(status, 422, "{body}");

    // A valid one, as JSON with two redirect URIs; scopes default to `read`.
    let body = ok(app
        .post_json(
            "/api/v1/apps",
            ANON,
            &json!({
                "client_name": "My Client",
                "redirect_uris": [REDIRECT_URI, "urn:ietf:wg:oauth:2.0:oob"],
                "website": "https://client.example"
            }),
        )
        .await);
    assert_eq!(body["name"], "My Client");
    assert_eq!(body["website"], "https://client.example");
    assert_eq!(body["scopes"], json!(["read"]));
    assert_eq!(body["redirect_uris"], json!([REDIRECT_URI, "urn:ietf:wg:oauth:2.0:oob"]));
    assert_eq!(body["redirect_uri"], format!("{REDIRECT_URI}\nurn:ietf:wg:oauth:2.0:oob"));
    assert!(body["client_id"].as_str().unwrap().len() >= 32, "{body}");
    assert!(body["client_secret"].as_str().unwrap().len() >= 32, "{body}");
    assert_eq!(body["client_secret_expires_at"], 0);
    assert_ne!(body["client_id"], body["client_secret"]);

    // Space-separated scopes are kept in order.
    let client = app.create_app("read write:statuses follow").await;
    let token = ok(app.client_credentials(&client, Some("read")).await);
    let info = ok(app.get("/api/v1/apps/verify_credentials", token["access_token"].as_str().unwrap()).await);
    assert_eq!(info["scopes"], json!(["read", "write:statuses", "follow"]));
});

both_engines!(authorization_code_with_pkce, |app| async move {
    let (alice_id, _) = app.create_user("alice").await;
    let client = app.create_app("read write").await;
    let (verifier, challenge) = pkce_pair();
    let code = app
        .authorization_code(
            &client,
            &email_of("alice"),
            PASSWORD,
            &AuthorizeRequest { scope: Some("read"), state: Some("s t&a=te"), code_challenge: Some(&challenge) },
        )
        .await;

    // The wrong verifier, and none at all: invalid_grant (and the code survives).
    let (status, _, body) =
        app.exchange_code(&client, &code, Some("not-the-verifier-0123456789abcdef0123456789")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    let (status, _, body) = app.exchange_code(&client, &code, None).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");

    // Another client cannot use the code.
    let other = app.create_app("read write").await;
    let (status, _, body) = app.exchange_code(&other, &code, Some(&verifier)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");

    // The right verifier: a token with the scope asked for.
    let (status, headers, body) = app.exchange_code(&client, &code, Some(&verifier)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "read");
    assert!(body["created_at"].as_i64().unwrap() > 1_600_000_000, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    let token = body["access_token"].as_str().unwrap().to_string();
    let me = ok(app.get("/api/v1/accounts/verify_credentials", &token).await);
    assert_eq!(me["id"], alice_id.as_str());

    // Codes are single-use.
    let (status, _, body) = app.exchange_code(&client, &code, Some(&verifier)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");

    // Without PKCE, and with a redirect URI other than the one authorized.
    let code = app.authorization_code(&client, &email_of("alice"), PASSWORD, &AuthorizeRequest::default()).await;
    let mut wrong_redirect = client.clone();
    wrong_redirect.redirect_uri = "https://elsewhere.example/cb".into();
    let (status, _, body) = app.exchange_code(&wrong_redirect, &code, None).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");
    let (status, _, body) = app.exchange_code(&client, &code, None).await;
    assert_eq!(status, 200, "{body}");
    // No scope asked: the default, `read`.
    assert_eq!(body["scope"], "read");

    // A wrong client secret is invalid_client (401).
    let mut bad_secret = client.clone();
    bad_secret.client_secret = "nope".into();
    let (status, _, body) = app.exchange_code(&bad_secret, "whatever", None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client", "{body}");

    // Unknown grant types.
    let (status, _, body) = app
        .post_form(
            "/oauth/token",
            ANON,
            &[("grant_type", "password"), ("client_id", &client.client_id), ("client_secret", &client.client_secret)],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "unsupported_grant_type", "{body}");
});

both_engines!(authorize_rejects_bad_requests_and_can_deny, |app| async move {
    app.create_user("alice").await;
    let client = app.create_app("read").await;
    let mut browser = Browser::new();
    // A scope beyond the registered ones: an error page, no redirect.
    let path = TestApp::authorize_path(&client, &AuthorizeRequest { scope: Some("read write"), ..Default::default() });
    let r = browser.get(&app, &path).await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("invalid_scope"), "{}", r.text());
    // An unregistered redirect URI.
    let mut other = client.clone();
    other.redirect_uri = "https://evil.example/cb".into();
    let r = browser.get(&app, &TestApp::authorize_path(&other, &AuthorizeRequest::default())).await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("invalid_redirect_uri"), "{}", r.text());
    assert!(r.header("location").is_none());

    // Deny: back to the app with access_denied and the state.
    let path = TestApp::authorize_path(&client, &AuthorizeRequest { state: Some("st"), ..Default::default() });
    let consent = app.sign_in_and_consent_page(&mut browser, &path, &email_of("alice"), PASSWORD).await;
    let html = consent.text();
    assert!(html.contains("ferrodon tests"), "{html}");
    assert!(html.contains(&email_of("alice")), "{html}");
    let mut fields = hidden_inputs(&html, 1);
    assert!(fields.iter().any(|(k, v)| k == "_method" && v == "delete"));
    fields.retain(|(k, _)| !k.is_empty());
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = browser.post_form(&app, "/oauth/authorize", &pairs).await;
    let target = r.location();
    assert!(target.starts_with(REDIRECT_URI), "{target}");
    assert_eq!(query_param(&target, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&target, "state").as_deref(), Some("st"));
    assert_eq!(query_param(&target, "code"), None);

    // Signed in already: the next authorization goes straight to the consent page.
    let r = browser.get(&app, &TestApp::authorize_path(&client, &AuthorizeRequest::default())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("Authorize"));
});

both_engines!(out_of_band_code_is_shown_on_a_page, |app| async move {
    app.create_user("alice").await;
    let body = ok(app
        .post_form(
            "/api/v1/apps",
            ANON,
            &[("client_name", "cli"), ("redirect_uris", "urn:ietf:wg:oauth:2.0:oob"), ("scopes", "read")],
        )
        .await);
    let client = OAuthClient {
        id: body["id"].as_str().unwrap().into(),
        client_id: body["client_id"].as_str().unwrap().into(),
        client_secret: body["client_secret"].as_str().unwrap().into(),
        redirect_uri: "urn:ietf:wg:oauth:2.0:oob".into(),
        scopes: "read".into(),
    };
    let mut browser = Browser::new();
    let path = TestApp::authorize_path(&client, &AuthorizeRequest::default());
    let consent = app.sign_in_and_consent_page(&mut browser, &path, &email_of("alice"), PASSWORD).await;
    let target = app.approve_consent(&mut browser, &consent.text()).await;
    assert!(target.starts_with("/oauth/authorize/native?"), "{target}");
    let code = query_param(&target, "code").unwrap();
    let page = browser.get(&app, &target).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains(&code), "{}", page.text());
    let (status, _, body) = app.exchange_code(&client, &code, None).await;
    assert_eq!(status, 200, "{body}");
});

both_engines!(forms_reject_a_wrong_csrf_token, |app| async move {
    app.create_user("alice").await;
    let client = app.create_app("read write").await;
    let path = TestApp::authorize_path(&client, &AuthorizeRequest::default());

    // Sign-in form: a wrong token re-renders the form (422) and signs nobody in.
    let mut browser = Browser::new();
    let to_sign_in = browser.get(&app, &path).await.location();
    let page = browser.get(&app, &to_sign_in).await;
    let csrf = hidden_input(&page.text(), "authenticity_token").unwrap();
    let return_to = hidden_input(&page.text(), "return_to").unwrap();
    assert!(return_to.starts_with("/oauth/authorize?"), "{return_to}");
    let r = browser
        .post_form(
            &app,
            "/auth/sign_in",
            &[
                ("authenticity_token", "forged"),
                ("return_to", &return_to),
                ("user[email]", &email_of("alice")),
                ("user[password]", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.text().contains("CSRF"), "{}", r.text());
    assert!(r.header("location").is_none());
    let again = browser.get(&app, &path).await;
    assert!(again.status.is_redirection(), "still signed out");
    assert!(again.location().starts_with("/auth/sign_in"));
    // No token at all is rejected the same way.
    let r = browser
        .post_form(&app, "/auth/sign_in", &[("user[email]", &email_of("alice")), ("user[password]", PASSWORD)])
        .await;
    assert_eq!(r.status, 422, "{}", r.text());

    // Consent form: signed in properly, then a forged token is refused and issues no code.
    let consent = app.sign_in_and_consent_page(&mut browser, &path, &email_of("alice"), PASSWORD).await;
    let fields = hidden_inputs(&consent.text(), 0);
    let forged: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| if k == "authenticity_token" { (k.as_str(), "forged") } else { (k.as_str(), v.as_str()) })
        .collect();
    let r = browser.post_form(&app, "/oauth/authorize", &forged).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json(), json!({"error": "Can't verify CSRF token authenticity."}));
    assert!(r.header("location").is_none());

    // The real form from another browser (no cookie): its token does not match that session.
    let real: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut stranger = Browser::new();
    let r = stranger.post_form(&app, "/oauth/authorize", &real).await;
    assert_eq!(r.status, 422, "{}", r.text());

    // The real form from the real browser works.
    let target = app.approve_consent(&mut browser, &consent.text()).await;
    assert!(query_param(&target, "code").is_some(), "{target}");
    let _ = csrf;
});

both_engines!(wrong_password_rerenders_sign_in, |app| async move {
    app.create_user("alice").await;
    let client = app.create_app("read").await;
    let path = TestApp::authorize_path(&client, &AuthorizeRequest::default());
    let mut browser = Browser::new();
    let to_sign_in = browser.get(&app, &path).await.location();
    let page = browser.get(&app, &to_sign_in).await;
    let csrf = hidden_input(&page.text(), "authenticity_token").unwrap();
    let return_to = hidden_input(&page.text(), "return_to").unwrap();
    for (email, password) in [(email_of("alice"), "wrong password!"), ("nobody@example.com".to_string(), PASSWORD)] {
        let r = browser
            .post_form(
                &app,
                "/auth/sign_in",
                &[
                    ("authenticity_token", &csrf),
                    ("return_to", &return_to),
                    ("user[email]", &email),
                    ("user[password]", password),
                ],
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.text());
        let html = r.text();
        assert!(html.contains("Invalid E-mail address or password."), "{html}");
        // The form comes back with the e-mail filled in and a usable CSRF token.
        assert!(html.contains(&format!("value=\"{email}\"")), "{html}");
        assert_eq!(hidden_input(&html, "authenticity_token").as_deref(), Some(csrf.as_str()));
        assert!(r.header("location").is_none());
    }
    // Still no session user.
    let r = browser.get(&app, &path).await;
    assert!(r.status.is_redirection());
    assert!(r.location().starts_with("/auth/sign_in"));
});

both_engines!(client_credentials_grant, |app| async move {
    let client = app.create_app("read write").await;
    let body = ok(app.client_credentials(&client, None).await);
    assert_eq!(body["scope"], "read");
    let token = body["access_token"].as_str().unwrap().to_string();

    let info = ok(app.get("/api/v1/apps/verify_credentials", &token).await);
    assert_eq!(info["name"], "ferrodon tests");
    assert_eq!(info["website"], "https://client.example");
    assert_eq!(info["scopes"], json!(["read", "write"]));
    assert!(info.get("client_secret").is_none_or(Value::is_null), "secret leaked: {info}");
    // An app token is not a user.
    let (status, _, body) = app.get("/api/v1/accounts/verify_credentials", &token).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"], "This method requires an authenticated user");
    // …but may read public data.
    ok(app.get("/api/v1/timelines/public", &token).await);

    // Granular scopes inside the registered ones are fine; others are not.
    let body = ok(app.client_credentials(&client, Some("write:statuses")).await);
    assert_eq!(body["scope"], "write:statuses");
    let (status, _, body) = app.client_credentials(&client, Some("follow")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_scope");
    let (status, _, body) = app.client_credentials(&client, Some("nonsense")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_scope");

    // client_secret_basic works as well as client_secret_post.
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", client.client_id, client.client_secret));
    let auth = format!("Basic {basic}");
    let r = app
        .raw(
            Method::POST,
            "/oauth/token",
            ANON,
            Some(("application/x-www-form-urlencoded", b"grant_type=client_credentials".to_vec())),
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["scope"], "read");
    // Bad credentials.
    let mut bad = client.clone();
    bad.client_secret = "wrong".into();
    let (status, _, body) = app.client_credentials(&bad, None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    // No token at all.
    let (status, _, _) = app.get("/api/v1/apps/verify_credentials", ANON).await;
    assert_eq!(status, 401);
});

both_engines!(revoked_tokens_stop_working, |app| async move {
    app.create_user("alice").await;
    let client = app.create_app("read write").await;
    let code = app.authorization_code(&client, &email_of("alice"), PASSWORD, &AuthorizeRequest::default()).await;
    let token = ok(app.exchange_code(&client, &code, None).await)["access_token"].as_str().unwrap().to_string();
    ok(app.get("/api/v1/accounts/verify_credentials", &token).await);

    // Another app may not revoke it.
    let other = app.create_app("read").await;
    let (status, _, body) = app
        .post_form(
            "/oauth/revoke",
            ANON,
            &[("client_id", &other.client_id), ("client_secret", &other.client_secret), ("token", &token)],
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "unauthorized_client");
    ok(app.get("/api/v1/accounts/verify_credentials", &token).await);

    // Its own app may.
    let body = ok(app
        .post_form(
            "/oauth/revoke",
            ANON,
            &[("client_id", &client.client_id), ("client_secret", &client.client_secret), ("token", &token)],
        )
        .await);
    assert_eq!(body, json!({}));
    let (status, _, body) = app.get("/api/v1/accounts/verify_credentials", &token).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].is_string());
    // Revoking an unknown token is fine (RFC 7009).
    ok(app
        .post_form(
            "/oauth/revoke",
            ANON,
            &[("client_id", &client.client_id), ("client_secret", &client.client_secret), ("token", "never-issued")],
        )
        .await);
});

both_engines!(scopes_are_enforced, |app| async move {
    app.create_user("alice").await;
    let email = email_of("alice");
    let read = app.user_token(&email, PASSWORD, "read").await;
    let read_statuses = app.user_token(&email, PASSWORD, "read:statuses").await;
    let profile = app.user_token(&email, PASSWORD, "profile").await;
    let write_statuses = app.user_token(&email, PASSWORD, "write:statuses").await;

    let outside = json!({"error": "This action is outside the authorized scopes"});
    let (status, _, body) = app.post_form("/api/v1/statuses", &read, &[("status", "hi")]).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body, outside);

    // `read:statuses` is inside `read`.
    ok(app.get("/api/v1/timelines/home", &read).await);
    ok(app.get("/api/v1/timelines/home", &read_statuses).await);
    ok(app.get("/api/v1/notifications", &read).await);
    let (status, _, body) = app.get("/api/v1/notifications", &read_statuses).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body, outside);
    let (status, _, body) = app.get("/api/v1/accounts/verify_credentials", &read_statuses).await;
    assert_eq!(status, 403, "{body}");

    // `profile` is enough for verify_credentials and nothing else.
    let me = ok(app.get("/api/v1/accounts/verify_credentials", &profile).await);
    assert_eq!(me["username"], "alice");
    let (status, _, _) = app.get("/api/v1/timelines/home", &profile).await;
    assert_eq!(status, 403);

    // `write:statuses` posts, but cannot favourite or read.
    let posted = post(&app, &write_statuses, "granular").await;
    let (status, _, body) = app.post_form(&format!("/api/v1/statuses/{posted}/favourite"), &write_statuses, &[]).await;
    assert_eq!(status, 403, "{body}");
    let (status, _, _) = app.get("/api/v1/timelines/home", &write_statuses).await;
    assert_eq!(status, 403);
});

both_engines!(authorization_server_metadata, |app| async move {
    let (status, headers, body) = app.get("/.well-known/oauth-authorization-server", ANON).await;
    assert_eq!(status, 200, "{body}");
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/json"));
    assert_eq!(body["issuer"], format!("{BASE_URL}/"));
    assert_eq!(body["authorization_endpoint"], format!("{BASE_URL}/oauth/authorize"));
    assert_eq!(body["token_endpoint"], format!("{BASE_URL}/oauth/token"));
    assert_eq!(body["revocation_endpoint"], format!("{BASE_URL}/oauth/revoke"));
    assert_eq!(body["app_registration_endpoint"], format!("{BASE_URL}/api/v1/apps"));
    assert_eq!(body["response_types_supported"], json!(["code"]));
    assert_eq!(body["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(body["grant_types_supported"], json!(["authorization_code", "client_credentials"]));
    let scopes: Vec<&str> = body["scopes_supported"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    for s in ["read", "write", "follow", "push", "profile", "read:statuses", "write:media"] {
        assert!(scopes.contains(&s), "{s} missing from {scopes:?}");
    }
});

// Devise/Warden renew the session and its CSRF token on sign-in, so that a session id (or
// token) known before sign-in (session fixation) is worth nothing afterwards.
both_engines!(sign_in_starts_a_new_session, |app| async move {
    app.create_user("alice").await;
    let client = app.create_app("read").await;
    let path = TestApp::authorize_path(&client, &AuthorizeRequest::default());
    let mut browser = Browser::new();
    let to_sign_in = browser.get(&app, &path).await.location();
    let before = browser.cookie.clone().unwrap();
    let page = browser.get(&app, &to_sign_in).await;
    let csrf_before = hidden_input(&page.text(), "authenticity_token").unwrap();
    let return_to = hidden_input(&page.text(), "return_to").unwrap();
    let r = browser
        .post_form(
            &app,
            "/auth/sign_in",
            &[
                ("authenticity_token", &csrf_before),
                ("return_to", &return_to),
                ("user[email]", &email_of("alice")),
                ("user[password]", PASSWORD),
            ],
        )
        .await;
    assert!(r.status.is_redirection(), "{}", r.text());
    let after = browser.cookie.clone().unwrap();
    // The pre-sign-in cookie must not be signed in.
    let mut attacker = Browser { cookie: Some(before.clone()) };
    let r = attacker.get(&app, &path).await;
    assert!(
        r.status.is_redirection() && r.location().starts_with("/auth/sign_in"),
        "the session cookie from before sign-in is signed in (session fixation)"
    );
    assert_ne!(before, after, "sign-in kept the session id");
    let consent = browser.get(&app, &path).await;
    assert_eq!(consent.status, 200);
    let csrf_after = hidden_input(&consent.text(), "authenticity_token").unwrap();
    assert_ne!(csrf_before, csrf_after, "sign-in kept the CSRF token");
});

both_engines!(sign_in_never_redirects_off_site, |app| async move {
    app.create_user("alice").await;
    for target in ["https://evil.example/", "//evil.example/x", "/\\evil.example"] {
        let mut browser = Browser::new();
        let page = browser.get(&app, &format!("/auth/sign_in?return_to={}", percent_encode(target))).await;
        assert_eq!(page.status, 200);
        let html = page.text();
        assert_eq!(hidden_input(&html, "return_to").as_deref(), Some("/"), "{target}");
        let csrf = hidden_input(&html, "authenticity_token").unwrap();
        let r = browser
            .post_form(
                &app,
                "/auth/sign_in",
                &[
                    ("authenticity_token", &csrf),
                    ("return_to", target),
                    ("user[email]", &email_of("alice")),
                    ("user[password]", PASSWORD),
                ],
            )
            .await;
        assert_eq!(r.location(), "/", "{target}");
    }
});
