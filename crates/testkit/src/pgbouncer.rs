//! Test databases reached through pgBouncer in transaction mode (`scripts/pgbouncer-up`).
//!
//! The database is created and migrated over the direct connection (`TEST_DATABASE_URL`), as
//! production does (migrations never go through pgBouncer); the returned [`SqlDatabase`] then
//! talks through pgBouncer (`TEST_PGBOUNCER_URL`) with `PREPARED_STATEMENTS=false`, the mode
//! measured safe behind pgBouncer 1.18 (shared/reference/crates.md, note B). pgBouncer must
//! route every database name to the server (a `*` entry), since each test has its own.
//!
//! Without `TEST_PGBOUNCER_URL` these print `skipped: TEST_PGBOUNCER_URL is not set` and return
//! `None`, except under `CI=true`, where they panic.

use ferrodon_config::DatabaseConfig;
use ferrodon_domain::ports::Database;
use ferrodon_storage::SqlDatabase;

use crate::db::{TestDb, in_ci, loopback_without_tls, with_database};

/// `TEST_PGBOUNCER_URL` (e.g. `postgres://postgres@127.0.0.1:6432/postgres`; the database part
/// is replaced per test), or `None` after printing the skip line. Panics under CI without it.
pub fn pgbouncer_url() -> Option<String> {
    match std::env::var("TEST_PGBOUNCER_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_string()),
        _ if in_ci() => panic!(
            "TEST_PGBOUNCER_URL is not set and CI=true: the pgBouncer tests must run in CI \
             (start one with scripts/pgbouncer-up, then TEST_PGBOUNCER_URL=postgres://postgres@127.0.0.1:6432/postgres)"
        ),
        _ => {
            println!("skipped: TEST_PGBOUNCER_URL is not set (scripts/pgbouncer-up starts a pgBouncer)");
            None
        }
    }
}

impl TestDb {
    /// This PostgreSQL test database through the pgBouncer at `bouncer_url`, with prepared
    /// statements off. Panics for a SQLite test database.
    pub fn pgbouncer_config(&self, bouncer_url: &str, pool: u32) -> DatabaseConfig {
        let name = self.pg_name().expect("pgBouncer needs a PostgreSQL test database");
        DatabaseConfig::Postgres {
            url: loopback_without_tls(&with_database(bouncer_url, name)),
            pool,
            prepared_statements: false,
        }
    }

    /// A fresh PostgreSQL test database, migrated directly, and a connection to it through
    /// pgBouncer (`pool` client connections, prepared statements off). `None` when skipped:
    /// `TEST_PGBOUNCER_URL` or `TEST_DATABASE_URL` is unset outside CI.
    pub async fn through_pgbouncer(pool: u32) -> Option<(TestDb, SqlDatabase, DatabaseConfig)> {
        let bouncer = pgbouncer_url()?;
        let test_db = TestDb::postgres().await?;
        let direct = test_db.connect().await;
        Database::close(&direct).await;
        let config = test_db.pgbouncer_config(&bouncer, pool);
        let db = SqlDatabase::connect(&config)
            .await
            .unwrap_or_else(|e| panic!("cannot connect through pgBouncer ({bouncer}): {e}"));
        Some((test_db, db, config))
    }
}
