//! What users are told by mail, end to end through the router: the confirmation of a new
//! account's address (and of a changed one), and the reset of a forgotten password. The mails
//! are the `DeliverMail` jobs on `mailers` (sent to the log here; the acceptance suite sends
//! them to a real SMTP receiver).

use ferrodon_domain::model::Queue;
use serde_json::json;

use crate::support::*;

/// The mails waiting on `mailers`, sent: (to, message) of each.
async fn mails(app: &TestApp) -> Vec<(String, serde_json::Value)> {
    let jobs = app.run_jobs(Queue::Mailers, &["DeliverMail"]).await;
    jobs.iter()
        .map(|j| {
            let mail: serde_json::Value = serde_json::from_str(&j.payload).unwrap();
            (mail["to"].as_str().unwrap().to_string(), mail["message"].clone())
        })
        .collect()
}

async fn app_token(app: &TestApp) -> String {
    let client = app.create_app("read write").await;
    ok(app.client_credentials(&client, Some("read write:accounts")).await)["access_token"].as_str().unwrap().to_string()
}

both_engines!(a_new_account_confirms_its_address_by_the_link_it_is_mailed, |app| async move {
    let app_token = app_token(&app).await;
    let pairs = [
        ("username", "newcomer"),
        ("email", "newcomer@example.test"),
        ("password", "a long enough password"),
        ("agreement", "true"),
        ("locale", "en"),
    ];
    let token =
        ok(app.post_form("/api/v1/accounts", &app_token, &pairs).await)["access_token"].as_str().unwrap().to_string();
    let (status, _, body) = app.get("/api/v1/accounts/verify_credentials", &token).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (403, Some("Your login is missing a confirmed e-mail address"))
    );
    assert_eq!(ok(app.get("/api/v1/emails/check_confirmation", &token).await), false);

    // The mail went with the account; asking again replaces its link.
    let sent = mails(&app).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0].0.as_str(), sent[0].1["type"].as_str()), ("newcomer@example.test", Some("confirm_email")));
    let first_link = sent[0].1["link"].as_str().unwrap().to_string();
    assert!(first_link.starts_with(&format!("{BASE_URL}/auth/confirmation?confirmation_token=")), "{first_link}");
    assert_eq!(ok(app.post_form("/api/v1/emails/confirmations", &token, &[]).await), serde_json::json!({}));
    let link = mails(&app).await[0].1["link"].as_str().unwrap().to_string();
    assert_ne!(link, first_link);
    let old = app.raw(Method::GET, &path_of(&first_link), ANON, None, &[]).await;
    assert_eq!(old.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", old.text());

    // The link confirms: the account acts, and the link is used up.
    let page = app.raw(Method::GET, &path_of(&link), ANON, None, &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    assert!(page.text().contains("confirmed"), "{}", page.text());
    assert_eq!(ok(app.get("/api/v1/emails/check_confirmation", &token).await), true);
    ok(app.get("/api/v1/accounts/verify_credentials", &token).await);
    let again = app.raw(Method::GET, &path_of(&link), ANON, None, &[]).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Only while unconfirmed.
    let (status, _, _) = app.post_form("/api/v1/emails/confirmations", &token, &[]).await;
    assert_eq!(status, 403);
});

