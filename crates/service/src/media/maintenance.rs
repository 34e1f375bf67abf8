//! tootctl's media verbs: what the stored files take (`media usage`), removing the copies of
//! remote media kept here (`media remove`, and the daily clean-up by
//! `MEDIA_CACHE_RETENTION_PERIOD`), and removing files no row names (`media remove-orphans`).
//!
//! Rows are changed first and their files removed after the commit, so a crash in between
//! leaves only orphans, which `remove-orphans` finds.

use std::collections::HashSet;

use ferrodon_domain::model::ProfileImage;
use ferrodon_kernel::{Id, Result};

use super::ports;
use crate::Services;
use crate::auth::now;

/// The folders of the file store, by what they hold.
const AREAS: [(&str, &str); 5] = [
    ("media_attachments/", "attachments"),
    ("cache/media_attachments/", "remote attachments (copies)"),
    ("accounts/", "avatars and headers"),
    ("cache/accounts/", "remote avatars and headers (copies)"),
    ("preview_cards/", "preview cards"),
];
/// A file younger than this may belong to an upload whose row is not written yet.
const ORPHAN_GRACE_MS: i64 = 3600 * 1000;
const BATCH: i64 = 500;

/// One line of `media usage`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Usage {
    pub area: &'static str,
    pub files: u64,
    pub bytes: u64,
}

/// `media usage`: files and bytes per area of the file store.
pub async fn usage(svc: &Services) -> Result<Vec<Usage>> {
    let files = &ports(svc)?.files;
    let mut out = Vec::new();
    for (prefix, area) in AREAS {
        let listed = files.list(prefix).await?;
        out.push(Usage { area, files: listed.len() as u64, bytes: listed.iter().map(|f| f.size).sum() });
    }
    Ok(out)
}

/// What `media remove` took away.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheRemoval {
    pub statuses: u64,
    pub accounts: u64,
    pub files: u64,
}

/// `media remove --days N [--prune-profiles] [--remove-headers]`: the copies kept of the
/// attachments of remote posts older than `days` go (the posts link their server's files
/// again), and with `prune_profiles` the copies of the avatars and headers of remote accounts
/// not refreshed for as long (`remove_headers`: their headers only). `progress` hears the
/// running count of files.
pub async fn remove_cached(
    svc: &Services,
    days: u64,
    prune_profiles: bool,
    remove_headers: bool,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<CacheRemoval> {
    let files = ports(svc)?.files.clone();
    let before = now() - days as i64 * 86_400_000;
    let mut done = CacheRemoval::default();
    let mut after = Id(0);
    loop {
        let mut tx = svc.db.write().await?;
        let page = tx.statuses_with_cached_media(before, after, BATCH).await?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        let mut keys = Vec::new();
        for (id, mut media) in page {
            for m in &mut media {
                keys.extend([m.cached_key.take(), m.cached_small_key.take()].into_iter().flatten());
            }
            tx.set_status_media(id, &media).await?;
            done.statuses += 1;
        }
        tx.commit().await?;
        done.files += keys.len() as u64;
        files.delete(&keys).await?;
        progress(done.files);
    }
    if prune_profiles || remove_headers {
        let mut after = Id(0);
        loop {
            let mut tx = svc.db.write().await?;
            let page = tx.accounts_with_cached_images(before, after, BATCH).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            let mut keys = Vec::new();
            for a in &page {
                if prune_profiles && let Some(avatar) = &a.avatar_file {
                    tx.set_profile_image(a.id, ProfileImage::Avatar, None, now()).await?;
                    keys.push(avatar.clone());
                }
                if let Some(header) = &a.header_file {
                    tx.set_profile_image(a.id, ProfileImage::Header, None, now()).await?;
                    keys.push(header.clone());
                }
                done.accounts += 1;
            }
            tx.commit().await?;
            for a in &page {
                svc.state.accounts.forget(a.id);
            }
            done.files += keys.len() as u64;
            files.delete(&keys).await?;
            progress(done.files);
        }
    }
    Ok(done)
}

/// `media remove-orphans [--dry-run]`: files of the store no row names (older than an hour, so
/// an upload on its way is let be). Returns how many and their bytes.
pub async fn remove_orphans(svc: &Services, dry_run: bool, progress: &(dyn Fn(u64) + Sync)) -> Result<(u64, u64)> {
    let files = ports(svc)?.files.clone();
    let named: HashSet<String> = svc.db.read().await?.named_file_keys().await?.into_iter().collect();
    let cutoff = now() - ORPHAN_GRACE_MS;
    let (mut count, mut bytes) = (0, 0);
    for (prefix, _) in AREAS {
        // `cache/…` is listed under its own area, not under the local one it ends like.
        let orphans: Vec<_> =
            files.list(prefix).await?.into_iter().filter(|f| !named.contains(&f.key) && f.modified < cutoff).collect();
        count += orphans.len() as u64;
        bytes += orphans.iter().map(|f| f.size).sum::<u64>();
        if !dry_run {
            for chunk in orphans.chunks(BATCH as usize) {
                files.delete(&chunk.iter().map(|f| f.key.clone()).collect::<Vec<_>>()).await?;
            }
        }
        progress(count);
    }
    Ok((count, bytes))
}
