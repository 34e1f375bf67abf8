//! The durable job queue end to end: the SQL backend (`ferrodon_storage::SqlDatabase` through
//! the `JobStore`/`JobQueue` ports), the [`Runner`] and the [`Scheduler`].
//!
//! Every test runs three times:
//! - `<name>::sqlite`: a SQLite file;
//! - `<name>::postgres`: a PostgreSQL database of its own (`TEST_DATABASE_URL`);
//! - `<name>::pgbouncer`: the same, migrated directly, then used through pgBouncer in
//!   transaction mode (`TEST_PGBOUNCER_URL`, see `scripts/pgbouncer-up`) with prepared
//!   statements off, as Mastodon's `PREPARED_STATEMENTS=false` deployments run.
//!
//! PostgreSQL and pgBouncer variants print a `skipped:` line when their variable is unset and
//! fail under `CI=true`. Times are passed explicitly to the port (`now`, `lease_until`), so
//! leases and schedules are tested without waiting; only the runner tests use the clock.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ferrodon_config::DatabaseConfig;
use ferrodon_domain::model::{Job, NewJob, Queue, QueueStats, RecurringJob};
use ferrodon_domain::ports::{Database, JobContext, JobHandler, JobQueue, RetryPolicy};
use ferrodon_kernel::time::{Millis, now_ms};
use ferrodon_kernel::{Error, Id, Result};
use ferrodon_queue::{Registry, Runner, RunnerConfig, Scheduler, WeightedQueues};
use ferrodon_storage::SqlDatabase;
use ferrodon_testkit::{Engine, TestDb};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

// ---------------------------------------------------------------------------------------------
// Harness: one body, three databases.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    Sqlite,
    Postgres,
    PgBouncer,
}

/// Client connections of the pgBouncer variant: more than pgBouncer's `default_pool_size = 3`
/// server connections, so clients share server connections (the hazard of note B).
const PGBOUNCER_CLIENT_POOL: u32 = 10;

struct Ctx {
    variant: Variant,
    db: SqlDatabase,
    config: DatabaseConfig,
}

impl Ctx {
    fn database(&self) -> Arc<dyn Database> {
        Arc::new(self.db.clone())
    }

    fn queue(&self) -> Arc<dyn JobQueue> {
        Arc::new(self.db.clone())
    }

    /// Another connection pool to the same database, the way a second process would see it.
    async fn open(&self) -> SqlDatabase {
        SqlDatabase::connect(&self.config)
            .await
            .unwrap_or_else(|e| panic!("second connection ({:?}): {e}", self.variant))
    }
}

async fn run<F, Fut>(variant: Variant, body: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    let (test_db, db, config) = match variant {
        Variant::Sqlite | Variant::Postgres => {
            let engine = if variant == Variant::Sqlite { Engine::Sqlite } else { Engine::Postgres };
            let Some(test_db) = TestDb::new(engine).await else {
                return;
            };
            let db = test_db.connect().await;
            let config = test_db.database_config();
            (test_db, db, config)
        }
        Variant::PgBouncer => match TestDb::through_pgbouncer(PGBOUNCER_CLIENT_POOL).await {
            Some(parts) => parts,
            None => return,
        },
    };
    let handle = db.clone();
    body(Ctx { variant, db, config }).await;
    Database::close(&handle).await;
    drop(test_db);
}