both_engines!(an_unconfirmed_account_may_change_the_address_it_confirms, |app| async move {
    let app_token = app_token(&app).await;
    app.create_user("taken").await;
    let pairs = [
        ("username", "typo"),
        ("email", "typo@exmaple.test"),
        ("password", "a long enough password"),
        ("agreement", "true"),
        ("locale", "en"),
    ];
    let token =
        ok(app.post_form("/api/v1/accounts", &app_token, &pairs).await)["access_token"].as_str().unwrap().to_string();
    let typo_link = mails(&app).await[0].1["link"].as_str().unwrap().to_string();
    // Another account's address, or none at all, is refused with the field named.
    let (status, _, body) =
        app.post_form("/api/v1/emails/confirmations", &token, &[("email", &email_of("taken"))]).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["details"]["email"][0]["error"], "ERR_TAKEN", "{body}");
    let (status, _, body) = app.post_form("/api/v1/emails/confirmations", &token, &[("email", "no-at-sign")]).await;
    assert_eq!(status, 422, "{body}");
    let (status, _, body) =
        app.post_form("/api/v1/emails/confirmations", &token, &[("email", "<typo@example.test>")]).await;
    assert_eq!(status, 422, "only a bare address: {body}");
    // Kept in lower case, as every address is.
    ok(app.post_form("/api/v1/emails/confirmations", &token, &[("email", "Typo@Example.TEST")]).await);
    let sent = mails(&app).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, "typo@example.test");
    let stale = app.raw(Method::GET, &path_of(&typo_link), ANON, None, &[]).await;
    assert_eq!(stale.status, StatusCode::UNPROCESSABLE_ENTITY, "the link to the old address is spent");
    let link = sent[0].1["link"].as_str().unwrap();
    assert_eq!(app.raw(Method::GET, &path_of(link), ANON, None, &[]).await.status, StatusCode::OK);
    let me = ok(app.get("/api/v1/accounts/verify_credentials", &token).await);
    assert_eq!(me["username"], "typo");
    // The new address is the one to sign in with.
    app.user_token("typo@example.test", "a long enough password", "read").await;
});

both_engines!(a_forgotten_password_is_reset_through_the_mailed_link, |app| async move {
    let (_, old_token) = app.create_user("forgetful").await;
    let email = email_of("forgetful");
    let mut browser = Browser::new();
    let form = browser.get(&app, "/auth/password/new").await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = hidden_input(&form.text(), "authenticity_token").unwrap();

    // Without the form's token: refused. Unknown addresses get the same answer as known ones.
    let forged = browser.post_form(&app, "/auth/password", &[("user[email]", &email)]).await;
    assert_eq!(forged.status, StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = browser
        .post_form(&app, "/auth/password", &[("authenticity_token", &csrf), ("user[email]", "nobody@example.test")])
        .await;
    let known =
        browser.post_form(&app, "/auth/password", &[("authenticity_token", &csrf), ("user[email]", &email)]).await;
    assert_eq!((unknown.status, known.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(unknown.text(), known.text());
    // Asking again at once sends nothing more (no one floods a mailbox through this form).
    let again =
        browser.post_form(&app, "/auth/password", &[("authenticity_token", &csrf), ("user[email]", &email)]).await;
    assert_eq!(again.status, StatusCode::OK);
    let sent = mails(&app).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0].0.as_str(), sent[0].1["type"].as_str()), (email.as_str(), Some("reset_password")));
    let link = sent[0].1["link"].as_str().unwrap().to_string();
    assert!(link.starts_with(&format!("{BASE_URL}/auth/password/edit?reset_password_token=")), "{link}");

    // The link's form: passwords that differ are refused and the link still works.
    let page = browser.get(&app, &path_of(&link)).await;
    assert_eq!(page.status, StatusCode::OK);
    let fields = hidden_inputs(&page.text(), 0);
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap();
    let (csrf, reset_token) = (field("authenticity_token"), field("user[reset_password_token]"));
    async fn set(
        app: &TestApp,
        browser: &mut Browser,
        fields: &[(&str, &str)],
        password: &str,
        again: &str,
    ) -> RawResponse {
        let mut pairs = fields.to_vec();
        pairs.extend([("_method", "put"), ("user[password]", password), ("user[password_confirmation]", again)]);
        browser.post_form(app, "/auth/password", &pairs).await
    }
    let fields = [("authenticity_token", csrf.as_str()), ("user[reset_password_token]", reset_token.as_str())];
    let mismatch = set(&app, &mut browser, &fields, "a brand new password", "another one entirely").await;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", mismatch.text());
    let short = set(&app, &mut browser, &fields, "short", "short").await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    let done = set(&app, &mut browser, &fields, "a brand new password", "a brand new password").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());

    // Apps signed in with the old password are signed out; the owner is told; the new
    // password signs in; the link is used up.
    let (status, _, _) = app.get("/api/v1/accounts/verify_credentials", &old_token).await;
    assert_eq!(status, 401);
    let sent = mails(&app).await;
    assert_eq!(sent.iter().map(|(_, m)| m["type"].as_str().unwrap()).collect::<Vec<_>>(), ["password_changed"]);
    app.user_token(&email, "a brand new password", "read").await;
    let reused = set(&app, &mut browser, &fields, "yet another password", "yet another password").await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
});

