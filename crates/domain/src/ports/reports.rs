//! Reports for moderators.

use async_trait::async_trait;
use ferrodon_kernel::{Id, Result};

use crate::model::Report;

#[async_trait]
pub trait ReportStore {
    /// Stores a report; false when one with the same `uri` (a `Flag` received twice) exists.
    async fn insert_report(&mut self, report: &Report) -> Result<bool>;
    async fn report_by_id(&mut self, id: Id) -> Result<Option<Report>>;
    /// Reports newest first, only those no action was taken on unless `all`.
    async fn reports(&mut self, all: bool, limit: u32) -> Result<Vec<Report>>;
}
