//! Video and audio uploads processed (Mastodon's `PostProcessMediaWorker`) and stored files that
//! go after their rows, on `default`; copies of remote attachments, avatars and headers kept, and
//! link preview cards read, on `pull`; the clean-up of uploads never posted (Mastodon's
//! `MediaCleanupScheduler`) and of old copies of remote media (`MEDIA_CACHE_RETENTION_PERIOD`),
//! on `scheduler`.
//!
//! A row is removed first and its files later, by a job enqueued in the same transaction: a
//! crash between the two leaves the job, never a row naming a missing file.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferrodon_domain::model::{Job, Queue, RecurringJob};
use ferrodon_domain::ports::{JobContext, JobHandler, RetryPolicy, Tx};
use ferrodon_kernel::{Error, Id, Result};
use serde::{Deserialize, Serialize};

use crate::Services;
use crate::auth::now;

/// How long an upload may wait to be posted (Mastodon's one day).
pub const UNATTACHED_TTL: Duration = Duration::from_secs(24 * 3600);
/// Uploads removed by one run of the clean-up.
const CLEAN_UP_BATCH: i64 = 500;

pub fn handlers(svc: &Services) -> Vec<(&'static str, RetryPolicy, Arc<dyn JobHandler>)> {
    vec![
        (ProcessMedia::KIND, ProcessMedia::POLICY, Arc::new(ProcessMedia { svc: svc.clone() }) as Arc<dyn JobHandler>),
        (RemoveFiles::KIND, RemoveFiles::POLICY, Arc::new(RemoveFiles { svc: svc.clone() })),
        (CacheRemoteMedia::KIND, CacheRemoteMedia::POLICY, Arc::new(CacheRemoteMedia { svc: svc.clone() })),
        (CacheRemoteImages::KIND, CacheRemoteImages::POLICY, Arc::new(CacheRemoteImages { svc: svc.clone() })),
        (FetchLinkCard::KIND, FetchLinkCard::POLICY, Arc::new(FetchLinkCard { svc: svc.clone() })),
        (
            CleanUpMedia::KIND,
            RetryPolicy { max_attempts: 1, keep_dead: false },
            Arc::new(CleanUpMedia { svc: svc.clone() }),
        ),
        (
            CleanUpMediaCache::KIND,
            RetryPolicy { max_attempts: 1, keep_dead: false },
            Arc::new(CleanUpMediaCache { svc: svc.clone() }),
        ),
    ]
}

pub fn recurring() -> Vec<RecurringJob> {
    vec![
        RecurringJob {
            name: "media_cleanup",
            every: Duration::from_secs(15 * 60),
            queue: Queue::Scheduler,
            kind: CleanUpMedia::KIND,
            max_attempts: 1,
        },
        RecurringJob {
            name: "media_cache_cleanup",
            every: Duration::from_secs(24 * 3600),
            queue: Queue::Scheduler,
            kind: CleanUpMediaCache::KIND,
            max_attempts: 1,
        },
    ]
}

/// Daily, with `MEDIA_CACHE_RETENTION_PERIOD`: the copies of remote posts' attachments older
/// than that go (Mastodon's media attachments vacuum).
pub struct CleanUpMediaCache {
    svc: Services,
}

impl CleanUpMediaCache {
    pub const KIND: &'static str = "CleanUpMediaCache";
}

#[async_trait]
impl JobHandler for CleanUpMediaCache {
    async fn run(&self, _ctx: &JobContext, _job: &Job) -> Result<()> {
        let Some(days) = self.svc.config.media_cache_retention_days else { return Ok(()) };
        let done = crate::media::remove_cached(&self.svc, days, false, false, &|_| {}).await?;
        if done.files > 0 {
            tracing::info!(files = done.files, statuses = done.statuses, "removed copies of remote media");
        }
        Ok(())
    }
}

/// Processes a video or audio upload stored as it came (`/api/v2/media`), see
/// [`crate::media::process_queued`].
pub struct ProcessMedia {
    svc: Services,
}

#[derive(Serialize, Deserialize)]
struct ProcessMediaPayload {
    id: Id,
}

impl ProcessMedia {
    pub const KIND: &'static str = "ProcessMedia";
    const POLICY: RetryPolicy = RetryPolicy { max_attempts: 3, keep_dead: true };

    pub(crate) async fn enqueue(tx: &mut Box<dyn Tx>, id: Id) -> Result<()> {
        let payload = serde_json::to_value(ProcessMediaPayload { id }).map_err(Error::internal)?;
        super::enqueue(tx, Queue::Default, Self::KIND, &payload, Self::POLICY).await.map(|_| ())
    }
}

#[async_trait]
impl JobHandler for ProcessMedia {
    async fn run(&self, ctx: &JobContext, job: &Job) -> Result<()> {
        let p: ProcessMediaPayload = super::payload(job)?;
        crate::media::process_queued(&self.svc, ctx, p.id).await
    }
}

/// Keeps copies of a remote status' attachments, on `pull` (see
/// [`crate::media::cache_remote`]).
pub struct CacheRemoteMedia {
    svc: Services,
}

#[derive(Serialize, Deserialize)]
struct CacheRemoteMediaPayload {
    status_id: Id,
}

impl CacheRemoteMedia {
    pub const KIND: &'static str = "CacheRemoteMedia";
    const POLICY: RetryPolicy = RetryPolicy { max_attempts: 3, keep_dead: false };

