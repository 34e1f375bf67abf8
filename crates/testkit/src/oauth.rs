//! The OAuth flow as a browser and a client app go through it: app registration, the sign-in
//! and consent pages (cookies, CSRF tokens read from the HTML), and the token endpoint.

use axum::http::{Method, StatusCode, header};
use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::app::{ANON, RawResponse, TestApp, form_encode, query_param};

/// Where test apps say they redirect to (never contacted: the code is read from `Location`).
pub const REDIRECT_URI: &str = "https://client.example/callback";

/// A registered OAuth application.
#[derive(Clone, Debug)]
pub struct OAuthClient {
    pub id: String,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    pub scopes: String,
}

/// One browser: a cookie jar holding the session cookie.
#[derive(Clone, Debug, Default)]
pub struct Browser {
    pub cookie: Option<String>,
}

impl Browser {
    pub fn new() -> Browser {
        Browser::default()
    }

    fn remember(&mut self, r: &RawResponse) {
        for v in r.headers.get_all(header::SET_COOKIE) {
            if let Some(pair) = v.to_str().ok().and_then(|s| s.split(';').next()) {
                self.cookie = Some(pair.trim().to_string());
            }
        }
    }

    /// GET with the cookie; remembers a new cookie.
    pub async fn get(&mut self, app: &TestApp, path: &str) -> RawResponse {
        let cookie = self.cookie.clone();
        let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("cookie", c.as_str())).collect();
        let r = app.raw(Method::GET, path, ANON, None, &headers).await;
        self.remember(&r);
        r
    }

    /// POST a form with the cookie; remembers a new cookie.
    pub async fn post_form(&mut self, app: &TestApp, path: &str, pairs: &[(&str, &str)]) -> RawResponse {
        let cookie = self.cookie.clone();
        let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("cookie", c.as_str())).collect();
        let body = form_encode(pairs).into_bytes();
        let r = app.raw(Method::POST, path, ANON, Some(("application/x-www-form-urlencoded", body)), &headers).await;
        self.remember(&r);
        r
    }
}

/// `(name, value)` of every `<input type="hidden">` inside the `form_index`-th `<form>` of
/// `html`, values unescaped.
pub fn hidden_inputs(html: &str, form_index: usize) -> Vec<(String, String)> {
    let form =
        html.split("<form").nth(form_index + 1).unwrap_or_else(|| panic!("no form #{form_index} in page:\n{html}"));
    let form = form.split("</form>").next().unwrap_or(form);
    let mut out = Vec::new();
    for tag in form.split("<input").skip(1) {
        let tag = tag.split('>').next().unwrap_or("");
        if attribute(tag, "type").as_deref() != Some("hidden") {
            continue;
        }
        if let Some(name) = attribute(tag, "name") {
            out.push((name, attribute(tag, "value").unwrap_or_default()));
        }
    }
    out
}

/// The value of the first hidden input called `name` anywhere in `html`.
pub fn hidden_input(html: &str, name: &str) -> Option<String> {
    let n = html.matches("<form").count();
    (0..n).flat_map(|i| hidden_inputs(html, i)).find(|(k, _)| k == name).map(|(_, v)| v)
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let mut rest = tag;
    loop {
        let at = rest.find(&needle)?;
        // A whole attribute name: preceded by whitespace.
        let ok = at == 0 || rest[..at].ends_with(char::is_whitespace);
        let after = &rest[at + needle.len()..];
        if ok {
            let end = after.find('"')?;
            return Some(html_unescape(&after[..end]));
        }
        rest = after;
    }
}

/// Undoes the page escaping (`&amp; &lt; &gt; &quot; &#39; &#x27;`).
pub fn html_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// A PKCE `(code_verifier, code_challenge)` pair for S256.
pub fn pkce_pair() -> (String, String) {
    let verifier: String = (0..4).map(|_| format!("{:016x}", rand::random::<u64>())).collect();
    (verifier.clone(), pkce_challenge(&verifier))
}

/// `BASE64URL(SHA256(verifier))` without padding.
pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// What an authorization request asks for.
#[derive(Clone, Debug, Default)]
pub struct AuthorizeRequest<'a> {
    pub scope: Option<&'a str>,
    pub state: Option<&'a str>,
    pub code_challenge: Option<&'a str>,
}

