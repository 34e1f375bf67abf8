//! Copies of remote media kept here (Mastodon's cached remote attachments, avatars and
//! headers): downloaded through the federation port, processed as uploads are, stored under
//! the `cache/` layout.

use ferrodon_domain::model::{ProfileImage, StatusMedia};
use ferrodon_domain::ports::JobContext;
use ferrodon_kernel::{Error, ErrorKind, Id, Result};

use super::{
    IMAGE_SIZE_LIMIT, Kept, MediaPorts, PROFILE_IMAGE_SIZE_LIMIT, Stored, Upload, VIDEO_SIZE_LIMIT, discard_files,
    ports, read_head, remove_scratch, scratch_dir, scratch_file, store_processed_as, store_profile_image, stored_key,
};
use crate::Services;
use crate::auth::now;

/// The `CacheRemoteMedia` job: the attachments of a remote status are downloaded (SSRF-safe,
/// within the upload limits), processed as uploads are and kept here under Mastodon's `cache/`
/// layout, so clients load them from this server (or its CDN) and not from the author's. One
/// that cannot be fetched or processed stays linked where it is. Nothing is kept from a domain
/// blocked with `reject_media`.
pub(crate) async fn cache_remote(svc: &Services, ctx: &JobContext, status_id: Id) -> Result<()> {
    let ports = ports(svc)?.clone();
    let Some(status) = svc.db.read().await?.status_by_id(status_id).await? else { return Ok(()) };
    if status.local || crate::domains::rejects_media(svc, &status.uri).await? {
        return Ok(());
    }
    let fediverse = svc.fediverse()?;
    let mut stored = Stored::new(&*ports.files);
    let mut cached = Vec::new();
    for (i, m) in status.media().iter().enumerate().filter(|(_, m)| m.cached_key.is_none()) {
        let id = Id(status.id.0.wrapping_mul(16).wrapping_add(i as i64));
        match cache_one(svc, &ports, &*fediverse, &mut stored, id, m).await {
            Ok(kept) => cached.push((m.url.clone(), kept)),
            // Ours, or the server's for now: the job tries again later.
            Err(e) if matches!(e.kind, ErrorKind::Internal | ErrorKind::Unavailable) => {
                stored.undo().await;
                return Err(e);
            }
            Err(e) => tracing::info!(status = %status_id, url = %m.url, error = %e.message, "remote media not kept"),
        }
    }
    if cached.is_empty() {
        return Ok(());
    }
    let written = async {
        let mut tx = svc.db.write().await?;
        // Read again: the status may have been edited or deleted meanwhile.
        let Some(current) = tx.status_by_id(status_id).await? else { return Ok(Vec::new()) };
        let mut media = current.media();
        let mut used = Vec::new();
        // An attachment kept meanwhile (by another run of this job) keeps its copy.
        for m in media.iter_mut().filter(|m| m.cached_key.is_none()) {
            if let Some((_, (kept, processed))) = cached.iter().find(|(url, _)| *url == m.url) {
                let processed: &Cached = processed;
                m.cached_key = Some(kept.original.clone());
                m.cached_small_key = kept.small.clone();
                m.blurhash = m.blurhash.take().or_else(|| processed.blurhash.clone());
                m.small = m.small.or(processed.meta.small);
                m.duration = m.duration.or(processed.meta.duration);
                if let (None, Some(d)) = (m.width, processed.meta.original) {
                    (m.width, m.height) = (Some(d.width as i64), Some(d.height as i64));
                }
                used.push(kept.original.clone());
            }
        }
        if used.is_empty() {
            return Ok(used);
        }
        tx.set_status_media(status_id, &media).await?;
        // Another worker took the job over: its own run names its own files.
        if !ctx.complete_in(&mut tx).await? {
            return Ok(Vec::new());
        }
        tx.commit().await?;
        Ok::<_, Error>(used)
    }
    .await;
    // The copies no attachment took go (the post changed meanwhile).
    let unused: Vec<String> = match &written {
        Ok(used) => cached
            .iter()
            .filter(|(_, (kept, _))| !used.contains(&kept.original))
            .flat_map(|(_, (kept, _))| [Some(kept.original.clone()), kept.small.clone()])
            .flatten()
            .collect(),
        Err(_) => Vec::new(),
    };
    discard_files(svc, unused).await;
    stored.settle(written.map(|used| !used.is_empty())).await
}

/// A remote status' new attachments take the copies kept of the same files before (by URL);
/// returns the keys of the copies no longer used.
pub(crate) fn carry_cached(old: &[StatusMedia], new: &mut [StatusMedia]) -> Vec<String> {
    for m in new.iter_mut() {
        if let Some(o) = old.iter().find(|o| o.url == m.url && o.cached_key.is_some()) {
            (m.cached_key, m.cached_small_key) = (o.cached_key.clone(), o.cached_small_key.clone());
        }
    }
    old.iter()
        .filter(|o| !new.iter().any(|m| m.url == o.url))
        .flat_map(|o| [o.cached_key.clone(), o.cached_small_key.clone()])
        .flatten()
        .collect()
}

/// What is kept of one remote attachment: its files' keys, and what processing learnt.
struct Cached {
    blurhash: Option<String>,
    meta: ferrodon_domain::model::MediaMeta,
}

