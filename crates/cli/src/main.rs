//! The `ferrodon` binary: `serve` (everything in one process), `migrate`, tootctl-style
//! `accounts …`, and `config check`.

mod wiring;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ferrodon_config::Config;
use ferrodon_domain::model::Role;

#[derive(Parser)]
#[command(name = "ferrodon", version, about = "A Mastodon-compatible social network server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole server in one process (on SQLite it migrates the database itself).
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// Manage local accounts (like `tootctl accounts`).
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
    },
    /// Fill the database with synthetic accounts, follows and statuses (for benchmarks).
    Seed {
        #[arg(long, default_value_t = 10_000)]
        accounts: usize,
        #[arg(long, default_value_t = 1_000_000)]
        statuses: usize,
        /// How many accounts each account follows.
        #[arg(long, default_value_t = 50)]
        follows: usize,
        /// How many accounts get an access token.
        #[arg(long, default_value_t = 1000)]
        tokens: usize,
        /// Where to write `username token` lines.
        #[arg(long, default_value = "seed-tokens.txt")]
        tokens_file: std::path::PathBuf,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
enum AccountsCommand {
    /// Create a local account and print its password.
    Create {
        username: String,
        #[arg(long)]
        email: String,
        /// Skip e-mail confirmation.
        #[arg(long)]
        confirmed: bool,
        /// Owner, Admin or Moderator.
        #[arg(long)]
        role: Option<String>,
    },
    /// Change a local account.
    Modify {
        username: String,
        #[arg(long)]
        reset_password: bool,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        confirm: bool,
        #[arg(long)]
        approve: bool,
        #[arg(long)]
        disable: bool,
        #[arg(long)]
        enable: bool,
    },
    /// Delete a local account and everything it owns.
    Delete { username: String },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (secrets masked) and check it.
    Check,
}

fn parse_role(raw: Option<&str>) -> Result<Option<Role>, String> {
    match raw {
        None => Ok(None),
        Some(r) => match r.to_ascii_lowercase().as_str() {
            "owner" => Ok(Some(Role::Owner)),
            "admin" => Ok(Some(Role::Admin)),
            "moderator" => Ok(Some(Role::Moderator)),
            "user" | "" => Ok(Some(Role::User)),
            _ => Err(format!("Cannot find user role with that name: {r} (use Owner, Admin or Moderator)")),
        },
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    wiring::init_tracing();
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Invalid configuration: {}", e.message);
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli.command, config));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> Result<(), String> {
    match command {
        Command::Serve => wiring::serve(config).await,
        Command::Migrate => {
            let db = wiring::connect(&config).await?;
            let ran = db.migrate().await.map_err(|e| e.message)?;
            if ran.is_empty() {
                println!("Database is up to date.");
            }
            for v in ran {
                println!("Applied {v}");
            }
            Ok(())
        }
        Command::Config { command: ConfigCommand::Check } => {
            for (k, v) in config.describe() {
                println!("{k}={v}");
            }
            let db = wiring::connect(&config).await?;
            let pending = db.pending_migrations().await.map_err(|e| e.message)?;
            if !pending.is_empty() {
                println!("Pending migrations: {}", pending.join(", "));
            }
            println!("OK");
            Ok(())
        }
        Command::Seed { accounts, statuses, follows, tokens, tokens_file } => {
            let svc = wiring::services(&config, false).await?;
            let started = std::time::Instant::now();
            let password_hash =
                ferrodon_service::auth::hash_password("seeded-password").await.map_err(|e| e.message)?;
            let options = ferrodon_storage::seed::SeedOptions {
                accounts,
                statuses,
                follows_per_account: follows,
                tokens,
                base_url: config.base_url(),
                password_hash,
                hash_token: ferrodon_service::auth::hash_secret,
                seed: 0x5eed,
            };
            let db = wiring::connect(&config).await?;
            let report = ferrodon_storage::seed::seed(&db, &options).await.map_err(|e| e.message)?;
            let lines: String = report.tokens.iter().map(|(u, t)| format!("{u} {t}\n")).collect();
            std::fs::write(&tokens_file, lines).map_err(|e| format!("cannot write {}: {e}", tokens_file.display()))?;
            drop(svc);
            println!(
                "Seeded {accounts} accounts, {statuses} statuses, {follows} follows each in {:.1}s; {} tokens in {}",
                started.elapsed().as_secs_f64(),
                report.tokens.len(),
                tokens_file.display()
            );
            Ok(())
        }
        Command::Accounts { command } => {
            let svc = wiring::services(&config, false).await?;
            accounts(&svc, command).await
        }
    }
}

async fn accounts(svc: &ferrodon_service::Services, command: AccountsCommand) -> Result<(), String> {
    use ferrodon_service::accounts as a;
    match command {
        AccountsCommand::Create { username, email, confirmed, role } => {
            let role = parse_role(role.as_deref())?.unwrap_or(Role::User);
            let password = a::generate_password();
            let new = a::NewAccount {
                username: &username,
                email: &email,
                password: &password,
                confirmed,
                approved: true,
                role,
                locale: "en",
            };
            a::create(svc, new).await.map_err(|e| e.message)?;
            println!("OK");
            println!("New password: {password}");
            Ok(())
        }
        AccountsCommand::Modify { username, reset_password, role, confirm, approve, disable, enable } => {
            let role = parse_role(role.as_deref())?;
            let m = a::Modification { reset_password, role, confirm, approve, disable, enable };
            let password = a::modify(svc, &username, m).await.map_err(|e| match e.kind {
                ferrodon_kernel::ErrorKind::NotFound => "No user with such username".to_string(),
                _ => e.message,
            })?;
            println!("OK");
            if let Some(p) = password {
                println!("New password: {p}");
            }
            Ok(())
        }
        AccountsCommand::Delete { username } => {
            a::delete(svc, &username).await.map_err(|e| match e.kind {
                ferrodon_kernel::ErrorKind::NotFound => "No user with such username".to_string(),
                _ => e.message,
            })?;
            println!("OK");
            Ok(())
        }
    }
}
