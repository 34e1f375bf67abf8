//! A worker process killed with SIGKILL in the middle of a job: after its lease runs out another
//! worker runs the job again, and the job completes exactly once. Real processes, a real kill,
//! on SQLite and on PostgreSQL.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ferrodon_testkit::{Engine, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_ferrodon");

fn ferrodon(db: &TestDb) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("FERRODON_DATA_DIR", db.data_dir())
        .env("DATABASE_URL", db.url())
        .env("RUST_LOG", "warn")
        // A short lease so the test need not wait a minute; polling for jobs other processes enqueue.
        .env("FERRODON_JOB_LEASE_SECS", "2")
        .env("FERRODON_JOB_POLL_MS", "50");
    cmd
}

fn run(db: &TestDb, args: &[&str]) -> Output {
    let out = ferrodon(db).args(args).output().expect("run ferrodon");
    assert!(
        out.status.success(),
        "ferrodon {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn start_worker(db: &TestDb) -> Child {
    ferrodon(db)
        .args(["worker", "--queues", "default", "--concurrency", "4"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a worker")
}

fn default_queue(db: &TestDb) -> serde_json::Value {
    let stats: serde_json::Value = serde_json::from_str(&stdout(&run(db, &["jobs", "stats", "--json"]))).unwrap();
    stats.as_array().unwrap().iter().find(|q| q["queue"] == "default").unwrap().clone()
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn killed_worker_job_completes_once(engine: Engine) {
    let Some(db) = TestDb::new(engine).await else { return };
    run(&db, &["migrate"]);
    // The job takes 3 s: long enough to kill its worker in the middle.
    let token = stdout(&run(&db, &["jobs", "ping", "--no-wait", "--sleep-ms", "3000"]));
    assert_eq!(token.len(), 43, "a token: {token}");

    let mut first = start_worker(&db);
    wait_until("the first worker runs the job", Duration::from_secs(20), || default_queue(&db)["running"] == 1);
    first.kill().expect("SIGKILL the first worker");
    first.wait().unwrap();
    assert!(stdout(&run(&db, &["jobs", "pings", &token])).is_empty(), "the killed attempt completed nothing");
    assert_eq!(default_queue(&db)["running"], 1, "still held by the dead worker until its lease runs out");

    let mut second = start_worker(&db);
    wait_until("the job completes", Duration::from_secs(30), || {
        !stdout(&run(&db, &["jobs", "pings", &token])).is_empty()
    });
    // Give a wrongly duplicated run every chance to show up before checking.
    std::thread::sleep(Duration::from_millis(500));
    let completions = stdout(&run(&db, &["jobs", "pings", &token]));
    assert_eq!(completions, "2", "completed exactly once, by the second attempt");
    let q = default_queue(&db);
    assert_eq!((q["pending"].as_i64(), q["running"].as_i64(), q["dead"].as_i64()), (Some(0), Some(0), Some(0)), "{q}");
    second.kill().unwrap();
    second.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_worker_job_completes_once_sqlite() {
    killed_worker_job_completes_once(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_worker_job_completes_once_postgres() {
    killed_worker_job_completes_once(Engine::Postgres).await;
}
