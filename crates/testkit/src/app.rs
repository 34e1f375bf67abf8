//! [`TestApp`]: the real router on a throwaway database, driven in-process (no sockets) with
//! `tower::ServiceExt::oneshot`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use ferrodon_config::{Config, Vars};
use ferrodon_domain::ports::Database;
use ferrodon_service::Services;
use serde_json::Value;
use tower::ServiceExt;

use crate::db::{Engine, TestDb};

/// The domain every test instance runs as.
pub const LOCAL_DOMAIN: &str = "localhost:3000";
/// `http://localhost:3000`: what absolute URLs (Link headers, account URLs) start with.
pub const BASE_URL: &str = "http://localhost:3000";

/// `(status, headers, body)`. The body is the parsed JSON, `Value::String` for a non-JSON body
/// (HTML pages), and `Value::Null` for an empty one.
pub type Response = (StatusCode, HeaderMap, Value);

/// A response with its raw body (for HTML pages and redirects).
#[derive(Debug)]
pub struct RawResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (`Value::String` when it is not JSON, `Null` when empty).
    pub fn json(&self) -> Value {
        if self.body.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&self.body).unwrap_or_else(|_| Value::String(self.text()))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }

    /// The `Location` header; panics when the response is not a redirect.
    pub fn location(&self) -> String {
        assert!(self.status.is_redirection(), "expected a redirect, got {}: {}", self.status, self.text());
        self.header("location").expect("redirect without Location")
    }

    pub fn into_tuple(self) -> Response {
        let json = self.json();
        (self.status, self.headers, json)
    }
}

/// Anything that can stand for an optional bearer token: `&str`, `&String`, `Option<&str>`, …
/// Use [`ANON`] for no token.
pub trait Token {
    fn bearer(&self) -> Option<&str>;
}

impl Token for str {
    fn bearer(&self) -> Option<&str> {
        Some(self)
    }
}
impl Token for String {
    fn bearer(&self) -> Option<&str> {
        Some(self)
    }
}
impl Token for Option<&str> {
    fn bearer(&self) -> Option<&str> {
        *self
    }
}
impl Token for Option<String> {
    fn bearer(&self) -> Option<&str> {
        self.as_deref()
    }
}
impl<T: Token + ?Sized> Token for &T {
    fn bearer(&self) -> Option<&str> {
        (**self).bearer()
    }
}

/// No token.
pub const ANON: Option<&str> = None;

