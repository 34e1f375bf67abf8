//! Two-factor sign-in in a browser: set up with the QR code's secret (codes computed by a TOTP
//! library, as an authenticator app would), the second step of signing in, recovery codes, and
//! turning it off.

use ferrodon_domain::model::Queue;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::support::*;

/// The code an authenticator app shows `offset` steps from now.
fn code(secret: &str, offset: i64) -> String {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().unwrap();
    let totp = TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    totp.generate((now + offset * 30) as u64)
}

async fn sign_in(app: &TestApp, browser: &mut Browser, email: &str) -> RawResponse {
    let page = browser.get(app, "/auth/sign_in").await;
    let csrf = hidden_input(&page.text(), "authenticity_token").unwrap();
    let pairs = [("authenticity_token", csrf.as_str()), ("user[email]", email), ("user[password]", PASSWORD)];
    browser.post_form(app, "/auth/sign_in", &pairs).await
}

async fn second_step(app: &TestApp, browser: &mut Browser, page: &RawResponse, code: &str) -> RawResponse {
    let csrf = hidden_input(&page.text(), "authenticity_token").unwrap();
    browser.post_form(app, "/auth/sign_in", &[("authenticity_token", &csrf), ("user[otp_attempt]", code)]).await
}

async fn post_settings(app: &TestApp, browser: &mut Browser, path: &str, field: &str, code: &str) -> RawResponse {
    let page = browser.get(app, "/settings/two_factor_authentication").await;
    let csrf = hidden_input(&page.text(), "authenticity_token").unwrap();
    let pairs = [("authenticity_token", csrf.as_str()), (field, code), ("current_password", PASSWORD)];
    browser.post_form(app, path, &pairs).await
}

fn is_signed_in(r: &RawResponse) -> bool {
    r.status.is_redirection()
}

both_engines!(two_factor_sign_in_with_an_authenticator_app_and_recovery_codes, |app| async move {
    app.create_user("careful").await;
    let email = email_of("careful");
    let mut browser = Browser::new();
    // The settings want a signed-in browser.
    let away = browser.get(&app, "/settings/two_factor_authentication").await;
    assert!(away.location().starts_with("/auth/sign_in?return_to="), "{}", away.location());
    assert!(is_signed_in(&sign_in(&app, &mut browser, &email).await));
    let off = browser.get(&app, "/settings/two_factor_authentication").await;
    assert_eq!(off.status, StatusCode::OK);
    assert!(off.text().contains("is off"), "{}", off.text());

    // Set up: the QR code and its secret; a wrong code does not enable it.
    let setup = post_settings(&app, &mut browser, "/settings/otp_authentication", "x", "").await;
    assert_eq!(setup.status, StatusCode::OK, "{}", setup.text());
    let html = setup.text();
    assert!(html.contains("<svg"), "a QR code: {html}");
    let secret = html.split("id=\"otp_secret\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    let field = "form_two_factor_confirmation[otp_attempt]";
    let confirmation = "/settings/two_factor_authentication/confirmation";
    let wrong = post_settings(&app, &mut browser, confirmation, field, "000000").await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let again = post_settings(&app, &mut browser, "/settings/otp_authentication", "x", "").await;
    let secret_again = again.text().split("id=\"otp_secret\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    assert_ne!(secret, secret_again, "setting up again makes a new secret");
    let first_code = code(&secret_again, 0);
    let enabled = post_settings(&app, &mut browser, confirmation, field, &first_code).await;
    assert_eq!(enabled.status, StatusCode::OK, "{}", enabled.text());
    let recovery: Vec<String> =
        enabled.text().split("<li><code>").skip(1).map(|c| c.split('<').next().unwrap().to_string()).collect();
    assert_eq!(recovery.len(), 10, "{}", enabled.text());
    let jobs = app.run_jobs(Queue::Mailers, &["DeliverMail"]).await;
    assert!(jobs.iter().any(|j| j.payload.contains("two_factor_enabled")), "the owner is told");

    // Signing in now takes the code: the password alone does not sign in, a code used once does
    // not twice, the next one does.
    let mut other = Browser::new();
    let waiting = sign_in(&app, &mut other, &email).await;
    assert_eq!(waiting.status, StatusCode::OK);
    assert!(waiting.text().contains("user[otp_attempt]"), "{}", waiting.text());
    let reused = second_step(&app, &mut other, &waiting, &first_code).await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY, "a code is taken once");
    // A session waiting for its code is not signed in.
    let settings = other.get(&app, "/settings/two_factor_authentication").await;
    assert!(settings.status.is_redirection(), "{}", settings.text());
    let waiting = sign_in(&app, &mut other, &email).await;
    let next = second_step(&app, &mut other, &waiting, &code(&secret_again, 1)).await;
    assert!(is_signed_in(&next), "{}", next.text());
    let settings = other.get(&app, "/settings/two_factor_authentication").await;
    assert!(settings.text().contains("is <strong>enabled</strong>"), "{}", settings.text());

    // A recovery code signs in once.
    let mut third = Browser::new();
    let waiting = sign_in(&app, &mut third, &email).await;
    assert!(is_signed_in(&second_step(&app, &mut third, &waiting, &recovery[0]).await));
    let mut fourth = Browser::new();
    let waiting = sign_in(&app, &mut fourth, &email).await;
    assert_eq!(second_step(&app, &mut fourth, &waiting, &recovery[0]).await.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Guessing is cut short: after five wrong codes the password is asked again.
    let mut guesser = Browser::new();
    let mut page = sign_in(&app, &mut guesser, &email).await;
    for _ in 0..5 {
        page = second_step(&app, &mut guesser, &page, "123456").await;
    }
    assert!(page.text().contains("took too long") || page.status == StatusCode::UNPROCESSABLE_ENTITY);
    let after = second_step(&app, &mut guesser, &page, &recovery[2]).await;
    assert_eq!(after.status, StatusCode::UNPROCESSABLE_ENTITY, "the challenge is gone: {}", after.text());
    assert!(after.text().contains("Log in again"), "{}", after.text());

    // Turning it off takes the password too.
    let disable = "/settings/two_factor_authentication/disable";
    let page = third.get(&app, "/settings/two_factor_authentication").await;
    let csrf = hidden_input(&page.text(), "authenticity_token").unwrap();
    let pairs = [
        ("authenticity_token", csrf.as_str()),
        ("two_factor_authentication[otp_attempt]", recovery[1].as_str()),
        ("current_password", "wrong"),
    ];
    assert_eq!(third.post_form(&app, disable, &pairs).await.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Turned off with a recovery code: the password alone signs in again.
    let off = post_settings(&app, &mut third, disable, "two_factor_authentication[otp_attempt]", &recovery[1]).await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text());
    let mut fifth = Browser::new();
    assert!(is_signed_in(&sign_in(&app, &mut fifth, &email).await));
});
