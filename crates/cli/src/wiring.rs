//! The composition root: reads the configuration, picks the backends, starts the roles. The
//! only place that names concrete backends.

use std::sync::Arc;
use std::time::Duration;

use ferrodon_config::{Config, DatabaseConfig};
use ferrodon_domain::ports::{Database, EventBus, JobQueue};
use ferrodon_queue::{Registry, Runner, RunnerConfig, Scheduler, WeightedQueues};
use ferrodon_service::Services;
use ferrodon_storage::SqlDatabase;
use tokio::sync::watch;

pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| EnvFilter::try_new(std::env::var("LOG_LEVEL").unwrap_or_else(|_| "info".into())))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours for a terminal only: a log file or a journal gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();
}

pub async fn connect(config: &Config) -> Result<SqlDatabase, String> {
    SqlDatabase::connect(&config.database).await.map_err(|e| e.message)
}

/// The service layer and the job queue over one database, and federation connected to the
/// service.
pub struct Backends {
    pub svc: Services,
    pub db: Arc<SqlDatabase>,
    pub queue: Arc<dyn JobQueue>,
    pub fed: ferrodon_federation::Fed,
}

/// Connects and checks the schema. The embedded SQLite database migrates itself; PostgreSQL
/// refuses to run with pending migrations (run `ferrodon migrate`), as Mastodon does.
pub async fn open(config: &Config, serving: bool) -> Result<Backends, String> {
    let db = connect(config).await?;
    match config.database {
        DatabaseConfig::Sqlite { .. } => {
            db.migrate().await.map_err(|e| e.message)?;
        }
        DatabaseConfig::Postgres { .. } => {
            let pending = db.pending_migrations().await.map_err(|e| e.message)?;
            if !pending.is_empty() {
                let what = if serving { "start" } else { "run" };
                return Err(format!(
                    "Cannot {what}: {} database migration(s) pending ({}). Run `ferrodon migrate` first.",
                    pending.len(),
                    pending.join(", ")
                ));
            }
        }
    }
    let db = Arc::new(db);
    let events: Arc<dyn EventBus> = match &config.redis {
        // Between processes: roles run apart (or several `serve` behind a load balancer).
        Some(redis) => ferrodon_streaming::RedisBus::connect(&redis.url, redis.namespace.as_deref()).await?,
        // In-process: the web API, the workers and the streaming API of this process share them.
        None => Arc::new(ferrodon_streaming::LocalBus::default()),
    };
    let svc = Services::new(db.clone(), events, Arc::new(config.clone()));
    // Files in an S3-compatible bucket (`S3_ENABLED`), served by it or its CDN alias; otherwise
    // on local disk under the data directory, served at /system/ (Mastodon's paperclip default).
    let files: Arc<dyn ferrodon_domain::ports::FileStore> = match &config.s3 {
        Some(s3) => Arc::new(ferrodon_media::S3Files::new(s3).map_err(|e| e.message)?),
        None => Arc::new(ferrodon_media::LocalFiles::new(
            config.data_dir.join("system"),
            format!("{}/system", svc.base_url()),
        )),
    };
    svc.connect_media(files, Arc::new(ferrodon_media::Processor::new()));
    // Mail through the relay SMTP_SERVER names; without one, each mail is written to the log.
    svc.connect_mailer(ferrodon_mail::mailer(config).map_err(|e| e.message)?);
    let fed = ferrodon_federation::Federation::new(svc.clone()).map_err(|e| e.message)?;
    Ok(Backends { svc, queue: db.clone(), db, fed })
}

pub async fn services(config: &Config, serving: bool) -> Result<Services, String> {
    Ok(open(config, serving).await?.svc)
}

/// The job types of this binary.
fn registry(b: &Backends) -> Registry {
    let mut registry = Registry::default();
    for (kind, policy, handler) in ferrodon_service::jobs::handlers(&b.svc) {
        registry.register(kind, policy, handler);
    }
    registry
}

fn env_number(key: &str, default: u64) -> Result<u64, String> {
    match std::env::var(key) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().map_err(|_| format!("{key} must be a number, got {v:?}")),
        _ => Ok(default),
    }
}

/// The runner's settings: queues and concurrency from the command line, the rest from
/// `FERRODON_JOB_LEASE_SECS` (60), `FERRODON_JOB_POLL_MS` (200), `FERRODON_JOB_SHUTDOWN_SECS` (25).
pub fn runner_config(queues: WeightedQueues, concurrency: usize) -> Result<RunnerConfig, String> {
    let mut cfg = RunnerConfig::new(queues, concurrency);
    cfg.lease = Duration::from_secs(env_number("FERRODON_JOB_LEASE_SECS", 60)?.max(1));
    cfg.poll_interval = Duration::from_millis(env_number("FERRODON_JOB_POLL_MS", 200)?.max(1));
    cfg.shutdown_timeout = Duration::from_secs(env_number("FERRODON_JOB_SHUTDOWN_SECS", 25)?);
    Ok(cfg)
}

