//! The one place that talks to sqlx: a transaction of either engine, and helpers that run one
//! SQL text with bound arguments on whichever engine it is.

use std::sync::Arc;

use ferrodon_kernel::{Error, Id, Result};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, FromRow, Postgres, Sqlite, Transaction};
use tokio::sync::Notify;

pub(crate) enum Conn {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// A transaction of either engine; implements every store port (see `stores`).
pub struct SqlTx {
    pub(crate) conn: Conn,
    /// False behind pgBouncer in transaction mode: statements are sent unnamed.
    persistent: bool,
    /// Woken after a commit that enqueued jobs, so this process's workers start at once.
    jobs_signal: Arc<Notify>,
    pub(crate) enqueued: bool,
}

/// A bound argument.
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
    Bool(bool),
    /// A list of ids for [`SqlTx::in_ids`]: an array on PostgreSQL, a JSON array on SQLite.
    Ids(Vec<i64>),
    /// A list of texts: a `text[]` on PostgreSQL, a JSON array on SQLite.
    Texts(Vec<Option<String>>),
}

impl From<&[Id]> for Arg {
    fn from(v: &[Id]) -> Self {
        Arg::Ids(v.iter().map(|i| i.0).collect())
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}
impl From<Id> for Arg {
    fn from(v: Id) -> Self {
        Arg::Int(Some(v.0))
    }
}
impl From<Option<Id>> for Arg {
    fn from(v: Option<Id>) -> Self {
        Arg::Int(v.map(|i| i.0))
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Arg::Text(Some(v.to_string()))
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Self {
        Arg::Text(Some(v))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Self {
        Arg::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Self {
        Arg::Text(v)
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Self {
        Arg::Text(v.map(str::to_string))
    }
}
impl From<&Option<String>> for Arg {
    fn from(v: &Option<String>) -> Self {
        Arg::Text(v.clone())
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Self {
        Arg::Bool(v)
    }
}

/// `args![a, b, c]` builds the argument list for `$1, $2, $3`.
macro_rules! args {
    ($($e:expr),* $(,)?) => { vec![$($crate::sql::Arg::from($e)),*] };
}
pub(crate) use args;

/// A row type both engines can decode.
pub(crate) trait Row: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}
impl<T> Row for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

/// A SQL text: static, or built from trusted fragments (never from input: values are bound).
pub(crate) enum Sql {
    Static(&'static str),
    Built(String),
}

impl From<&'static str> for Sql {
    fn from(s: &'static str) -> Self {
        Sql::Static(s)
    }
}
impl From<String> for Sql {
    fn from(s: String) -> Self {
        Sql::Built(s)
    }
}

macro_rules! bind_all {
    ($q:expr, $args:expr, sqlite) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::Int(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
                Arg::Ids(v) => q.bind(ids_json(&v)),
                Arg::Texts(v) => q.bind(serde_json::to_string(&v).unwrap_or_default()),
            };
        }
        q
    }};
    ($q:expr, $args:expr, postgres) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                Arg::Int(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::Bool(v) => q.bind(v),
                Arg::Ids(v) => q.bind(v),
                Arg::Texts(v) => q.bind(v),
            };
        }
        q
    }};
}

fn ids_json(ids: &[i64]) -> String {
    let mut out = String::with_capacity(ids.len() * 20 + 2);
    out.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&id.to_string());
    }
    out.push(']');
    out
}

macro_rules! run {
    ($self:ident, $sql:ident, $args:ident, $make:path, $method:ident) => {{
        let persistent = $self.persistent;
        match (&mut $self.conn, $sql) {
            (Conn::Sqlite(c), Sql::Static(s)) => bind_all!($make(s), $args, sqlite).$method(&mut **c).await,
            (Conn::Sqlite(c), Sql::Built(s)) => {
                bind_all!($make(AssertSqlSafe(s)), $args, sqlite).$method(&mut **c).await
            }
            (Conn::Postgres(c), Sql::Static(s)) => {
                bind_all!($make(s), $args, postgres).persistent(persistent).$method(&mut **c).await
            }
            (Conn::Postgres(c), Sql::Built(s)) => {
                bind_all!($make(AssertSqlSafe(s)), $args, postgres).persistent(persistent).$method(&mut **c).await
            }
        }
        .map_err(db_error)
    }};
}

impl SqlTx {
    pub(crate) fn new(conn: Conn, persistent: bool, jobs_signal: Arc<Notify>) -> Self {
        SqlTx { conn, persistent, jobs_signal, enqueued: false }
    }

