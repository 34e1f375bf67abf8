//! The `ferrodon` binary: `serve` (everything in one process), `migrate`, tootctl-style
//! `accounts …`, and `config check`.

mod emoji;
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
    /// Run the whole server in one process: web API, a worker on every queue, the scheduler
    /// (on SQLite it migrates the database itself).
    Serve {
        /// Jobs in flight at once.
        #[arg(long, env = "FERRODON_WORKER_CONCURRENCY", default_value_t = 20)]
        concurrency: usize,
    },
    /// Work background jobs of the given queues (Sidekiq's `-q`).
    Worker {
        /// Queues in priority order (`push,pull`), or with weights (`default:8,push:6`).
        #[arg(long, value_delimiter = ' ', num_args = 1..)]
        queues: Vec<String>,
        /// A queue with an optional weight, as Sidekiq's `-q default,8`; may be repeated.
        #[arg(short = 'q')]
        queue: Vec<String>,
        /// Jobs in flight at once.
        #[arg(long, short = 'c', env = "FERRODON_WORKER_CONCURRENCY", default_value_t = 20)]
        concurrency: usize,
    },
    /// Enqueue recurring jobs on time (several schedulers may run; each slot fires once).
    Scheduler,
    /// Serve the web API alone on PORT (no workers, no scheduler; Mastodon's Puma role).
    Web,
    /// Serve the streaming API alone (WebSocket and server-sent events) on PORT. Events from the
    /// other roles reach it through Redis (REDIS_URL).
    Streaming,
    /// Inspect and manage background jobs.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
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
    /// Instance settings an admin changes at run time.
    Settings {
        #[command(subcommand)]
        command: SettingsCommand,
    },
    /// Block or unblock whole domains (what Mastodon's admin "Moderation > Federation" does).
    Domains {
        #[command(subcommand)]
        command: DomainsCommand,
    },
    /// Stored media files: usage, removing the copies of remote media, removing orphans
    /// (tootctl media).
    Media {
        #[command(subcommand)]
        command: MediaCommand,
    },
    /// Custom emoji (tootctl emoji).
    Emoji {
        #[command(subcommand)]
        command: EmojiCommand,
    },
    /// Announcements to every local user (what Mastodon's admin "Announcements" page does).
    Announcements {
        #[command(subcommand)]
        command: AnnouncementsCommand,
    },
    /// Reports for moderators (from local users, and Flags from other servers).
    Reports {
        #[command(subcommand)]
        command: ReportsCommand,
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
enum JobsCommand {
    /// Per queue: pending, running, scheduled, retrying, dead, and the age of the oldest pending job.
    Stats {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// The dead set.
    Dead {
        #[command(subcommand)]
        command: DeadCommand,
    },
    /// Enqueue a diagnostic job and wait until a worker completes it.
    Ping {
        #[arg(long, default_value = "default")]
        queue: String,
        /// How long the job itself takes.
        #[arg(long, default_value_t = 0)]
        sleep_ms: u64,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
        /// Only enqueue, print the token, and do not wait.
        #[arg(long)]
        no_wait: bool,
    },
    /// Print the completions recorded for a ping token (one line per completing attempt).
    Pings { token: String },
}

#[derive(Subcommand)]
enum DeadCommand {
    /// List dead jobs, newest first.
    List {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Put dead jobs (the given ids, or all) back on their queues.
    Retry { ids: Vec<String> },
    /// Delete dead jobs (the given ids, or all).
    Discard { ids: Vec<String> },
}

#[derive(Subcommand)]
enum SettingsCommand {
    /// Who may sign up: `open`, `approved` (sign-ups wait for approval) or `none` (`close`, as
    /// tootctl spells it). Without a value, prints the current mode.
    Registrations { mode: Option<String> },
}

#[derive(Subcommand)]
enum AnnouncementsCommand {
    /// Creates one and prints its id. Published at once, or at --scheduled-at. Times are RFC 3339
    /// (2030-01-02T03:04:05Z).
    Create {
        text: String,
        /// The time the announcement is about, with --ends-at (it is taken down then).
        #[arg(long, value_parser = rfc3339)]
        starts_at: Option<i64>,
        #[arg(long, value_parser = rfc3339)]
        ends_at: Option<i64>,
        /// --starts-at and --ends-at are dates, not times.
        #[arg(long)]
        all_day: bool,
        #[arg(long, value_parser = rfc3339)]
        scheduled_at: Option<i64>,
    },
    /// Changes the text (a published one reaches users' streams again).
    Update {
        id: String,
        #[arg(long)]
        text: String,
    },
    Publish {
        id: String,
    },
    /// Takes one down (it stays, unpublished).
    Unpublish {
        id: String,
    },
    Delete {
        id: String,
    },
    /// One per line: id, state (published, scheduled or draft), starts_at, ends_at, text.
    List,
}

fn rfc3339(s: &str) -> Result<i64, String> {
    ferrodon_kernel::time::parse_rfc3339(s)
        .ok_or_else(|| format!("{s:?} is not an RFC 3339 time (2030-01-02T03:04:05Z)"))
}

fn announcement_id(s: &str) -> Result<ferrodon_kernel::Id, String> {
    ferrodon_kernel::Id::parse(s).ok_or_else(|| format!("{s:?} is not an announcement id"))
}

async fn announcements(config: &Config, command: AnnouncementsCommand) -> Result<(), String> {
    use ferrodon_service::announcements as a;
    let svc = wiring::services(config, false).await?;
    let missing = |e: ferrodon_kernel::Error| {
        if e.kind == ferrodon_kernel::ErrorKind::NotFound { "no such announcement".to_string() } else { e.message }
    };
    match command {
        AnnouncementsCommand::Create { text, starts_at, ends_at, all_day, scheduled_at } => {
            let new = a::NewAnnouncement { text, starts_at, ends_at, all_day, scheduled_at };
            let created = a::create(&svc, new).await.map_err(|e| e.message)?;
            println!("OK\nID: {}", created.id);
        }
        AnnouncementsCommand::Update { id, text } => {
            a::update_text(&svc, announcement_id(&id)?, &text).await.map_err(missing)?;
            println!("OK");
        }
        AnnouncementsCommand::Publish { id } => {
            a::publish(&svc, announcement_id(&id)?).await.map_err(missing)?;
            println!("OK");
        }
        AnnouncementsCommand::Unpublish { id } => {
            a::unpublish(&svc, announcement_id(&id)?).await.map_err(missing)?;
            println!("OK");
        }
        AnnouncementsCommand::Delete { id } => {
            a::delete(&svc, announcement_id(&id)?).await.map_err(missing)?;
            println!("OK");
        }
        AnnouncementsCommand::List => {
            let time = |t: Option<i64>| t.map_or("-".to_string(), ferrodon_kernel::time::rfc3339);
            for x in a::list(&svc).await.map_err(|e| e.message)? {
                let state = match (x.published, x.scheduled_at) {
                    (true, _) => "published",
                    (false, Some(_)) => "scheduled",
                    (false, None) => "draft",
                };
                let text = x.text.replace(['\n', '\t'], " ");
                println!("{}\t{state}\t{}\t{}\t{text}", x.id, time(x.starts_at), time(x.ends_at));
            }
        }
    }
    Ok(())
}

#[derive(Subcommand)]
enum ReportsCommand {
    /// Lists reports newest first, one per line: id, date, reporter, target, category,
    /// forwarded, status ids, comment. Only open ones unless --all.
    List {
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

#[derive(Subcommand)]
enum DomainsCommand {
    /// Blocks DOMAIN (and its subdomains): `suspend` refuses everything from it and suspends its
    /// accounts; `silence` limits them; `noop` only applies --reject-media / --reject-reports.
    Block {
        domain: String,
        #[arg(long, default_value = "suspend")]
        severity: String,
        #[arg(long)]
        reject_media: bool,
        #[arg(long)]
        reject_reports: bool,
    },
    /// Lifts the block of DOMAIN.
    Unblock { domain: String },
    /// Allows federation with DOMAIN (what LIMITED_FEDERATION_MODE=true federates with).
    Allow { domain: String },
    /// Removes DOMAIN from the allowed domains.
    Disallow { domain: String },
    /// Lists the blocked domains, then the allowed ones.
    List,
}

#[derive(Subcommand)]
enum EmojiCommand {
    /// Adds the PNG, GIF and WebP images of a .tar.gz archive as custom emoji, each named after
    /// its file (with --prefix and --suffix); existing ones are kept unless --overwrite.
    Import {
        path: std::path::PathBuf,
        #[arg(long, default_value = "")]
        prefix: String,
        #[arg(long, default_value = "")]
        suffix: String,
        #[arg(long)]
        category: Option<String>,
        #[arg(long)]
        overwrite: bool,
    },
    /// Lists the custom emoji: shortcode, category, URL.
    List,
}

#[derive(Subcommand)]
enum MediaCommand {
    /// Files and bytes per area of the file store (local disk or bucket).
    Usage,
    /// Removes the copies kept of remote posts' attachments older than --days (the posts link
    /// their servers' files again); --prune-profiles also the avatars and headers of remote
    /// accounts not refreshed for as long, --remove-headers only their headers.
    Remove {
        #[arg(long, default_value_t = 7)]
        days: u64,
        #[arg(long)]
        prune_profiles: bool,
        #[arg(long)]
        remove_headers: bool,
    },
    /// Removes files no attachment, account or post names (older than an hour).
    RemoveOrphans {
        /// Only count them.
        #[arg(long)]
        dry_run: bool,
    },
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
        Command::Serve { concurrency } => wiring::serve(config, concurrency).await,
        Command::Worker { queues, queue, concurrency } => {
            let mut specs = queues;
            specs.extend(queue);
            let queues = if specs.is_empty() {
                ferrodon_queue::WeightedQueues::all()
            } else {
                ferrodon_queue::WeightedQueues::parse(&specs).map_err(|e| e.message)?
            };
            wiring::worker(config, queues, concurrency).await
        }
        Command::Scheduler => wiring::scheduler(config).await,
        Command::Web => wiring::web(config).await,
        Command::Streaming => wiring::streaming(config).await,
        Command::Jobs { command } => jobs(&config, command).await,
        Command::Media { command } => media(&config, command).await,
        Command::Emoji { command } => {
            let svc = wiring::services(&config, false).await?;
            match command {
                EmojiCommand::Import { path, prefix, suffix, category, overwrite } => {
                    let done = emoji::import(&svc, &path, &prefix, &suffix, category.as_deref(), overwrite).await?;
                    println!("Imported {}, skipped {}, failed to import {}", done.added, done.skipped, done.failed);
                }
                EmojiCommand::List => {
                    let list = ferrodon_service::emoji::list(&svc).await.map_err(|e| e.message)?;
                    for e in ferrodon_service::present::custom_emojis(&svc, &list) {
                        println!("{}\t{}\t{}", e.shortcode, e.category.unwrap_or_default(), e.url);
                    }
                }
            }
            Ok(())
        }
        Command::Domains { command } => {
            let svc = wiring::services(&config, false).await?;
            use ferrodon_service::domains;
            match command {
                DomainsCommand::Block { domain, severity, reject_media, reject_reports } => {
                    domains::block(&svc, &domain, &severity, reject_media, reject_reports)
                        .await
                        .map_err(|e| e.message)?;
                    println!("Blocked {domain} ({severity})");
                }
                DomainsCommand::Unblock { domain } => {
                    if domains::unblock(&svc, &domain).await.map_err(|e| e.message)? {
                        println!("Unblocked {domain}");
                    } else {
                        return Err(format!("{domain} is not blocked"));
                    }
                }
                DomainsCommand::Allow { domain } => {
                    domains::allow(&svc, &domain).await.map_err(|e| e.message)?;
                    println!("Allowed {domain}");
                }
                DomainsCommand::Disallow { domain } => {
                    if !domains::disallow(&svc, &domain).await.map_err(|e| e.message)? {
                        return Err(format!("{domain} is not allowed"));
                    }
                    println!("Disallowed {domain}");
                }
                DomainsCommand::List => {
                    for b in domains::list(&svc).await.map_err(|e| e.message)? {
                        let mut extra = String::new();
                        if b.reject_media {
                            extra.push_str(" reject-media");
                        }
                        if b.reject_reports {
                            extra.push_str(" reject-reports");
                        }
                        println!("{}\t{}{extra}", b.domain, b.severity);
                    }
                    for d in domains::allowed(&svc).await.map_err(|e| e.message)? {
                        println!("{d}\tallow");
                    }
                }
            }
            Ok(())
        }
        Command::Announcements { command } => announcements(&config, command).await,
        Command::Reports { command: ReportsCommand::List { all, limit } } => {
            let svc = wiring::services(&config, false).await?;
            for (r, reporter, target) in
                ferrodon_service::reports::list(&svc, all, limit).await.map_err(|e| e.message)?
            {
                let statuses: Vec<String> = r.status_ids().iter().map(|i| i.to_string()).collect();
                println!(
                    "{}\t{}\t{reporter}\t{target}\t{}\t{}\t{}\t{}",
                    r.id,
                    ferrodon_kernel::time::rfc3339(r.created_at),
                    r.category,
                    if r.forwarded { "forwarded" } else { "-" },
                    if statuses.is_empty() { "-".to_string() } else { statuses.join(",") },
                    r.comment.replace(['\n', '\t'], " "),
                );
            }
            Ok(())
        }
        Command::Settings { command: SettingsCommand::Registrations { mode } } => {
            let svc = wiring::services(&config, false).await?;
            let mode = match mode {
                Some(m) => ferrodon_service::settings::set_registrations_mode(&svc, &m).await.map_err(|e| e.message)?,
                None => ferrodon_service::settings::current_registrations_mode(&svc).await.map_err(|e| e.message)?,
            };
            println!("{}", mode.as_str());
            Ok(())
        }
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
            // The relay's settings make a mailer (the CA file read, the addresses parsed).
            ferrodon_mail::mailer(&config).map_err(|e| e.message)?;
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

fn parse_ids(raw: &[String]) -> Result<Option<Vec<ferrodon_kernel::Id>>, String> {
    if raw.is_empty() {
        return Ok(None);
    }
    raw.iter()
        .map(|r| ferrodon_kernel::Id::parse(r).ok_or_else(|| format!("not a job id: {r:?}")))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

async fn jobs(config: &Config, command: JobsCommand) -> Result<(), String> {
    use ferrodon_kernel::time::now_ms;
    let b = wiring::open(config, false).await?;
    match command {
        JobsCommand::Stats { json } => {
            let stats = b.queue.stats(now_ms()).await.map_err(|e| e.message)?;
            if json {
                let rows: Vec<serde_json::Value> = stats
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "queue": s.queue, "pending": s.pending, "running": s.running, "scheduled": s.scheduled,
                            "retrying": s.retrying, "dead": s.dead, "oldest_pending_age_ms": s.oldest_pending_age_ms,
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                println!(
                    "{:<10} {:>8} {:>8} {:>10} {:>9} {:>6} {:>12}",
                    "queue", "pending", "running", "scheduled", "retrying", "dead", "oldest age"
                );
                for s in stats {
                    let age = s
                        .oldest_pending_age_ms
                        .map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
                        .unwrap_or_else(|| "-".into());
                    println!(
                        "{:<10} {:>8} {:>8} {:>10} {:>9} {:>6} {:>12}",
                        s.queue, s.pending, s.running, s.scheduled, s.retrying, s.dead, age
                    );
                }
            }
            Ok(())
        }
        JobsCommand::Dead { command: DeadCommand::List { limit } } => {
            for j in b.queue.dead(limit).await.map_err(|e| e.message)? {
                println!(
                    "{} {} {} attempts={} error={}",
                    j.id,
                    j.queue.as_str(),
                    j.kind,
                    j.attempts,
                    j.last_error.unwrap_or_default().replace('\n', " ")
                );
            }
            Ok(())
        }
        JobsCommand::Dead { command: DeadCommand::Retry { ids } } => {
            let ids = parse_ids(&ids)?;
            let n = b.queue.retry_dead(ids.as_deref(), now_ms()).await.map_err(|e| e.message)?;
            println!("Retrying {n} job(s)");
            Ok(())
        }
        JobsCommand::Dead { command: DeadCommand::Discard { ids } } => {
            let ids = parse_ids(&ids)?;
            let n = b.queue.discard_dead(ids.as_deref()).await.map_err(|e| e.message)?;
            println!("Discarded {n} job(s)");
            Ok(())
        }
        JobsCommand::Ping { queue, sleep_ms, timeout, no_wait } => {
            use ferrodon_service::jobs::Ping;
            let queue =
                ferrodon_domain::model::Queue::parse(&queue).ok_or_else(|| format!("unknown queue {queue:?}"))?;
            let started = std::time::Instant::now();
            let token = Ping::enqueue(&b.svc, sleep_ms, queue).await.map_err(|e| e.message)?;
            if no_wait {
                println!("{token}");
                return Ok(());
            }
            while started.elapsed() < std::time::Duration::from_secs(timeout) {
                if !Ping::completions(&b.svc, &token).await.map_err(|e| e.message)?.is_empty() {
                    println!("pong in {} ms", started.elapsed().as_millis());
                    return Ok(());
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(format!("no worker completed the ping on the {} queue within {timeout} s", queue.as_str()))
        }
        JobsCommand::Pings { token } => {
            for attempt in ferrodon_service::jobs::Ping::completions(&b.svc, &token).await.map_err(|e| e.message)? {
                println!("{attempt}");
            }
            Ok(())
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

async fn media(config: &Config, command: MediaCommand) -> Result<(), String> {
    use ferrodon_service::media;
    let svc = wiring::services(config, false).await?;
    let megabytes = |bytes: u64| format!("{:.1} MB", bytes as f64 / 1_048_576.0);
    // A running count on a terminal; nothing in logs.
    let progress = |n: u64| {
        if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            eprint!("\r{n} files…");
        }
    };
    match command {
        MediaCommand::Usage => {
            let usage = media::usage(&svc).await.map_err(|e| e.message)?;
            for u in &usage {
                println!("{:<40} {:>8} files {:>12}", u.area, u.files, megabytes(u.bytes));
            }
            let (files, bytes) = usage.iter().fold((0, 0), |(f, b), u| (f + u.files, b + u.bytes));
            println!("{:<40} {files:>8} files {:>12}", "total", megabytes(bytes));
        }
        MediaCommand::Remove { days, prune_profiles, remove_headers } => {
            let done = media::remove_cached(&svc, days, prune_profiles, remove_headers, &progress)
                .await
                .map_err(|e| e.message)?;
            println!(
                "Removed {} files: the copies of {} remote posts' attachments and of {} accounts' images",
                done.files, done.statuses, done.accounts
            );
        }
        MediaCommand::RemoveOrphans { dry_run } => {
            let (files, bytes) = media::remove_orphans(&svc, dry_run, &progress).await.map_err(|e| e.message)?;
            let verb = if dry_run { "Found" } else { "Removed" };
            println!("{verb} {files} orphaned files ({})", megabytes(bytes));
        }
    }
    Ok(())
}
