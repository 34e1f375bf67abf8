//! Federation benchmark: inbox ingest and delivery fan-out of one `ferrodon serve` (release
//! build, SQLite in a fresh work directory) against remote actors this program serves itself.
//!
//! ```text
//! cargo bench -p ferrodon-cli --bench federation [-- --hosts 1000 --per-actor 2 --concurrency 64]
//! ```
//!
//! Set-up (not timed): `H` remote actors, each on a loopback host of its own (127.0.X.Y, one
//! port), serve their actor document and an inbox. They all follow one local account with signed
//! `Follow`s; ferrodon fetches every actor (their keys) and sends each an `Accept`. One RSA key is
//! shared by all remote actors (each has its own key id), so the set-up does not spend a minute
//! generating keys.
//!
//! (b) **Fan-out**: the local account posts once through the API; every remote inbox verifies the
//! HTTP signature of the `Create` it receives (with the account's key from its actor document)
//! and records when it arrived. Reported: time from the POST until the last verified delivery,
//! and p50 / p99 of the arrivals. Target: all 1,000 within 1.5 s.
//!
//! (a) **Ingest**: every remote actor sends `K` signed `Create(Note)`s mentioning the local
//! account to ferrodon's shared inbox, `C` requests in flight (signed beforehand: signing is the
//! sender's cost). Reported: POST latency, and activities per second until every note is stored
//! (counted in the database). Target: ≥ 2,000 activities/s fully processed.
//!
//! Everything listens on loopback. `--database-url postgres://…/postgres` runs ferrodon on a
//! fresh PostgreSQL database made there instead of SQLite. `--check` exits 1 when a target is
//! missed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use ferrodon_federation::signatures::{self, Incoming, PrivateKey, PublicKey, Scheme};
use serde_json::{Value, json};

struct Options {
    hosts: usize,
    per_actor: usize,
    concurrency: usize,
    check: bool,
    /// An admin URL of PostgreSQL: a fresh database there instead of SQLite.
    database_url: Option<String>,
}

fn options() -> Options {
    let mut o = Options { hosts: 1000, per_actor: 2, concurrency: 64, check: false, database_url: None };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |name: &str| -> usize {
            args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match a.as_str() {
            "--hosts" => o.hosts = num("--hosts").clamp(1, 10_000),
            "--per-actor" => o.per_actor = num("--per-actor").max(1),
            "--concurrency" => o.concurrency = num("--concurrency").max(1),
            "--check" => o.check = true,
            "--database-url" => o.database_url = Some(args.next().expect("--database-url needs a URL")),
            "--bench" => {}
            other => panic!("unknown option {other} (--hosts N, --per-actor K, --concurrency C, --check)"),
        }
    }
    o
}

/// A remote actor: its host, and the inbox deliveries it saw.
struct Remote {
    origin: String,
}

impl Remote {
    fn actor(&self) -> String {
        format!("{}/users/r", self.origin)
    }
}

/// What the receivers share.
struct Receivers {
    poster_key: Mutex<Option<PublicKey>>,
    public_pem: String,
    marker: Mutex<String>,
    /// Arrival of the marked Create per host, verified.
    arrivals: Mutex<Vec<Option<Instant>>>,
    duplicates: AtomicUsize,
    bad_signatures: AtomicUsize,
    accepts: AtomicUsize,
}

#[derive(Clone)]
struct Host {
    index: usize,
    origin: String,
    shared: Arc<Receivers>,
}

async fn actor_doc(State(h): State<Host>) -> ([(&'static str, &'static str); 1], String) {
    let id = format!("{}/users/r", h.origin);
    let doc = json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
        "id": id, "type": "Person", "preferredUsername": "r", "name": format!("Remote {}", h.index),
        "inbox": format!("{id}/inbox"), "outbox": format!("{id}/outbox"), "followers": format!("{id}/followers"),
        "endpoints": {"sharedInbox": format!("{}/inbox", h.origin)},
        "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": h.shared.public_pem},
    });
    ([("content-type", "application/activity+json")], doc.to_string())
}

