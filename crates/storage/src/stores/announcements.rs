use async_trait::async_trait;
use ferrodon_domain::model::{Announcement, AnnouncementReaction};
use ferrodon_domain::ports::AnnouncementStore;
use ferrodon_kernel::time::Millis;
use ferrodon_kernel::{Id, Result};

use crate::sql::{SqlTx, args};

const COLS: &str =
    "id, text, published, all_day, scheduled_at, starts_at, ends_at, published_at, created_at, updated_at";
const CHRONOLOGICAL: &str = "ORDER BY COALESCE(starts_at, scheduled_at, published_at, created_at), id";

#[async_trait]
impl AnnouncementStore for SqlTx {
    async fn announcements(&mut self, published_only: bool) -> Result<Vec<Announcement>> {
        let filter = if published_only { " WHERE published" } else { "" };
        self.all(format!("SELECT {COLS} FROM announcements{filter} {CHRONOLOGICAL}"), args![]).await
    }

    async fn announcement(&mut self, id: Id) -> Result<Option<Announcement>> {
        self.opt(format!("SELECT {COLS} FROM announcements WHERE id = $1"), args![id]).await
    }

    async fn insert_announcement(&mut self, a: &Announcement) -> Result<()> {
        self.exec(
            format!("INSERT INTO announcements ({COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"),
            args![
                a.id,
                &a.text,
                a.published,
                a.all_day,
                a.scheduled_at,
                a.starts_at,
                a.ends_at,
                a.published_at,
                a.created_at,
                a.updated_at
            ],
        )
        .await
        .map(|_| ())
    }

    async fn update_announcement(&mut self, a: &Announcement) -> Result<()> {
        self.exec(
            "UPDATE announcements SET text = $2, published = $3, all_day = $4, scheduled_at = $5, starts_at = $6, \
             ends_at = $7, published_at = $8, updated_at = $9 WHERE id = $1",
            args![
                a.id,
                &a.text,
                a.published,
                a.all_day,
                a.scheduled_at,
                a.starts_at,
                a.ends_at,
                a.published_at,
                a.updated_at
            ],
        )
        .await
        .map(|_| ())
    }

    async fn delete_announcement(&mut self, id: Id) -> Result<()> {
        self.exec("DELETE FROM announcement_reactions WHERE announcement_id = $1", args![id]).await?;
        self.exec("DELETE FROM announcement_mutes WHERE announcement_id = $1", args![id]).await?;
        self.exec("DELETE FROM announcements WHERE id = $1", args![id]).await.map(|_| ())
    }

    async fn due_announcements(&mut self, now: Millis) -> Result<Vec<Announcement>> {
        self.all(
            format!(
                "SELECT {COLS} FROM announcements WHERE NOT published AND scheduled_at IS NOT NULL \
                 AND scheduled_at <= $1 {CHRONOLOGICAL}"
            ),
            args![now],
        )
        .await
    }

    async fn expire_announcements(&mut self, now: Millis) -> Result<Vec<Id>> {
        let rows: Vec<(Id,)> = self
            .all(
                "UPDATE announcements SET published = FALSE, scheduled_at = NULL, updated_at = $1 \
                 WHERE published AND ends_at IS NOT NULL AND ends_at <= $1 RETURNING id",
                args![now],
            )
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn dismissed_announcements(&mut self, account: Id, ids: &[Id]) -> Result<Vec<Id>> {
        let sql = format!(
            "SELECT announcement_id FROM announcement_mutes WHERE account_id = $1 AND {}",
            self.in_ids("announcement_id", 2)
        );
        let rows: Vec<(Id,)> = self.all(sql, args![account, ids]).await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn dismiss_announcement(&mut self, account: Id, id: Id) -> Result<()> {
        self.exec(
            "INSERT INTO announcement_mutes (account_id, announcement_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            args![account, id],
        )
        .await
        .map(|_| ())
    }

    async fn announcement_reactions(&mut self, ids: &[Id], viewer: Option<Id>) -> Result<Vec<AnnouncementReaction>> {
        let sql = format!(
            "SELECT announcement_id, name, COUNT(*) AS count, \
             MAX(CASE WHEN account_id = CAST($2 AS BIGINT) THEN 1 ELSE 0 END) = 1 AS me \
             FROM announcement_reactions WHERE {} GROUP BY announcement_id, name ORDER BY MIN(id)",
            self.in_ids("announcement_id", 1)
        );
        self.all(sql, args![ids, viewer]).await
    }

    async fn add_announcement_reaction(&mut self, account: Id, id: Id, name: &str, now: Millis) -> Result<bool> {
        let added = self
            .exec(
                "INSERT INTO announcement_reactions (id, account_id, announcement_id, name, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                args![Id::generate(), account, id, name, now],
            )
            .await?;
        Ok(added > 0)
    }

    async fn remove_announcement_reaction(&mut self, account: Id, id: Id, name: &str) -> Result<bool> {
        let removed = self
            .exec(
                "DELETE FROM announcement_reactions WHERE account_id = $1 AND announcement_id = $2 AND name = $3",
                args![account, id, name],
            )
            .await?;
        Ok(removed > 0)
    }

    async fn local_user_accounts(&mut self, after: Id, limit: u32) -> Result<Vec<Id>> {
        let rows: Vec<(Id,)> = self
            .all(
                "SELECT a.id FROM accounts a JOIN users u ON u.account_id = a.id \
                 WHERE a.id > $1 AND a.suspended_at IS NULL AND NOT u.disabled AND u.confirmed_at IS NOT NULL \
                 ORDER BY a.id LIMIT $2",
                args![after, limit as i64],
            )
            .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}