    pub(crate) async fn enqueue(tx: &mut Box<dyn Tx>, status_id: Id) -> Result<()> {
        let payload = serde_json::to_value(CacheRemoteMediaPayload { status_id }).map_err(Error::internal)?;
        super::enqueue(tx, Queue::Pull, Self::KIND, &payload, Self::POLICY).await.map(|_| ())
    }
}

#[async_trait]
impl JobHandler for CacheRemoteMedia {
    async fn run(&self, ctx: &JobContext, job: &Job) -> Result<()> {
        let p: CacheRemoteMediaPayload = super::payload(job)?;
        crate::media::cache_remote(&self.svc, ctx, p.status_id).await
    }
}

/// Keeps copies of a remote account's avatar and header, on `pull` (see
/// [`crate::media::cache_profile_images`]).
pub struct CacheRemoteImages {
    svc: Services,
}

#[derive(Serialize, Deserialize)]
struct CacheRemoteImagesPayload {
    account_id: Id,
}

impl CacheRemoteImages {
    pub const KIND: &'static str = "CacheRemoteImages";
    const POLICY: RetryPolicy = RetryPolicy { max_attempts: 3, keep_dead: false };

    pub(crate) async fn enqueue(tx: &mut Box<dyn Tx>, account_id: Id) -> Result<()> {
        let payload = serde_json::to_value(CacheRemoteImagesPayload { account_id }).map_err(Error::internal)?;
        super::enqueue(tx, Queue::Pull, Self::KIND, &payload, Self::POLICY).await.map(|_| ())
    }
}

#[async_trait]
impl JobHandler for CacheRemoteImages {
    async fn run(&self, ctx: &JobContext, job: &Job) -> Result<()> {
        let p: CacheRemoteImagesPayload = super::payload(job)?;
        crate::media::cache_profile_images(&self.svc, ctx, p.account_id).await
    }
}

/// The preview card of a status' first link (Mastodon's `LinkCrawlWorker`), on `pull`.
pub struct FetchLinkCard {
    svc: Services,
}

#[derive(Serialize, Deserialize)]
struct FetchLinkCardPayload {
    status_id: Id,
}

impl FetchLinkCard {
    pub const KIND: &'static str = "FetchLinkCard";
    /// A page that cannot be read is not asked again (Mastodon does not retry either); only
    /// our own failures are retried.
    const POLICY: RetryPolicy = RetryPolicy { max_attempts: 3, keep_dead: false };

    pub(crate) async fn enqueue(tx: &mut Box<dyn Tx>, status_id: Id) -> Result<()> {
        let payload = serde_json::to_value(FetchLinkCardPayload { status_id }).map_err(Error::internal)?;
        super::enqueue(tx, Queue::Pull, Self::KIND, &payload, Self::POLICY).await.map(|_| ())
    }
}

#[async_trait]
impl JobHandler for FetchLinkCard {
    async fn run(&self, ctx: &JobContext, job: &Job) -> Result<()> {
        let p: FetchLinkCardPayload = super::payload(job)?;
        crate::cards::fetch(&self.svc, ctx, p.status_id).await
    }
}

/// Removes files from the file store (missing ones are no error, so a retry is harmless).
pub struct RemoveFiles {
    svc: Services,
}

#[derive(Serialize, Deserialize)]
struct RemoveFilesPayload {
    keys: Vec<String>,
}

impl RemoveFiles {
    pub const KIND: &'static str = "RemoveMediaFiles";
    const POLICY: RetryPolicy = RetryPolicy { max_attempts: 8, keep_dead: true };

    /// Removes `keys` once the caller's transaction commits.
    pub(crate) async fn enqueue(tx: &mut Box<dyn Tx>, keys: Vec<String>) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let payload = serde_json::to_value(RemoveFilesPayload { keys }).map_err(Error::internal)?;
        super::enqueue(tx, Queue::Default, Self::KIND, &payload, Self::POLICY).await.map(|_| ())
    }
}

#[async_trait]
impl JobHandler for RemoveFiles {
    async fn run(&self, _ctx: &JobContext, job: &Job) -> Result<()> {
        let p: RemoveFilesPayload = super::payload(job)?;
        let ports = self.svc.media_ports().ok_or_else(|| Error::internal("media storage is not connected"))?;
        ports.files.delete(&p.keys).await
    }
}

/// Every 15 minutes: uploads not attached to a status within a day go, with their files.
pub struct CleanUpMedia {
    svc: Services,
}

impl CleanUpMedia {
    pub const KIND: &'static str = "CleanUpMedia";
}

#[async_trait]
impl JobHandler for CleanUpMedia {
    async fn run(&self, ctx: &JobContext, _job: &Job) -> Result<()> {
        let before = now() - UNATTACHED_TTL.as_millis() as i64;
        let mut tx = self.svc.db.write().await?;
        let stale = tx.unattached_media(before, CLEAN_UP_BATCH).await?;
        let deleted = tx.delete_unattached_media(&stale.iter().map(|m| m.id).collect::<Vec<_>>()).await?;
        let stale: Vec<_> = stale.into_iter().filter(|m| deleted.contains(&m.id)).collect();
        crate::effects::media_removed(&mut tx, &stale).await?;
        if ctx.complete_in(&mut tx).await? {
            tx.commit().await?;
            if !stale.is_empty() {
                tracing::info!(removed = stale.len(), "removed uploads never posted");
            }
        }
        Ok(())
    }
}
