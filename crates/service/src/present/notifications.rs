//! Mastodon entities for notifications: `Notification`, `GroupedNotificationsResults` and the
//! read `Marker`s.

use std::collections::HashMap;

use ferrodon_domain::model::{Account, Marker, Notification};
use ferrodon_domain::ports::Tx;
use ferrodon_kernel::time::rfc3339;
use ferrodon_kernel::{Error, Id, Page, Result};
use ferrodon_mastodon_api as api;

use super::{account, statuses_in};
use crate::notifications::Group;
use crate::{Services, Viewer};

pub(crate) async fn notifications_in(
    svc: &Services,
    tx: &mut Box<dyn Tx>,
    viewer: Id,
    list: &[Notification],
) -> Result<Vec<api::Notification>> {
    let mut account_ids: Vec<Id> = list.iter().map(|n| n.from_account_id).collect();
    account_ids.sort_unstable();
    account_ids.dedup();
    let accounts: HashMap<Id, Account> =
        tx.accounts_by_ids(&account_ids).await?.into_iter().map(|a| (a.id, a)).collect();
    let status_ids: Vec<Id> = list.iter().filter_map(|n| n.status_id).collect();
    let found = tx.statuses_by_ids(&status_ids).await?;
    let rendered: HashMap<String, api::Status> =
        statuses_in(svc, tx, Some(viewer), &found).await?.into_iter().map(|s| (s.id.clone(), s)).collect();
    Ok(list
        .iter()
        .filter_map(|n| {
            let from = accounts.get(&n.from_account_id)?;
            let status = match n.status_id {
                Some(id) => Some(rendered.get(&id.to_string())?.clone()),
                None => None,
            };
            Some(api::Notification {
                id: n.id.to_string(),
                kind: n.kind.as_str().into(),
                group_key: n.group_key.clone(),
                created_at: rfc3339(n.created_at),
                account: account(svc, from),
                status,
            })
        })
        .collect())
}

/// Notifications as their owner sees them, in the given order (one read transaction); those
/// whose account or status is gone are left out.
pub async fn notifications(svc: &Services, me: &Viewer, list: &[Notification]) -> Result<Vec<api::Notification>> {
    let mut tx = svc.db.read().await?;
    notifications_in(svc, &mut tx, me.account.id, list).await
}

pub async fn notification(svc: &Services, me: &Viewer, n: &Notification) -> Result<api::Notification> {
    notifications(svc, me, std::slice::from_ref(n)).await?.pop().ok_or_else(Error::not_found)
}

/// A page of notifications, its cursors kept.
pub async fn notification_page(
    svc: &Services,
    me: &Viewer,
    page: Page<Notification>,
) -> Result<Page<api::Notification>> {
    let items = notifications(svc, me, &page.items).await?;
    Ok(Page { items, next_max_id: page.next_max_id, prev_min_id: page.prev_min_id })
}

/// `GET /api/v2/notifications`: the groups, with every account and status they name (loaded in
/// one read transaction).
pub async fn grouped_notifications(svc: &Services, me: &Viewer, groups: &[Group]) -> Result<api::GroupedNotifications> {
    let all: Vec<&Notification> = groups.iter().flat_map(|g| &g.notifications).collect();
    let mut account_ids: Vec<Id> = all.iter().map(|n| n.from_account_id).collect();
    account_ids.sort_unstable();
    account_ids.dedup();
    let mut status_ids: Vec<Id> = all.iter().filter_map(|n| n.status_id).collect();
    status_ids.sort_unstable();
    status_ids.dedup();
    let mut tx = svc.db.read().await?;
    let accounts: Vec<api::Account> = tx.accounts_by_ids(&account_ids).await?.iter().map(|a| account(svc, a)).collect();
    let found = tx.statuses_by_ids(&status_ids).await?;
    let statuses = statuses_in(svc, &mut tx, Some(me.account.id), &found).await?;
    drop(tx);
    let notification_groups = groups
        .iter()
        .filter_map(|g| {
            let members = &g.notifications;
            let (newest, oldest) = (members.first()?, members.last()?);
            let mut samples: Vec<String> = Vec::new();
            for m in members {
                let id = m.from_account_id.to_string();
                if !samples.contains(&id) && samples.len() < 8 {
                    samples.push(id);
                }
            }
            Some(api::NotificationGroup {
                group_key: g.key.clone(),
                notifications_count: members.len() as i64,
                kind: newest.kind.as_str().into(),
                most_recent_notification_id: newest.id.0,
                page_min_id: oldest.id.to_string(),
                page_max_id: newest.id.to_string(),
                latest_page_notification_at: rfc3339(newest.created_at),
                sample_account_ids: samples,
                status_id: newest.status_id.map(|s| s.to_string()),
            })
        })
        .collect();
    Ok(api::GroupedNotifications { accounts, statuses, notification_groups })
}

/// `GET` and `POST /api/v1/markers`: each marker under its timeline's name.
pub fn markers(list: &[Marker]) -> serde_json::Map<String, serde_json::Value> {
    list.iter()
        .map(|m| {
            let marker = api::Marker {
                last_read_id: m.last_read_id.to_string(),
                version: m.version,
                updated_at: rfc3339(m.updated_at),
            };
            (m.timeline.clone(), serde_json::to_value(marker).unwrap_or_default())
        })
        .collect()
}