async fn inbox(State(h): State<Host>, OriginalUri(uri): OriginalUri, headers: HeaderMap, body: Bytes) -> StatusCode {
    let received = Instant::now();
    let key = h.shared.poster_key.lock().unwrap().clone();
    let target = format!("{}{}", h.origin, uri.path());
    let req = Incoming {
        method: &Method::POST,
        path_and_query: uri.path(),
        target_uri: &target,
        headers: &headers,
        body: Some(&body),
    };
    let verified = match (signatures::parse(&req, SystemTime::now()), key) {
        (Ok(sig), Some(key)) => sig.verify(&key).is_ok(),
        _ => false,
    };
    if !verified {
        h.shared.bad_signatures.fetch_add(1, Ordering::Relaxed);
        return StatusCode::UNAUTHORIZED;
    }
    let activity: Value = serde_json::from_slice(&body).unwrap_or_default();
    match activity["type"].as_str() {
        Some("Accept") => {
            h.shared.accepts.fetch_add(1, Ordering::Relaxed);
        }
        Some("Create") => {
            let marker = h.shared.marker.lock().unwrap().clone();
            if !marker.is_empty() && body.windows(marker.len()).any(|w| w == marker.as_bytes()) {
                let mut arrivals = h.shared.arrivals.lock().unwrap();
                if arrivals[h.index].is_some() {
                    h.shared.duplicates.fetch_add(1, Ordering::Relaxed);
                } else {
                    arrivals[h.index] = Some(received);
                }
            }
        }
        _ => {}
    }
    StatusCode::ACCEPTED
}

fn host_ip(i: usize) -> String {
    format!("127.0.{}.{}", 1 + i / 250, 1 + i % 250)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Server {
    child: Child,
    base: String,
    workdir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.workdir);
    }
}