/// Every invalid field at once (Mastodon's `details`), and the e-mail domain lists.
#[tokio::test]
async fn sign_up_reports_every_invalid_field_and_keeps_to_the_e_mail_domain_lists() {
    for engine in [Engine::Sqlite, Engine::Postgres] {
        let Some(db) = TestDb::new(engine).await else { continue };
        let app = TestApp::configured(db, &[("EMAIL_DOMAIN_DENYLIST", "spam.example|throwaway.example")]).await;
        let app_token = app_token(&app).await;
        app.create_user("taken").await;
        let sign_up = |username: &'static str, email: &'static str, password: &'static str, agreement: &'static str| {
            let (app, app_token) = (&app, app_token.clone());
            async move {
                let pairs = [
                    ("username", username),
                    ("email", email),
                    ("password", password),
                    ("agreement", agreement),
                    ("locale", "en"),
                ];
                app.post_form("/api/v1/accounts", &app_token, &pairs).await
            }
        };
        let (status, _, body) = sign_up("taken", "not an address", "short", "false").await;
        assert_eq!(status, 422, "{body}");
        let codes = |field: &str| {
            body["details"][field].as_array().map(|a| a.iter().map(|e| e["error"].clone()).collect::<Vec<_>>())
        };
        assert_eq!(codes("username"), Some(vec![json!("ERR_TAKEN")]), "{body}");
        assert_eq!(codes("email"), Some(vec![json!("ERR_INVALID")]), "{body}");
        assert_eq!(codes("password"), Some(vec![json!("ERR_TOO_SHORT")]), "{body}");
        assert_eq!(codes("agreement"), Some(vec![json!("ERR_ACCEPTED")]), "{body}");
        let (status, _, body) = sign_up("denied", "someone@mail.spam.example", "a long enough password", "true").await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["details"]["email"][0]["error"], "ERR_BLOCKED", "{engine:?}: {body}");
        // An address a mailer would read otherwise (angle brackets) is no way round the list.
        let (status, _, body) = sign_up("sneaky", "<someone@spam.example>", "a long enough password", "true").await;
        assert_eq!((status.as_u16(), &body["details"]["email"][0]["error"]), (422, &json!("ERR_INVALID")), "{body}");
        ok(sign_up("welcome", "someone@example.test", "a long enough password", "true").await);
    }
}

both_engines!(a_reset_link_is_spent_once_the_login_is_disabled, |app| async move {
    app.create_user("troubled").await;
    ferrodon_service::mail::request_password_reset(&app.svc, &email_of("troubled")).await.unwrap();
    let sent = mails(&app).await;
    let link = sent[0].1["link"].as_str().unwrap().to_string();
    let modification = ferrodon_service::accounts::Modification { disable: true, ..Default::default() };
    ferrodon_service::accounts::modify(&app.svc, "troubled", modification).await.unwrap();
    let token = link.split("reset_password_token=").nth(1).unwrap();
    let new_password = "a brand new password";
    let refused = ferrodon_service::mail::reset_password(&app.svc, token, new_password, new_password).await;
    assert!(refused.is_err(), "a disabled login's link no longer sets a password");
});

