//! Throwaway databases, one per test.
//!
//! - SQLite: a file in a fresh temporary directory, removed on drop.
//! - PostgreSQL: a database `ferrodon_t_<hex>` created through `TEST_DATABASE_URL` over a direct
//!   connection and dropped (`WITH (FORCE)`) on drop. The first eight hex digits are the creation
//!   time (unix seconds), the rest random: each process sweeps databases of this pattern older
//!   than an hour, which a killed test run may have left behind. Test databases commit without
//!   waiting for the disk (`synchronous_commit = off`), and a loopback server is reached without
//!   TLS unless the URL names an `sslmode` ([`loopback_without_tls`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ferrodon_config::DatabaseConfig;
use sqlx::{Connection, PgConnection};

/// Name prefix of every test database; nothing else may use it.
pub const PG_PREFIX: &str = "ferrodon_t_";
/// Leftover test databases older than this are dropped by the next test run.
const LEFTOVER_AGE: Duration = Duration::from_secs(3600);

/// Which SQL engine a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// True when the run is CI's (`CI=true`): a missing PostgreSQL is then a failure, not a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1")).unwrap_or(false)
}

/// `TEST_DATABASE_URL`, or `None` after printing the skip line. Panics under CI without it.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_string()),
        _ if in_ci() => panic!(
            "TEST_DATABASE_URL is not set and CI=true: the PostgreSQL tests must run in CI \
             (e.g. TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres)"
        ),
        _ => {
            println!("skipped: TEST_DATABASE_URL is not set");
            None
        }
    }
}

fn random_hex(n_u64: usize) -> String {
    (0..n_u64).map(|_| format!("{:016x}", rand::random::<u64>())).collect()
}

fn unix_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A fresh temporary directory, removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let path = std::env::temp_dir().join(format!("ferrodon-test-{}", random_hex(1)));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug)]
struct PgDatabase {
    admin_url: String,
    name: String,
}

/// A database that exists for one test, with a temporary data directory beside it.
#[derive(Debug)]
pub struct TestDb {
    engine: Engine,
    url: String,
    pg: Option<PgDatabase>,
    // Declared last: removed after the database is gone.
    dir: TempDir,
}

impl TestDb {
    /// A database of `engine`; `None` when PostgreSQL is skipped (no `TEST_DATABASE_URL`).
    pub async fn new(engine: Engine) -> Option<TestDb> {
        match engine {
            Engine::Sqlite => Some(TestDb::sqlite()),
            Engine::Postgres => TestDb::postgres().await,
        }
    }

    /// A SQLite file in a fresh temporary directory.
    pub fn sqlite() -> TestDb {
        let dir = TempDir::new();
        let url = format!("sqlite:{}", dir.path().join("ferrodon.db").display());
        TestDb { engine: Engine::Sqlite, url, pg: None, dir }
    }

