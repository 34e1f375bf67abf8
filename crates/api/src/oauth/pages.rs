//! The HTML of the sign-in, consent and code pages: plain forms that work without JavaScript.

use ferrodon_domain::rules::text::escape_html as e;
use ferrodon_service::oauth::AuthorizeRequest;

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{} - ferrodon</title><style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}}\
label{{display:block;margin:.8rem 0 .2rem}}input[type=email],input[type=password],input[type=text]{{width:100%;padding:.5rem;box-sizing:border-box}}\
button{{margin-top:1rem;padding:.5rem 1rem}}.flash{{color:#b00020}}.scopes li{{margin:.2rem 0}}</style></head>\
<body><main>{}</main></body></html>\n",
        e(title),
        body
    )
}

pub fn sign_in(csrf: &str, return_to: &str, error: Option<&str>, email: &str) -> String {
    let flash = error.map(|m| format!("<p class=\"flash\" role=\"alert\">{}</p>", e(m))).unwrap_or_default();
    layout(
        "Log in",
        &format!(
            "<h1>Log in</h1>{flash}<form method=\"post\" action=\"/auth/sign_in\">\
<input type=\"hidden\" name=\"authenticity_token\" value=\"{}\">\
<input type=\"hidden\" name=\"return_to\" value=\"{}\">\
<label for=\"user_email\">E-mail address</label><input type=\"email\" id=\"user_email\" name=\"user[email]\" value=\"{}\" required autocomplete=\"username\">\
<label for=\"user_password\">Password</label><input type=\"password\" id=\"user_password\" name=\"user[password]\" required autocomplete=\"current-password\">\
<button type=\"submit\">Log in</button></form>\
<p><a href=\"/auth/password/new\">Forgot your password?</a> · <a href=\"/auth/sign_up\">Sign up</a></p>",
            e(csrf),
            e(return_to),
            e(email)
        ),
    )
}

