//! The store ports implemented on [`SqlTx`], one module per port.

mod accounts;
mod announcements;
mod federation;
mod filters;
mod jobs;
mod lists;
mod media;
mod oauth;
mod reports;
mod social;
mod statuses;

use async_trait::async_trait;
use ferrodon_domain::ports::Tx;
use ferrodon_kernel::Result;

use crate::sql::SqlTx;

#[async_trait]
impl Tx for SqlTx {
    async fn commit(self: Box<Self>) -> Result<()> {
        (*self).commit_inner().await
    }
}

/// Relation kinds as stored in `relations.kind`.
pub(crate) fn relation_kind(kind: ferrodon_domain::model::RelationKind) -> &'static str {
    use ferrodon_domain::model::RelationKind::*;
    match kind {
        Follow => "follow",
        FollowRequest => "follow_request",
        Block => "block",
        Mute => "mute",
    }
}