/// `<name>::sqlite`, `<name>::postgres` and `<name>::pgbouncer`, on a multi-threaded runtime so
/// that concurrent tasks really run at the same time.
macro_rules! queue_test {
    ($(#[$meta:meta])* $name:ident, $body:expr $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                run(Variant::Sqlite, $body).await;
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                run(Variant::Postgres, $body).await;
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn pgbouncer() {
                run(Variant::PgBouncer, $body).await;
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Helpers.

const HOUR: Millis = 3_600_000;

/// A job due since a minute ago: a claim at any `now` the test took before making it sees it
/// (jobs made later are due later, so creation order is still claim order).
fn new_job(queue: Queue, kind: &str, payload: Value) -> NewJob {
    let now = now_ms();
    NewJob {
        id: Id::generate(),
        queue,
        kind: kind.to_string(),
        payload: payload.to_string(),
        priority: 0,
        run_at: now - 60_000,
        max_attempts: 5,
        unique_key: None,
        created_at: now,
    }
}

async fn enqueue(db: &SqlDatabase, job: &NewJob) -> bool {
    let mut tx = db.write().await.unwrap();
    let added = tx.enqueue(job).await.unwrap();
    tx.commit().await.unwrap();
    added
}

async fn enqueue_all(db: &SqlDatabase, jobs: &[NewJob]) {
    for chunk in jobs.chunks(250) {
        let mut tx = db.write().await.unwrap();
        for job in chunk {
            assert!(tx.enqueue(job).await.unwrap(), "job {} not enqueued", job.id.0);
        }
        tx.commit().await.unwrap();
    }
}

async fn stats(db: &SqlDatabase, queue: Queue, now: Millis) -> QueueStats {
    let all = db.stats(now).await.unwrap();
    assert_eq!(
        all.iter().map(|s| s.queue.as_str()).collect::<Vec<_>>(),
        Queue::ALL.iter().map(|q| q.as_str()).collect::<Vec<_>>(),
        "stats lists every queue once"
    );
    all.into_iter().find(|s| s.queue == queue.as_str()).unwrap()
}

fn figures(pending: i64, running: i64, scheduled: i64, retrying: i64, dead: i64) -> (i64, i64, i64, i64, i64) {
    (pending, running, scheduled, retrying, dead)
}

fn figures_of(s: &QueueStats) -> (i64, i64, i64, i64, i64) {
    (s.pending, s.running, s.scheduled, s.retrying, s.dead)
}

/// Asserts every stored field of a job `worker` just claimed against what was enqueued.
#[track_caller]
fn assert_claimed(job: &Job, new: &NewJob, worker: &str, attempts: i64, lease_until: Millis) {
    assert_eq!(job.id, new.id);
    assert_eq!(job.queue, new.queue, "job {}", job.id.0);
    assert_eq!(job.kind, new.kind, "job {}", job.id.0);
    assert_eq!(job.payload, new.payload, "job {}", job.id.0);
    assert_eq!(job.priority, new.priority, "job {}", job.id.0);
    assert_eq!(job.status, "running", "job {}", job.id.0);
    assert_eq!(job.run_at, new.run_at, "job {}", job.id.0);
    assert_eq!(job.attempts, attempts, "job {}", job.id.0);
    assert_eq!(job.max_attempts, new.max_attempts, "job {}", job.id.0);
    assert_eq!(job.locked_by.as_deref(), Some(worker), "job {}", job.id.0);
    assert_eq!(job.locked_until, Some(lease_until), "job {}", job.id.0);
    assert_eq!(job.unique_key, new.unique_key, "job {}", job.id.0);
    assert_eq!(job.created_at, new.created_at, "job {}", job.id.0);
}

fn ids(jobs: &[Job]) -> Vec<Id> {
    jobs.iter().map(|j| j.id).collect()
}

async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < timeout, "timed out after {timeout:?} waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn runner_config(queues: &str, concurrency: usize, worker: &str) -> RunnerConfig {
    let mut config = RunnerConfig::new(WeightedQueues::parse(&[queues.to_string()]).unwrap(), concurrency);
    config.poll_interval = Duration::from_millis(20);
    config.shutdown_timeout = Duration::from_secs(5);
    config.worker_id = worker.to_string();
    config
}

struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<()>>,
}

fn start(ctx: &Ctx, registry: Registry, config: RunnerConfig) -> Running {
    let (stop, stopped) = watch::channel(false);
    let runner = Runner::new(ctx.queue(), registry, config);
    Running { stop, task: tokio::spawn(runner.run(stopped)) }
}

impl Running {
    async fn shutdown(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the runner stops after shutdown")
            .expect("the runner task does not panic")
            .expect("the runner returns Ok");
    }
}

// ---------------------------------------------------------------------------------------------
// Claiming order, queues, schedules.

queue_test!(priority_order_and_queue_isolation, |ctx| async move {
    let db = &ctx.db;
    let t = now_ms();
    let id: Vec<Id> = (0..6).map(|_| Id::generate()).collect();
    let job = |i: usize, queue: Queue, priority: i64, run_at: Millis| NewJob {
        id: id[i],
        priority,
        run_at,
        unique_key: Some(format!("order-{i}")),
        max_attempts: 3 + i as i64,
        ..new_job(queue, &format!("Kind{i}"), json!({ "i": i }))
    };
    let a = job(0, Queue::Default, 0, t - 3000);
    let b = job(1, Queue::Default, 0, t - 3000); // same priority and time as `a`, larger id
    let c = job(2, Queue::Default, 5, t - 1000);
    let d = job(3, Queue::Default, 5, t - 2000);
    let e = job(4, Queue::Default, -1, t - 9000);
    let p = job(5, Queue::Push, 100, t - 9000);
    // Inserted out of order, so neither insertion order nor id order can pass for the rule.
    for j in [&b, &e, &c, &p, &a, &d] {
        assert!(enqueue(db, j).await);
    }

    let lease = t + 60_000;
    // Highest priority first, then oldest run_at, then id; `limit` is honoured.
    let first = db.claim(Queue::Default, "w1", t, lease, 2).await.unwrap();
    assert_eq!(ids(&first), vec![d.id, c.id]);
    assert_claimed(&first[0], &d, "w1", 1, lease);
    assert_claimed(&first[1], &c, "w1", 1, lease);
    let rest = db.claim(Queue::Default, "w2", t, lease + 1, 10).await.unwrap();
    assert_eq!(ids(&rest), vec![a.id, b.id, e.id]);
    for (got, want) in rest.iter().zip([&a, &b, &e]) {
        assert_claimed(got, want, "w2", 1, lease + 1);
    }
    assert!(db.claim(Queue::Default, "w3", t, lease, 10).await.unwrap().is_empty());

    // The push job was never handed out by the default queue, and only the push queue has it.
    for queue in [Queue::Ingress, Queue::Mailers, Queue::Pull, Queue::Scheduler] {
        assert!(db.claim(queue, "w3", t, lease, 10).await.unwrap().is_empty(), "{queue:?}");
    }
    let push = db.claim(Queue::Push, "w3", t, lease, 10).await.unwrap();
    assert_eq!(ids(&push), vec![p.id]);
    assert_claimed(&push[0], &p, "w3", 1, lease);

    assert_eq!(figures_of(&stats(db, Queue::Default, t).await), figures(0, 5, 0, 0, 0));
    assert_eq!(figures_of(&stats(db, Queue::Push, t).await), figures(0, 1, 0, 0, 0));
});

queue_test!(scheduled_jobs_wait_until_due, |ctx| async move {
    let db = &ctx.db;
    let t = now_ms();
    let due = NewJob { run_at: t - 5000, ..new_job(Queue::Default, "Due", json!({ "due": true })) };
    let later = NewJob { run_at: t + 60_000, ..new_job(Queue::Default, "Later", json!({ "due": false })) };
    assert!(enqueue(db, &later).await);
    assert!(enqueue(db, &due).await);

    let s = stats(db, Queue::Default, t).await;
    assert_eq!(figures_of(&s), figures(1, 0, 1, 0, 0), "{s:?}");
    assert_eq!(s.oldest_pending_age_ms, Some(5000));

    let lease = t + HOUR;
    let got = db.claim(Queue::Default, "w", t, lease, 10).await.unwrap();
    assert_eq!(ids(&got), vec![due.id]);
    assert_claimed(&got[0], &due, "w", 1, lease);
    assert!(db.claim(Queue::Default, "w", t + 59_999, lease, 10).await.unwrap().is_empty(), "not due yet");
    let s = stats(db, Queue::Default, t + 59_999).await;
    assert_eq!(figures_of(&s), figures(0, 1, 1, 0, 0), "{s:?}");
    assert_eq!(s.oldest_pending_age_ms, None);

    // Due at its time: now it is pending, then claimed.
    let s = stats(db, Queue::Default, t + 60_000).await;
    assert_eq!(figures_of(&s), figures(1, 1, 0, 0, 0), "{s:?}");
    assert_eq!(s.oldest_pending_age_ms, Some(0));
    let got = db.claim(Queue::Default, "w", t + 60_000, lease, 10).await.unwrap();
    assert_eq!(ids(&got), vec![later.id]);
    assert_claimed(&got[0], &later, "w", 1, lease);
});

queue_test!(unique_jobs, |ctx| async move {
    let db = &ctx.db;
    let t = now_ms();
    let key = Some("refresh:account:42".to_string());
    let with_key = |n: u32| NewJob { unique_key: key.clone(), ..new_job(Queue::Pull, "Refresh", json!({ "n": n })) };

    let first = with_key(1);
    assert!(enqueue(db, &first).await);
    assert!(!enqueue(db, &with_key(2)).await, "a pending job holds the key");
    // Another key, or none, is not affected.
    let other = NewJob { unique_key: Some("refresh:account:43".into()), ..new_job(Queue::Pull, "Refresh", json!({})) };
    assert!(enqueue(db, &other).await);
    let keyless = new_job(Queue::Pull, "Refresh", json!({}));
    assert!(enqueue(db, &keyless).await);

    let lease = t + HOUR;
    let claimed = db.claim(Queue::Pull, "w", t, lease, 10).await.unwrap();
    assert_eq!(ids(&claimed), vec![first.id, other.id, keyless.id], "the rejected job was not stored");
    assert_claimed(&claimed[0], &first, "w", 1, lease);
    assert!(!enqueue(db, &with_key(3)).await, "a running job holds the key");
    assert!(db.complete("w", &claimed[0]).await.unwrap());

    // Completed: the key is free again.
    let second = with_key(4);
    assert!(enqueue(db, &second).await);
    assert!(!enqueue(db, &with_key(5)).await);

    // Dead jobs do not hold the key.
    let claimed = db.claim(Queue::Pull, "w", t, lease, 10).await.unwrap();
    assert_eq!(ids(&claimed), vec![second.id]);
    assert!(db.fail("w", &claimed[0], "gone", None).await.unwrap());
    let dead = db.dead(10).await.unwrap();
    assert_eq!(ids(&dead), vec![second.id]);
    assert_eq!(dead[0].unique_key, key);
    let third = with_key(6);
    assert!(enqueue(db, &third).await, "a dead job does not block its key");

    // Retrying the dead job while the key is taken again leaves it dead (one live job per key).
    assert_eq!(db.retry_dead(Some(&[second.id]), t).await.unwrap(), 0);
    assert_eq!(ids(&db.dead(10).await.unwrap()), vec![second.id]);
    let claimed = db.claim(Queue::Pull, "w", t, lease, 10).await.unwrap();
    assert_eq!(ids(&claimed), vec![third.id]);
    assert_claimed(&claimed[0], &third, "w", 1, lease);
    assert_eq!(claimed[0].payload, json!({ "n": 6 }).to_string());
});

// ---------------------------------------------------------------------------------------------
// Failures: backoff, dead set.

/// Fails every attempt with `boom <attempt>`, recording `(attempt, when)`.
#[derive(Default)]
struct Failing {
    runs: Mutex<Vec<(i64, Millis)>>,
}

#[async_trait]
impl JobHandler for Failing {
    async fn run(&self, _ctx: &JobContext, job: &Job) -> Result<()> {
        self.runs.lock().unwrap().push((job.attempts, now_ms()));
        Err(Error::internal(format!("boom {}", job.attempts)))
    }
}

queue_test!(failed_jobs_back_off_like_sidekiq, |ctx| async move {
    let db = ctx.db.clone();
    let handler = Arc::new(Failing::default());
    let mut registry = Registry::default();
    registry.register("Flaky", RetryPolicy { max_attempts: 5, keep_dead: true }, handler.clone());
    let runner = start(&ctx, registry, runner_config("default", 2, "runner"));

    let job = NewJob { max_attempts: 5, ..new_job(Queue::Default, "Flaky", json!({ "flaky": 1 })) };
    assert!(enqueue(&db, &job).await);

    for attempt in 1..=4i64 {
        wait_until(&format!("attempt {attempt} failed"), Duration::from_secs(20), || async {
            let s = stats(&db, Queue::Default, now_ms()).await;
            s.retrying == 1 && s.running == 0
        })
        .await;
        let observed = now_ms();
        let (ran, failed_at) = *handler.runs.lock().unwrap().last().unwrap();
        assert_eq!(ran, attempt);
        let s = stats(&db, Queue::Default, observed).await;
        assert_eq!(figures_of(&s), figures(0, 0, 0, 1, 0), "{s:?}");

        // Look at the stored row by claiming it from the future, then put it back (release
        // does not count an attempt and makes it due now) so the runner tries again at once.
        let peek_now = observed + 10 * HOUR;
        let rows = db.claim(Queue::Default, "peek", peek_now, peek_now + HOUR, 10).await.unwrap();
        assert_eq!(ids(&rows), vec![job.id]);
        let row = &rows[0];
        assert_eq!(row.attempts, attempt + 1, "the claim counted one more attempt");
        assert_eq!(row.last_error.as_deref(), Some(format!("boom {attempt}").as_str()));
        assert_eq!(row.payload, job.payload);
        // Sidekiq: count⁴ + 15 + rand(10)·(count + 1) seconds after the count-th retry (0-based).
        let count = attempt - 1;
        let base = count.pow(4) + 15;
        let earliest = failed_at + base * 1000;
        let latest = observed + (base + 9 * (count + 1)) * 1000;
        assert!(
            (earliest..=latest).contains(&row.run_at),
            "attempt {attempt}: retry at +{} ms after the failure, expected {}..={} s",
            row.run_at - failed_at,
            base,
            base + 9 * (count + 1)
        );
        db.release("peek", &[job.id], now_ms()).await.unwrap();
    }

    wait_until("the last attempt made the job dead", Duration::from_secs(20), || async {
        stats(&db, Queue::Default, now_ms()).await.dead == 1
    })
    .await;
    runner.shutdown().await;
    let attempts: Vec<i64> = handler.runs.lock().unwrap().iter().map(|r| r.0).collect();
    assert_eq!(attempts, vec![1, 2, 3, 4, 5], "released peeks did not count as attempts");
    let dead = db.dead(10).await.unwrap();
    assert_eq!(ids(&dead), vec![job.id]);
    let d = &dead[0];
    assert_eq!((d.status.as_str(), d.attempts, d.max_attempts), ("dead", 5, 5));
    assert_eq!(d.last_error.as_deref(), Some("boom 5"));
    assert_eq!((d.locked_by.as_deref(), d.locked_until), (None, None));
    assert_eq!((d.kind.as_str(), d.payload.as_str()), ("Flaky", job.payload.as_str()));
    assert_eq!(figures_of(&stats(&db, Queue::Default, now_ms()).await), figures(0, 0, 0, 0, 1));
});

queue_test!(dead_set, |ctx| async move {
    let db = ctx.db.clone();

    // Through the runner: the policy's max_attempts wins over the job's; keep_dead decides
    // between the dead set and dropping; an unknown job type goes straight to the dead set.
    let kept = Arc::new(Failing::default());
    let dropped = Arc::new(Failing::default());
    let mut registry = Registry::default();
    registry.register("Kept", RetryPolicy { max_attempts: 1, keep_dead: true }, kept.clone());
    registry.register("Dropped", RetryPolicy { max_attempts: 1, keep_dead: false }, dropped.clone());
    let keep = NewJob { max_attempts: 3, ..new_job(Queue::Mailers, "Kept", json!({ "k": 1 })) };
    let drop_ = NewJob { max_attempts: 3, ..new_job(Queue::Mailers, "Dropped", json!({ "d": 1 })) };
    let unknown = new_job(Queue::Mailers, "Nobody", json!({ "u": 1 }));
    enqueue_all(&db, &[keep.clone(), drop_.clone(), unknown.clone()]).await;
    let runner = start(&ctx, registry, runner_config("mailers", 4, "runner"));
    wait_until("the three jobs ran", Duration::from_secs(20), || async {
        let s = stats(&db, Queue::Mailers, now_ms()).await;
        s.pending == 0 && s.running == 0 && s.dead == 2
    })
    .await;
    runner.shutdown().await;
    assert_eq!(kept.runs.lock().unwrap().len(), 1);
    assert_eq!(dropped.runs.lock().unwrap().len(), 1);
    let dead = db.dead(10).await.unwrap();
    assert_eq!(ids(&dead), vec![unknown.id, keep.id], "newest first; the dropped job is gone");
    assert_eq!((dead[1].status.as_str(), dead[1].attempts, dead[1].last_error.as_deref()), ("dead", 1, Some("boom 1")));
    assert_eq!(dead[0].attempts, 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("no handler for job type \"Nobody\" in this process"));
    let t = now_ms();
    assert!(db.claim(Queue::Mailers, "w", t + HOUR, t + 2 * HOUR, 10).await.unwrap().is_empty());
    assert_eq!(db.discard_dead(None).await.unwrap(), 2);

    // Through the port: retry (by id and all), discard (by id and all).
    let t = now_ms();
    let lease = t + HOUR;
    let jobs: Vec<NewJob> = (0..3).map(|i| new_job(Queue::Default, "Doomed", json!({ "i": i }))).collect();
    enqueue_all(&db, &jobs).await;
    for job in db.claim(Queue::Default, "w", t, lease, 10).await.unwrap() {
        assert!(db.fail("w", &job, &format!("failed {}", job.payload), None).await.unwrap());
    }
    let [x, y, z] = [&jobs[0], &jobs[1], &jobs[2]];
    let dead = db.dead(10).await.unwrap();
    assert_eq!(ids(&dead), vec![z.id, y.id, x.id]);
    for (d, j) in dead.iter().zip([z, y, x]) {
        assert_eq!((d.status.as_str(), d.attempts, d.payload.as_str()), ("dead", 1, j.payload.as_str()));
        assert_eq!(d.last_error, Some(format!("failed {}", j.payload)));
    }
    assert_eq!(ids(&db.dead(2).await.unwrap()), vec![z.id, y.id]);
    let live = new_job(Queue::Default, "Alive", json!({}));
    assert!(enqueue(&db, &live).await);
    assert_eq!(db.retry_dead(Some(&[live.id]), t).await.unwrap(), 0, "only dead jobs are retried");
    assert_eq!(db.discard_dead(Some(&[live.id])).await.unwrap(), 0, "only dead jobs are discarded");

    let now = t + 1000;
    assert_eq!(db.retry_dead(Some(&[x.id]), now).await.unwrap(), 1);
    assert_eq!(ids(&db.dead(10).await.unwrap()), vec![z.id, y.id]);
    assert_eq!(figures_of(&stats(&db, Queue::Default, now).await), figures(2, 0, 0, 0, 2));
    let back = db.claim(Queue::Default, "w", now, lease, 10).await.unwrap();
    assert_eq!(ids(&back), vec![live.id, x.id], "retried with run_at = now, behind the older live job");
    assert_eq!(back[1].attempts, 1, "retry_dead reset attempts to 0");
    assert_eq!(back[1].run_at, now);
    assert_eq!(back[1].payload, x.payload);
    for job in &back {
        assert!(db.complete("w", job).await.unwrap());
    }

    assert_eq!(db.retry_dead(None, now).await.unwrap(), 2);
    assert!(db.dead(10).await.unwrap().is_empty());
    let back = db.claim(Queue::Default, "w", now, lease, 10).await.unwrap();
    assert_eq!(ids(&back), vec![y.id, z.id]);
    assert!(back.iter().all(|j| j.attempts == 1 && j.run_at == now && j.status == "running"));
    for job in &back {
        assert!(db.fail("w", job, "again", None).await.unwrap());
    }

    assert_eq!(db.discard_dead(Some(&[y.id])).await.unwrap(), 1);
    assert_eq!(db.discard_dead(Some(&[y.id])).await.unwrap(), 0);
    assert_eq!(ids(&db.dead(10).await.unwrap()), vec![z.id]);
    assert_eq!(db.discard_dead(None).await.unwrap(), 1);
    assert!(db.dead(10).await.unwrap().is_empty());
    assert_eq!(figures_of(&stats(&db, Queue::Default, now).await), figures(0, 0, 0, 0, 0));
});

// ---------------------------------------------------------------------------------------------
// Leases.

queue_test!(leases, |ctx| async move {
    let db = &ctx.db;
    let t = now_ms();

    // A lease that runs out without a heartbeat: another worker takes the job.
    let job = new_job(Queue::Ingress, "Slow", json!({ "slow": 1 }));
    assert!(enqueue(db, &job).await);
    let a = db.claim(Queue::Ingress, "worker-a", t, t + 1000, 10).await.unwrap();
    assert_claimed(&a[0], &job, "worker-a", 1, t + 1000);
    assert!(db.claim(Queue::Ingress, "worker-b", t + 999, t + 10_000, 10).await.unwrap().is_empty());
    let b = db.claim(Queue::Ingress, "worker-b", t + 1001, t + 10_000, 10).await.unwrap();
    assert_eq!(ids(&b), vec![job.id]);
    assert_eq!(b[0].attempts, 2, "the lost attempt counts");
    assert_eq!(b[0].locked_by.as_deref(), Some("worker-b"));
    assert_eq!(b[0].locked_until, Some(t + 10_000));
    assert_eq!(b[0].last_error.as_deref(), Some("worker lost (lease expired)"));
    assert_eq!(b[0].payload, job.payload);

    // The first worker comes back: nothing it reports changes anything.
    assert!(!db.complete("worker-a", &a[0]).await.unwrap());
    assert!(!db.fail("worker-a", &a[0], "late", Some(t)).await.unwrap());
    assert!(!db.fail("worker-a", &a[0], "late", None).await.unwrap());
    db.heartbeat("worker-a", &[job.id], t + 100 * HOUR).await.unwrap();
    db.release("worker-a", &[job.id], t).await.unwrap();
    // Even the right worker with the old attempt's copy is refused.
    let stale = Job { locked_by: Some("worker-b".into()), ..a[0].clone() };
    assert!(!db.complete("worker-b", &stale).await.unwrap());
    assert!(db.dead(10).await.unwrap().is_empty());
    assert_eq!(figures_of(&stats(db, Queue::Ingress, t + 9_999).await), figures(0, 1, 0, 0, 0));
    assert!(db.claim(Queue::Ingress, "worker-c", t + 9_999, t + 20_000, 10).await.unwrap().is_empty());
    // Still worker-b's lease, unchanged: it ends at t + 10 s, not at worker-a's heartbeat.
    let c = db.claim(Queue::Ingress, "worker-c", t + 10_001, t + 20_000, 10).await.unwrap();
    assert_eq!((ids(&c), c[0].attempts), (vec![job.id], 3));
    assert!(!db.complete("worker-b", &b[0]).await.unwrap());
    assert!(db.complete("worker-c", &c[0]).await.unwrap());
    assert_eq!(figures_of(&stats(db, Queue::Ingress, t + 10_001).await), figures(0, 0, 0, 0, 0));

    // A heartbeat keeps the lease; someone else's heartbeat does not.
    let kept = new_job(Queue::Ingress, "Kept", json!({ "kept": 1 }));
    assert!(enqueue(db, &kept).await);
    let a = db.claim(Queue::Ingress, "worker-a", t, t + 1000, 10).await.unwrap();
    assert_eq!(ids(&a), vec![kept.id]);
    db.heartbeat("worker-a", &[kept.id], t + 5000).await.unwrap();
    db.heartbeat("worker-b", &[kept.id], t + 100 * HOUR).await.unwrap();
    assert!(db.claim(Queue::Ingress, "worker-b", t + 4999, t + 20_000, 10).await.unwrap().is_empty());
    let b = db.claim(Queue::Ingress, "worker-b", t + 5001, t + 20_000, 10).await.unwrap();
    assert_eq!((ids(&b), b[0].attempts), (vec![kept.id], 2));
    assert!(db.complete("worker-b", &b[0]).await.unwrap());

    // The lease of the last attempt runs out: the job goes to the dead set.
    let last = NewJob { max_attempts: 1, ..new_job(Queue::Ingress, "Fragile", json!({ "fragile": 1 })) };
    assert!(enqueue(db, &last).await);
    let a = db.claim(Queue::Ingress, "worker-a", t, t + 1000, 10).await.unwrap();
    assert_eq!(ids(&a), vec![last.id]);
    assert!(db.claim(Queue::Ingress, "worker-b", t + 2000, t + 20_000, 10).await.unwrap().is_empty());
    let dead = db.dead(10).await.unwrap();
    assert_eq!(ids(&dead), vec![last.id]);
    assert_eq!((dead[0].status.as_str(), dead[0].attempts), ("dead", 1));
    assert_eq!(dead[0].last_error.as_deref(), Some("worker lost (lease expired)"));
    assert_eq!((dead[0].locked_by.as_deref(), dead[0].locked_until), (None, None));
    assert!(!db.complete("worker-a", &a[0]).await.unwrap(), "too late: the job is dead");
    assert_eq!(figures_of(&stats(db, Queue::Ingress, t + 2000).await), figures(0, 0, 0, 0, 1));
});

queue_test!(many_at_once, |ctx| async move {
    let db = &ctx.db;
    let t = now_ms();

    // A fan-out in one statement: a key already taken (by a pending job, or twice in the same
    // group) is skipped, everything else is enqueued with its fields intact.
    let taken = NewJob { unique_key: Some("fanout:a".into()), ..new_job(Queue::Push, "Deliver", json!({ "n": -1 })) };
    assert!(enqueue(db, &taken).await);
    let mut group: Vec<NewJob> = (0..300)
        .map(|n| NewJob {
            priority: n % 3,
            unique_key: (n % 2 == 0).then(|| format!("fanout:{n}")),
            ..new_job(Queue::Push, "Deliver", json!({ "n": n }))
        })
        .collect();
    group.push(NewJob { unique_key: Some("fanout:a".into()), ..new_job(Queue::Push, "Deliver", json!({ "n": 300 })) });
    group.push(NewJob { unique_key: Some("fanout:0".into()), ..new_job(Queue::Push, "Deliver", json!({ "n": 301 })) });
    let mut tx = db.write().await.unwrap();
    assert_eq!(tx.enqueue_many(&group).await.unwrap(), 300);
    assert_eq!(tx.enqueue_many(&[]).await.unwrap(), 0);
    tx.commit().await.unwrap();
    let claimed = db.claim(Queue::Push, "w", t, t + 60_000, 1000).await.unwrap();
    assert_eq!(claimed.len(), 301);
    let by_id: HashMap<Id, &Job> = claimed.iter().map(|j| (j.id, j)).collect();
    for new in group.iter().take(300).chain([&taken]) {
        assert_claimed(by_id[&new.id], new, "w", 1, t + 60_000);
    }

    // Completing a group: the current attempts go, a stale attempt and a job held by another
    // worker stay, and each answer matches its job.
    let (mine, rest) = claimed.split_at(200);
    let stale = Job { attempts: rest[0].attempts + 1, ..rest[0].clone() };
    let mut asked: Vec<Job> = mine.to_vec();
    asked.insert(50, stale);
    let done = db.complete_many("w", &asked).await.unwrap();
    assert_eq!(done.len(), asked.len());
    for (job, done) in asked.iter().zip(&done) {
        assert_eq!(*done, job.id != rest[0].id, "job {}", job.id.0);
    }
    assert_eq!(db.complete_many("other", &rest[1..]).await.unwrap(), vec![false; rest.len() - 1]);
    assert_eq!(figures_of(&stats(db, Queue::Push, t).await), figures(0, rest.len() as i64, 0, 0, 0));
    assert_eq!(db.complete_many("w", rest).await.unwrap(), vec![true; rest.len()]);
    assert_eq!(db.complete_many("w", rest).await.unwrap(), vec![false; rest.len()], "already done");
    assert_eq!(figures_of(&stats(db, Queue::Push, t).await), figures(0, 0, 0, 0, 0));
});

/// Sleeps, counting starts and ends.
struct Sleepy {
    sleep: Duration,
    started: AtomicUsize,
    finished: AtomicUsize,
}

impl Sleepy {
    fn new(sleep: Duration) -> Arc<Sleepy> {
        Arc::new(Sleepy { sleep, started: AtomicUsize::new(0), finished: AtomicUsize::new(0) })
    }
}

#[async_trait]
impl JobHandler for Sleepy {
    async fn run(&self, _ctx: &JobContext, _job: &Job) -> Result<()> {
        self.started.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.sleep).await;
        self.finished.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

queue_test!(runner_heartbeats_keep_long_jobs, |ctx| async move {
    let db = ctx.db.clone();
    let handler = Sleepy::new(Duration::from_millis(3000));
    let mut registry = Registry::default();
    registry.register("Long", RetryPolicy { max_attempts: 3, keep_dead: true }, handler.clone());
    let mut config = runner_config("pull", 1, "runner");
    config.lease = Duration::from_millis(1000);
    let job = new_job(Queue::Pull, "Long", json!({ "long": 1 }));
    assert!(enqueue(&db, &job).await);
    let runner = start(&ctx, registry, config);

    // Another worker keeps trying, on the real clock, for longer than three leases.
    let thief = ctx.open().await;
    wait_until("the job started", Duration::from_secs(10), || async { handler.started.load(Ordering::SeqCst) == 1 })
        .await;
    while handler.finished.load(Ordering::SeqCst) == 0 {
        let now = now_ms();
        let stolen = thief.claim(Queue::Pull, "thief", now, now + HOUR, 10).await.unwrap();
        assert!(stolen.is_empty(), "the lease lapsed while the job ran: {stolen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_until("the job completed", Duration::from_secs(10), || async {
        figures_of(&stats(&db, Queue::Pull, now_ms()).await) == figures(0, 0, 0, 0, 0)
    })
    .await;
    runner.shutdown().await;
    Database::close(&thief).await;
    assert_eq!(handler.started.load(Ordering::SeqCst), 1);
    assert!(db.dead(10).await.unwrap().is_empty());
});

// ---------------------------------------------------------------------------------------------
// Recurring jobs.

queue_test!(schedulers_fire_each_slot_once, |ctx| async move {
    let db = ctx.db.clone();
    let other = ctx.open().await;
    const EVERY: Millis = 60_000;
    let recurring = vec![RecurringJob {
        name: "prune",
        every: Duration::from_millis(EVERY as u64),
        queue: Queue::Scheduler,
        kind: "Prune",
        max_attempts: 2,
    }];
    let one = Arc::new(Scheduler::new(ctx.database(), ctx.queue(), recurring.clone()));
    let two = Arc::new(Scheduler::new(Arc::new(other.clone()), Arc::new(other.clone()), recurring));
    let s0 = now_ms() / EVERY * EVERY;

    // Takes the one scheduled job (asserting it belongs to `slot`) and completes it.
    let take = |slot: Millis| {
        let db = db.clone();
        async move {
            let now = slot + EVERY - 1;
            let got = db.claim(Queue::Scheduler, "w", now, now + HOUR, 10).await.unwrap();
            assert_eq!(got.len(), 1, "{got:?}");
            let job = &got[0];
            assert_eq!((job.kind.as_str(), job.queue, job.max_attempts), ("Prune", Queue::Scheduler, 2));
            assert_eq!(job.payload, json!({ "slot": slot }).to_string());
            assert_eq!(job.run_at, slot);
            assert_eq!(job.unique_key.as_deref(), Some("recurring:prune"));
            assert_eq!(job.attempts, 1);
            assert!(db.complete("w", job).await.unwrap());
        }
    };

    for round in 0..5 {
        let slot = s0 + round * 2 * EVERY;
        // Both schedulers tick the same slot at the same time (different moments in it).
        let (a, b) = (one.clone(), two.clone());
        let ta = tokio::spawn(async move { a.tick(slot + 10).await.unwrap() });
        let tb = tokio::spawn(async move { b.tick(slot + EVERY - 10).await.unwrap() });
        let fired = ta.await.unwrap() + tb.await.unwrap();
        assert_eq!(fired, 1, "round {round}: exactly one scheduler fires the slot");
        assert_eq!(one.tick(slot + 20).await.unwrap(), 0, "the slot is taken");
        assert_eq!(figures_of(&stats(&db, Queue::Scheduler, slot + 20).await), figures(1, 0, 0, 0, 0));

        // The next slot starts while the job is still pending: the slot is used up, but the
        // unique key keeps the queue at one job (the older slot's). What `tick` returns here
        // is a known bug (see `scheduler_tick_counts_only_enqueued_jobs`), so it is not checked.
        let _ = two.tick(slot + EVERY).await.unwrap();
        assert_eq!(figures_of(&stats(&db, Queue::Scheduler, slot + EVERY).await), figures(1, 0, 0, 0, 0));
        assert_eq!(one.tick(slot + EVERY + 1).await.unwrap(), 0);
        take(slot).await;
        // That slot does not fire again once the job is done.
        assert_eq!(one.tick(slot + EVERY + 2).await.unwrap(), 0);
        assert_eq!(figures_of(&stats(&db, Queue::Scheduler, slot + EVERY + 2).await), figures(0, 0, 0, 0, 0));
    }

    // Slots are kept until pruned: 10 slots were claimed, the oldest 4 go.
    assert_eq!(db.prune_slots(s0 + 4 * EVERY).await.unwrap(), 4);
    assert_eq!(db.prune_slots(s0 + 4 * EVERY).await.unwrap(), 0);
    Database::close(&other).await;
});

// ---------------------------------------------------------------------------------------------
// The runner end to end.

/// Records every run; tracks how many run at once.
#[derive(Default)]
struct Recorder {
    runs: Mutex<HashMap<Id, (u32, i64)>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

#[async_trait]
impl JobHandler for Recorder {
    async fn run(&self, _ctx: &JobContext, job: &Job) -> Result<()> {
        let now_running = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now_running, Ordering::SeqCst);
        let payload: Value = serde_json::from_str(&job.payload).map_err(Error::internal)?;
        let n = payload["n"].as_i64().ok_or_else(|| Error::internal("no n"))?;
        tokio::time::sleep(Duration::from_millis(1 + (job.id.0 % 7) as u64)).await;
        {
            let mut runs = self.runs.lock().unwrap();
            let entry = runs.entry(job.id).or_insert((0, n));
            entry.0 += 1;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

queue_test!(runner_runs_every_job_once_within_its_concurrency, |ctx| async move {
    let db = ctx.db.clone();
    let recorder = Arc::new(Recorder::default());
    let mut registry = Registry::default();
    registry.register("Record", RetryPolicy { max_attempts: 3, keep_dead: true }, recorder.clone());
    let jobs: Vec<NewJob> = (0..200)
        .map(|n| {
            let queue = if n % 5 < 3 { Queue::Default } else { Queue::Push };
            new_job(queue, "Record", json!({ "n": n }))
        })
        .collect();
    enqueue_all(&db, &jobs).await;
    const CONCURRENCY: usize = 8;
    let runner = start(&ctx, registry, runner_config("default:2,push:1", CONCURRENCY, "runner"));
    wait_until("all 200 jobs ran", Duration::from_secs(60), || async {
        let done = recorder.runs.lock().unwrap().len() == 200;
        done && {
            let all = db.stats(now_ms()).await.unwrap();
            all.iter().all(|s| s.pending == 0 && s.running == 0)
        }
    })
    .await;
    runner.shutdown().await;

    let runs = recorder.runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 200);
    for (n, job) in jobs.iter().enumerate() {
        assert_eq!(runs.get(&job.id), Some(&(1, n as i64)), "job {n} ran once with its own payload");
    }
    let max = recorder.max_in_flight.load(Ordering::SeqCst);
    assert!(max <= CONCURRENCY, "{max} jobs ran at once with concurrency {CONCURRENCY}");
    assert!(max > 1, "jobs ran one at a time");
    assert!(db.dead(10).await.unwrap().is_empty());
});

queue_test!(graceful_shutdown_puts_unfinished_jobs_back, |ctx| async move {
    let db = ctx.db.clone();

    // Jobs that outlive the shutdown timeout go back to pending, their attempt not counted.
    let stuck = Sleepy::new(Duration::from_secs(600));
    let mut registry = Registry::default();
    registry.register("Stuck", RetryPolicy { max_attempts: 3, keep_dead: true }, stuck.clone());
    let jobs: Vec<NewJob> = (0..5).map(|n| new_job(Queue::Default, "Stuck", json!({ "n": n }))).collect();
    enqueue_all(&db, &jobs).await;
    let mut config = runner_config("default", 3, "runner-1");
    config.shutdown_timeout = Duration::from_millis(300);
    let runner = start(&ctx, registry, config);
    wait_until("three jobs run", Duration::from_secs(10), || async {
        stuck.started.load(Ordering::SeqCst) == 3 && stats(&db, Queue::Default, now_ms()).await.running == 3
    })
    .await;
    let stopping = Instant::now();
    runner.shutdown().await;
    assert!(stopping.elapsed() < Duration::from_secs(5), "shutdown took {:?}", stopping.elapsed());
    assert_eq!((stuck.started.load(Ordering::SeqCst), stuck.finished.load(Ordering::SeqCst)), (3, 0));
    let now = now_ms();
    assert_eq!(figures_of(&stats(&db, Queue::Default, now).await), figures(5, 0, 0, 0, 0));
    let back = db.claim(Queue::Default, "after", now, now + HOUR, 10).await.unwrap();
    assert_eq!(back.iter().map(|j| j.id).collect::<HashSet<_>>(), jobs.iter().map(|j| j.id).collect::<HashSet<_>>());
    for job in &back {
        assert_eq!(job.attempts, 1, "job {}: the released attempt was not counted", job.payload);
        assert_eq!(job.last_error, None);
        assert!(db.complete("after", job).await.unwrap());
    }

    // Jobs that finish within the timeout complete; unclaimed ones stay untouched.
    let quick = Sleepy::new(Duration::from_millis(500));
    let mut registry = Registry::default();
    registry.register("Quick", RetryPolicy { max_attempts: 3, keep_dead: true }, quick.clone());
    let jobs: Vec<NewJob> = (0..5).map(|n| new_job(Queue::Default, "Quick", json!({ "n": n }))).collect();
    enqueue_all(&db, &jobs).await;
    let runner = start(&ctx, registry, runner_config("default", 3, "runner-2"));
    wait_until("three jobs run", Duration::from_secs(10), || async { quick.started.load(Ordering::SeqCst) == 3 }).await;
    runner.shutdown().await;
    assert_eq!((quick.started.load(Ordering::SeqCst), quick.finished.load(Ordering::SeqCst)), (3, 3));
    let now = now_ms();
    assert_eq!(figures_of(&stats(&db, Queue::Default, now).await), figures(2, 0, 0, 0, 0));
    let left = db.claim(Queue::Default, "after", now, now + HOUR, 10).await.unwrap();
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|j| j.attempts == 1));
});

// ---------------------------------------------------------------------------------------------
// Effects committed with the completion.

async fn pings(db: &SqlDatabase, token: &str) -> Vec<i64> {
    let mut tx = db.read().await.unwrap();
    tx.pings(token).await.unwrap()
}

/// Writes a ping in its own transaction and completes the job in it.
struct Effectful {
    db: Arc<dyn Database>,
}

#[async_trait]
impl JobHandler for Effectful {
    async fn run(&self, ctx: &JobContext, job: &Job) -> Result<()> {
        let payload: Value = serde_json::from_str(&job.payload).map_err(Error::internal)?;
        let mut tx = self.db.write().await?;
        tx.record_ping(payload["token"].as_str().unwrap(), job, now_ms()).await?;
        if ctx.complete_in(&mut tx).await? {
            tx.commit().await?;
        }
        Ok(())
    }
}

queue_test!(effects_commit_with_the_completion, |ctx| async move {
    let db = ctx.db.clone();
    let t = now_ms();

    // The effect and the completion commit together.
    let job = new_job(Queue::Default, "Ping", json!({ "token": "direct" }));
    assert!(enqueue(&db, &job).await);
    let claimed = db.claim(Queue::Default, "w", t, t + 1000, 1).await.unwrap().remove(0);
    let context = JobContext::new("w".into(), claimed.clone());
    let mut tx = ctx.database().write().await.unwrap();
    tx.record_ping("direct", &claimed, t).await.unwrap();
    assert!(context.complete_in(&mut tx).await.unwrap());
    assert!(context.completed_in_transaction());
    tx.commit().await.unwrap();
    assert_eq!(pings(&db, "direct").await, vec![1]);
    assert!(!db.complete("w", &claimed).await.unwrap(), "already completed");
    assert!(db.claim(Queue::Default, "x", t + HOUR, t + 2 * HOUR, 10).await.unwrap().is_empty());

    // Completed but rolled back: neither the effect nor the completion happened.
    let job = new_job(Queue::Default, "Ping", json!({ "token": "rollback" }));
    assert!(enqueue(&db, &job).await);
    let claimed = db.claim(Queue::Default, "w", t, t + 1000, 1).await.unwrap().remove(0);
    let context = JobContext::new("w".into(), claimed.clone());
    let mut tx = ctx.database().write().await.unwrap();
    tx.record_ping("rollback", &claimed, t).await.unwrap();
    assert!(context.complete_in(&mut tx).await.unwrap());
    drop(tx);
    assert!(pings(&db, "rollback").await.is_empty());
    assert_eq!(figures_of(&stats(&db, Queue::Default, t).await), figures(0, 1, 0, 0, 0));

    // The lease was lost to another worker: complete_in refuses, the handler rolls back.
    let taken = db.claim(Queue::Default, "other", t + 2000, t + 10_000, 1).await.unwrap();
    assert_eq!((ids(&taken), taken[0].attempts), (vec![job.id], 2));
    let mut tx = ctx.database().write().await.unwrap();
    tx.record_ping("rollback", &claimed, t).await.unwrap();
    assert!(!context.complete_in(&mut tx).await.unwrap());
    drop(tx);
    assert!(pings(&db, "rollback").await.is_empty(), "the late worker's effect was rolled back");
    assert_eq!(figures_of(&stats(&db, Queue::Default, t + 2000).await), figures(0, 1, 0, 0, 0));
    assert!(db.complete("other", &taken[0]).await.unwrap(), "the new holder still completes it");

    // Through the runner: one effect per job, no second completion.
    let mut registry = Registry::default();
    registry.register(
        "Ping",
        RetryPolicy { max_attempts: 3, keep_dead: true },
        Arc::new(Effectful { db: ctx.database() }),
    );
    let jobs: Vec<NewJob> =
        (0..20).map(|n| new_job(Queue::Default, "Ping", json!({ "token": format!("run-{n}") }))).collect();
    enqueue_all(&db, &jobs).await;
    let runner = start(&ctx, registry, runner_config("default", 4, "runner"));
    wait_until("the pings ran", Duration::from_secs(30), || async {
        figures_of(&stats(&db, Queue::Default, now_ms()).await) == figures(0, 0, 0, 0, 0)
    })
    .await;
    runner.shutdown().await;
    for n in 0..20 {
        assert_eq!(pings(&db, &format!("run-{n}")).await, vec![1], "ping {n}");
    }
    assert!(db.dead(10).await.unwrap().is_empty());
});

// ---------------------------------------------------------------------------------------------
// Concurrency: every returned row checked.

queue_test!(concurrent_claimers_never_share_a_job, |ctx| async move {
    let jobs: Vec<NewJob> = (0..500).map(|n| new_job(Queue::Push, "Deliver", json!({ "n": n }))).collect();
    let expected: HashMap<Id, String> = jobs.iter().map(|j| (j.id, j.payload.clone())).collect();
    let expected = Arc::new(expected);
    enqueue_all(&ctx.db, &jobs).await;

    // Four claimers, each with its own connection pool, as four worker processes.
    let mut tasks = Vec::new();
    for w in 0..4 {
        let db = ctx.open().await;
        let expected = expected.clone();
        tasks.push(tokio::spawn(async move {
            let worker = format!("claimer-{w}");
            let mut mine = Vec::new();
            let mut empty_in_a_row = 0;
            while empty_in_a_row < 3 {
                let now = now_ms();
                let got = db.claim(Queue::Push, &worker, now, now + HOUR, 7).await.unwrap();
                assert!(got.len() <= 7, "{} rows for limit 7", got.len());
                if got.is_empty() {
                    empty_in_a_row += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                empty_in_a_row = 0;
                for job in got {
                    assert_eq!(Some(&job.payload), expected.get(&job.id), "job {}: payload of another row", job.id.0);
                    assert_eq!((job.status.as_str(), job.attempts), ("running", 1), "job {}", job.id.0);
                    assert_eq!(job.locked_by.as_deref(), Some(worker.as_str()));
                    assert_eq!((job.queue, job.kind.as_str()), (Queue::Push, "Deliver"));
                    mine.push(job.id);
                }
            }
            Database::close(&db).await;
            mine
        }));
    }
    let mut seen = HashSet::new();
    let mut per_worker = Vec::new();
    for task in tasks {
        let mine = task.await.unwrap();
        per_worker.push(mine.len());
        for id in mine {
            assert!(seen.insert(id), "job {} claimed twice", id.0);
        }
    }
    assert_eq!(seen.len(), 500, "claimed per worker: {per_worker:?}");
    assert_eq!(figures_of(&stats(&ctx.db, Queue::Push, now_ms()).await), figures(0, 500, 0, 0, 0));
});

queue_test!(claim_and_complete_under_contention_returns_the_right_rows, |ctx| async move {
    // 8 tasks share one pool (10 client connections; behind pgBouncer they share its 3 server
    // connections): claiming, heartbeating, completing and reading stats at once, with every
    // returned row checked against what was enqueued. A client mode that is unsafe behind
    // pgBouncer shows here as rows with the wrong payload, wrong worker or lost completions.
    const JOBS: usize = 1000;
    let queues = [Queue::Default, Queue::Push, Queue::Pull];
    let jobs: Vec<NewJob> = (0..JOBS)
        .map(|n| {
            let queue = queues[n % queues.len()];
            let payload = json!({ "n": n, "queue": queue.as_str(), "pad": "x".repeat(n % 40) });
            NewJob { priority: (n % 3) as i64, ..new_job(queue, &format!("Kind{}", n % 4), payload) }
        })
        .collect();
    let expected: Arc<HashMap<Id, NewJob>> = Arc::new(jobs.iter().map(|j| (j.id, j.clone())).collect());
    enqueue_all(&ctx.db, &jobs).await;

    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let db = ctx.db.clone();
        let expected = expected.clone();
        tasks.push(tokio::spawn(async move {
            let worker = format!("task-{w}");
            let mut done = Vec::new();
            let mut empty_in_a_row = 0;
            let mut round = 0usize;
            while empty_in_a_row < 3 {
                round += 1;
                let queue = queues[(w + round) % queues.len()];
                let now = now_ms();
                let got = db.claim(queue, &worker, now, now + HOUR, 5).await.unwrap();
                if got.is_empty() {
                    let left: i64 =
                        db.stats(now_ms()).await.unwrap().iter().map(|s| s.pending + s.scheduled + s.retrying).sum();
                    if left == 0 {
                        empty_in_a_row += 1;
                    }
                    continue;
                }
                empty_in_a_row = 0;
                for job in &got {
                    let want = expected.get(&job.id).unwrap_or_else(|| panic!("unknown job id {}", job.id.0));
                    assert_eq!(job.queue, queue, "job {} claimed from the wrong queue", job.id.0);
                    assert_claimed(job, want, &worker, 1, job.locked_until.unwrap());
                    assert!(job.locked_until.unwrap() >= now + HOUR);
                }
                db.heartbeat(&worker, &ids(&got), now_ms() + 2 * HOUR).await.unwrap();
                let s = db.stats(now_ms()).await.unwrap();
                assert!(s.iter().all(|q| q.dead == 0 && q.running <= JOBS as i64 && q.pending <= JOBS as i64));
                for job in got {
                    assert!(db.complete(&worker, &job).await.unwrap(), "job {}: completion lost", job.id.0);
                    done.push(job.id);
                }
            }
            done
        }));
    }
    let mut seen = HashSet::new();
    for task in tasks {
        for id in task.await.unwrap() {
            assert!(seen.insert(id), "job {} ran twice", id.0);
        }
    }
    assert_eq!(seen.len(), JOBS, "jobs lost");
    let all = ctx.db.stats(now_ms()).await.unwrap();
    assert!(all.iter().all(|s| figures_of(s) == figures(0, 0, 0, 0, 0)), "{all:?}");
    println!("{:?}: {JOBS} jobs claimed and completed by 8 tasks in {:?}", ctx.variant, started.elapsed());
});

// ---------------------------------------------------------------------------------------------
// Regressions: a panicking handler, a skipped recurring job, dead jobs that share a key.

struct Panicking {
    runs: AtomicUsize,
}

#[async_trait]
impl JobHandler for Panicking {
    async fn run(&self, _ctx: &JobContext, _job: &Job) -> Result<()> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        panic!("handler panicked (on purpose)");
    }
}

queue_test!(panicking_handler_counts_as_a_failed_attempt, |ctx| async move {
    // A panic is a failed attempt (Sidekiq: an exception). Whether the runner records it or
    // just stops extending the lease, a job whose only attempt panicked ends up dead.
    let db = ctx.db.clone();
    let handler = Arc::new(Panicking { runs: AtomicUsize::new(0) });
    let mut registry = Registry::default();
    registry.register("Panics", RetryPolicy { max_attempts: 1, keep_dead: true }, handler.clone());
    let mut config = runner_config("default", 2, "runner");
    config.lease = Duration::from_millis(600);
    let job = new_job(Queue::Default, "Panics", json!({}));
    assert!(enqueue(&db, &job).await);
    let runner = start(&ctx, registry, config);
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        wait_until("the panicked job is dead", Duration::from_secs(60), || async {
            db.dead(10).await.unwrap().len() == 1
        }),
    )
    .await;
    let before_shutdown = stats(&db, Queue::Default, now_ms()).await;
    runner.shutdown().await;
    let after_shutdown = stats(&db, Queue::Default, now_ms()).await;
    assert!(
        outcome.is_ok(),
        "still not dead after 10 s; before shutdown {before_shutdown:?}, after {after_shutdown:?} \
             (released with its attempt uncounted, it would panic again forever)"
    );
    assert_eq!(ids(&db.dead(10).await.unwrap()), vec![job.id]);
    assert_eq!(handler.runs.load(Ordering::SeqCst), 1);
});

queue_test!(scheduler_tick_counts_only_enqueued_jobs, |ctx| async move {
    let recurring = vec![RecurringJob {
        name: "prune",
        every: Duration::from_secs(60),
        queue: Queue::Scheduler,
        kind: "Prune",
        max_attempts: 1,
    }];
    let scheduler = Scheduler::new(ctx.database(), ctx.queue(), recurring);
    let s0 = now_ms() / 60_000 * 60_000;
    assert_eq!(scheduler.tick(s0 + 1).await.unwrap(), 1);
    // The first slot's job is still pending: the next slot enqueues nothing.
    let fired = scheduler.tick(s0 + 60_001).await.unwrap();
    assert_eq!(figures_of(&stats(&ctx.db, Queue::Scheduler, s0 + 60_001).await), figures(1, 0, 0, 0, 0));
    assert_eq!(fired, 0, "tick documents \"returns how many this call enqueued\"");
});

queue_test!(retrying_dead_jobs_that_share_a_unique_key, |ctx| async move {
    let db = ctx.db.clone();
    let t = now_ms();
    let mut dead = Vec::new();
    for n in 0..2 {
        let job =
            NewJob { unique_key: Some("refresh:1".into()), ..new_job(Queue::Default, "Refresh", json!({ "n": n })) };
        assert!(enqueue(&db, &job).await);
        let claimed = db.claim(Queue::Default, "w", t, t + HOUR, 10).await.unwrap();
        assert_eq!(ids(&claimed), vec![job.id]);
        assert!(db.fail("w", &claimed[0], "failed", None).await.unwrap());
        dead.push(job.id);
    }
    let other = new_job(Queue::Default, "Other", json!({}));
    assert!(enqueue(&db, &other).await);
    let claimed = db.claim(Queue::Default, "w", t, t + HOUR, 10).await.unwrap();
    assert!(db.fail("w", &claimed[0], "failed", None).await.unwrap());
    assert_eq!(db.dead(10).await.unwrap().len(), 3);

    // `jobs retry --all`: one job per key comes back (the key allows one live job), the
    // other stays dead, and the unrelated job is retried too. Today: a unique violation
    // ("Duplicate record") and nothing is retried.
    let retried = db.retry_dead(None, t).await;
    assert_eq!(retried.as_ref().ok(), Some(&2), "{retried:?}");
    let still_dead = ids(&db.dead(10).await.unwrap());
    assert_eq!(still_dead.len(), 1);
    assert!(dead.contains(&still_dead[0]));
});
