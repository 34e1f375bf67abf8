use async_trait::async_trait;
use ferrodon_domain::model::{Filter, FilterKeyword, FilterStatus};
use ferrodon_domain::ports::FilterStore;
use ferrodon_kernel::{Id, Result};

use crate::sql::{SqlTx, args};

const FILTER_COLS: &str = "id, account_id, title, context_json, action, expires_at, created_at, updated_at";

#[async_trait]
impl FilterStore for SqlTx {
    async fn filters_of(&mut self, account_id: Id) -> Result<Vec<Filter>> {
        let mut filters: Vec<Filter> = self
            .all(format!("SELECT {FILTER_COLS} FROM filters WHERE account_id = $1 ORDER BY id"), args![account_id])
            .await?;
        if filters.is_empty() {
            return Ok(filters);
        }
        let keywords: Vec<FilterKeyword> = self
            .all(
                "SELECT k.id, k.filter_id, k.keyword, k.whole_word FROM filter_keywords k \
                 JOIN filters f ON f.id = k.filter_id WHERE f.account_id = $1 ORDER BY k.id",
                args![account_id],
            )
            .await?;
        let statuses: Vec<FilterStatus> = self
            .all(
                "SELECT s.id, s.filter_id, s.status_id FROM filter_statuses s \
                 JOIN filters f ON f.id = s.filter_id WHERE f.account_id = $1 ORDER BY s.id",
                args![account_id],
            )
            .await?;
        for f in &mut filters {
            f.keywords = keywords.iter().filter(|k| k.filter_id == f.id).cloned().collect();
            f.statuses = statuses.iter().filter(|s| s.filter_id == f.id).cloned().collect();
        }
        Ok(filters)
    }

    async fn insert_filter(&mut self, f: &Filter) -> Result<()> {
        self.exec(
            format!("INSERT INTO filters ({FILTER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
            args![f.id, f.account_id, &f.title, &f.context_json, &f.action, f.expires_at, f.created_at, f.updated_at],
        )
        .await
        .map(|_| ())
    }

    async fn update_filter(&mut self, f: &Filter) -> Result<()> {
        self.exec(
            "UPDATE filters SET title = $2, context_json = $3, action = $4, expires_at = $5, updated_at = $6 \
             WHERE id = $1",
            args![f.id, &f.title, &f.context_json, &f.action, f.expires_at, f.updated_at],
        )
        .await
        .map(|_| ())
    }

    async fn delete_filter(&mut self, id: Id) -> Result<bool> {
        self.exec("DELETE FROM filter_keywords WHERE filter_id = $1", args![id]).await?;
        self.exec("DELETE FROM filter_statuses WHERE filter_id = $1", args![id]).await?;
        Ok(self.exec("DELETE FROM filters WHERE id = $1", args![id]).await? == 1)
    }

    async fn upsert_filter_keyword(&mut self, k: &FilterKeyword) -> Result<()> {
        self.exec(
            "INSERT INTO filter_keywords (id, filter_id, keyword, whole_word) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET keyword = excluded.keyword, whole_word = excluded.whole_word",
            args![k.id, k.filter_id, &k.keyword, k.whole_word],
        )
        .await
        .map(|_| ())
    }

    async fn delete_filter_keyword(&mut self, id: Id) -> Result<bool> {
        Ok(self.exec("DELETE FROM filter_keywords WHERE id = $1", args![id]).await? == 1)
    }

    async fn insert_filter_status(&mut self, s: &FilterStatus) -> Result<bool> {
        let n = self
            .exec(
                "INSERT INTO filter_statuses (id, filter_id, status_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                args![s.id, s.filter_id, s.status_id],
            )
            .await?;
        Ok(n == 1)
    }

    async fn delete_filter_status(&mut self, id: Id) -> Result<bool> {
        Ok(self.exec("DELETE FROM filter_statuses WHERE id = $1", args![id]).await? == 1)
    }
}
