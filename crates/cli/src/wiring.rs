//! The composition root: reads the configuration, picks the backends, starts the roles. The
//! only place that names concrete backends.

use std::sync::Arc;
use std::time::Duration;

use ferrodon_config::{Config, DatabaseConfig};
use ferrodon_service::Services;
use ferrodon_storage::SqlDatabase;

pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| EnvFilter::try_new(std::env::var("LOG_LEVEL").unwrap_or_else(|_| "info".into())))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

pub async fn connect(config: &Config) -> Result<SqlDatabase, String> {
    SqlDatabase::connect(&config.database).await.map_err(|e| e.message)
}

/// Connects and checks the schema. The embedded SQLite database migrates itself; PostgreSQL
/// refuses to run with pending migrations (run `ferrodon migrate`), as Mastodon does.
pub async fn services(config: &Config, serving: bool) -> Result<Services, String> {
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
    Ok(Services::new(Arc::new(db), Arc::new(config.clone())))
}

/// `ferrodon serve`: every role in one process, until SIGINT or SIGTERM.
pub async fn serve(config: Config) -> Result<(), String> {
    let svc = services(&config, true).await?;
    let app = axum::ServiceExt::<axum::extract::Request>::into_make_service(ferrodon_api::app(svc.clone()));
    let address = format!("{}:{}", config.bind, config.port);
    let listener =
        tokio::net::TcpListener::bind(&address).await.map_err(|e| format!("cannot listen on {address}: {e}"))?;
    tracing::info!(%address, url = %config.base_url(), database = svc.db.engine(), "ferrodon is listening");
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await.map_err(|e| e.to_string())?;
    tracing::info!("shutting down");
    tokio::time::timeout(Duration::from_secs(10), svc.db.close()).await.ok();
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
