use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ferrodon_domain::model::{Job, Queue};
use ferrodon_domain::ports::{JobContext, JobHandler, JobQueue, RetryPolicy};
use ferrodon_kernel::time::now_ms;
use ferrodon_kernel::{Error, Id, Result, time::Millis};
use rand::Rng;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

/// The most completions committed in one transaction.
const MAX_COMPLETION_GROUP: usize = 256;

/// While jobs are waiting, free slots are filled at least this often even when fewer than half
/// the slots are free.
const TOP_UP: Duration = Duration::from_millis(5);

/// Sidekiq's retry delay after the `count`-th failure (0-based): `count⁴ + 15 + rand(10)·(count+1)`
/// seconds. Sixteen retries (Mastodon's `retry: 16` for deliveries) span about two days.
pub fn backoff(count: i64) -> Duration {
    let count = count.clamp(0, 100) as u64;
    let jitter = rand::rng().random_range(0..10u64) * (count + 1);
    Duration::from_secs(count.pow(4) + 15 + jitter)
}

/// The job types this process can run.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, (Arc<dyn JobHandler>, RetryPolicy)>,
}

impl Registry {
    pub fn register(&mut self, kind: &str, policy: RetryPolicy, handler: Arc<dyn JobHandler>) {
        self.handlers.insert(kind.to_string(), (handler, policy));
    }

    fn get(&self, kind: &str) -> Option<&(Arc<dyn JobHandler>, RetryPolicy)> {
        self.handlers.get(kind)
    }
}

/// Which queues a worker takes jobs from, Sidekiq style: `push,pull` is strict priority (always
/// `push` first); `default,8 push,6` is weighted (each poll picks the order at random, in
/// proportion to the weights).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeightedQueues {
    pub queues: Vec<(Queue, u32)>,
    pub weighted: bool,
}

impl WeightedQueues {
    /// Every queue with Mastodon's weights (`ferrodon serve`).
    pub fn all() -> Self {
        WeightedQueues { queues: Queue::ALL.iter().map(|q| (*q, q.default_weight())).collect(), weighted: true }
    }

    /// Parses `push,pull` (priority order) or `default:8,push:6` / Sidekiq's `-q default,8` pairs.
    pub fn parse(specs: &[String]) -> Result<Self> {
        let mut queues = Vec::new();
        let mut weighted = false;
        for spec in specs {
            // `-q default,8` is one queue with a weight; `--queues push,pull` is a list.
            let parts: Vec<&str> = spec.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
            let sidekiq_pair = parts.len() == 2 && parts[1].parse::<u32>().is_ok();
            let items: Vec<String> = if sidekiq_pair {
                vec![format!("{}:{}", parts[0], parts[1])]
            } else {
                parts.iter().map(|p| p.to_string()).collect()
            };
            for item in items {
                let (name, weight) = match item.split_once(':') {
                    Some((n, w)) => {
                        weighted = true;
                        let w: u32 =
                            w.parse().map_err(|_| Error::validation(format!("invalid queue weight in {item:?}")))?;
                        (n.to_string(), w.max(1))
                    }
                    None => (item.clone(), 1),
                };
                let queue = Queue::parse(&name).ok_or_else(|| {
                    Error::validation(format!(
                        "unknown queue {name:?} (queues: {})",
                        Queue::ALL.iter().map(|q| q.as_str()).collect::<Vec<_>>().join(", ")
                    ))
                })?;
                if !queues.iter().any(|(q, _)| *q == queue) {
                    queues.push((queue, weight));
                }
            }
        }
        if queues.is_empty() {
            return Err(Error::validation("no queues given"));
        }
        Ok(WeightedQueues { queues, weighted })
    }

    /// The order to poll in this round.
    fn order(&self) -> Vec<Queue> {
        if !self.weighted {
            return self.queues.iter().map(|(q, _)| *q).collect();
        }
        let mut rng = rand::rng();
        let mut left = self.queues.clone();
        let mut out = Vec::with_capacity(left.len());
        while !left.is_empty() {
            let total: u32 = left.iter().map(|(_, w)| *w).sum();
            let mut pick = rng.random_range(0..total);
            let index = left
                .iter()
                .position(|(_, w)| {
                    if pick < *w {
                        true
                    } else {
                        pick -= w;
                        false
                    }
                })
                .unwrap_or(0);
            out.push(left.remove(index).0);
        }
        out
    }
}

#[derive(Clone, Debug)]
pub struct RunnerConfig {
    pub queues: WeightedQueues,
    /// Jobs in flight at once.
    pub concurrency: usize,
    /// How long a claim lasts without a heartbeat.
    pub lease: Duration,
    /// Polling interval when idle and nothing signals new jobs (other processes enqueue).
    pub poll_interval: Duration,
    /// How long shutdown waits for jobs in flight before putting them back.
    pub shutdown_timeout: Duration,
    /// This worker's name in `locked_by`.
    pub worker_id: String,
}