fn ferrodon(workdir: &Path, port: u16, database_url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferrodon"));
    c.env("FERRODON_DATA_DIR", workdir)
        .env("DATABASE_URL", database_url)
        .env("BIND", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("LOCAL_DOMAIN", format!("127.0.0.1:{port}"))
        .env("ALLOWED_PRIVATE_ADDRESSES", "127.0.0.0/8")
        .env("RUST_LOG", std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()))
        .env_remove("DB_HOST");
    c
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// CPU seconds (user + system) of a process so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

async fn sign_post(key: &PrivateKey, key_id: &str, url: &str, body: &Value) -> (HeaderMap, Vec<u8>) {
    let bytes = body.to_string().into_bytes();
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/activity+json".parse().unwrap());
    let u = url::Url::parse(url).unwrap();
    signatures::sign(Scheme::Cavage, key, key_id, &Method::POST, &u, &mut headers, Some(&bytes), SystemTime::now())
        .unwrap();
    headers.remove("host");
    (headers, bytes)
}

/// Sends pre-signed requests, `concurrency` at a time; returns each request's latency (ms) and status.
async fn send_all(
    client: &reqwest::Client,
    url: &str,
    requests: Vec<(HeaderMap, Vec<u8>)>,
    concurrency: usize,
) -> Vec<(f64, u16)> {
    let queue = Arc::new(Mutex::new(requests.into_iter().collect::<Vec<_>>()));
    let results = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (queue, results, client, url) = (queue.clone(), results.clone(), client.clone(), url.to_string());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some((headers, body)) = queue.lock().unwrap().pop() else { break };
                let t = Instant::now();
                let status = match client.post(&url).headers(headers).body(body).send().await {
                    Ok(r) => r.status().as_u16(),
                    Err(_) => 0,
                };
                results.lock().unwrap().push((t.elapsed().as_secs_f64() * 1000.0, status));
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    Arc::try_unwrap(results).map(|m| m.into_inner().unwrap()).unwrap_or_default()
}

async fn wait_until(what: &str, timeout: Duration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let o = options();
    let workdir = std::env::temp_dir().join(format!("ferrodon-federation-bench-{}", std::process::id()));
    std::fs::create_dir_all(&workdir).unwrap();
    let port = free_port();
    let database_url = match &o.database_url {
        None => format!("sqlite:{}", workdir.join("ferrodon.sqlite3").display()),
        Some(admin) => {
            let name = format!("ferrodon_fedbench_{}", std::process::id());
            let pool = sqlx::PgPool::connect(admin).await.expect("PostgreSQL admin URL");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}"))).execute(&pool).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await.unwrap();
            let (base, _) = admin.rsplit_once('/').expect("a URL with a database name");
            let url = format!("{base}/{name}");
            let migrated = ferrodon(&workdir, port, &url).arg("migrate").stdout(Stdio::null()).status().unwrap();
            assert!(migrated.success(), "ferrodon migrate failed");
            url
        }
    };
    let engine = if o.database_url.is_some() { "PostgreSQL" } else { "SQLite" };
    let seeded = ferrodon(&workdir, port, &database_url)
        .args(["seed", "--accounts", "1", "--statuses", "0", "--follows", "0", "--tokens", "1", "--tokens-file"])
        .arg(workdir.join("tokens.txt"))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(seeded.success(), "seeding failed");
    let line = std::fs::read_to_string(workdir.join("tokens.txt")).unwrap();
    let (username, token) = line.trim().split_once(' ').unwrap();
    let (username, token) = (username.to_string(), token.to_string());
    let child = ferrodon(&workdir, port, &database_url).arg("serve").stderr(Stdio::inherit()).spawn().unwrap();
    let server = Server { child, base: format!("http://127.0.0.1:{port}"), workdir: workdir.clone() };
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build().unwrap();
    wait_until("ferrodon to start", Duration::from_secs(30), async || {
        client.get(format!("{}/health", server.base)).send().await.is_ok_and(|r| r.status().is_success())
    })
    .await;
    let poster_uri = format!("{}/users/{username}", server.base);
    let actor: Value = client
        .get(&poster_uri)
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap();
    let poster_key = PublicKey::from_pem(actor["publicKey"]["publicKeyPem"].as_str().unwrap()).unwrap();

    // The remote hosts.
    let key = PrivateKey::generate().unwrap();
    let shared = Arc::new(Receivers {
        poster_key: Mutex::new(Some(poster_key)),
        public_pem: key.public_key_pem(),
        marker: Mutex::new(String::new()),
        arrivals: Mutex::new(vec![None; o.hosts]),
        duplicates: AtomicUsize::new(0),
        bad_signatures: AtomicUsize::new(0),
        accepts: AtomicUsize::new(0),
    });
    let rport = free_port();
    let mut remotes = Vec::with_capacity(o.hosts);
    for i in 0..o.hosts {
        let origin = format!("http://{}:{rport}", host_ip(i));
        let state = Host { index: i, origin: origin.clone(), shared: shared.clone() };
        let app = axum::Router::new()
            .route("/users/r", get(actor_doc))
            .route("/users/r/inbox", post(inbox))
            .route("/inbox", post(inbox))
            .with_state(state);
        let addr: SocketAddr = format!("{}:{rport}", host_ip(i)).parse().unwrap();
        let listener =
            tokio::net::TcpListener::bind(addr).await.unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        remotes.push(Remote { origin });
    }

    // Set-up: every remote actor follows the poster.
    let setup = Instant::now();
    let mut follows = Vec::new();
    for (i, r) in remotes.iter().enumerate() {
        let body = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}#follows/{i}", r.actor()),
            "type": "Follow", "actor": r.actor(), "object": poster_uri});
        follows.push(sign_post(&key, &format!("{}#main-key", r.actor()), &format!("{poster_uri}/inbox"), &body).await);
    }
    let sent = send_all(&client, &format!("{poster_uri}/inbox"), follows, o.concurrency).await;
    let refused = sent.iter().filter(|(_, s)| *s != 202).count();
    assert_eq!(refused, 0, "{refused} follows were not accepted with 202");
    let me = format!("{}/api/v1/accounts/verify_credentials", server.base);
    wait_until("every follow to be applied and accepted", Duration::from_secs(300), async || {
        let v: Value = match client.get(&me).bearer_auth(&token).send().await {
            Ok(r) => r.bytes().await.ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default(),
            Err(_) => return false,
        };
        v["followers_count"].as_u64() == Some(o.hosts as u64) && shared.accepts.load(Ordering::Relaxed) >= o.hosts
    })
    .await;
    println!("set-up: {} remote hosts follow the poster ({:.1} s)\n", o.hosts, setup.elapsed().as_secs_f64());

    // (b) Fan-out.
    let marker = format!("fanout-marker-{}", std::process::id());
    *shared.marker.lock().unwrap() = marker.clone();
    let pid = server.child.id();
    let cpu_before = cpu_seconds(pid);
    let t0 = Instant::now();
    let posted = client
        .post(format!("{}/api/v1/statuses", server.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(json!({"status": format!("one post for everyone {marker}")}).to_string())
        .send()
        .await
        .unwrap();
    assert!(posted.status().is_success(), "posting failed: {}", posted.status());
    let _ = tokio::time::timeout(Duration::from_secs(60), async {
        while shared.arrivals.lock().unwrap().iter().any(Option::is_none) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let fanout_cpu = cpu_seconds(pid) - cpu_before;
    let mut arrivals: Vec<f64> =
        shared.arrivals.lock().unwrap().iter().flatten().map(|t| t.duration_since(t0).as_secs_f64() * 1000.0).collect();
    arrivals.sort_by(f64::total_cmp);
    let fanout_last = arrivals.last().copied().unwrap_or(f64::NAN);
    let fanout_ok = arrivals.len() == o.hosts && fanout_last <= 1500.0;

    // (a) Ingest.
    let total = o.hosts * o.per_actor;
    let mut creates = Vec::with_capacity(total);
    let now = ferrodon_kernel::time::rfc3339(ferrodon_kernel::time::now_ms());
    for r in &remotes {
        for k in 0..o.per_actor {
            let id = format!("{}/statuses/{k}", r.actor());
            let body = json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": format!("{id}/activity"), "type": "Create", "actor": r.actor(),
                "to": ["https://www.w3.org/ns/activitystreams#Public"], "cc": [poster_uri],
                "object": {
                    "id": id, "type": "Note", "attributedTo": r.actor(), "published": now,
                    "content": format!("<p>note {k} for <a href=\"{poster_uri}\" class=\"u-url mention\">@{username}</a></p>"),
                    "to": ["https://www.w3.org/ns/activitystreams#Public"], "cc": [poster_uri],
                    "tag": [{"type": "Mention", "href": poster_uri, "name": format!("@{username}")}],
                },
            });
            creates.push(
                sign_post(&key, &format!("{}#main-key", r.actor()), &format!("{}/inbox", server.base), &body).await,
            );
        }
    }
    let count = "SELECT COUNT(*) FROM statuses WHERE NOT local";
    let sqlite = match &o.database_url {
        None => Some(sqlx::SqlitePool::connect(&format!("{database_url}?mode=ro")).await.unwrap()),
        Some(_) => None,
    };
    let pg = match &o.database_url {
        Some(_) => Some(sqlx::PgPool::connect(&database_url).await.unwrap()),
        None => None,
    };
    let remote_statuses = async || -> i64 {
        match (&sqlite, &pg) {
            (Some(db), _) => sqlx::query_scalar::<_, i64>(count).fetch_one(db).await.unwrap_or(0),
            (_, Some(db)) => sqlx::query_scalar::<_, i64>(count).fetch_one(db).await.unwrap_or(0),
            _ => 0,
        }
    };
    let before = remote_statuses().await;
    let cpu_before = cpu_seconds(pid);
    let t0 = Instant::now();
    let results = send_all(&client, &format!("{}/inbox", server.base), creates, o.concurrency).await;
    let accepted_s = t0.elapsed().as_secs_f64();
    let accepted = results.iter().filter(|(_, s)| *s == 202).count();
    let _ = tokio::time::timeout(Duration::from_secs(300), async {
        while remote_statuses().await - before < accepted as i64 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let processed_s = t0.elapsed().as_secs_f64();
    let stored = remote_statuses().await - before;
    let ingest_cpu = cpu_seconds(pid) - cpu_before;
    let mut latencies: Vec<f64> = results.iter().map(|(ms, _)| *ms).collect();
    latencies.sort_by(f64::total_cmp);
    let rate = stored as f64 / processed_s;
    let ingest_ok = stored as usize == total && rate >= 2000.0;

    println!("| benchmark | measure | result | target |");
    println!("|---|---|---:|---:|");
    println!(
        "| fan-out to {} hosts | last verified delivery after the POST | {:.0} ms | ≤ 1,500 ms {} |",
        o.hosts,
        fanout_last,
        if fanout_ok { "MET" } else { "MISSED" }
    );
    println!("| | p50 / p99 arrival | {:.0} / {:.0} ms | |", percentile(&arrivals, 0.5), percentile(&arrivals, 0.99));
    println!(
        "| | verified / missing / duplicate / bad signature | {} / {} / {} / {} | |",
        arrivals.len(),
        o.hosts - arrivals.len(),
        shared.duplicates.load(Ordering::Relaxed),
        shared.bad_signatures.load(Ordering::Relaxed)
    );
    println!("| | ferrodon CPU | {fanout_cpu:.2} s | |");
    println!(
        "| ingest of {total} Create(Note) from {} actors, {} in flight | fully processed | {rate:.0} /s ({processed_s:.2} s) | ≥ 2,000 /s {} |",
        o.hosts,
        o.concurrency,
        if ingest_ok { "MET" } else { "MISSED" }
    );
    println!(
        "| | accepted (202) | {accepted} of {total} in {accepted_s:.2} s ({:.0} /s) | |",
        accepted as f64 / accepted_s
    );
    println!(
        "| | POST latency p50 / p99 | {:.1} / {:.1} ms | |",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    println!("| | stored | {stored} | |");
    println!("| | ferrodon CPU | {ingest_cpu:.2} s ({:.0} % of one core) | |", 100.0 * ingest_cpu / processed_s);
    println!(
        "\n{} CPUs; {engine}; the remote hosts run in this process, on the same cores as ferrodon.",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    drop(server);
    if o.check && !(fanout_ok && ingest_ok) {
        std::process::exit(1);
    }
}