    /// Whether this transaction is on PostgreSQL (for the few statements the engines write
    /// differently, such as row locks).
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self.conn, Conn::Postgres(_))
    }

    /// `column` is one of the ids bound as `$n` ([`Arg::Ids`]). One SQL text whatever the
    /// number of ids, so prepared statements are reused.
    pub(crate) fn in_ids(&self, column: &str, n: usize) -> String {
        match self.conn {
            Conn::Sqlite(_) => format!("{column} IN (SELECT value FROM json_each(${n}))"),
            Conn::Postgres(_) => format!("{column} = ANY(${n})"),
        }
    }

    /// `(a, b)` is one of the pairs given as two id lists of the same length, bound as `$n` and
    /// `$n+1` ([`Arg::Ids`]).
    pub(crate) fn in_pairs(&self, a: &str, b: &str, n: usize) -> String {
        let m = n + 1;
        match self.conn {
            Conn::Sqlite(_) => format!(
                "({a}, {b}) IN (SELECT x.value, y.value FROM json_each(${n}) x JOIN json_each(${m}) y ON x.key = y.key)"
            ),
            Conn::Postgres(_) => format!("({a}, {b}) IN (SELECT * FROM UNNEST(${n}::bigint[], ${m}::bigint[]))"),
        }
    }

    pub(crate) async fn all<T: Row>(&mut self, sql: impl Into<Sql>, args: Vec<Arg>) -> Result<Vec<T>> {
        let sql = sql.into();
        run!(self, sql, args, sqlx::query_as, fetch_all)
    }

    pub(crate) async fn opt<T: Row>(&mut self, sql: impl Into<Sql>, args: Vec<Arg>) -> Result<Option<T>> {
        let sql = sql.into();
        run!(self, sql, args, sqlx::query_as, fetch_optional)
    }

    pub(crate) async fn one<T: Row>(&mut self, sql: impl Into<Sql>, args: Vec<Arg>) -> Result<T> {
        let sql = sql.into();
        run!(self, sql, args, sqlx::query_as, fetch_one)
    }

    /// Runs a statement; returns the number of rows it changed.
    pub(crate) async fn exec(&mut self, sql: impl Into<Sql>, args: Vec<Arg>) -> Result<u64> {
        let sql = sql.into();
        let persistent = self.persistent;
        match (&mut self.conn, sql) {
            (Conn::Sqlite(c), Sql::Static(s)) => {
                bind_all!(sqlx::query(s), args, sqlite).execute(&mut **c).await.map(|r| r.rows_affected())
            }
            (Conn::Sqlite(c), Sql::Built(s)) => bind_all!(sqlx::query(AssertSqlSafe(s)), args, sqlite)
                .execute(&mut **c)
                .await
                .map(|r| r.rows_affected()),
            (Conn::Postgres(c), Sql::Static(s)) => bind_all!(sqlx::query(s), args, postgres)
                .persistent(persistent)
                .execute(&mut **c)
                .await
                .map(|r| r.rows_affected()),
            (Conn::Postgres(c), Sql::Built(s)) => bind_all!(sqlx::query(AssertSqlSafe(s)), args, postgres)
                .persistent(persistent)
                .execute(&mut **c)
                .await
                .map(|r| r.rows_affected()),
        }
        .map_err(db_error)
    }

    /// A single integer (COUNT, EXISTS as 0/1, …).
    pub(crate) async fn int(&mut self, sql: impl Into<Sql>, args: Vec<Arg>) -> Result<i64> {
        Ok(self.one::<(i64,)>(sql, args).await?.0)
    }

    pub(crate) async fn commit_inner(self) -> Result<()> {
        match self.conn {
            Conn::Sqlite(c) => c.commit().await,
            Conn::Postgres(c) => c.commit().await,
        }
        .map_err(db_error)?;
        if self.enqueued {
            self.jobs_signal.notify_one();
        }
        Ok(())
    }
}

/// `$start, $start+1, …` for `n` values (IN lists).
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

pub(crate) fn db_error(e: sqlx::Error) -> Error {
    if let Some(db) = e.as_database_error() {
        if db.is_unique_violation() {
            return Error::conflict("Duplicate record");
        }
        if db.is_foreign_key_violation() {
            return Error::not_found();
        }
    }
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            Error::unavailable(format!("database unavailable: {e}"))
        }
        other => Error::internal(format!("database error: {other}")),
    }
}
