//! The durable job queue, measured: enqueue and completion throughput, and pickup latency on an
//! idle queue, on SQLite, PostgreSQL and PostgreSQL through pgBouncer (transaction mode).
//!
//! ```sh
//! cargo bench -p ferrodon-queue --bench jobs                      # everything, defaults below
//! cargo bench -p ferrodon-queue --bench jobs -- --jobs 5000 --samples 100 --engines sqlite
//! ```
//!
//! Options: `--jobs N` (20,000 no-op jobs for throughput), `--batch N` (100 jobs per enqueue
//! transaction), `--single N` (5,000 jobs enqueued one per transaction, by 1 task and by
//! `--enqueuers` 8 tasks), `--concurrency N` (the Runner's jobs in flight, 32), `--samples N`
//! (500 pickup-latency samples per case), `--poll-ms N` (the Runner's poll interval; default
//! `RunnerConfig`'s), `--pool N` (PostgreSQL pool size, 10 like `DB_POOL`), `--engines
//! sqlite,postgres,pgbouncer`, `--pg-sync-commit on|off` (on: the server's setting, as in
//! production; the testkit turns it off for test databases), `--check` (exit 1 on a missed
//! target). PostgreSQL: `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! pgBouncer: `TEST_PGBOUNCER_URL` (e.g. `postgres://postgres@127.0.0.1:6432/postgres`; the
//! database is created and migrated directly, then used through pgBouncer with prepared
//! statements off). A variant whose URL is unset or unreachable is skipped with the reason.
//!
//! What is measured:
//! 1. Throughput: N jobs enqueued `--batch` at a time with `enqueue_many`, one transaction each
//!    (jobs/s), then a `Runner` with a no-op handler works them: jobs/s from its first claim
//!    until the N-th completion has committed. Every job must have run exactly once (a per-job counter in the handler, the
//!    claims counted through a wrapper around the queue, and no job left in the table).
//!    Enqueue rates for one job per transaction are measured after that, into another queue.
//! 2. Pickup latency on an idle queue, enqueue commit → handler start: (a) in-process, where the
//!    commit wakes the Runner; (b) "cross-process", enqueuing through a second `SqlDatabase`
//!    whose commits do not signal this Runner, so only polling finds the job. Each sample starts
//!    after a random pause (up to 20 ms, or up to one poll interval in (b)) so it falls at a
//!    random phase of the poll timer.
//!
//! Measured 2026-11-23 on the project's machine (2 cores, 24 GiB; the bench, PostgreSQL 15 and
//! pgBouncer 1.18 share the two cores), `cargo bench -p ferrodon-queue --bench jobs -- --samples 100`:
//!
//! ```text
//! | measure | sqlite | postgres | pgbouncer | target |
//! |---|---:|---:|---:|---|
//! | enqueue, 100 jobs/tx, enqueue_many (jobs/s) | 15,044 | 60,590 | 23,252 |  |
//! | enqueue, 1 job/tx, 1 task (jobs/s) | 4,419 | 1,720 | 849 |  |
//! | enqueue, 1 job/tx, 8 tasks (jobs/s) | 3,013 | 5,145 | 2,217 |  |
//! | complete, Runner ×32 (jobs/s) | 14,508 | 11,087 | 5,579 | ≥ 5,000 |
//! | every job ran exactly once | yes | yes | yes | yes |
//! | pickup, in-process wake-up, p50 / p99 / max (ms) | 0.6 / 0.9 / 1.1 | 1.0 / 2.0 / 2.5 | 1.8 / 2.7 / 8.1 | p99 ≤ 50 |
//! | pickup, polling only (200 ms), p50 / p99 / max (ms) | 98.9 / 197.2 / 197.3 | 90.1 / 202.0 / 203.5 | 93.2 / 192.8 / 196.7 | (informative) |
//! ```
//!
//! How: the Runner claims when half its slots are free (about 16 jobs per claim at concurrency
//! 32, topping up every 5 ms while a backlog lasts) and commits completions in groups (one
//! `DELETE … RETURNING` per group, about 14 jobs each here) from a task of its own, so claims
//! and completions overlap. The first version (one completion per transaction, claims of 8)
//! did 2,033 / 3,911 / 1,625 jobs/s. Through pgBouncer each statement is a round trip through
//! one more process sharing the two cores, which is why it is about half of direct PostgreSQL.

#![allow(unsafe_code)] // setting an environment variable before any thread starts

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ferrodon_config::DatabaseConfig;
use ferrodon_domain::model::{Job, NewJob, Queue, QueueStats};
use ferrodon_domain::ports::{Database, JobContext, JobHandler, JobQueue, RetryPolicy};
use ferrodon_kernel::time::{Millis, now_ms};
use ferrodon_kernel::{Error, Id, Result};
use ferrodon_queue::{Registry, Runner, RunnerConfig, WeightedQueues};
use ferrodon_storage::SqlDatabase;
use ferrodon_testkit::{TestDb, loopback_without_tls, with_database};
use rand::Rng;
use sqlx::{Connection, PgConnection};
use tokio::sync::{Notify, mpsc, watch};

const KIND: &str = "BenchNoop";
const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const TARGET_JOBS_PER_SEC: f64 = 5_000.0;
const TARGET_PICKUP_P99: Duration = Duration::from_millis(50);

// ---------------------------------------------------------------------------------------------
// Options

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    Sqlite,
    Postgres,
    PgBouncer,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Sqlite => "sqlite",
            Variant::Postgres => "postgres",
            Variant::PgBouncer => "pgbouncer",
        }
    }
}

