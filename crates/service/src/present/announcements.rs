//! Mastodon entities for announcements: `Announcement`, with its reactions.

use ferrodon_domain::model::Announcement;
use ferrodon_domain::ports::Tx;
use ferrodon_domain::rules::text;
use ferrodon_kernel::time::rfc3339;
use ferrodon_kernel::{Id, Result};
use ferrodon_mastodon_api as api;

use crate::{Services, Viewer};

/// `GET /api/v1/announcements`: with what `me` read and reacted (one read transaction).
pub async fn announcements(svc: &Services, me: &Viewer, all: &[Announcement]) -> Result<Vec<api::Announcement>> {
    let mut tx = svc.db.read().await?;
    announcements_in(svc, &mut tx, all, Some(me.account.id)).await
}

/// The announcements for `viewer` (`read` and `me`) or for no one (streams), in a transaction
/// the service holds.
pub(crate) async fn announcements_in(
    svc: &Services,
    tx: &mut Box<dyn Tx>,
    all: &[Announcement],
    viewer: Option<Id>,
) -> Result<Vec<api::Announcement>> {
    let ids: Vec<Id> = all.iter().map(|a| a.id).collect();
    let reactions = tx.announcement_reactions(&ids, viewer).await?;
    let read = match viewer {
        Some(v) => tx.dismissed_announcements(v, &ids).await?,
        None => Vec::new(),
    };
    let base = svc.base_url();
    let mut out = Vec::with_capacity(all.len());
    for a in all {
        let resolved = crate::statuses::resolve_mentions(svc, tx, &a.text).await?;
        let mut mentions: Vec<api::AnnouncementAccount> = Vec::new();
        for (_, account) in &resolved {
            if !mentions.iter().any(|m| m.id == account.id.to_string()) {
                mentions.push(api::AnnouncementAccount {
                    id: account.id.to_string(),
                    username: account.username.clone(),
                    url: account.url.clone(),
                    acct: account.acct(),
                });
            }
        }
        let mut tags: Vec<api::StatusTag> = Vec::new();
        for name in text::extract_hashtags(&a.text) {
            let name = name.to_lowercase();
            if !tags.iter().any(|t| t.name == name) {
                tags.push(api::StatusTag { url: format!("{base}/tags/{name}"), name });
            }
        }
        out.push(api::Announcement {
            id: a.id.to_string(),
            content: crate::statuses::format_text(svc, &a.text, &resolved),
            starts_at: a.starts_at.map(rfc3339),
            ends_at: a.ends_at.map(rfc3339),
            all_day: a.all_day,
            published_at: rfc3339(a.published_at.unwrap_or(a.created_at)),
            updated_at: rfc3339(a.updated_at),
            read: viewer.map(|_| read.contains(&a.id)),
            mentions,
            statuses: Vec::new(),
            tags,
            emojis: Vec::new(),
            reactions: reactions
                .iter()
                .filter(|r| r.announcement_id == a.id)
                .map(|r| api::Reaction { name: r.name.clone(), count: r.count, me: viewer.map(|_| r.me) })
                .collect(),
        });
    }
    Ok(out)
}
