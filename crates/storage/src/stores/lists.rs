use async_trait::async_trait;
use ferrodon_domain::model::{Keyed, List, Status};
use ferrodon_domain::ports::ListStore;
use ferrodon_kernel::{Id, PageRequest, Result};

use super::accounts::page_clause;
use super::statuses::STATUS_COLS;
use crate::rules::{self, LIST_SOURCES};
use crate::sql::{SqlTx, args};

const LIST_COLS: &str = "l.id, l.account_id, l.title, l.replies_policy, l.exclusive, l.created_at, l.updated_at";

#[async_trait]
impl ListStore for SqlTx {
    async fn lists_of(&mut self, account_id: Id) -> Result<Vec<List>> {
        self.all(
            format!("SELECT {LIST_COLS} FROM lists l WHERE l.account_id = $1 ORDER BY l.title, l.id"),
            args![account_id],
        )
        .await
    }

    async fn insert_list(&mut self, l: &List) -> Result<()> {
        self.exec(
            "INSERT INTO lists (id, account_id, title, replies_policy, exclusive, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            args![l.id, l.account_id, &l.title, &l.replies_policy, l.exclusive, l.created_at, l.updated_at],
        )
        .await
        .map(|_| ())
    }

    async fn update_list(&mut self, l: &List) -> Result<()> {
        self.exec(
            "UPDATE lists SET title = $2, replies_policy = $3, exclusive = $4, updated_at = $5 WHERE id = $1",
            args![l.id, &l.title, &l.replies_policy, l.exclusive, l.updated_at],
        )
        .await
        .map(|_| ())
    }

    async fn delete_list(&mut self, id: Id) -> Result<()> {
        self.exec("DELETE FROM list_accounts WHERE list_id = $1", args![id]).await?;
        self.exec("DELETE FROM lists WHERE id = $1", args![id]).await.map(|_| ())
    }

    async fn list_members(&mut self, list_id: Id, page: &PageRequest) -> Result<Vec<Keyed<Id>>> {
        let (clause, order, mut a) = page_clause("id", page, 2);
        let mut all = args![list_id];
        all.append(&mut a);
        let limit = if page.limit == 0 { String::new() } else { format!(" LIMIT {}", page.limit) };
        let sql =
            format!("SELECT id, account_id FROM list_accounts WHERE list_id = $1{clause} ORDER BY id {order}{limit}");
        let mut rows: Vec<(Id, Id)> = self.all(sql, all).await?;
        if order == "ASC" {
            rows.reverse();
        }
        Ok(rows.into_iter().map(|(key, item)| Keyed { key, item }).collect())
    }

    async fn add_list_members(&mut self, list_id: Id, accounts: &[Id]) -> Result<()> {
        for account in accounts {
            self.exec(
                "INSERT INTO list_accounts (id, list_id, account_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                args![Id::generate(), list_id, *account],
            )
            .await?;
        }
        Ok(())
    }

    async fn remove_list_members(&mut self, list_id: Id, accounts: &[Id]) -> Result<()> {
        let sql = format!("DELETE FROM list_accounts WHERE list_id = $1 AND {}", self.in_ids("account_id", 2));
        self.exec(sql, args![list_id, accounts]).await.map(|_| ())
    }

    async fn lists_with_member(&mut self, member: Id, owner: Option<Id>) -> Result<Vec<List>> {
        self.all(
            format!(
                "SELECT {LIST_COLS} FROM list_accounts la JOIN lists l ON l.id = la.list_id \
                 WHERE la.account_id = $1 AND (CAST($2 AS BIGINT) IS NULL OR l.account_id = $2) ORDER BY l.title, l.id"
            ),
            args![member, owner],
        )
        .await
    }

    async fn list_timeline(&mut self, list: &List, page: &PageRequest) -> Result<Vec<Status>> {
        let (clause, order, mut a) = page_clause("s.id", page, 2);
        let mut all = args![list.id];
        all.append(&mut a);
        let sql = format!(
            "SELECT {STATUS_COLS} FROM {LIST_SOURCES} JOIN statuses s ON s.account_id = la.account_id \
             WHERE l.id = $1 AND {rule}{clause} ORDER BY s.id {order} LIMIT {}",
            page.limit,
            rule = rules::list("s", "f", "l"),
        );
        self.timeline(sql, all, order == "ASC").await
    }

    async fn list_recipients(&mut self, status: &Status) -> Result<Vec<List>> {
        let (row, values) = rules::status_row(status, 1);
        let sql = format!(
            "SELECT {LIST_COLS} FROM {row} s, {LIST_SOURCES} WHERE la.account_id = s.account_id AND {rule} ORDER BY l.id",
            rule = rules::list("s", "f", "l"),
        );
        self.all(sql, values).await
    }
}