    /// A new PostgreSQL database, or `None` (skip) without `TEST_DATABASE_URL`.
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = loopback_without_tls(&postgres_admin_url()?);
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to TEST_DATABASE_URL: {e}"));
        sweep_leftovers(&mut admin).await;
        let name = format!("{PG_PREFIX}{:08x}{}", unix_secs(), random_hex(1));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        // A throwaway database needs no durability: commits do not wait for the disk.
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("ALTER DATABASE \"{name}\" SET synchronous_commit = off")))
            .execute(&mut admin)
            .await;
        let _ = admin.close().await;
        let url = with_database(&admin_url, &name);
        Some(TestDb { engine: Engine::Postgres, url, pg: Some(PgDatabase { admin_url, name }), dir: TempDir::new() })
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The `DATABASE_URL` of this database (`sqlite:/…/ferrodon.db` or `postgres://…`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A temporary directory for `FERRODON_DATA_DIR`.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The PostgreSQL database name, if PostgreSQL.
    pub fn pg_name(&self) -> Option<&str> {
        self.pg.as_ref().map(|p| p.name.as_str())
    }

    pub fn database_config(&self) -> DatabaseConfig {
        match self.engine {
            Engine::Sqlite => DatabaseConfig::Sqlite { path: self.dir.path().join("ferrodon.db") },
            Engine::Postgres => DatabaseConfig::Postgres { url: self.url.clone(), pool: 5, prepared_statements: true },
        }
    }

    /// Connects and migrates.
    pub async fn connect(&self) -> ferrodon_storage::SqlDatabase {
        let db = ferrodon_storage::SqlDatabase::connect(&self.database_config())
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the {} test database: {e}", self.engine.name()));
        db.migrate().await.unwrap_or_else(|e| panic!("migrations failed on {}: {e}", self.engine.name()));
        db
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(pg) = self.pg.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread with a
        // runtime of its own. Best effort: a failure leaves the database for the next sweep.
        let handle = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(_) => return,
            };
            rt.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&pg.admin_url).await {
                    drop_database(&mut admin, &pg.name).await;
                    let _ = admin.close().await;
                }
            });
        });
        let _ = handle.join();
    }
}

/// Adds `sslmode=disable` to a URL of a loopback server that names no `sslmode`: TLS to
/// 127.0.0.1 protects nothing, and its handshakes (unoptimised in test builds) cost a quarter
/// of a second per test.
pub fn loopback_without_tls(url: &str) -> String {
    if url.contains("sslmode=") {
        return url.to_string();
    }
    let authority = url.split_once("://").map_or("", |(_, rest)| rest.split(['/', '?']).next().unwrap_or(""));
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    if matches!(host, "localhost" | "::1") || host.starts_with("127.") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}sslmode=disable")
    } else {
        url.to_string()
    }
}

/// `admin_url` with its database replaced by `name` (query string kept).
pub fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

async fn drop_database(admin: &mut PgConnection, name: &str) {
    debug_assert!(name.starts_with(PG_PREFIX));
    let forced = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")))
        .execute(&mut *admin)
        .await;
    if forced.is_err() {
        // Before PostgreSQL 13: end the sessions, then drop.
        let _ = sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(name)
        .execute(&mut *admin)
        .await;
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\"")))
            .execute(&mut *admin)
            .await;
    }
}

/// Drops test databases left by killed runs (once per process).
async fn sweep_leftovers(admin: &mut PgConnection) {
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let names: Vec<(String,)> = match sqlx::query_as("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
        .bind(PG_PREFIX)
        .fetch_all(&mut *admin)
        .await
    {
        Ok(rows) => rows,
        Err(_) => return,
    };
    let now = unix_secs();
    for (name,) in names {
        let created = name
            .strip_prefix(PG_PREFIX)
            .and_then(|rest| rest.get(..8))
            .and_then(|hex| u64::from_str_radix(hex, 16).ok());
        let stale = match created {
            Some(t) => now.saturating_sub(t) > LEFTOVER_AGE.as_secs(),
            // Not made by this scheme: not ours to judge.
            None => false,
        };
        if stale {
            drop_database(admin, &name).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(with_database("postgres://u:p@h/db?sslmode=disable", "x"), "postgres://u:p@h/x?sslmode=disable");
        assert_eq!(with_database("postgres://h:5432", "x"), "postgres://h:5432/x");
    }

    #[test]
    fn loopback_servers_skip_tls() {
        assert_eq!(
            loopback_without_tls("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
        );
        assert_eq!(
            loopback_without_tls("postgres://localhost/db?application_name=x"),
            "postgres://localhost/db?application_name=x&sslmode=disable"
        );
        assert_eq!(loopback_without_tls("postgres://u@[::1]:5432/db"), "postgres://u@[::1]:5432/db?sslmode=disable");
        for kept in ["postgres://db.internal/x", "postgres://127.0.0.1/x?sslmode=require"] {
            assert_eq!(loopback_without_tls(kept), kept);
        }
    }
}
