//! Timelines: home, public, hashtag, and an account's statuses.

use ferrodon_domain::model::{AccountStatusFilter, PublicFilter, Status};
use ferrodon_domain::ports::Tx;
use ferrodon_kernel::{Error, Id, Page, PageRequest, Result};

use crate::Services;
use crate::auth::{Caller, Viewer, now};
use crate::visibility::visible;

/// The statuses of a page of rows (newest first) that the viewer may see. The page's cursors
/// come from the rows read, so filtered-out rows never stall paging; `next` is left out when the
/// rows ran out.
pub(crate) async fn page_of(
    tx: &mut Box<dyn Tx>,
    viewer: Option<Id>,
    rows: Vec<Status>,
    page: &PageRequest,
    feed: bool,
) -> Result<Page<Status>> {
    let items = visible(tx, viewer, &rows, feed).await?;
    let more = rows.len() >= page.limit as usize;
    Ok(Page { items, next_max_id: rows.last().map(|s| s.id).filter(|_| more), prev_min_id: rows.first().map(|s| s.id) })
}

/// `GET /api/v1/timelines/home`.
pub async fn home(svc: &Services, me: &Viewer, page: &PageRequest) -> Result<Page<Status>> {
    let mut tx = svc.db.read().await?;
    let rows = tx.home_timeline(me.account.id, page).await?;
    page_of(&mut tx, Some(me.account.id), rows, page, true).await
}

/// `GET /api/v1/timelines/public`.
pub async fn public(svc: &Services, caller: &Caller, filter: PublicFilter, page: &PageRequest) -> Result<Page<Status>> {
    let viewer = caller.optional_user("read:statuses")?.map(|v| v.account.id);
    let mut tx = svc.db.read().await?;
    let rows = tx.public_timeline(filter, page).await?;
    page_of(&mut tx, viewer, rows, page, true).await
}

/// `GET /api/v1/timelines/tag/:hashtag`.
pub async fn tag(
    svc: &Services,
    caller: &Caller,
    tag: &str,
    filter: PublicFilter,
    page: &PageRequest,
) -> Result<Page<Status>> {
    let viewer = caller.optional_user("read:statuses")?.map(|v| v.account.id);
    let mut tx = svc.db.read().await?;
    let rows = tx.tag_timeline(tag.trim_start_matches('#'), filter, page).await?;
    page_of(&mut tx, viewer, rows, page, true).await
}

/// `GET /api/v1/accounts/:id/statuses`: what the viewer may see of an account.
pub async fn account(
    svc: &Services,
    caller: &Caller,
    raw_id: &str,
    filter: AccountStatusFilter,
    page: &PageRequest,
) -> Result<Page<Status>> {
    let viewer = caller.optional_user("read:statuses")?.map(|v| v.account.id);
    let id = Id::parse(raw_id).ok_or_else(Error::not_found)?;
    let mut tx = svc.db.read().await?;
    let account = tx.account_by_id(id).await?.ok_or_else(Error::not_found)?;
    if account.suspended_at.is_some() {
        return Ok(Page::empty());
    }
    if let Some(v) = viewer
        && v != id
        && tx.relationships(v, &[id], now()).await?.first().is_some_and(|r| r.blocked_by)
    {
        return Ok(Page::empty());
    }
    let rows = tx.account_statuses(id, &filter, page).await?;
    // Not a feed: the viewer's own mutes do not hide a profile they opened.
    let out = page_of(&mut tx, viewer, rows, page, false).await?;
    drop(tx);
    // A remote account's pinned posts are read on `pull` (at most every 15 minutes).
    if !account.is_local()
        && let Err(e) = crate::remote::fetch_featured_later(svc, id).await
    {
        tracing::debug!(error = %e, "queueing a read of pinned posts failed");
    }
    Ok(out)
}