#[derive(Clone, Debug)]
struct Args {
    jobs: usize,
    batch: usize,
    single: usize,
    enqueuers: usize,
    concurrency: usize,
    samples: usize,
    poll: Duration,
    pool: u32,
    variants: Vec<Variant>,
    pg_sync_commit: bool,
    check: bool,
    /// What-if: the probe answers claims for fewer than this many jobs with nothing while jobs
    /// are in flight, as a Runner that claims only when enough slots are free would (0: off).
    claim_min: u32,
    /// What-if (PostgreSQL): `jobs_ready` with `id` as its last column, the claim's full order.
    ready_index: bool,
    /// What-if (PostgreSQL): `ANALYZE jobs` after enqueuing, as autovacuum would in time.
    analyze: bool,
}

fn usage(problem: &str) -> ! {
    eprintln!("{problem}");
    eprintln!(
        "usage: cargo bench -p ferrodon-queue --bench jobs -- [--jobs N] [--batch N] [--single N] [--enqueuers N] \
         [--concurrency N] [--samples N] [--poll-ms N] [--pool N] [--engines sqlite,postgres,pgbouncer] \
         [--pg-sync-commit on|off] [--check] [--what-if-claim-min N] [--what-if-ready-index] [--what-if-analyze]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let default_poll = RunnerConfig::new(WeightedQueues::all(), 1).poll_interval;
    let mut a = Args {
        jobs: 20_000,
        batch: 100,
        single: 5_000,
        enqueuers: 8,
        concurrency: 32,
        samples: 500,
        poll: default_poll,
        pool: 10,
        variants: vec![Variant::Sqlite, Variant::Postgres, Variant::PgBouncer],
        pg_sync_commit: true,
        check: false,
        claim_min: 0,
        ready_index: false,
        analyze: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let it = &mut it;
        let value = |it: &mut dyn Iterator<Item = String>, name: &str| {
            it.next().unwrap_or_else(|| usage(&format!("{name} needs a value")))
        };
        let number = |it: &mut dyn Iterator<Item = String>, name: &str| -> usize {
            let v = value(it, name);
            v.replace(['_', ','], "").parse().unwrap_or_else(|_| usage(&format!("{name}: not a number: {v}")))
        };
        match flag.as_str() {
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" => {}
            "--jobs" => a.jobs = number(it, "--jobs").max(1),
            "--batch" => a.batch = number(it, "--batch").max(1),
            "--single" => a.single = number(it, "--single"),
            "--enqueuers" => a.enqueuers = number(it, "--enqueuers").max(1),
            "--concurrency" => a.concurrency = number(it, "--concurrency").max(1),
            "--samples" => a.samples = number(it, "--samples"),
            "--poll-ms" => a.poll = Duration::from_millis(number(it, "--poll-ms").max(1) as u64),
            "--pool" => a.pool = number(it, "--pool").max(1) as u32,
            "--check" => a.check = true,
            "--what-if-claim-min" => a.claim_min = number(it, "--what-if-claim-min") as u32,
            "--what-if-ready-index" => a.ready_index = true,
            "--what-if-analyze" => a.analyze = true,
            "--pg-sync-commit" => {
                a.pg_sync_commit = match value(it, "--pg-sync-commit").as_str() {
                    "on" => true,
                    "off" => false,
                    other => usage(&format!("--pg-sync-commit: on or off, not {other}")),
                }
            }
            "--engines" => {
                a.variants = value(it, "--engines")
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| match s.trim() {
                        "sqlite" => Variant::Sqlite,
                        "postgres" | "pg" => Variant::Postgres,
                        "pgbouncer" => Variant::PgBouncer,
                        other => usage(&format!("unknown engine {other}")),
                    })
                    .collect()
            }
            "-h" | "--help" => usage("ferrodon job queue benchmark"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    a
}

// ---------------------------------------------------------------------------------------------
// A JobQueue wrapper that counts and times what the Runner does

#[derive(Default)]
struct ProbeData {
    claim_calls: u64,
    empty_claims: u64,
    claims_of_one: u64,
    claimed_jobs: u64,
    claim_us: Vec<u32>,
    complete_us: Vec<u32>,
    /// Jobs per completion transaction.
    completion_groups: Vec<u32>,
    complete_false: u64,
    errors: u64,
    /// Claims the what-if (`--claim-min`) answered without asking the database.
    deferred: u64,
}

struct Probe {
    inner: Arc<dyn JobQueue>,
    data: Mutex<ProbeData>,
    completed: AtomicU64,
    first_claim: OnceLock<Instant>,
    /// Set when `completed` reaches `target`.
    finished: OnceLock<Instant>,
    target: u64,
    changed: Notify,
    /// Claimed and not yet completed or failed.
    outstanding: AtomicU64,
    claim_min: u32,
}

impl Probe {
    fn new(inner: Arc<dyn JobQueue>, target: u64, claim_min: u32) -> Arc<Probe> {
        Arc::new(Probe {
            inner,
            data: Mutex::default(),
            completed: AtomicU64::new(0),
            first_claim: OnceLock::new(),
            finished: OnceLock::new(),
            target,
            changed: Notify::new(),
            outstanding: AtomicU64::new(0),
            claim_min,
        })
    }

    /// Waits until `n` completions have committed, or `limit` passes without progress.
    async fn wait_completed(&self, n: u64, limit: Duration) -> std::result::Result<(), String> {
        loop {
            let before = self.completed.load(Ordering::SeqCst);
            if before >= n {
                return Ok(());
            }
            if tokio::time::timeout(limit, self.changed.notified()).await.is_err()
                && self.completed.load(Ordering::SeqCst) == before
            {
                return Err(format!("no job completed for {limit:?} ({before} of {n} done)"));
            }
        }
    }

    fn data(&self) -> std::sync::MutexGuard<'_, ProbeData> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u32::MAX as u128) as u32
}

#[async_trait]
impl JobQueue for Probe {
    async fn claim(
        &self,
        queue: Queue,
        worker: &str,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> Result<Vec<Job>> {
        if limit < self.claim_min && self.outstanding.load(Ordering::SeqCst) > 0 {
            self.data().deferred += 1;
            return Ok(Vec::new());
        }
        let start = Instant::now();
        self.first_claim.get_or_init(|| start);
        let r = self.inner.claim(queue, worker, now, lease_until, limit).await;
        let took = start.elapsed();
        let mut d = self.data();
        d.claim_calls += 1;
        d.claim_us.push(micros(took));
        match &r {
            Ok(jobs) => {
                self.outstanding.fetch_add(jobs.len() as u64, Ordering::SeqCst);
                d.claimed_jobs += jobs.len() as u64;
                d.empty_claims += jobs.is_empty() as u64;
                d.claims_of_one += (jobs.len() == 1) as u64;
            }
            Err(_) => d.errors += 1,
        }
        r
    }

    async fn heartbeat(&self, worker: &str, ids: &[Id], lease_until: Millis) -> Result<()> {
        self.inner.heartbeat(worker, ids, lease_until).await
    }

    async fn complete_many(&self, worker: &str, jobs: &[Job]) -> Result<Vec<bool>> {
        let start = Instant::now();
        let r = self.inner.complete_many(worker, jobs).await;
        let took = start.elapsed();
        self.outstanding.fetch_sub(jobs.len() as u64, Ordering::SeqCst);
        let done = match &r {
            Ok(done) => done.iter().filter(|d| **d).count() as u64,
            Err(_) => 0,
        };
        {
            let mut d = self.data();
            d.complete_us.push(micros(took));
            d.completion_groups.push(jobs.len() as u32);
            match &r {
                Ok(_) => d.complete_false += jobs.len() as u64 - done,
                Err(_) => d.errors += 1,
            }
        }
        if done > 0 {
            let n = self.completed.fetch_add(done, Ordering::SeqCst) + done;
            if n >= self.target && n - done < self.target {
                let _ = self.finished.set(Instant::now());
            }
            self.changed.notify_one();
        }
        r
    }

    async fn fail(&self, worker: &str, job: &Job, error: &str, retry_at: Option<Millis>) -> Result<bool> {
        self.data().errors += 1;
        let r = self.inner.fail(worker, job, error, retry_at).await;
        self.outstanding.fetch_sub(1, Ordering::SeqCst);
        r
    }

    async fn release(&self, worker: &str, ids: &[Id], now: Millis) -> Result<()> {
        self.inner.release(worker, ids, now).await
    }

    async fn stats(&self, now: Millis) -> Result<Vec<QueueStats>> {
        self.inner.stats(now).await
    }

    async fn dead(&self, limit: u32) -> Result<Vec<Job>> {
        self.inner.dead(limit).await
    }

    async fn retry_dead(&self, ids: Option<&[Id]>, now: Millis) -> Result<u64> {
        self.inner.retry_dead(ids, now).await
    }

    async fn discard_dead(&self, ids: Option<&[Id]>) -> Result<u64> {
        self.inner.discard_dead(ids).await
    }

    async fn prune_slots(&self, before: Millis) -> Result<u64> {
        self.inner.prune_slots(before).await
    }

    async fn wait_for_jobs(&self, timeout: Duration) {
        self.inner.wait_for_jobs(timeout).await
    }
}

// ---------------------------------------------------------------------------------------------
// The no-op job

struct Noop {
    /// Runs per job number (throughput).
    runs: Option<Arc<Vec<AtomicU32>>>,
    /// Job number and start time of each run (latency).
    starts: Option<mpsc::UnboundedSender<(usize, Instant)>>,
}

#[async_trait]
impl JobHandler for Noop {
    async fn run(&self, _ctx: &JobContext, job: &Job) -> Result<()> {
        let started = Instant::now();
        let n: usize = job.payload.parse().map_err(|_| Error::internal(format!("bad payload {:?}", job.payload)))?;
        if let Some(counter) = self.runs.as_ref().and_then(|runs| runs.get(n)) {
            counter.fetch_add(1, Ordering::SeqCst);
        }
        if let Some(tx) = &self.starts {
            let _ = tx.send((n, started));
        }
        Ok(())
    }
}

fn new_job(queue: Queue, n: usize) -> NewJob {
    let now = now_ms();
    NewJob {
        id: Id::generate(),
        queue,
        kind: KIND.to_string(),
        payload: n.to_string(),
        priority: 0,
        run_at: now,
        max_attempts: 3,
        unique_key: None,
        created_at: now,
    }
}

fn runner_config(args: &Args) -> RunnerConfig {
    let queues = WeightedQueues::parse(&["default".to_string()]).expect("the default queue");
    let mut cfg = RunnerConfig::new(queues, args.concurrency);
    cfg.poll_interval = args.poll;
    cfg.shutdown_timeout = Duration::from_secs(5);
    cfg
}

fn registry(handler: Noop) -> Registry {
    let mut registry = Registry::default();
    registry.register(KIND, RetryPolicy { max_attempts: 3, keep_dead: true }, Arc::new(handler));
    registry
}

/// A Runner working the `default` queue of `db` through a [`Probe`], in a task of its own.
struct RunningRunner {
    probe: Arc<Probe>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl RunningRunner {
    fn start(db: &SqlDatabase, args: &Args, handler: Noop, target: u64) -> RunningRunner {
        let probe = Probe::new(Arc::new(db.clone()), target, args.claim_min);
        let (stop, stop_rx) = watch::channel(false);
        let runner = Runner::new(probe.clone(), registry(handler), runner_config(args));
        let task = tokio::spawn(runner.run(stop_rx));
        RunningRunner { probe, stop, task }
    }

    async fn stop(self) -> std::result::Result<Arc<Probe>, String> {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(Ok(())) => Ok(self.probe),
            Ok(Err(e)) => Err(format!("the runner failed: {e}")),
            Err(e) => Err(format!("the runner task failed: {e}")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CPU accounting (/proc), to tell CPU-bound from waiting

/// CPU ticks (all cores) of the machine, and per process group, at one moment.
#[derive(Clone, Default)]
struct Cpu {
    total: u64,
    idle: u64,
    iowait: u64,
    /// pid → (group, ticks used so far).
    procs: std::collections::HashMap<u32, (&'static str, u64)>,
}

fn cpu_now() -> Cpu {
    let mut c = Cpu::default();
    if let Ok(stat) = std::fs::read_to_string("/proc/stat")
        && let Some(line) = stat.lines().next()
    {
        let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
        if v.len() >= 5 {
            c.total = v.iter().take(8).sum();
            c.idle = v[3];
            c.iowait = v[4];
        }
    }
    let me = std::process::id();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        // After the command name: state is field 3, utime 14, stime 15.
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if f.len() <= 12 {
            continue;
        }
        let ticks = f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
        let group = if pid == me {
            "this process"
        } else if comm.starts_with("postgres") {
            "PostgreSQL"
        } else if comm.starts_with("pgbouncer") {
            "pgBouncer"
        } else {
            "other processes"
        };
        c.procs.insert(pid, (group, ticks));
    }
    c
}

/// "busy 93% (this process 61%, PostgreSQL 30%, …), iowait 2%" of all cores over the interval.
fn cpu_since(start: &Cpu) -> String {
    let end = cpu_now();
    let total = end.total.saturating_sub(start.total).max(1) as f64;
    let pct = |x: u64| 100.0 * x as f64 / total;
    let busy = end.total.saturating_sub(start.total)
        - end.idle.saturating_sub(start.idle).min(end.total.saturating_sub(start.total))
        - end.iowait.saturating_sub(start.iowait).min(end.total.saturating_sub(start.total));
    let mut groups: Vec<(&str, u64)> = Vec::new();
    for (pid, (group, ticks)) in &end.procs {
        let before = start.procs.get(pid).map(|p| p.1).unwrap_or(0);
        let used = ticks.saturating_sub(before);
        match groups.iter_mut().find(|g| g.0 == *group) {
            Some(g) => g.1 += used,
            None => groups.push((group, used)),
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.1));
    let parts: Vec<String> = groups.iter().map(|(g, t)| format!("{g} {:.0}%", pct(*t))).collect();
    format!(
        "CPU of all {} cores: busy {:.0}% ({}), iowait {:.0}%",
        cores(),
        pct(busy),
        parts.join(", "),
        pct(end.iowait.saturating_sub(start.iowait)),
    )
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

// ---------------------------------------------------------------------------------------------
// The measurements

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn percentile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

fn err(e: Error) -> String {
    e.to_string()
}

#[derive(Default)]
struct Throughput {
    enqueue_batch: f64,
    enqueue_single: f64,
    enqueue_single_parallel: f64,
    complete: f64,
    /// Problems found by the exactly-once check (empty: none).
    problems: Vec<String>,
    notes: Vec<String>,
}

async fn throughput(
    db: &SqlDatabase,
    direct_url: Option<&str>,
    args: &Args,
) -> std::result::Result<Throughput, String> {
    let mut out = Throughput::default();

    // Enqueue, batch transactions.
    let start = Instant::now();
    let mut n = 0;
    while n < args.jobs {
        let mut tx = db.write().await.map_err(err)?;
        let group: Vec<NewJob> = (n..(n + args.batch).min(args.jobs)).map(|i| new_job(Queue::Default, i)).collect();
        let added = tx.enqueue_many(&group).await.map_err(err)?;
        if added != group.len() as u64 {
            return Err(format!("enqueue_many added {added} of {} jobs", group.len()));
        }
        n += group.len();
        tx.commit().await.map_err(err)?;
    }
    let took = start.elapsed();
    out.enqueue_batch = rate(args.jobs, took);
    out.notes.push(format!(
        "enqueue {} jobs in transactions of {} (enqueue_many): {:.2} s",
        args.jobs,
        args.batch,
        took.as_secs_f64()
    ));
    if let (true, Some(url)) = (args.analyze, direct_url) {
        pg_exec(url, "ANALYZE jobs").await?;
    }

    // Complete: a Runner on the full queue.
    let runs: Arc<Vec<AtomicU32>> = Arc::new((0..args.jobs).map(|_| AtomicU32::new(0)).collect());
    let cpu = cpu_now();
    let runner = RunningRunner::start(db, args, Noop { runs: Some(runs.clone()), starts: None }, args.jobs as u64);
    let waited = runner.probe.wait_completed(args.jobs as u64, Duration::from_secs(60)).await;
    let cpu_line = cpu_since(&cpu);
    let probe = runner.stop().await?;
    waited?;
    let first = *probe.first_claim.get().ok_or("no claim recorded")?;
    let last = *probe.finished.get().ok_or("no finish recorded")?;
    let took = last.duration_since(first);
    out.complete = rate(args.jobs, took);

    // Exactly once: each job's handler ran once, the Runner claimed each once, the table is empty.
    let mut problems = Vec::new();
    let counts: Vec<u32> = runs.iter().map(|c| c.load(Ordering::SeqCst)).collect();
    let never = counts.iter().filter(|&&c| c == 0).count();
    let twice = counts.iter().filter(|&&c| c > 1).count();
    if never > 0 || twice > 0 {
        problems.push(format!("{never} jobs never ran, {twice} ran more than once"));
    }
    let stats = db.stats(now_ms()).await.map_err(err)?;
    let default = stats.iter().find(|s| s.queue == "default").cloned().unwrap_or_default();
    if default.pending + default.running + default.dead + default.scheduled + default.retrying > 0 {
        problems.push(format!("jobs left in the table: {default:?}"));
    }
    {
        let mut d = probe.data();
        if d.claimed_jobs != args.jobs as u64 {
            problems.push(format!("{} jobs claimed for {} enqueued", d.claimed_jobs, args.jobs));
        }
        if d.complete_false > 0 || d.errors > 0 {
            problems.push(format!("{} completions lost their lease, {} queue errors", d.complete_false, d.errors));
        }
        d.claim_us.sort_unstable();
        d.complete_us.sort_unstable();
        out.notes.push(format!(
            "runner: {:.2} s for {} jobs; {} claims ({} of one job, {} empty), {:.2} jobs per claim{}",
            took.as_secs_f64(),
            args.jobs,
            d.claim_calls,
            d.claims_of_one,
            d.empty_claims,
            d.claimed_jobs as f64 / d.claim_calls.max(1) as f64,
            if args.claim_min > 0 {
                format!(" (what-if: {} small claims deferred)", d.deferred)
            } else {
                String::new()
            }
        ));
        out.notes.push(format!(
            "claim call p50 {:.2} ms, p99 {:.2} ms; complete call p50 {:.2} ms, p99 {:.2} ms (waiting for a connection included)",
            percentile(&d.claim_us, 0.5),
            percentile(&d.claim_us, 0.99),
            percentile(&d.complete_us, 0.5),
            percentile(&d.complete_us, 0.99),
        ));
        out.notes.push(format!(
            "{} completion transactions, {:.1} jobs each on average, largest {}",
            d.completion_groups.len(),
            d.completion_groups.iter().map(|&g| g as f64).sum::<f64>() / d.completion_groups.len().max(1) as f64,
            d.completion_groups.iter().max().copied().unwrap_or(0)
        ));
        let claim_total: f64 = d.claim_us.iter().map(|&u| u as f64).sum::<f64>() / 1e6;
        out.notes.push(format!(
            "the runner loop spent {:.2} s of {:.2} s inside claim calls",
            claim_total,
            took.as_secs_f64()
        ));
    }
    out.notes.push(cpu_line);
    out.problems = problems;

    // Enqueue, one job per transaction (into `pull`, which no Runner here works).
    if args.single > 0 {
        let start = Instant::now();
        for i in 0..args.single {
            let mut tx = db.write().await.map_err(err)?;
            tx.enqueue(&new_job(Queue::Pull, i)).await.map_err(err)?;
            tx.commit().await.map_err(err)?;
        }
        out.enqueue_single = rate(args.single, start.elapsed());

        let start = Instant::now();
        let per_task = args.single.div_ceil(args.enqueuers);
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..args.enqueuers {
            let db = db.clone();
            tasks.spawn(async move {
                for i in 0..per_task {
                    let mut tx = db.write().await?;
                    tx.enqueue(&new_job(Queue::Pull, t * per_task + i)).await?;
                    tx.commit().await?;
                }
                Ok::<(), Error>(())
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.map_err(|e| e.to_string())?.map_err(err)?;
        }
        out.enqueue_single_parallel = rate(per_task * args.enqueuers, start.elapsed());

        // The cost of one claim and one complete with nothing else running: claim one `pull`
        // job, complete it, repeat.
        let rounds = args.single.min(500);
        let (mut claim_us, mut complete_us) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
        for _ in 0..rounds {
            let now = now_ms();
            let start = Instant::now();
            let jobs = db.claim(Queue::Pull, "bench-serial", now, now + 60_000, 1).await.map_err(err)?;
            claim_us.push(micros(start.elapsed()));
            let job = jobs.first().ok_or("serial claim found no job")?;
            let start = Instant::now();
            if !db.complete("bench-serial", job).await.map_err(err)? {
                return Err("serial complete lost its job".into());
            }
            complete_us.push(micros(start.elapsed()));
        }
        claim_us.sort_unstable();
        complete_us.sort_unstable();
        out.notes.push(format!(
            "alone (one task, {rounds} rounds): claim of 1 job p50 {:.2} ms, complete p50 {:.2} ms",
            percentile(&claim_us, 0.5),
            percentile(&complete_us, 0.5)
        ));
    }
    Ok(out)
}

struct Latency {
    /// Sorted, in microseconds.
    micros: Vec<u32>,
    notes: Vec<String>,
}

impl Latency {
    fn p(&self, q: f64) -> f64 {
        percentile(&self.micros, q)
    }

    fn max(&self) -> f64 {
        self.micros.last().map(|&u| u as f64 / 1000.0).unwrap_or(f64::NAN)
    }

    fn cell(&self) -> String {
        format!("{:.1} / {:.1} / {:.1}", self.p(0.5), self.p(0.99), self.max())
    }
}

/// Enqueue one job at a time through `enqueue_db` while a Runner on `db` waits.
async fn pickup(
    db: &SqlDatabase,
    enqueue_db: &SqlDatabase,
    args: &Args,
    max_pause: Duration,
) -> std::result::Result<Latency, String> {
    let (tx, mut starts) = mpsc::unbounded_channel();
    let runner = RunningRunner::start(db, args, Noop { runs: None, starts: Some(tx) }, u64::MAX);
    // Let it make its first (empty) claim and settle into waiting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut lat = Vec::with_capacity(args.samples);
    let mut early = 0;
    let result = async {
        for i in 0..args.samples {
            let pause = rand::rng().random_range(0..max_pause.as_micros().max(1) as u64);
            tokio::time::sleep(Duration::from_micros(pause)).await;
            let mut t = enqueue_db.write().await.map_err(err)?;
            t.enqueue(&new_job(Queue::Default, i)).await.map_err(err)?;
            t.commit().await.map_err(err)?;
            let committed = Instant::now();
            let (n, started) = tokio::time::timeout(Duration::from_secs(10), starts.recv())
                .await
                .map_err(|_| format!("sample {i}: the job did not start within 10 s"))?
                .ok_or("the runner stopped")?;
            if n != i {
                return Err(format!("sample {i}: job {n} started instead"));
            }
            if started < committed {
                // Claimed between the server's commit and the client seeing it.
                early += 1;
            }
            lat.push(micros(started.saturating_duration_since(committed)));
            runner.probe.wait_completed(i as u64 + 1, Duration::from_secs(10)).await?;
        }
        Ok(())
    }
    .await;
    let probe = runner.stop().await?;
    result?;
    lat.sort_unstable();
    let d = probe.data();
    let mut notes = vec![format!("{} claims for {} jobs ({} empty)", d.claim_calls, d.claimed_jobs, d.empty_claims)];
    if early > 0 {
        notes.push(format!("{early} jobs started before the enqueuer saw its commit return (counted as 0)"));
    }
    Ok(Latency { micros: lat, notes })
}

// ---------------------------------------------------------------------------------------------
// Databases

struct Setup {
    db: SqlDatabase,
    /// Another pool on the same database: its commits do not wake `db`'s Runner.
    other: SqlDatabase,
    settings: String,
    /// PostgreSQL: the test database, directly (not through pgBouncer).
    direct_url: Option<String>,
    _test_db: TestDb,
}

async fn reachable(url: &str) -> std::result::Result<(), String> {
    match tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&loopback_without_tls(url))).await {
        Ok(Ok(c)) => {
            let _ = c.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 5 s".into()),
    }
}

async fn pg_setting(url: &str, name: &str) -> String {
    let Ok(mut c) = PgConnection::connect(&loopback_without_tls(url)).await else {
        return "?".into();
    };
    let v: std::result::Result<(String,), _> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SHOW {name}"))).fetch_one(&mut c).await;
    let _ = c.close().await;
    v.map(|r| r.0).unwrap_or_else(|_| "?".into())
}

/// pgBouncer's `pool_mode` and `default_pool_size` from its admin console (best effort).
async fn pgbouncer_settings(url: &str) -> String {
    use sqlx::Row;
    let admin = loopback_without_tls(&with_database(url, "pgbouncer"));
    let Ok(Ok(mut c)) = tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&admin)).await else {
        return "pool_mode ? (admin console unreachable)".into();
    };
    let rows = sqlx::raw_sql("SHOW CONFIG").fetch_all(&mut c).await.unwrap_or_default();
    let _ = c.close().await;
    let get = |key: &str| {
        rows.iter()
            .find(|r| r.try_get::<String, _>(0).map(|k| k == key).unwrap_or(false))
            .and_then(|r| r.try_get::<String, _>(1).ok())
            .unwrap_or_else(|| "?".into())
    };
    format!("pool_mode={}, default_pool_size={}", get("pool_mode"), get("default_pool_size"))
}

/// A fresh PostgreSQL test database with `synchronous_commit` as asked.
async fn pg_test_db(args: &Args) -> std::result::Result<TestDb, String> {
    let admin = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG_URL.into());
    reachable(&admin).await.map_err(|e| format!("PostgreSQL at TEST_DATABASE_URL is unreachable: {e}"))?;
    let test_db = TestDb::postgres().await.ok_or("TEST_DATABASE_URL is not set")?;
    let name = test_db.pg_name().unwrap_or_default().to_string();
    if args.pg_sync_commit {
        // The testkit turns synchronous_commit off for test databases; production keeps it on.
        let mut c = PgConnection::connect(&loopback_without_tls(&admin)).await.map_err(|e| e.to_string())?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("ALTER DATABASE \"{name}\" RESET synchronous_commit")))
            .execute(&mut c)
            .await
            .map_err(|e| e.to_string())?;
        let _ = c.close().await;
    }
    Ok(test_db)
}

async fn pg_exec(url: &str, sql: &str) -> std::result::Result<(), String> {
    let mut c = PgConnection::connect(&loopback_without_tls(url)).await.map_err(|e| e.to_string())?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(&mut c).await.map_err(|e| format!("{sql}: {e}"))?;
    let _ = c.close().await;
    Ok(())
}

/// Applies the schema what-ifs to a migrated PostgreSQL test database; describes them.
async fn pg_what_ifs(url: &str, args: &Args) -> std::result::Result<String, String> {
    let mut out = String::new();
    if args.ready_index {
        pg_exec(
            url,
            "DROP INDEX jobs_ready; \
             CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at, id) WHERE status = 'pending'",
        )
        .await?;
        out.push_str(", what-if: jobs_ready (queue, priority DESC, run_at, id)");
    }
    if args.analyze {
        out.push_str(", what-if: ANALYZE jobs after enqueuing");
    }
    Ok(out)
}

async fn connect(config: &DatabaseConfig) -> std::result::Result<SqlDatabase, String> {
    SqlDatabase::connect(config).await.map_err(err)
}

async fn setup(variant: Variant, args: &Args) -> std::result::Result<Setup, String> {
    match variant {
        Variant::Sqlite => {
            let test_db = TestDb::sqlite();
            let db = test_db.connect().await;
            let other = connect(&test_db.database_config()).await?;
            Ok(Setup {
                db,
                other,
                settings: "WAL, synchronous=NORMAL, one writer connection".into(),
                direct_url: None,
                _test_db: test_db,
            })
        }
        Variant::Postgres => {
            let test_db = pg_test_db(args).await?;
            let config =
                DatabaseConfig::Postgres { url: test_db.url().to_string(), pool: args.pool, prepared_statements: true };
            let db = connect(&config).await?;
            db.migrate().await.map_err(err)?;
            let what_ifs = pg_what_ifs(test_db.url(), args).await?;
            let other = connect(&config).await?;
            let sync = pg_setting(test_db.url(), "synchronous_commit").await;
            Ok(Setup {
                db,
                other,
                settings: format!("pool {}, prepared statements, synchronous_commit={sync}{what_ifs}", args.pool),
                direct_url: Some(test_db.url().to_string()),
                _test_db: test_db,
            })
        }
        Variant::PgBouncer => {
            let bouncer = match std::env::var("TEST_PGBOUNCER_URL") {
                Ok(u) if !u.trim().is_empty() => u.trim().to_string(),
                _ => return Err("TEST_PGBOUNCER_URL is not set".into()),
            };
            reachable(&bouncer).await.map_err(|e| format!("pgBouncer at TEST_PGBOUNCER_URL is unreachable: {e}"))?;
            let test_db = pg_test_db(args).await?;
            // Create and migrate directly, then work through pgBouncer.
            let direct =
                DatabaseConfig::Postgres { url: test_db.url().to_string(), pool: 2, prepared_statements: true };
            let migrator = connect(&direct).await?;
            migrator.migrate().await.map_err(err)?;
            migrator.close().await;
            let what_ifs = pg_what_ifs(test_db.url(), args).await?;
            let name = test_db.pg_name().unwrap_or_default();
            let url = loopback_without_tls(&with_database(&bouncer, name));
            let config = DatabaseConfig::Postgres { url: url.clone(), pool: args.pool, prepared_statements: false };
            let db = connect(&config).await.map_err(|e| format!("through pgBouncer ({url}): {e}"))?;
            db.stats(now_ms()).await.map_err(|e| format!("a query through pgBouncer ({url}) failed: {e}"))?;
            let other = connect(&config).await?;
            let sync = pg_setting(test_db.url(), "synchronous_commit").await;
            Ok(Setup {
                db,
                other,
                settings: format!(
                    "pool {} through pgBouncer ({}), prepared statements off, synchronous_commit={sync}{what_ifs}",
                    args.pool,
                    pgbouncer_settings(&bouncer).await
                ),
                direct_url: Some(test_db.url().to_string()),
                _test_db: test_db,
            })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Report

struct Results {
    variant: Variant,
    settings: String,
    throughput: std::result::Result<Throughput, String>,
    in_process: std::result::Result<Latency, String>,
    polled: std::result::Result<Latency, String>,
}

async fn measure(variant: Variant, args: &Args) -> std::result::Result<Results, String> {
    let s = setup(variant, args).await?;
    eprintln!("[{}] {}", variant.name(), s.settings);
    eprintln!("[{}] throughput: {} jobs…", variant.name(), args.jobs);
    let throughput = throughput(&s.db, s.direct_url.as_deref(), args).await;
    eprintln!("[{}] pickup latency, in-process wake-up: {} samples…", variant.name(), args.samples);
    let in_process = pickup(&s.db, &s.db, args, Duration::from_millis(20)).await;
    eprintln!("[{}] pickup latency, polling only: {} samples…", variant.name(), args.samples);
    let polled = pickup(&s.db, &s.other, args, args.poll).await;
    s.other.close().await;
    s.db.close().await;
    Ok(Results { variant, settings: s.settings, throughput, in_process, polled })
}

fn cell<T>(r: &std::result::Result<T, String>, f: impl Fn(&T) -> String) -> String {
    match r {
        Ok(v) => f(v),
        Err(_) => "error".into(),
    }
}

fn thousands(x: f64) -> String {
    let n = x.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn command_line(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn print_report(args: &Args, results: &[Results], skipped: &[(Variant, String)], load: &str) -> bool {
    println!();
    println!(
        "ferrodon job queue — {} — {} cores ({}), {} MiB",
        command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        cores(),
        cpu_model(),
        std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| m
                .lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok()))
            .map(|kb| kb / 1024)
            .unwrap_or(0)
    );
    println!(
        "jobs {} (enqueued {} per transaction), single-job enqueues {} (1 task and {} tasks), Runner concurrency {}, \
         poll_interval {} ms, pickup samples {}",
        args.jobs,
        args.batch,
        args.single,
        args.enqueuers,
        args.concurrency,
        args.poll.as_millis(),
        args.samples
    );
    println!("load average (1 min) before the run: {load}; the CPU lines below say who used the cores");
    if args.claim_min > 0 {
        println!(
            "what-if: the Runner's claims for fewer than {} jobs are answered empty while jobs are in flight",
            args.claim_min
        );
    }
    for r in results {
        println!("  {}: {}", r.variant.name(), r.settings);
    }
    for (v, why) in skipped {
        println!("  {}: skipped: {why}", v.name());
    }
    println!();

    let mut header = String::from("| measure |");
    let mut line = String::from("|---|");
    for r in results {
        header.push_str(&format!(" {} |", r.variant.name()));
        line.push_str("---:|");
    }
    header.push_str(" target |");
    line.push_str("---|");
    println!("{header}\n{line}");
    let row = |name: &str, target: &str, f: &dyn Fn(&Results) -> String| {
        let mut s = format!("| {name} |");
        for r in results {
            s.push_str(&format!(" {} |", f(r)));
        }
        println!("{s} {target} |");
    };
    row(&format!("enqueue, {} jobs/tx, enqueue_many (jobs/s)", args.batch), "", &|r| {
        cell(&r.throughput, |t| thousands(t.enqueue_batch))
    });
    row("enqueue, 1 job/tx, 1 task (jobs/s)", "", &|r| cell(&r.throughput, |t| thousands(t.enqueue_single)));
    row(&format!("enqueue, 1 job/tx, {} tasks (jobs/s)", args.enqueuers), "", &|r| {
        cell(&r.throughput, |t| thousands(t.enqueue_single_parallel))
    });
    row(&format!("complete, Runner ×{} (jobs/s)", args.concurrency), "≥ 5,000", &|r| {
        cell(&r.throughput, |t| thousands(t.complete))
    });
    row("every job ran exactly once", "yes", &|r| {
        cell(&r.throughput, |t| if t.problems.is_empty() { "yes".into() } else { "NO".into() })
    });
    row("pickup, in-process wake-up, p50 / p99 / max (ms)", "p99 ≤ 50", &|r| cell(&r.in_process, Latency::cell));
    row(&format!("pickup, polling only ({} ms), p50 / p99 / max (ms)", args.poll.as_millis()), "(informative)", &|r| {
        cell(&r.polled, Latency::cell)
    });
    println!();

    let mut ok = true;
    for r in results {
        let name = r.variant.name();
        let mut verdicts = Vec::new();
        match &r.throughput {
            Ok(t) => {
                let pass = t.complete >= TARGET_JOBS_PER_SEC;
                ok &= pass;
                verdicts.push(format!("throughput {}", if pass { "PASS" } else { "FAIL" }));
                if !t.problems.is_empty() {
                    ok = false;
                    verdicts.push(format!("exactly-once FAIL ({})", t.problems.join("; ")));
                }
            }
            Err(e) => {
                ok = false;
                verdicts.push(format!("throughput ERROR ({e})"));
            }
        }
        match &r.in_process {
            Ok(l) => {
                let pass = l.p(0.99) <= TARGET_PICKUP_P99.as_secs_f64() * 1000.0;
                ok &= pass;
                verdicts.push(format!("pickup p99 {}", if pass { "PASS" } else { "FAIL" }));
            }
            Err(e) => {
                ok = false;
                verdicts.push(format!("pickup ERROR ({e})"));
            }
        }
        if let Err(e) = &r.polled {
            verdicts.push(format!("polled pickup ERROR ({e})"));
        }
        println!("{name}: {}", verdicts.join(", "));
        if let Ok(t) = &r.throughput {
            for n in &t.notes {
                println!("  {n}");
            }
        }
        for (label, l) in [("in-process", &r.in_process), ("polling", &r.polled)] {
            if let Ok(l) = l {
                println!("  pickup {label}: {}", l.notes.join("; "));
            }
        }
    }
    ok
}

fn main() {
    let args = parse_args();
    if std::env::var("TEST_DATABASE_URL").map(|v| v.trim().is_empty()).unwrap_or(true) {
        // SAFETY: no other thread exists yet (the runtime is built below).
        unsafe { std::env::set_var("TEST_DATABASE_URL", DEFAULT_PG_URL) };
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let load = load_average();
    let ok = rt.block_on(async {
        let mut results = Vec::new();
        let mut skipped = Vec::new();
        for &v in &args.variants {
            match measure(v, &args).await {
                Ok(r) => results.push(r),
                Err(why) => {
                    eprintln!("[{}] skipped: {why}", v.name());
                    skipped.push((v, why));
                }
            }
        }
        print_report(&args, &results, &skipped, &load)
    });
    if args.check && !ok {
        std::process::exit(1);
    }
}