async fn cache_one(
    svc: &Services,
    ports: &MediaPorts,
    fediverse: &dyn ferrodon_domain::ports::Fediverse,
    stored: &mut Stored<'_>,
    id: Id,
    m: &StatusMedia,
) -> Result<(Kept, Cached)> {
    let download = Upload { path: scratch_file(svc).await?, size: 0 };
    let limit = if m.kind == "image" { IMAGE_SIZE_LIMIT } else { VIDEO_SIZE_LIMIT };
    fediverse.download(&m.url, &download.path, limit).await?;
    let head = read_head(&download.path).await?;
    let sniffed = ports.processor.sniff(&head).ok_or_else(|| Error::validation("not a media file"))?;
    let processed = ports.processor.process(&download.path, &sniffed, &scratch_dir(svc)).await?;
    drop(download);
    let key = |style: &str, ext: &str| stored_key("cache/media_attachments/files", id, style, ext);
    let kept = store_processed_as(stored, &processed, key).await;
    remove_scratch(&processed);
    Ok((kept?, Cached { blurhash: processed.blurhash.clone(), meta: processed.meta.clone() }))
}

/// The `CacheRemoteImages` job: a remote account's avatar and header, downloaded (SSRF-safe,
/// within the size limit), processed as a local account's are and kept here under `cache/`.
/// One that cannot be fetched is linked where its server keeps it; nothing is kept from a domain
/// blocked with `reject_media`. The copies replaced go.
pub(crate) async fn cache_profile_images(svc: &Services, ctx: &JobContext, account_id: Id) -> Result<()> {
    let Some(account) = svc.db.read().await?.account_by_id(account_id).await? else { return Ok(()) };
    if account.is_local() || crate::domains::rejects_media(svc, &account.uri).await? {
        return Ok(());
    }
    let fediverse = svc.fediverse()?;
    let mut kept = Vec::new();
    for (kind, url) in
        [(ProfileImage::Avatar, &account.avatar_remote_url), (ProfileImage::Header, &account.header_remote_url)]
    {
        let key = if url.is_empty() {
            None
        } else {
            let mut download = Upload { path: scratch_file(svc).await?, size: 0 };
            let fetched = async {
                fediverse.download(url, &download.path, PROFILE_IMAGE_SIZE_LIMIT).await?;
                download.size = tokio::fs::metadata(&download.path).await.map_err(Error::internal)?.len();
                store_profile_image(svc, download, kind, account_id, true).await
            }
            .await;
            match fetched {
                Ok(key) => Some(key),
                Err(e) if e.kind == ferrodon_kernel::ErrorKind::Internal => {
                    discard_files(svc, kept.into_iter().filter_map(|(_, _, k)| k).collect()).await;
                    return Err(e);
                }
                Err(e) => {
                    tracing::info!(account = %account_id, %url, error = %e.message, "remote image not kept");
                    None
                }
            }
        };
        kept.push((kind, url.clone(), key));
    }
    let written = async {
        let mut tx = svc.db.write().await?;
        let Some(current) = tx.account_by_id(account_id).await? else { return Ok(false) };
        let mut dropped = Vec::new();
        for (kind, url, key) in &kept {
            let (remote, file) = match kind {
                ProfileImage::Avatar => (&current.avatar_remote_url, &current.avatar_file),
                ProfileImage::Header => (&current.header_remote_url, &current.header_file),
            };
            // The image changed again meanwhile: its own job keeps it.
            if remote != url {
                dropped.extend(key.clone());
                continue;
            }
            tx.set_profile_image(account_id, *kind, key.as_deref(), now()).await?;
            dropped.extend(file.clone());
        }
        crate::effects::files_dropped(&mut tx, dropped).await?;
        if !ctx.complete_in(&mut tx).await? {
            return Ok(false);
        }
        tx.commit().await?;
        Ok::<_, Error>(true)
    }
    .await;
    let stored: Vec<String> = kept.iter().filter_map(|(_, _, k)| k.clone()).collect();
    match written {
        Ok(true) => {
            svc.state.accounts.forget(account_id);
            Ok(())
        }
        Ok(false) => {
            discard_files(svc, stored).await;
            Ok(())
        }
        Err(e) => {
            discard_files(svc, stored).await;
            Err(e)
        }
    }
}

/// A preview card's picture, kept here: its key, blurhash and size.
pub(crate) struct CardImage {
    pub key: String,
    pub blurhash: Option<String>,
    pub width: i64,
    pub height: i64,
}

/// Downloads the picture of card `id` (SSRF-safe, at most [`PROFILE_IMAGE_SIZE_LIMIT`]) and
/// keeps its small version under `preview_cards/images/` (Mastodon's layout; its 640 pixels
/// are what a card shows). The caller names the key in the card's row, or removes it.
pub(crate) async fn keep_card_image(svc: &Services, url: &str, id: Id) -> Result<CardImage> {
    let ports = ports(svc)?.clone();
    let mut download = Upload { path: scratch_file(svc).await?, size: 0 };
    svc.fediverse()?.download(url, &download.path, PROFILE_IMAGE_SIZE_LIMIT).await?;
    download.size = tokio::fs::metadata(&download.path).await.map_err(Error::internal)?.len();
    let sniffed = super::check(&ports, &download, |_| PROFILE_IMAGE_SIZE_LIMIT).await?;
    if sniffed.kind != ferrodon_domain::model::MediaKind::Image {
        return Err(Error::validation("not an image"));
    }
    let processed = ports.processor.process(&download.path, &sniffed, &scratch_dir(svc)).await?;
    drop(download);
    let (file, size) = match &processed.small {
        Some(small) => (small, processed.meta.small),
        None => (&processed.original, processed.meta.original),
    };
    let key = stored_key("preview_cards/images", id, "original", &file.extension);
    let stored = super::store(&*ports.files, key, file).await;
    remove_scratch(&processed);
    let (width, height) = size.map_or((0, 0), |d| (d.width as i64, d.height as i64));
    Ok(CardImage { key: stored?, blurhash: processed.blurhash.clone(), width, height })
}