/// A watch channel that turns true on SIGINT or SIGTERM.
fn shutdown_channel() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested");
        let _ = tx.send(true);
    });
    rx
}

/// `ferrodon serve`: the web API, a worker on every queue and the scheduler in one process,
/// until SIGINT or SIGTERM.
pub async fn serve(config: Config, concurrency: usize) -> Result<(), String> {
    let b = open(&config, true).await?;
    let shutdown = shutdown_channel();
    let runner = Runner::new(b.queue.clone(), registry(&b), runner_config(WeightedQueues::all(), concurrency)?);
    let worker = tokio::spawn(runner.run(shutdown.clone()));
    let scheduler = Scheduler::new(b.db.clone(), b.queue.clone(), ferrodon_service::jobs::recurring());
    let scheduler = tokio::spawn(scheduler.run(shutdown.clone()));

    listen(&config, &b.svc, ferrodon_api::app(b.svc.clone(), Some(b.fed.clone())), shutdown.clone()).await?;
    let _ = scheduler.await;
    match worker.await {
        Ok(Err(e)) => tracing::warn!(error = %e, "worker stopped with an error"),
        Err(e) => tracing::warn!(error = %e, "worker task failed"),
        Ok(Ok(())) => {}
    }
    tracing::info!("shutting down");
    tokio::time::timeout(Duration::from_secs(10), b.db.close()).await.ok();
    Ok(())
}

/// Serves `app` on BIND:PORT until `shutdown` turns true.
async fn listen(
    config: &Config,
    svc: &Services,
    app: tower_http::normalize_path::NormalizePath<axum::Router>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), String> {
    let app = axum::ServiceExt::<axum::extract::Request>::into_make_service(app);
    let address = format!("{}:{}", config.bind, config.port);
    let listener =
        tokio::net::TcpListener::bind(&address).await.map_err(|e| format!("cannot listen on {address}: {e}"))?;
    tracing::info!(%address, url = %config.base_url(), database = svc.engine(), "ferrodon is listening");
    let mut http_shutdown = shutdown;
    let events = svc.events.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = http_shutdown.wait_for(|stop| *stop).await;
            // Streaming connections never end by themselves: end their subscriptions.
            events.close();
        })
        .await
        .map_err(|e| e.to_string())
}

/// `ferrodon streaming`: the streaming API alone (Mastodon's streaming service), on PORT.
pub async fn streaming(config: Config) -> Result<(), String> {
    alone_without_redis(&config, "streaming");
    let b = open(&config, true).await?;
    listen(&config, &b.svc, ferrodon_api::streaming_app(b.svc.clone()), shutdown_channel()).await?;
    b.db.close().await;
    Ok(())
}

/// `ferrodon web`: the web API alone (no workers, no scheduler) until SIGINT or SIGTERM.
pub async fn web(config: Config) -> Result<(), String> {
    alone_without_redis(&config, "web");
    let b = open(&config, true).await?;
    listen(&config, &b.svc, ferrodon_api::app(b.svc.clone(), Some(b.fed.clone())), shutdown_channel()).await?;
    tokio::time::timeout(Duration::from_secs(10), b.db.close()).await.ok();
    Ok(())
}

/// A role run apart shares events with the others only through Redis.
fn alone_without_redis(config: &Config, role: &str) {
    if config.redis.is_none() {
        tracing::warn!(
            "REDIS_URL is not set: this {role} process shares no streaming events with other processes \
             (set REDIS_URL, or run everything in one process with `ferrodon serve`)"
        );
    }
}

/// `ferrodon worker`: works the given queues until SIGINT or SIGTERM.
pub async fn worker(config: Config, queues: WeightedQueues, concurrency: usize) -> Result<(), String> {
    alone_without_redis(&config, "worker");
    let b = open(&config, true).await?;
    let runner = Runner::new(b.queue.clone(), registry(&b), runner_config(queues, concurrency)?);
    runner.run(shutdown_channel()).await.map_err(|e| e.message)?;
    b.db.close().await;
    Ok(())
}

/// `ferrodon scheduler`: enqueues recurring jobs (any number may run).
pub async fn scheduler(config: Config) -> Result<(), String> {
    let b = open(&config, true).await?;
    let scheduler = Scheduler::new(b.db.clone(), b.queue.clone(), ferrodon_service::jobs::recurring());
    scheduler.run(shutdown_channel()).await.map_err(|e| e.message)?;
    b.db.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