impl RunnerConfig {
    pub fn new(queues: WeightedQueues, concurrency: usize) -> Self {
        RunnerConfig {
            queues,
            concurrency: concurrency.max(1),
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(200),
            shutdown_timeout: Duration::from_secs(25),
            worker_id: format!("{}:{}:{}", hostname(), std::process::id(), Id::generate()),
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "host".into())
}

/// Works jobs until shutdown.
pub struct Runner {
    queue: Arc<dyn JobQueue>,
    registry: Arc<Registry>,
    config: RunnerConfig,
}

impl Runner {
    pub fn new(queue: Arc<dyn JobQueue>, registry: Registry, config: RunnerConfig) -> Self {
        Runner { queue, registry: Arc::new(registry), config }
    }

    /// Runs until `shutdown` turns true: then stops claiming, waits for jobs in flight up to the
    /// shutdown timeout, and puts back the ones still running.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> Result<()> {
        let cfg = &self.config;
        let (completions, completer) = Completions::start(self.queue.clone(), cfg.worker_id.clone());
        let mut in_flight: JoinSet<Id> = JoinSet::new();
        let mut held: HashSet<Id> = HashSet::new();
        let mut heartbeat = tokio::time::interval(cfg.lease / 3);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Refill in batches: while busy, claim when half the slots are free, so one claim brings
        // many jobs (claims, not jobs, are the cost when jobs are quick). When the last claim
        // filled every slot it asked for, more jobs are waiting: then free slots are topped up
        // at least every TOP_UP, so slow jobs never leave slots idle for long.
        let batch = (cfg.concurrency / 2).max(1);
        let mut backlog = false;
        let mut last_claim = tokio::time::Instant::now();
        tracing::info!(worker = %cfg.worker_id, queues = ?cfg.queues.queues, concurrency = cfg.concurrency, "worker started");
        loop {
            if *shutdown.borrow() {
                break;
            }
            let free = cfg.concurrency - in_flight.len();
            let mut claimed = 0;
            let top_up = free > 0 && backlog && last_claim.elapsed() >= TOP_UP;
            if free >= batch || in_flight.is_empty() || top_up {
                last_claim = tokio::time::Instant::now();
                let now = now_ms();
                let lease_until = now + cfg.lease.as_millis() as i64;
                let queues = cfg.queues.order();
                let jobs = match self.queue.claim_from(&queues, &cfg.worker_id, now, lease_until, free as u32).await {
                    Ok(j) => j,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming jobs failed");
                        Vec::new()
                    }
                };
                for job in jobs {
                    claimed += 1;
                    held.insert(job.id);
                    in_flight.spawn(run_one(
                        self.queue.clone(),
                        completions.clone(),
                        self.registry.clone(),
                        cfg.worker_id.clone(),
                        job,
                    ));
                }
                backlog = claimed >= free;
            }
            let free = cfg.concurrency - in_flight.len();
            if claimed > 0 && free >= batch {
                continue;
            }
            tokio::select! {
                done = in_flight.join_next(), if !in_flight.is_empty() => {
                    if let Some(Ok(id)) = done {
                        held.remove(&id);
                    }
                }
                _ = self.queue.wait_for_jobs(cfg.poll_interval), if free >= batch => {}
                _ = tokio::time::sleep_until(last_claim + TOP_UP), if backlog && free > 0 && free < batch => {}
                _ = heartbeat.tick() => {
                    let until = now_ms() + cfg.lease.as_millis() as i64;
                    let ids: Vec<Id> = held.iter().copied().collect();
                    if let Err(e) = self.queue.heartbeat(&cfg.worker_id, &ids, until).await {
                        tracing::warn!(error = %e, "extending job leases failed");
                    }
                }
                _ = shutdown.changed() => {}
            }
        }
        tracing::info!(in_flight = in_flight.len(), "worker stopping");
        let deadline = tokio::time::Instant::now() + cfg.shutdown_timeout;
        while !in_flight.is_empty() {
            match tokio::time::timeout_at(deadline, in_flight.join_next()).await {
                Ok(Some(Ok(id))) => {
                    held.remove(&id);
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        in_flight.abort_all();
        while in_flight.join_next().await.is_some() {}
        // Every sender is gone now: the completer commits what it holds and ends.
        drop(completions);
        let _ = completer.await;
        if !held.is_empty() {
            tracing::info!(jobs = held.len(), "putting unfinished jobs back");
            let ids: Vec<Id> = held.into_iter().collect();
            self.queue.release(&cfg.worker_id, &ids, now_ms()).await?;
        }
        Ok(())
    }
}

/// Group commit for completions: jobs finishing while a group is being committed wait and go
/// together in the next transaction, so completing costs one write per group, not per job.
#[derive(Clone)]
struct Completions(mpsc::UnboundedSender<(Job, oneshot::Sender<Result<bool>>)>);

impl Completions {
    fn start(queue: Arc<dyn JobQueue>, worker: String) -> (Completions, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Job, oneshot::Sender<Result<bool>>)>();
        let task = tokio::spawn(async move {
            let mut group = Vec::with_capacity(MAX_COMPLETION_GROUP);
            while rx.recv_many(&mut group, MAX_COMPLETION_GROUP).await > 0 {
                let (jobs, replies): (Vec<Job>, Vec<_>) = group.drain(..).unzip();
                match queue.complete_many(&worker, &jobs).await {
                    Ok(done) => {
                        for (reply, done) in replies.into_iter().zip(done) {
                            let _ = reply.send(Ok(done));
                        }
                    }
                    Err(e) => {
                        for reply in replies {
                            let _ = reply.send(Err(e.clone()));
                        }
                    }
                }
            }
        });
        (Completions(tx), task)
    }

    /// Completes `job` with the next group; the answer of [`JobQueue::complete`].
    async fn complete(&self, job: Job) -> Result<bool> {
        let (reply, answer) = oneshot::channel();
        self.0.send((job, reply)).map_err(|_| Error::internal("the job completer has stopped"))?;
        answer.await.map_err(|_| Error::internal("the job completer has stopped"))?
    }
}

/// Runs one attempt and records its outcome.
async fn run_one(
    queue: Arc<dyn JobQueue>,
    completions: Completions,
    registry: Arc<Registry>,
    worker: String,
    job: Job,
) -> Id {
    let id = job.id;
    let started = std::time::Instant::now();
    let Some((handler, policy)) = registry.get(&job.kind).cloned() else {
        let error = format!("no handler for job type {:?} in this process", job.kind);
        tracing::error!(job = %id, kind = %job.kind, "{error}");
        let _ = queue.fail(&worker, &job, &error, None).await;
        return id;
    };
    // The handler runs in a task of its own, so a panic is a failed attempt like an error.
    let attempt = {
        let job = job.clone();
        let worker = worker.clone();
        tokio::spawn(async move {
            let ctx = JobContext::new(worker, job.clone());
            let result = handler.run(&ctx, &job).await;
            (result, ctx.completed_in_transaction())
        })
    };
    let (result, completed_in_transaction) = match attempt.await {
        Ok(outcome) => outcome,
        Err(e) => (Err(Error::internal(format!("job panicked: {e}"))), false),
    };
    let outcome = match result {
        Ok(()) if completed_in_transaction => Ok(true),
        Ok(()) => completions.complete(job.clone()).await,
        Err(e) => {
            let last = job.attempts >= job.max_attempts.min(policy.max_attempts);
            let retry_at: Option<Millis> = (!last).then(|| now_ms() + backoff(job.attempts - 1).as_millis() as i64);
            tracing::warn!(job = %id, kind = %job.kind, attempt = job.attempts, error = %e.message, retry = retry_at.is_some(), "job failed");
            if last && !policy.keep_dead {
                completions.complete(job.clone()).await
            } else {
                queue.fail(&worker, &job, &e.message, retry_at).await
            }
        }
    };
    match outcome {
        Ok(true) => {
            tracing::debug!(job = %id, kind = %job.kind, ms = started.elapsed().as_millis() as u64, "job finished")
        }
        Ok(false) => tracing::warn!(job = %id, kind = %job.kind, "job outcome dropped: its lease had expired"),
        Err(e) => tracing::warn!(job = %id, error = %e, "recording a job outcome failed; the lease will bring it back"),
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_follows_sidekiq() {
        for count in 0..16 {
            let d = backoff(count).as_secs() as i64;
            let base = count.pow(4) + 15;
            assert!(d >= base && d <= base + 9 * (count + 1), "{count}: {d}");
        }
        // Sixteen retries span about two days (2.1 days without jitter).
        let total: u64 = (0..16).map(|c| (c as u64).pow(4) + 15).sum();
        assert!((150_000..260_000).contains(&total), "{total}");
    }

    #[test]
    fn queues_parse_like_sidekiq() {
        let q = WeightedQueues::parse(&["push,pull".into()]).unwrap();
        assert_eq!(q.queues, vec![(Queue::Push, 1), (Queue::Pull, 1)]);
        assert!(!q.weighted);
        assert_eq!(q.order(), vec![Queue::Push, Queue::Pull]);
        let q = WeightedQueues::parse(&["default,8".into(), "push,6".into()]).unwrap();
        assert_eq!(q.queues, vec![(Queue::Default, 8), (Queue::Push, 6)]);
        assert!(q.weighted);
        let q = WeightedQueues::parse(&["default:8,push:2".into()]).unwrap();
        let firsts = (0..2000).filter(|_| q.order()[0] == Queue::Default).count();
        assert!((1450..1750).contains(&firsts), "default first {firsts} of 2000 (expected ~80%)");
        assert!(WeightedQueues::parse(&["nope".into()]).is_err());
    }
}
