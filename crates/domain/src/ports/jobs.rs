use async_trait::async_trait;
use ferrodon_kernel::{Id, Result, time::Millis};

use crate::model::{Job, NewJob, Queue, QueueStats};

/// Enqueuing, inside the transaction of the change that causes the job: a crash can never keep
/// one without the other.
#[async_trait]
pub trait JobStore {
    /// Returns false when a pending or running job already holds `unique_key`.
    async fn enqueue(&mut self, job: &NewJob) -> Result<bool>;
    /// Enqueues many jobs at once (a fan-out); jobs whose `unique_key` is taken are skipped.
    /// Returns how many were enqueued.
    async fn enqueue_many(&mut self, jobs: &[NewJob]) -> Result<u64>;
    /// Claims a recurring job's time slot; true for the one caller that got it.
    async fn claim_slot(&mut self, name: &str, slot: Millis) -> Result<bool>;
    /// Removes a finished job inside the transaction of its effects, so both commit or neither
    /// does. False if `worker` no longer holds this attempt (the caller must roll back).
    async fn complete_job(&mut self, worker: &str, job: &Job) -> Result<bool>;
    /// The diagnostic `Ping` job's record (written with its completion).
    async fn record_ping(&mut self, token: &str, job: &Job, now: Millis) -> Result<()>;
    /// The attempts of `Ping` jobs with this token that completed.
    async fn pings(&mut self, token: &str) -> Result<Vec<i64>>;
    /// Deletes what has expired: used authorization codes and ones past their time, idempotency
    /// keys older than an hour, timed mutes that ended. Returns the rows removed.
    async fn prune_expired(&mut self, now: Millis) -> Result<u64>;
}

/// The worker side of the durable queue. Every call is its own short transaction: a job being
/// run holds no database connection.
#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// Claims up to `limit` runnable jobs of `queue` (pending and due, or running with an expired
    /// lease after a crash) for `worker` until `lease_until`, highest priority then oldest first.
    async fn claim(&self, queue: Queue, worker: &str, now: Millis, lease_until: Millis, limit: u32)
    -> Result<Vec<Job>>;
    /// Claims up to `limit` jobs from `queues`, taken in that order (each queue's jobs as
    /// [`JobQueue::claim`] orders them). A backend may do it in one transaction.
    async fn claim_from(
        &self,
        queues: &[Queue],
        worker: &str,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> Result<Vec<Job>> {
        let mut jobs = Vec::new();
        for queue in queues {
            if jobs.len() >= limit as usize {
                break;
            }
            jobs.extend(self.claim(*queue, worker, now, lease_until, limit - jobs.len() as u32).await?);
        }
        Ok(jobs)
    }
    /// Extends the leases of jobs still held by `worker`.
    async fn heartbeat(&self, worker: &str, ids: &[Id], lease_until: Millis) -> Result<()>;
    /// Removes finished jobs, all in one transaction. For each job, in order: false if `worker`
    /// no longer held that attempt (its lease expired and another worker took it), in which case
    /// nothing changes for that job.
    async fn complete_many(&self, worker: &str, jobs: &[Job]) -> Result<Vec<bool>>;
    /// Removes one finished job; see [`JobQueue::complete_many`].
    async fn complete(&self, worker: &str, job: &Job) -> Result<bool> {
        let done = self.complete_many(worker, std::slice::from_ref(job)).await?;
        Ok(done.first().copied().unwrap_or(false))
    }
    /// Records a failure: back to pending at `retry_at`, or dead when `retry_at` is None.
    async fn fail(&self, worker: &str, job: &Job, error: &str, retry_at: Option<Millis>) -> Result<bool>;
    /// Puts claimed jobs back without counting an attempt (graceful shutdown).
    async fn release(&self, worker: &str, ids: &[Id], now: Millis) -> Result<()>;
    async fn stats(&self, now: Millis) -> Result<Vec<QueueStats>>;
    async fn dead(&self, limit: u32) -> Result<Vec<Job>>;
    /// Moves dead jobs (all, or the given ones) back to pending; returns how many.
    async fn retry_dead(&self, ids: Option<&[Id]>, now: Millis) -> Result<u64>;
    async fn discard_dead(&self, ids: Option<&[Id]>) -> Result<u64>;
    /// Forgets recurring slots older than `before`.
    async fn prune_slots(&self, before: Millis) -> Result<u64>;
    /// Waits until a job may have been enqueued in this process, or `timeout` passes.
    async fn wait_for_jobs(&self, timeout: std::time::Duration);
}

/// How a job type is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub max_attempts: i64,
    /// Whether the job goes to the dead set after the last attempt (or is dropped, like
    /// Mastodon's deliveries with `dead: false`).
    pub keep_dead: bool,
}

/// What a job type does. The service layer defines them; the runner calls them.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// Runs one attempt. `Ok` completes the job (unless `ctx.complete_in` already did, inside
    /// the handler's own transaction); `Err` counts a failed attempt.
    async fn run(&self, ctx: &JobContext, job: &Job) -> Result<()>;
}

/// What a running job knows about its run.
pub struct JobContext {
    pub worker: String,
    pub job: Job,
    completed: std::sync::atomic::AtomicBool,
}

impl JobContext {
    pub fn new(worker: String, job: Job) -> Self {
        JobContext { worker, job, completed: Default::default() }
    }

    /// Completes the job in `tx`, the transaction holding the job's effects: committed together,
    /// a job's effects happen exactly once even when a worker dies and the job runs again. False
    /// if this attempt lost its lease: then roll back (drop `tx`).
    pub async fn complete_in(&self, tx: &mut Box<dyn crate::ports::Tx>) -> Result<bool> {
        let done = tx.complete_job(&self.worker, &self.job).await?;
        if done {
            self.completed.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(done)
    }

    pub fn completed_in_transaction(&self) -> bool {
        self.completed.load(std::sync::atomic::Ordering::SeqCst)
    }
}
