//! Notifications (v1 and grouped v2) and read markers, as their owners read them. They are
//! made by the side-effects surface ([`crate::effects`]).

use std::collections::HashMap;

use ferrodon_domain::model::{Marker, Notification, NotificationFilter, NotificationType};
use ferrodon_kernel::{Error, Id, Page, PageRequest, Result};

use crate::Services;
use crate::auth::{Viewer, now};

/// Parses `types[]` / `exclude_types[]`; unknown types are ignored, as Mastodon does.
pub fn parse_types(raw: &[String]) -> Vec<NotificationType> {
    raw.iter().filter_map(|t| NotificationType::parse(t)).collect()
}

/// `GET /api/v1/notifications`.
pub async fn list(
    svc: &Services,
    me: &Viewer,
    filter: &NotificationFilter,
    page: &PageRequest,
) -> Result<Page<Notification>> {
    let mut tx = svc.db.read().await?;
    let rows = tx.notifications(me.account.id, filter, page).await?;
    Ok(Page::from_rows(rows, |n| n.id, page.limit))
}

pub async fn get(svc: &Services, me: &Viewer, raw_id: &str) -> Result<Notification> {
    let id = Id::parse(raw_id).ok_or_else(Error::not_found)?;
    let mut tx = svc.db.read().await?;
    tx.notification(me.account.id, id).await?.ok_or_else(Error::not_found)
}

pub async fn dismiss(svc: &Services, me: &Viewer, raw_id: &str) -> Result<()> {
    let id = Id::parse(raw_id).ok_or_else(Error::not_found)?;
    let mut tx = svc.db.write().await?;
    if !tx.dismiss_notification(me.account.id, id).await? {
        return Err(Error::not_found());
    }
    tx.commit().await
}

pub async fn clear(svc: &Services, me: &Viewer) -> Result<()> {
    let mut tx = svc.db.write().await?;
    tx.clear_notifications(me.account.id).await?;
    tx.commit().await
}

/// `GET /api/v1/notifications/unread_count`: since the notifications marker.
pub async fn unread_count(svc: &Services, me: &Viewer, limit: u32) -> Result<i64> {
    let mut tx = svc.db.read().await?;
    let marker = tx.markers(me.account.id).await?.into_iter().find(|m| m.timeline == "notifications");
    tx.unread_notifications(me.account.id, marker.map(|m| m.last_read_id), limit).await
}

/// Notifications folded by their group key (`ungrouped-<id>` for one of a type not grouped),
/// newest first.
pub struct Group {
    pub key: String,
    pub notifications: Vec<Notification>,
}

/// `GET /api/v2/notifications`: the page's notifications folded by group key, in order of each
/// group's newest notification; `limit` counts groups.
pub async fn grouped(
    svc: &Services,
    me: &Viewer,
    filter: &NotificationFilter,
    page: &PageRequest,
    grouped_types: &[NotificationType],
) -> Result<Page<Group>> {
    let mut tx = svc.db.read().await?;
    let key_of = |n: &Notification| {
        if grouped_types.contains(&n.kind) { n.group_key.clone() } else { format!("ungrouped-{}", n.id) }
    };
    // `limit` counts groups: read notifications in batches until the page holds that many.
    let mut rows: Vec<Notification> = Vec::new();
    let mut order: Vec<String> = Vec::new();
    let mut batch_page = PageRequest { limit: (page.limit * 2).max(40), ..*page };
    let mut more = false;
    for _ in 0..20 {
        let batch = tx.notifications(me.account.id, filter, &batch_page).await?;
        let exhausted = batch.len() < batch_page.limit as usize;
        for n in batch {
            let key = key_of(&n);
            if !order.contains(&key) {
                if order.len() == page.limit as usize {
                    more = true;
                    break;
                }
                order.push(key);
            }
            rows.push(n);
        }
        // `min_id` pages hug the lower bound and are read in one batch.
        if more || exhausted || page.min_id.is_some() {
            more |= !exhausted && page.min_id.is_none();
            break;
        }
        batch_page.max_id = rows.last().map(|n| n.id);
    }
    let (next_max_id, prev_min_id) = (rows.last().map(|n| n.id).filter(|_| more), rows.first().map(|n| n.id));
    let mut groups: HashMap<String, Vec<Notification>> = HashMap::new();
    for n in rows {
        groups.entry(key_of(&n)).or_default().push(n);
    }
    let items = order
        .into_iter()
        .map(|key| {
            let notifications = groups.remove(&key).unwrap_or_default();
            Group { key, notifications }
        })
        .collect();
    Ok(Page { items, next_max_id, prev_min_id })
}

/// `GET /api/v2/notifications/:group_key`: every notification of one group.
pub async fn group(svc: &Services, me: &Viewer, group_key: &str) -> Result<Vec<Group>> {
    let filter = group_filter(group_key);
    let page = PageRequest { limit: 1000, ..Default::default() };
    let all_types: Vec<NotificationType> = NotificationType::ALL.to_vec();
    let found = grouped(svc, me, &filter, &page, &all_types).await?.items;
    if found.is_empty() {
        return Err(Error::not_found());
    }
    Ok(found)
}

/// `POST /api/v2/notifications/:group_key/dismiss`.
pub async fn dismiss_group(svc: &Services, me: &Viewer, group_key: &str) -> Result<()> {
    let filter = group_filter(group_key);
    let page = PageRequest { limit: 1000, ..Default::default() };
    let mut tx = svc.db.write().await?;
    for n in tx.notifications(me.account.id, &filter, &page).await? {
        tx.dismiss_notification(me.account.id, n.id).await?;
    }
    tx.commit().await
}

/// Ungrouped notifications have the key `ungrouped-<id>`, which is stored as such.
fn group_filter(group_key: &str) -> NotificationFilter {
    NotificationFilter { group_key: Some(group_key.to_string()), ..Default::default() }
}

/// `GET /api/v1/markers?timeline[]=`.
pub async fn markers(svc: &Services, me: &Viewer, timelines: &[String]) -> Result<Vec<Marker>> {
    let mut tx = svc.db.read().await?;
    let all = tx.markers(me.account.id).await?;
    Ok(all.into_iter().filter(|m| timelines.is_empty() || timelines.contains(&m.timeline)).collect())
}

/// `POST /api/v1/markers`: `home[last_read_id]`, `notifications[last_read_id]`.
pub async fn set_markers(svc: &Services, me: &Viewer, updates: &[(String, String)]) -> Result<Vec<Marker>> {
    let mut tx = svc.db.write().await?;
    let mut out = Vec::new();
    for (timeline, raw) in updates {
        if timeline != "home" && timeline != "notifications" {
            continue;
        }
        let id = Id::parse(raw).ok_or_else(|| Error::validation("Validation failed: Last read id is invalid"))?;
        out.push(tx.set_marker(me.account.id, timeline, id, now()).await?);
    }
    tx.commit().await?;
    Ok(out)
}
