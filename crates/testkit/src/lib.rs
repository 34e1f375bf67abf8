//! Dev-only test support for ferrodon (never a normal dependency of another crate).
//!
//! - [`TestDb`]: a throwaway database per test: a SQLite file in a fresh temporary directory,
//!   or a PostgreSQL database `ferrodon_t_<hex>` created through `TEST_DATABASE_URL` and dropped
//!   afterwards. Without `TEST_DATABASE_URL` the PostgreSQL variant prints
//!   `skipped: TEST_DATABASE_URL is not set` and passes, except under `CI=true`, where it fails.
//! - [`TestApp`]: the real configuration, storage, services and router on such a database,
//!   driven in-process with `tower::ServiceExt::oneshot`; [`TestApp::create_user`] gets its
//!   token through the real OAuth pages (sign-in, CSRF, consent, PKCE, token endpoint).
//! - [`both_engines!`] and [`both_databases!`]: one test body, run once per engine.
//! - [`TestDb::through_pgbouncer`]: a PostgreSQL test database migrated directly and reached
//!   through pgBouncer in transaction mode (`TEST_PGBOUNCER_URL`, `scripts/pgbouncer-up`) with
//!   prepared statements off; skipped like PostgreSQL when unset.
//!
//! - [`s3_vars`]: Mastodon's `S3_*` variables for the bucket of `TEST_S3_URL`
//!   (`scripts/s3-up`), for [`TestApp::configured`]; skipped like PostgreSQL when unset.
//!
//! ```text
//! use ferrodon_testkit::*;
//!
//! both_engines!(posting_works, |app| async move {
//!     let (_, token) = app.create_user("alice").await;
//!     let (status, _, body) = app.post_form("/api/v1/statuses", &token, &[("status", "hi")]).await;
//!     assert_eq!(status, 200, "{body}");
//! });
//! ```

mod app;
mod db;
mod oauth;
mod pgbouncer;
mod s3;

use std::future::Future;
use std::sync::Arc;

pub use app::{
    ANON, BASE_URL, LOCAL_DOMAIN, RawResponse, Response, TestApp, Token, form_encode, percent_decode, percent_encode,
    query_param,
};
pub use db::{Engine, PG_PREFIX, TempDir, TestDb, in_ci, loopback_without_tls, postgres_admin_url, with_database};
pub use oauth::{
    AuthorizeRequest, Browser, OAuthClient, REDIRECT_URI, hidden_input, hidden_inputs, html_unescape, pkce_challenge,
    pkce_pair,
};
pub use pgbouncer::pgbouncer_url;
pub use s3::s3_vars;

pub use axum::http::{HeaderMap, Method, StatusCode};
pub use ferrodon_domain::ports::Database;
pub use serde_json::{Value, json};

/// The password of every user [`TestApp::create_user`] makes.
pub const PASSWORD: &str = "correct horse battery staple";

/// The e-mail address of the user `username` made by [`TestApp::create_user`].
pub fn email_of(username: &str) -> String {
    format!("{}@example.com", username.to_lowercase())
}

/// Runs `body` with a fresh [`TestApp`] on `engine` (returns at once when PostgreSQL is
/// skipped). The database is closed and removed afterwards, also when the body panics.
pub async fn run_app<F, Fut>(engine: Engine, body: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(app) = TestApp::start(engine).await else {
        return;
    };
    // Drop order on unwind is the reverse of declaration: the pool goes before the database.
    let _guard = app.db_guard();
    let db = app.database();
    body(app).await;
    db.close().await;
}

/// Runs `body` with a fresh, migrated database of `engine`, seen only through the
/// [`Database`] port (returns at once when PostgreSQL is skipped).
pub async fn run_database<F, Fut>(engine: Engine, body: F)
where
    F: FnOnce(Arc<dyn Database>) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(test_db) = TestDb::new(engine).await else {
        return;
    };
    let db: Arc<dyn Database> = Arc::new(test_db.connect().await);
    let handle = db.clone();
    body(db).await;
    handle.close().await;
    drop(test_db);
}

/// One test body, two tests: `<name>::sqlite` and `<name>::postgres`, each on its own
/// [`TestApp`]. The body is a closure taking the app: `|app| async move { … }`. Attributes
/// written before the name (`#[ignore = "…"]`, `#[should_panic]`) go on both tests. The
/// calling crate needs `tokio` (with `macros`) as a dev-dependency.
#[macro_export]
macro_rules! both_engines {
    ($(#[$meta:meta])* $name:ident, $body:expr $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            #[tokio::test]
            async fn sqlite() {
                $crate::run_app($crate::Engine::Sqlite, $body).await;
            }

            $(#[$meta])*
            #[tokio::test]
            async fn postgres() {
                $crate::run_app($crate::Engine::Postgres, $body).await;
            }
        }
    };
}

/// Like [`both_engines!`], for storage tests: the body takes an `Arc<dyn Database>` of a
/// fresh, migrated database: `|db| async move { … }`.
#[macro_export]
macro_rules! both_databases {
    ($(#[$meta:meta])* $name:ident, $body:expr $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            #[tokio::test]
            async fn sqlite() {
                $crate::run_database($crate::Engine::Sqlite, $body).await;
            }

            $(#[$meta])*
            #[tokio::test]
            async fn postgres() {
                $crate::run_database($crate::Engine::Postgres, $body).await;
            }
        }
    };
}