fn hidden_fields(req: &AuthorizeRequest, csrf: &str) -> String {
    let p = &req.params;
    let fields = [
        ("authenticity_token", Some(csrf)),
        ("client_id", Some(p.client_id.as_str())),
        ("redirect_uri", Some(p.redirect_uri.as_str())),
        ("state", p.state.as_deref()),
        ("response_type", Some(p.response_type.as_str())),
        ("scope", Some(&*req.scopes.to_string())),
        ("code_challenge", p.code_challenge.as_deref()),
        ("code_challenge_method", p.code_challenge_method.as_deref()),
    ];
    fields
        .iter()
        .map(|(k, v)| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", e(v.unwrap_or(""))))
        .collect()
}

pub fn consent(req: &AuthorizeRequest, csrf: &str, email: &str) -> String {
    let scopes: String = req.scopes.to_vec().iter().map(|s| format!("<li><code>{}</code></li>", e(s))).collect();
    let hidden = hidden_fields(req, csrf);
    layout(
        "Authorization required",
        &format!(
            "<h1>Authorization required</h1><p><strong>{}</strong> would like permission to access your account \
(signed in as {}). It is a third-party application. If you do not trust it, you should not authorize it.</p>\
<p>Review permissions</p><ul class=\"scopes\">{scopes}</ul>\
<form method=\"post\" action=\"/oauth/authorize\">{hidden}<button type=\"submit\">Authorize</button></form>\
<form method=\"post\" action=\"/oauth/authorize\">{hidden}<input type=\"hidden\" name=\"_method\" value=\"delete\"><button type=\"submit\">Deny</button></form>",
            e(&req.app.name),
            e(email)
        ),
    )
}

pub fn native_code(code: &str) -> String {
    layout(
        "Authorization code",
        &format!(
            "<h1>Authorization code</h1><p>Copy this authorization code and paste it to the application.</p>\
<input class=\"oauth-code\" readonly type=\"text\" value=\"{}\">",
            e(code)
        ),
    )
}

pub fn error(code: &str, description: &str) -> String {
    layout(
        "An error has occurred",
        &format!(
            "<h1>An error has occurred</h1><p class=\"flash\"><code>{}</code></p><p>{}</p>",
            e(code),
            e(description)
        ),
    )
}

/// A page that only says something, with a link onwards.
pub fn notice(title: &str, message: &str, link: Option<(&str, &str)>, alert: bool) -> String {
    let class = if alert { " class=\"flash\" role=\"alert\"" } else { "" };
    let link = link.map(|(href, text)| format!("<p><a href=\"{}\">{}</a></p>", e(href), e(text))).unwrap_or_default();
    layout(title, &format!("<h1>{}</h1><p{class}>{}</p>{link}", e(title), e(message)))
}

/// `GET /auth/password/new`: the address to send a reset link to.
pub fn forgot_password(csrf: &str, error: Option<&str>) -> String {
    let flash = error.map(|m| format!("<p class=\"flash\" role=\"alert\">{}</p>", e(m))).unwrap_or_default();
    layout(
        "Forgot your password?",
        &format!(
            "<h1>Forgot your password?</h1>{flash}<p>Enter the e-mail address of your account: a link to choose a new \
password will be sent to it.</p><form method=\"post\" action=\"/auth/password\">\
<input type=\"hidden\" name=\"authenticity_token\" value=\"{}\">\
<label for=\"user_email\">E-mail address</label><input type=\"email\" id=\"user_email\" name=\"user[email]\" required autocomplete=\"username\">\
<button type=\"submit\">Reset password</button></form><p><a href=\"/auth/sign_in\">Log in</a></p>",
            e(csrf)
        ),
    )
}

/// `GET /auth/password/edit`: a new password, through the link of a reset mail.
pub fn reset_password(csrf: &str, token: &str, error: Option<&str>) -> String {
    let flash = error.map(|m| format!("<p class=\"flash\" role=\"alert\">{}</p>", e(m))).unwrap_or_default();
    layout(
        "Set a new password",
        &format!(
            "<h1>Set a new password</h1>{flash}<form method=\"post\" action=\"/auth/password\">\
<input type=\"hidden\" name=\"authenticity_token\" value=\"{}\">\
<input type=\"hidden\" name=\"_method\" value=\"put\">\
<input type=\"hidden\" name=\"user[reset_password_token]\" value=\"{}\">\
<label for=\"user_password\">New password</label><input type=\"password\" id=\"user_password\" name=\"user[password]\" required minlength=\"8\" maxlength=\"72\" autocomplete=\"new-password\">\
<label for=\"user_password_confirmation\">Confirm new password</label><input type=\"password\" id=\"user_password_confirmation\" name=\"user[password_confirmation]\" required autocomplete=\"new-password\">\
<button type=\"submit\">Change password</button></form>",
            e(csrf),
            e(token)
        ),
    )
}

/// The second step of signing in: the code of the authenticator app, or a recovery code.
pub fn two_factor(csrf: &str, return_to: &str, error: Option<&str>) -> String {
    let flash = error.map(|m| format!("<p class=\"flash\" role=\"alert\">{}</p>", e(m))).unwrap_or_default();
    layout(
        "Two-factor authentication",
        &format!(
            "<h1>Two-factor authentication</h1>{flash}<p>Enter the code your authenticator app shows, or one of \
your recovery codes.</p><form method=\"post\" action=\"/auth/sign_in\">\
<input type=\"hidden\" name=\"authenticity_token\" value=\"{}\">\
<input type=\"hidden\" name=\"return_to\" value=\"{}\">\
<label for=\"user_otp_attempt\">Code</label><input type=\"text\" id=\"user_otp_attempt\" name=\"user[otp_attempt]\" required autocomplete=\"one-time-code\" inputmode=\"numeric\" autofocus>\
<button type=\"submit\">Log in</button></form>",
            e(csrf),
            e(return_to)
        ),
    )
}
