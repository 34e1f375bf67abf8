//! SQL storage for SQLite (the embedded default) and PostgreSQL (scale-out), implementing the
//! domain's store ports with one set of SQL texts.
//!
//! Both engines run the same statements: `$n` placeholders, `RETURNING`, `ON CONFLICT`, and the
//! portable column types (64-bit integers for ids and times, booleans, text). Where SQL has to
//! differ, the statement is chosen per engine next to its twin.
//!
//! pgBouncer in transaction mode: every statement runs inside an explicit transaction (a
//! [`ferrodon_domain::ports::Tx`]), and with `PREPARED_STATEMENTS=false` every statement is sent
//! unnamed (`persistent(false)`). Together these are the combination measured safe in
//! `shared/reference/crates.md`, note B.

mod migrate;
mod rules;
pub mod seed;
mod sql;
mod stores;

pub use migrate::MIGRATIONS;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferrodon_config::DatabaseConfig;
use ferrodon_domain::ports::{Database, Tx};
use ferrodon_kernel::{Error, Result};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use tokio::sync::Notify;

use crate::sql::{Conn, SqlTx};

/// A connected SQL database of either engine.
#[derive(Clone)]
pub struct SqlDatabase {
    engine: Engine,
    /// Signalled when a transaction that enqueued jobs commits (see `jobs`).
    jobs_signal: Arc<Notify>,
    /// When each queue was last searched for expired leases (see `jobs`).
    last_reap: Arc<[std::sync::atomic::AtomicI64; 6]>,
}

#[derive(Clone)]
enum Engine {
    /// One writer connection (SQLite allows one writer at a time) and a pool of readers.
    Sqlite {
        writer: SqlitePool,
        readers: SqlitePool,
    },
    Postgres {
        pool: PgPool,
        persistent: bool,
    },
}

impl SqlDatabase {
    /// Connects; does not migrate.
    pub async fn connect(config: &DatabaseConfig) -> Result<SqlDatabase> {
        match config {
            DatabaseConfig::Sqlite { path } => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| Error::unavailable(format!("cannot create {}: {e}", dir.display())))?;
                }
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    .pragma("cache_size", "-4000")
                    .pragma("temp_store", "memory");
                // A SQLite connection is a local file handle that does not go stale: no ping on
                // every acquire (on SQLite a ping is a round trip to the connection's thread).
                let writer = SqlitePoolOptions::new()
                    .test_before_acquire(false)
                    .max_connections(1)
                    .min_connections(1)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(options.clone())
                    .await
                    .map_err(|e| Error::unavailable(format!("cannot open SQLite database {}: {e}", path.display())))?;
                let readers = SqlitePoolOptions::new()
                    .test_before_acquire(false)
                    .max_connections(4)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(options.read_only(true))
                    .await
                    .map_err(|e| Error::unavailable(format!("cannot open SQLite database {}: {e}", path.display())))?;
                Ok(SqlDatabase {
                    engine: Engine::Sqlite { writer, readers },
                    jobs_signal: Arc::default(),
                    last_reap: Arc::default(),
                })
            }
            DatabaseConfig::Postgres { url, pool, prepared_statements } => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(|e| Error::validation(format!("invalid DATABASE_URL: {e}")))?
                    .application_name("ferrodon");
                // With prepared statements off, no named statement may ever be created: a zero
                // cache plus unnamed statements (see crates.md, note B).
                let options = if *prepared_statements { options } else { options.statement_cache_capacity(0) };
                let pool = PgPoolOptions::new()
                    .max_connections(*pool)
                    .acquire_timeout(Duration::from_secs(10))
                    .idle_timeout(Duration::from_secs(300))
                    .max_lifetime(Duration::from_secs(1800))
                    .connect_with(options)
                    .await
                    .map_err(|e| Error::unavailable(format!("cannot connect to PostgreSQL: {e}")))?;
                Ok(SqlDatabase {
                    engine: Engine::Postgres { pool, persistent: *prepared_statements },
                    jobs_signal: Arc::default(),
                    last_reap: Arc::default(),
                })
            }
        }
    }

    /// Applies pending migrations (over a direct connection, never through pgBouncer).
    pub async fn migrate(&self) -> Result<Vec<&'static str>> {
        migrate::run(self).await
    }

    /// Versions not yet applied.
    pub async fn pending_migrations(&self) -> Result<Vec<&'static str>> {
        migrate::pending(self).await
    }

    pub(crate) async fn begin(&self, write: bool) -> Result<SqlTx> {
        let conn = match &self.engine {
            Engine::Sqlite { writer, readers } => {
                let tx = if write { writer.begin_with("BEGIN IMMEDIATE").await } else { readers.begin().await };
                Conn::Sqlite(tx.map_err(sql::db_error)?)
            }
            Engine::Postgres { pool, .. } => Conn::Postgres(pool.begin().await.map_err(sql::db_error)?),
        };
        let persistent = match &self.engine {
            Engine::Sqlite { .. } => true,
            Engine::Postgres { persistent, .. } => *persistent,
        };
        Ok(SqlTx::new(conn, persistent, self.jobs_signal.clone()))
    }
}

#[async_trait]
impl Database for SqlDatabase {
    async fn read(&self) -> Result<Box<dyn Tx>> {
        Ok(Box::new(self.begin(false).await?))
    }

    async fn write(&self) -> Result<Box<dyn Tx>> {
        Ok(Box::new(self.begin(true).await?))
    }

    fn engine(&self) -> &'static str {
        match self.engine {
            Engine::Sqlite { .. } => "sqlite",
            Engine::Postgres { .. } => "postgres",
        }
    }

    async fn close(&self) {
        match &self.engine {
            Engine::Sqlite { writer, readers } => {
                readers.close().await;
                writer.close().await;
            }
            Engine::Postgres { pool, .. } => pool.close().await,
        }
    }
}
