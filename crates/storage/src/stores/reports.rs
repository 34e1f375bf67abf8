use async_trait::async_trait;
use ferrodon_domain::model::Report;
use ferrodon_domain::ports::ReportStore;
use ferrodon_kernel::{Id, Result};

use crate::sql::{SqlTx, args};

const REPORT_COLS: &str = "id, account_id, target_account_id, status_ids_json, rule_ids_json, comment, category, \
    forwarded, uri, action_taken_at, created_at, updated_at";

#[async_trait]
impl ReportStore for SqlTx {
    async fn insert_report(&mut self, r: &Report) -> Result<bool> {
        let n = self
            .exec(
                "INSERT INTO reports (id, account_id, target_account_id, status_ids_json, rule_ids_json, comment, category, \
                 forwarded, uri, action_taken_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
                args![
                    r.id,
                    r.account_id,
                    r.target_account_id,
                    &r.status_ids_json,
                    &r.rule_ids_json,
                    &r.comment,
                    &r.category,
                    r.forwarded,
                    &r.uri,
                    r.action_taken_at,
                    r.created_at,
                    r.updated_at
                ],
            )
            .await?;
        Ok(n == 1)
    }

    async fn report_by_id(&mut self, id: Id) -> Result<Option<Report>> {
        self.opt(format!("SELECT {REPORT_COLS} FROM reports WHERE id = $1"), args![id]).await
    }

    async fn reports(&mut self, all: bool, limit: u32) -> Result<Vec<Report>> {
        let filter = if all { "" } else { "WHERE action_taken_at IS NULL" };
        self.all(format!("SELECT {REPORT_COLS} FROM reports {filter} ORDER BY id DESC LIMIT $1"), args![limit as i64])
            .await
    }
}
