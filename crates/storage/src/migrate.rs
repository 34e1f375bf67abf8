//! Schema migrations, embedded in the binary, one ordered list per engine with the same versions.
//! Applied versions are recorded in `schema_migrations`, as Rails does.

use ferrodon_kernel::Result;

use crate::sql::{Conn, db_error};
use crate::{Engine, SqlDatabase};

/// `(version, sqlite, postgres)`.
pub const MIGRATIONS: &[(&str, &str, &str)] = &[
    (
        "0001_core",
        include_str!("../migrations/sqlite/0001_core.sql"),
        include_str!("../migrations/postgres/0001_core.sql"),
    ),
    (
        "0002_jobs",
        include_str!("../migrations/sqlite/0002_jobs.sql"),
        include_str!("../migrations/postgres/0002_jobs.sql"),
    ),
    (
        "0003_settings",
        include_str!("../migrations/sqlite/0003_settings.sql"),
        include_str!("../migrations/postgres/0003_settings.sql"),
    ),
    (
        "0004_jobs_claim_order",
        include_str!("../migrations/sqlite/0004_jobs_claim_order.sql"),
        include_str!("../migrations/postgres/0004_jobs_claim_order.sql"),
    ),
    (
        "0005_federation",
        include_str!("../migrations/sqlite/0005_federation.sql"),
        include_str!("../migrations/postgres/0005_federation.sql"),
    ),
    (
        "0006_domain_allows",
        include_str!("../migrations/sqlite/0006_domain_allows.sql"),
        include_str!("../migrations/postgres/0006_domain_allows.sql"),
    ),
    (
        "0007_reports",
        include_str!("../migrations/sqlite/0007_reports.sql"),
        include_str!("../migrations/postgres/0007_reports.sql"),
    ),
    (
        "0008_remote_media",
        include_str!("../migrations/sqlite/0008_remote_media.sql"),
        include_str!("../migrations/postgres/0008_remote_media.sql"),
    ),
    (
        "0009_account_domain_blocks",
        include_str!("../migrations/sqlite/0009_account_domain_blocks.sql"),
        include_str!("../migrations/postgres/0009_account_domain_blocks.sql"),
    ),
    (
        "0010_filters",
        include_str!("../migrations/sqlite/0010_filters.sql"),
        include_str!("../migrations/postgres/0010_filters.sql"),
    ),
    (
        "0011_lists",
        include_str!("../migrations/sqlite/0011_lists.sql"),
        include_str!("../migrations/postgres/0011_lists.sql"),
    ),
    (
        "0012_statuses_count_trigger",
        include_str!("../migrations/sqlite/0012_statuses_count_trigger.sql"),
        include_str!("../migrations/postgres/0012_statuses_count_trigger.sql"),
    ),
    (
        "0013_mentions_trigger",
        include_str!("../migrations/sqlite/0013_mentions_trigger.sql"),
        include_str!("../migrations/postgres/0013_mentions_trigger.sql"),
    ),
    (
        "0014_announcements",
        include_str!("../migrations/sqlite/0014_announcements.sql"),
        include_str!("../migrations/postgres/0014_announcements.sql"),
    ),
    (
        "0015_silenced_accounts",
        include_str!("../migrations/sqlite/0015_silenced_accounts.sql"),
        include_str!("../migrations/postgres/0015_silenced_accounts.sql"),
    ),
    (
        "0016_limited_accounts_index",
        include_str!("../migrations/sqlite/0016_limited_accounts_index.sql"),
        include_str!("../migrations/postgres/0016_limited_accounts_index.sql"),
    ),
    (
        "0017_media_attachments",
        include_str!("../migrations/sqlite/0017_media_attachments.sql"),
        include_str!("../migrations/postgres/0017_media_attachments.sql"),
    ),
    (
        "0018_profile_images",
        include_str!("../migrations/sqlite/0018_profile_images.sql"),
        include_str!("../migrations/postgres/0018_profile_images.sql"),
    ),
    (
        "0019_custom_emojis",
        include_str!("../migrations/sqlite/0019_custom_emojis.sql"),
        include_str!("../migrations/postgres/0019_custom_emojis.sql"),
    ),
    (
        "0020_account_emojis",
        include_str!("../migrations/sqlite/0020_account_emojis.sql"),
        include_str!("../migrations/postgres/0020_account_emojis.sql"),
    ),
    (
        "0021_preview_cards",
        include_str!("../migrations/sqlite/0021_preview_cards.sql"),
        include_str!("../migrations/postgres/0021_preview_cards.sql"),
    ),
    (
        "0022_mail_tokens",
        include_str!("../migrations/sqlite/0022_mail_tokens.sql"),
        include_str!("../migrations/postgres/0022_mail_tokens.sql"),
    ),
    (
        "0023_two_factor",
        include_str!("../migrations/sqlite/0023_two_factor.sql"),
        include_str!("../migrations/postgres/0023_two_factor.sql"),
    ),
    (
        "0024_invites",
        include_str!("../migrations/sqlite/0024_invites.sql"),
        include_str!("../migrations/postgres/0024_invites.sql"),
    ),
];

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY)";

