//! Job types: what runs on Mastodon's queues, with each type's queue and retry policy, and the
//! recurring jobs. Adding a recurring job is one line in [`recurring`].
//!
//! - [`streams`]: publishing to the streaming API (statuses, deletions, notifications, account
//!   and announcement events), on `default`.
//! - [`federate`]: what local changes tell other servers: activities built and delivered, on
//!   `push`.
//! - [`ingress`]: activities received from other servers, applied on `ingress`.
//! - [`fetch`]: remote replies and pinned posts fetched when someone looks, on `pull`.
//! - [`media`]: stored files removed after their rows, and uploads never posted cleaned up.
//! - [`mail`]: mail sent, on `mailers`.
//!
//! The consequences of a change are enqueued by [`crate::effects`], the one surface of side
//! effects.

pub mod federate;
pub mod fetch;
pub mod ingress;
pub mod mail;
pub mod media;
pub mod streams;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferrodon_domain::model::{Job, NewJob, Queue, RecurringJob};
use ferrodon_domain::ports::{JobContext, JobHandler, RetryPolicy, Tx};
use ferrodon_kernel::{Error, Result};

use crate::Services;
use crate::announcements::ScheduleAnnouncements;
use crate::auth::now;

/// Every job type this server runs: (name, retry policy, handler).
pub fn handlers(svc: &Services) -> Vec<(&'static str, RetryPolicy, Arc<dyn JobHandler>)> {
    let mut all = streams::handlers(svc);
    all.extend(federate::handlers(svc));
    all.extend(ingress::handlers(svc));
    all.extend(fetch::handlers(svc));
    all.extend(media::handlers(svc));
    all.extend(mail::handlers(svc));
    all.extend([
        (
            Ping::KIND,
            RetryPolicy { max_attempts: 3, keep_dead: true },
            Arc::new(Ping { svc: svc.clone() }) as Arc<dyn JobHandler>,
        ),
        (
            PruneExpiredData::KIND,
            RetryPolicy { max_attempts: 1, keep_dead: false },
            Arc::new(PruneExpiredData { svc: svc.clone() }),
        ),
        (
            ScheduleAnnouncements::KIND,
            RetryPolicy { max_attempts: 1, keep_dead: false },
            Arc::new(ScheduleAnnouncements { svc: svc.clone() }),
        ),
    ]);
    all
}

/// The recurring jobs (Mastodon's `Scheduler::*`), one line each.
pub fn recurring() -> Vec<RecurringJob> {
    let mut all = vec![
        RecurringJob {
            name: "prune_expired_data",
            every: Duration::from_secs(3600),
            queue: Queue::Scheduler,
            kind: PruneExpiredData::KIND,
            max_attempts: 1,
        },
        RecurringJob {
            name: "schedule_announcements",
            every: Duration::from_secs(60),
            queue: Queue::Scheduler,
            kind: ScheduleAnnouncements::KIND,
            max_attempts: 1,
        },
    ];
    all.extend(media::recurring());
    all
}

/// Enqueues a job in the caller's transaction.
pub async fn enqueue(
    tx: &mut Box<dyn Tx>,
    queue: Queue,
    kind: &str,
    payload: &serde_json::Value,
    policy: RetryPolicy,
) -> Result<bool> {
    tx.enqueue(&NewJob::new(queue, kind, payload.to_string(), policy.max_attempts, now())).await
}

/// A job's payload, read (a payload that does not read is a bug: the job fails).
pub(crate) fn payload<T: serde::de::DeserializeOwned>(job: &Job) -> Result<T> {
    serde_json::from_str(&job.payload).map_err(|e| Error::internal(format!("bad {} payload: {e}", job.kind)))
}

/// A diagnostic job (`ferrodon jobs ping`): waits `sleep_ms`, then records its completion in the
/// same transaction that completes it, so each ping is recorded exactly once.
pub struct Ping {
    svc: Services,
}

impl Ping {
    pub const KIND: &'static str = "Ping";

    /// Enqueues a ping with a fresh token; returns the token.
    pub async fn enqueue(svc: &Services, sleep_ms: u64, queue: Queue) -> Result<String> {
        let token = crate::auth::random_token();
        let mut tx = svc.db.write().await?;
        let payload = serde_json::json!({ "token": token, "sleep_ms": sleep_ms });
        enqueue(&mut tx, queue, Self::KIND, &payload, RetryPolicy { max_attempts: 3, keep_dead: true }).await?;
        tx.commit().await?;
        Ok(token)
    }

    /// The attempts that completed pings with this token (exactly one once it is done).
    pub async fn completions(svc: &Services, token: &str) -> Result<Vec<i64>> {
        let mut tx = svc.db.read().await?;
        tx.pings(token).await
    }
}

#[async_trait]
impl JobHandler for Ping {
    async fn run(&self, ctx: &JobContext, job: &Job) -> Result<()> {
        let payload: serde_json::Value = serde_json::from_str(&job.payload).map_err(Error::internal)?;
        let token = payload["token"].as_str().ok_or_else(|| Error::internal("ping without a token"))?;
        let sleep = payload["sleep_ms"].as_u64().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(sleep)).await;
        let mut tx = self.svc.db.write().await?;
        tx.record_ping(token, job, now()).await?;
        if ctx.complete_in(&mut tx).await? {
            tx.commit().await?;
        }
        Ok(())
    }
}

/// Hourly: deletes expired codes, idempotency keys and timed mutes.
pub struct PruneExpiredData {
    svc: Services,
}

impl PruneExpiredData {
    pub const KIND: &'static str = "PruneExpiredData";
}

#[async_trait]
impl JobHandler for PruneExpiredData {
    async fn run(&self, ctx: &JobContext, _job: &Job) -> Result<()> {
        let mut tx = self.svc.db.write().await?;
        let removed = tx.prune_expired(now()).await?;
        if ctx.complete_in(&mut tx).await? {
            tx.commit().await?;
            tracing::info!(removed, "pruned expired data");
        }
        Ok(())
    }
}