both_engines!(the_sign_up_page_makes_an_account_that_confirms_by_mail, |app| async move {
    app.create_user("taken").await;
    let mut browser = Browser::new();
    let form = browser.get(&app, "/auth/sign_up").await;
    assert_eq!(form.status, StatusCode::OK);
    let html = form.text();
    assert!(html.contains("name=\"user[account_attributes][username]\""), "{html}");
    let csrf = hidden_input(&html, "authenticity_token").unwrap();
    let send = |username: &'static str, confirmation: &'static str, agreement: Option<&'static str>| {
        let mut pairs = vec![
            ("authenticity_token", csrf.clone()),
            ("user[account_attributes][username]", username.to_string()),
            ("user[email]", format!("{username}@example.test")),
            ("user[password]", "a long enough password".to_string()),
            ("user[password_confirmation]", confirmation.to_string()),
        ];
        if let Some(a) = agreement {
            pairs.push(("user[agreement]", a.to_string()));
        }
        pairs
    };
    // Every problem at once, the form kept.
    let pairs = send("taken", "something else", None);
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let refused = browser.post_form(&app, "/auth", &pairs).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let text = refused.text();
    for problem in ["Username has already been taken", "Agreement must be accepted", "Password confirmation doesn"] {
        assert!(text.contains(problem), "{problem}: {text}");
    }
    assert!(text.contains("value=\"taken@example.test\""), "the address is kept: {text}");

    let pairs = send("newbie", "a long enough password", Some("1"));
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let made = browser.post_form(&app, "/auth", &pairs).await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    assert!(made.text().contains("Check your inbox"));
    let sent = mails(&app).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let link = sent[0].1["link"].as_str().unwrap();
    assert_eq!(app.raw(Method::GET, &path_of(link), ANON, None, &[]).await.status, StatusCode::OK);
    app.user_token("newbie@example.test", "a long enough password", "read").await;
});

both_engines!(moderators_hear_of_pending_sign_ups_and_reports_and_approved_users_are_told, |app| async move {
    app.create_user("warden").await;
    let role = ferrodon_service::accounts::Modification {
        role: Some(ferrodon_domain::model::Role::Moderator),
        ..Default::default()
    };
    ferrodon_service::accounts::modify(&app.svc, "warden", role).await.unwrap();
    ferrodon_service::settings::set_registrations_mode(&app.svc, "approved").await.unwrap();
    let app_token = app_token(&app).await;
    let pairs = [
        ("username", "hopeful"),
        ("email", "hopeful@example.test"),
        ("password", "a long enough password"),
        ("agreement", "true"),
        ("reason", "I paint crabs"),
    ];
    ok(app.post_form("/api/v1/accounts", &app_token, &pairs).await);
    let sent = mails(&app).await;
    let kinds: Vec<(&str, &str)> = sent.iter().map(|(to, m)| (to.as_str(), m["type"].as_str().unwrap())).collect();
    assert!(kinds.contains(&("hopeful@example.test", "confirm_email")), "{kinds:?}");
    let moderator = email_of("warden");
    assert!(kinds.contains(&(moderator.as_str(), "new_pending_account")), "{kinds:?}");
    let pending = sent.iter().find(|(_, m)| m["type"] == "new_pending_account").unwrap();
    assert_eq!(pending.1["reason"], "I paint crabs", "the moderators read why");
    assert_eq!(kinds.len(), 2, "nobody else: {kinds:?}");

    let approve = ferrodon_service::accounts::Modification { approve: true, ..Default::default() };
    ferrodon_service::accounts::modify(&app.svc, "hopeful", approve).await.unwrap();
    let sent = mails(&app).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0].0.as_str(), sent[0].1["type"].as_str()), ("hopeful@example.test", Some("account_approved")));

    let (_, reporter) = app.create_user("reporter").await;
    let (target, _) = app.create_user("troll").await;
    ok(app
        .post_form(
            "/api/v1/reports",
            &reporter,
            &[("account_id", &target), ("comment", "spam again"), ("category", "spam")],
        )
        .await);
    let sent = mails(&app).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, moderator);
    assert_eq!(sent[0].1["type"], "new_report");
    assert_eq!(sent[0].1["comment"], "spam again");
});