async fn applied(db: &SqlDatabase) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = match &db.engine {
        Engine::Sqlite { writer, .. } => {
            sqlx::raw_sql(CREATE_TABLE).execute(writer).await.map_err(db_error)?;
            sqlx::query_as("SELECT version FROM schema_migrations").fetch_all(writer).await.map_err(db_error)?
        }
        Engine::Postgres { pool, .. } => {
            sqlx::raw_sql(CREATE_TABLE).execute(pool).await.map_err(db_error)?;
            sqlx::raw_sql("SELECT version FROM schema_migrations")
                .fetch_all(pool)
                .await
                .map_err(db_error)?
                .iter()
                .map(|r| {
                    use sqlx::Row;
                    (r.get::<String, _>(0),)
                })
                .collect()
        }
    };
    Ok(rows.into_iter().map(|r| r.0).collect())
}

pub(crate) async fn pending(db: &SqlDatabase) -> Result<Vec<&'static str>> {
    let done = applied(db).await?;
    Ok(MIGRATIONS.iter().map(|m| m.0).filter(|v| !done.iter().any(|d| d == v)).collect())
}

pub(crate) async fn run(db: &SqlDatabase) -> Result<Vec<&'static str>> {
    let mut ran = Vec::new();
    for (version, sqlite, postgres) in MIGRATIONS {
        let mut tx = db.begin(true).await?;
        // Several processes may start at once: the first one migrates, the others wait and skip.
        let already = match &mut tx.conn {
            Conn::Sqlite(c) => {
                sqlx::raw_sql(CREATE_TABLE).execute(&mut **c).await.map_err(db_error)?;
                let q = sqlx::query_as::<_, (String,)>("SELECT version FROM schema_migrations WHERE version = $1")
                    .bind(*version);
                q.fetch_optional(&mut **c).await.map_err(db_error)?.is_some()
            }
            Conn::Postgres(c) => {
                sqlx::raw_sql("SELECT pg_advisory_xact_lock(7305431090)").execute(&mut **c).await.map_err(db_error)?;
                sqlx::raw_sql(CREATE_TABLE).execute(&mut **c).await.map_err(db_error)?;
                let q = sqlx::query_as::<_, (String,)>("SELECT version FROM schema_migrations WHERE version = $1")
                    .bind(*version)
                    .persistent(false);
                q.fetch_optional(&mut **c).await.map_err(db_error)?.is_some()
            }
        };
        if already {
            continue;
        }
        match &mut tx.conn {
            Conn::Sqlite(c) => {
                sqlx::raw_sql(*sqlite).execute(&mut **c).await.map_err(db_error)?;
                sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)")
                    .bind(*version)
                    .execute(&mut **c)
                    .await
                    .map_err(db_error)?;
            }
            Conn::Postgres(c) => {
                sqlx::raw_sql(*postgres).execute(&mut **c).await.map_err(db_error)?;
                sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)")
                    .bind(*version)
                    .persistent(false)
                    .execute(&mut **c)
                    .await
                    .map_err(db_error)?;
            }
        }
        tx.commit_inner().await?;
        tracing::info!(version, "applied migration");
        ran.push(*version);
    }
    Ok(ran)
}
