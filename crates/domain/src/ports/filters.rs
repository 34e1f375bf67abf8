//! Custom filters (Mastodon's v2 filters) of local users.

use async_trait::async_trait;
use ferrodon_kernel::{Id, Result};

use crate::model::{Filter, FilterKeyword, FilterStatus};

#[async_trait]
pub trait FilterStore {
    /// The account's filters, oldest first, with their keywords and statuses.
    async fn filters_of(&mut self, account_id: Id) -> Result<Vec<Filter>>;
    /// Stores a new filter (its keywords and statuses are stored apart).
    async fn insert_filter(&mut self, filter: &Filter) -> Result<()>;
    /// Changes a filter's title, context, action and expiry.
    async fn update_filter(&mut self, filter: &Filter) -> Result<()>;
    /// Deletes a filter with its keywords and statuses; false when it did not exist.
    async fn delete_filter(&mut self, id: Id) -> Result<bool>;
    /// Stores a keyword, or changes the one with its id.
    async fn upsert_filter_keyword(&mut self, keyword: &FilterKeyword) -> Result<()>;
    async fn delete_filter_keyword(&mut self, id: Id) -> Result<bool>;
    /// Adds a status to a filter; false when the filter has it already.
    async fn insert_filter_status(&mut self, status: &FilterStatus) -> Result<bool>;
    async fn delete_filter_status(&mut self, id: Id) -> Result<bool>;
}