/// `application/x-www-form-urlencoded` of `pairs`.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v))).collect::<Vec<_>>().join("&")
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` and `+`.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of `key` in the query string of `url` (decoded).
pub fn query_param(url: &str, key: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (percent_decode(k) == key).then(|| percent_decode(v))
    })
}

/// The running application on its own database.
pub struct TestApp {
    pub router: Router,
    pub svc: Services,
    pub fed: ferrodon_federation::Fed,
    /// The database as a job queue, for [`TestApp::run_jobs`].
    pub queue: Arc<dyn ferrodon_domain::ports::JobQueue>,
    /// The database, for tests that seed or inspect through the ports.
    database: Arc<dyn Database>,
    pub engine: Engine,
    db: Arc<TestDb>,
}

impl TestApp {
    /// An app on a fresh database of `engine`; `None` when PostgreSQL is skipped.
    pub async fn start(engine: Engine) -> Option<TestApp> {
        let db = TestDb::new(engine).await?;
        Some(TestApp::on(db).await)
    }

    /// An app on `db` (migrated here).
    pub async fn on(db: TestDb) -> TestApp {
        TestApp::configured(db, &[]).await
    }

    /// An app on `db` with more configuration variables (e.g. [`s3_vars`]).
    pub async fn configured(db: TestDb, extra: &[(&str, &str)]) -> TestApp {
        let data_dir = db.data_dir().display().to_string();
        let mut pairs = vec![
            ("FERRODON_DATA_DIR", data_dir.as_str()),
            ("LOCAL_DOMAIN", LOCAL_DOMAIN),
            ("DATABASE_URL", db.url()),
            ("DB_POOL", "5"),
        ];
        pairs.extend_from_slice(extra);
        let vars = Vars::from_pairs(pairs);
        let config = Config::from_vars(&vars).expect("test configuration");
        let sql = ferrodon_storage::SqlDatabase::connect(&config.database)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", db.url()));
        sql.migrate().await.expect("migrations");
        let sql = Arc::new(sql);
        let queue: Arc<dyn ferrodon_domain::ports::JobQueue> = sql.clone();
        let database: Arc<dyn Database> = sql.clone();
        let svc = Services::new(sql, Arc::new(ferrodon_streaming::LocalBus::default()), Arc::new(config.clone()));
        let files: Arc<dyn ferrodon_domain::ports::FileStore> = match &config.s3 {
            Some(s3) => Arc::new(ferrodon_media::S3Files::new(s3).expect("S3 configuration")),
            None => Arc::new(ferrodon_media::LocalFiles::new(
                config.data_dir.join("system"),
                format!("{}/system", svc.base_url()),
            )),
        };
        svc.connect_media(files, Arc::new(ferrodon_media::Processor::new()));
        svc.connect_mailer(ferrodon_mail::mailer(&config).expect("mail configuration"));
        let fed = ferrodon_federation::Federation::new(svc.clone()).expect("federation");
        let router = ferrodon_api::router(svc.clone(), Some(fed.clone()));
        TestApp { router, svc, fed, queue, database, engine: db.engine(), db: Arc::new(db) }
    }

    /// Runs the due jobs of `queue` whose kind is in `kinds` with the real handlers, until none is
    /// left (jobs they enqueue included); others are put back untouched. Returns the jobs run.
    /// A failing job panics: tests expect their jobs to succeed.
    pub async fn run_jobs(
        &self,
        queue: ferrodon_domain::model::Queue,
        kinds: &[&str],
    ) -> Vec<ferrodon_domain::model::Job> {
        use ferrodon_domain::ports::{JobContext, JobHandler};
        let handlers: std::collections::HashMap<&str, Arc<dyn JobHandler>> =
            ferrodon_service::jobs::handlers(&self.svc).into_iter().map(|(kind, _, h)| (kind, h)).collect();
        let mut ran = Vec::new();
        loop {
            let now = ferrodon_kernel::time::now_ms();
            let claimed = self.queue.claim(queue, "test", now, now + 60_000, 100).await.expect("claim");
            let (wanted, others): (Vec<_>, Vec<_>) =
                claimed.into_iter().partition(|j| kinds.contains(&j.kind.as_str()));
            let other_ids: Vec<_> = others.iter().map(|j| j.id).collect();
            self.queue.release("test", &other_ids, now).await.expect("release");
            if wanted.is_empty() {
                return ran;
            }
            for job in wanted {
                let handler = handlers.get(job.kind.as_str()).unwrap_or_else(|| panic!("no handler for {}", job.kind));
                let ctx = JobContext::new("test".into(), job.clone());
                handler.run(&ctx, &job).await.unwrap_or_else(|e| panic!("job {} failed: {e}", job.kind));
                if !ctx.completed_in_transaction() {
                    self.queue.complete("test", &job).await.expect("complete");
                }
                ran.push(job);
            }
        }
    }

    /// The database handle (for tests that seed or inspect through the ports).
    pub fn database(&self) -> Arc<dyn Database> {
        self.database.clone()
    }

    /// Keeps the test database alive (and undropped) while held.
    pub fn db_guard(&self) -> Arc<TestDb> {
        self.db.clone()
    }

    /// Sends one request through the router.
    pub async fn send(&self, req: Request<Body>) -> RawResponse {
        let response = self.router.clone().oneshot(req).await.expect("the router is infallible");
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 64 * 1024 * 1024).await.expect("response body");
        RawResponse { status: parts.status, headers: parts.headers, body: bytes.to_vec() }
    }

    /// Builds and sends a request. `content_type` goes with a body.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: impl Token,
        body: Option<(&str, Vec<u8>)>,
        extra_headers: &[(&str, &str)],
    ) -> RawResponse {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token.bearer() {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        for (k, v) in extra_headers {
            b = b.header(
                HeaderName::from_bytes(k.as_bytes()).expect("header name"),
                HeaderValue::from_str(v).expect("header value"),
            );
        }
        let req = match body {
            Some((content_type, bytes)) => b.header(header::CONTENT_TYPE, content_type).body(Body::from(bytes)),
            None => b.body(Body::empty()),
        }
        .expect("request");
        self.send(req).await
    }

    pub async fn get(&self, path: &str, token: impl Token) -> Response {
        self.raw(Method::GET, path, token, None, &[]).await.into_tuple()
    }

    pub async fn delete(&self, path: &str, token: impl Token) -> Response {
        self.raw(Method::DELETE, path, token, None, &[]).await.into_tuple()
    }

    pub async fn post_form(&self, path: &str, token: impl Token, pairs: &[(&str, &str)]) -> Response {
        self.form(Method::POST, path, token, pairs, &[]).await
    }

    pub async fn patch_form(&self, path: &str, token: impl Token, pairs: &[(&str, &str)]) -> Response {
        self.form(Method::PATCH, path, token, pairs, &[]).await
    }

    pub async fn put_form(&self, path: &str, token: impl Token, pairs: &[(&str, &str)]) -> Response {
        self.form(Method::PUT, path, token, pairs, &[]).await
    }

    /// A form request with extra headers (e.g. `Idempotency-Key`).
    pub async fn form(
        &self,
        method: Method,
        path: &str,
        token: impl Token,
        pairs: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Response {
        let body = form_encode(pairs).into_bytes();
        self.raw(method, path, token, Some(("application/x-www-form-urlencoded", body)), headers).await.into_tuple()
    }

    pub async fn post_json(&self, path: &str, token: impl Token, body: &Value) -> Response {
        self.json(Method::POST, path, token, body).await
    }

    pub async fn put_json(&self, path: &str, token: impl Token, body: &Value) -> Response {
        self.json(Method::PUT, path, token, body).await
    }

    pub async fn patch_json(&self, path: &str, token: impl Token, body: &Value) -> Response {
        self.json(Method::PATCH, path, token, body).await
    }

    pub async fn json(&self, method: Method, path: &str, token: impl Token, body: &Value) -> Response {
        let bytes = serde_json::to_vec(body).expect("json");
        self.raw(method, path, token, Some(("application/json", bytes)), &[]).await.into_tuple()
    }

    /// Creates a confirmed, approved local account through the service, then gets a user token
    /// with `read write follow push` through the real OAuth flow. Returns `(account_id, token)`.
    pub async fn create_user(&self, username: &str) -> (String, String) {
        self.create_user_with_scopes(username, "read write follow push").await
    }

    /// [`TestApp::create_user`] with the token limited to `scopes`.
    pub async fn create_user_with_scopes(&self, username: &str, scopes: &str) -> (String, String) {
        let email = crate::email_of(username);
        let (account, _) = ferrodon_service::accounts::create(
            &self.svc,
            ferrodon_service::accounts::NewAccount {
                username,
                email: &email,
                password: crate::PASSWORD,
                confirmed: true,
                approved: true,
                role: ferrodon_domain::model::Role::User,
                locale: "en",
            },
        )
        .await
        .unwrap_or_else(|e| panic!("creating @{username}: {e}"));
        let token = self.user_token(&email, crate::PASSWORD, scopes).await;
        (account.id.to_string(), token)
    }
}