impl TestApp {
    /// `POST /api/v1/apps`; panics unless it succeeds.
    pub async fn create_app(&self, scopes: &str) -> OAuthClient {
        let (status, _, body) = self
            .post_form(
                "/api/v1/apps",
                ANON,
                &[
                    ("client_name", "ferrodon tests"),
                    ("redirect_uris", REDIRECT_URI),
                    ("scopes", scopes),
                    ("website", "https://client.example"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "create app: {body}");
        let s = |k: &str| body[k].as_str().unwrap_or_else(|| panic!("app without {k}: {body}")).to_string();
        OAuthClient {
            id: s("id"),
            client_id: s("client_id"),
            client_secret: s("client_secret"),
            redirect_uri: REDIRECT_URI.to_string(),
            scopes: scopes.to_string(),
        }
    }

    /// The path of `GET /oauth/authorize` for `client`.
    pub fn authorize_path(client: &OAuthClient, req: &AuthorizeRequest<'_>) -> String {
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", client.client_id.as_str()),
            ("redirect_uri", client.redirect_uri.as_str()),
        ];
        if let Some(s) = req.scope {
            pairs.push(("scope", s));
        }
        if let Some(s) = req.state {
            pairs.push(("state", s));
        }
        if let Some(c) = req.code_challenge {
            pairs.push(("code_challenge", c));
            pairs.push(("code_challenge_method", "S256"));
        }
        format!("/oauth/authorize?{}", form_encode(&pairs))
    }

    /// Signs `browser` in through the sign-in page, starting from an authorization request:
    /// `GET /oauth/authorize` → 302 to `/auth/sign_in`, the page's CSRF token, `POST
    /// /auth/sign_in` → 302 back. Returns the consent page (`GET /oauth/authorize` again).
    pub async fn sign_in_and_consent_page(
        &self,
        browser: &mut Browser,
        authorize_path: &str,
        email: &str,
        password: &str,
    ) -> RawResponse {
        let first = browser.get(self, authorize_path).await;
        if first.status == StatusCode::OK {
            // Already signed in.
            return first;
        }
        let to_sign_in = first.location();
        assert!(
            to_sign_in.starts_with("/auth/sign_in"),
            "authorize should send an anonymous browser to sign in, went to {to_sign_in}"
        );
        assert!(browser.cookie.is_some(), "no session cookie was set");
        let page = browser.get(self, &to_sign_in).await;
        assert_eq!(page.status, StatusCode::OK, "sign-in page: {}", page.text());
        let html = page.text();
        let csrf = hidden_input(&html, "authenticity_token").expect("sign-in page CSRF token");
        let return_to = hidden_input(&html, "return_to").unwrap_or_else(|| "/".into());
        let signed_in = browser
            .post_form(
                self,
                "/auth/sign_in",
                &[
                    ("authenticity_token", &csrf),
                    ("return_to", &return_to),
                    ("user[email]", email),
                    ("user[password]", password),
                ],
            )
            .await;
        assert!(signed_in.status.is_redirection(), "sign-in failed ({}): {}", signed_in.status, signed_in.text());
        let back = signed_in.location();
        assert!(
            back.starts_with("/oauth/authorize"),
            "sign-in should return to the authorization request, went to {back}"
        );
        let consent = browser.get(self, &back).await;
        assert_eq!(consent.status, StatusCode::OK, "consent page: {}", consent.text());
        consent
    }

    /// Approves the consent page (posting every hidden input of its first form) and returns the
    /// redirect target (`…?code=…&state=…`).
    pub async fn approve_consent(&self, browser: &mut Browser, consent_html: &str) -> String {
        let fields = hidden_inputs(consent_html, 0);
        assert!(
            fields.iter().any(|(k, _)| k == "authenticity_token"),
            "consent form without CSRF token: {consent_html}"
        );
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = browser.post_form(self, "/oauth/authorize", &pairs).await;
        r.location()
    }

    /// The whole browser part of the authorization-code flow; returns the code.
    pub async fn authorization_code(
        &self,
        client: &OAuthClient,
        email: &str,
        password: &str,
        req: &AuthorizeRequest<'_>,
    ) -> String {
        let mut browser = Browser::new();
        let path = Self::authorize_path(client, req);
        let consent = self.sign_in_and_consent_page(&mut browser, &path, email, password).await;
        let target = self.approve_consent(&mut browser, &consent.text()).await;
        assert!(target.starts_with(&client.redirect_uri), "approval should redirect to the app, went to {target}");
        if let Some(state) = req.state {
            assert_eq!(query_param(&target, "state").as_deref(), Some(state));
        }
        query_param(&target, "code").unwrap_or_else(|| panic!("no code in {target}"))
    }

    /// `POST /oauth/token` with `grant_type=authorization_code`.
    pub async fn exchange_code(
        &self,
        client: &OAuthClient,
        code: &str,
        code_verifier: Option<&str>,
    ) -> crate::Response {
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", client.client_id.as_str()),
            ("client_secret", client.client_secret.as_str()),
            ("redirect_uri", client.redirect_uri.as_str()),
        ];
        if let Some(v) = code_verifier {
            pairs.push(("code_verifier", v));
        }
        self.post_form("/oauth/token", ANON, &pairs).await
    }

    /// `POST /oauth/token` with `grant_type=client_credentials`.
    pub async fn client_credentials(&self, client: &OAuthClient, scope: Option<&str>) -> crate::Response {
        let mut pairs = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client.client_id.as_str()),
            ("client_secret", client.client_secret.as_str()),
        ];
        if let Some(s) = scope {
            pairs.push(("scope", s));
        }
        self.post_form("/oauth/token", ANON, &pairs).await
    }

    /// A user token through the full flow: a new app registered with `scopes`, sign-in,
    /// consent, and the code exchanged with PKCE.
    pub async fn user_token(&self, email: &str, password: &str, scopes: &str) -> String {
        let client = self.create_app(scopes).await;
        let (verifier, challenge) = pkce_pair();
        let code = self
            .authorization_code(
                &client,
                email,
                password,
                &AuthorizeRequest { scope: Some(scopes), state: Some("xyz"), code_challenge: Some(&challenge) },
            )
            .await;
        let (status, _, body) = self.exchange_code(&client, &code, Some(&verifier)).await;
        assert_eq!(status, StatusCode::OK, "token exchange: {body}");
        assert_eq!(body["token_type"], "Bearer", "{body}");
        assert_eq!(body["scope"], Value::String(scopes.to_string()), "{body}");
        body["access_token"].as_str().expect("access_token").to_string()
    }
}
