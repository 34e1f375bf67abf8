//! Timelines: home, public, hashtag, and an account's statuses.

use ferrodon_domain::model::{AccountStatusFilter, PublicFilter, Status};
use ferrodon_domain::ports::Tx;
use ferrodon_kernel::{Error, Id, Page, PageRequest, Result};
use ferrodon_mastodon_api as api;

use crate::auth::{Caller, Viewer};
use crate::visibility::visible;
use crate::{Services, present};

/// Loads, filters and renders a page of status ids (newest first). The page's cursors come
/// from the ids read, so filtered-out rows never stall paging.
async fn page_of(svc: &Services, tx: &mut Box<dyn Tx>, viewer: Option<Id>, ids: Vec<Id>) -> Result<Page<api::Status>> {
    let found = tx.statuses_by_ids(&ids).await?;
    let ordered: Vec<Status> = ids.iter().filter_map(|id| found.iter().find(|s| s.id == *id).cloned()).collect();
    let list = visible(tx, viewer, &ordered, true).await?;
    let items = present::statuses(svc, tx, viewer, &list).await?;
    Ok(Page { items, next_max_id: ids.last().copied(), prev_min_id: ids.first().copied() })
}

/// `GET /api/v1/timelines/home`.
pub async fn home(svc: &Services, me: &Viewer, page: &PageRequest) -> Result<Page<api::Status>> {
    let mut tx = svc.db.read().await?;
    let ids = tx.home_timeline(me.account.id, page).await?;
    page_of(svc, &mut tx, Some(me.account.id), ids).await
}

/// `GET /api/v1/timelines/public`.
pub async fn public(
    svc: &Services,
    caller: &Caller,
    filter: PublicFilter,
    page: &PageRequest,
) -> Result<Page<api::Status>> {
    let viewer = caller.optional_user("read:statuses")?.map(|v| v.account.id);
    let mut tx = svc.db.read().await?;
    let ids = tx.public_timeline(filter, page).await?;
    page_of(svc, &mut tx, viewer, ids).await
}

/// `GET /api/v1/timelines/tag/:hashtag`.
pub async fn tag(
    svc: &Services,
    caller: &Caller,
    tag: &str,
    filter: PublicFilter,
    page: &PageRequest,
) -> Result<Page<api::Status>> {
    let viewer = caller.optional_user("read:statuses")?.map(|v| v.account.id);
    let mut tx = svc.db.read().await?;
    let ids = tx.tag_timeline(tag.trim_start_matches('#'), filter, page).await?;
    page_of(svc, &mut tx, viewer, ids).await
}

/// `GET /api/v1/accounts/:id/statuses`: what the viewer may see of an account.
pub async fn account(
    svc: &Services,
    caller: &Caller,
    raw_id: &str,
    filter: AccountStatusFilter,
    page: &PageRequest,
) -> Result<Page<api::Status>> {
    let viewer = caller.optional_user("read:statuses")?.map(|v| v.account.id);
    let id = Id::parse(raw_id).ok_or_else(Error::not_found)?;
    let mut tx = svc.db.read().await?;
    let account = tx.account_by_id(id).await?.ok_or_else(Error::not_found)?;
    if account.suspended_at.is_some() {
        return Ok(Page::empty());
    }
    if let Some(v) = viewer {
        if v != id && tx.relationships(v, &[id]).await?.first().is_some_and(|r| r.blocked_by) {
            return Ok(Page::empty());
        }
    }
    let ids = tx.account_statuses(id, &filter, page).await?;
    let found = tx.statuses_by_ids(&ids).await?;
    let ordered: Vec<Status> = ids.iter().filter_map(|i| found.iter().find(|s| s.id == *i).cloned()).collect();
    // Not a feed: the viewer's own mutes do not hide a profile they opened.
    let list = visible(&mut tx, viewer, &ordered, false).await?;
    let items = present::statuses(svc, &mut tx, viewer, &list).await?;
    Ok(Page { items, next_max_id: ids.last().copied(), prev_min_id: ids.first().copied() })
}
