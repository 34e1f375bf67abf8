//! The streaming API under many connections: the real `ferrodon serve` (release binary, SQLite in
//! a fresh temporary data directory, listening on 127.0.0.1) holds N WebSocket clients, each
//! subscribed to `public:local` and `user`; one account posts K statuses, and the benchmark
//! reports delivery latency (p50 / p99 / max, from the moment the `POST /api/v1/statuses`
//! request is sent to the moment a client has read the `update` frame), lost events, and the
//! server's resident memory per connection, at N = 1,000, 10,000 and 19,900.
//!
//! ```sh
//! cargo bench -p ferrodon-cli --bench streaming                       # 1,000 / 10,000 / 19,900 clients
//! cargo bench -p ferrodon-cli --bench streaming -- --clients 2000 --posts 10
//! ```
//!
//! Target of the issue, at 20,000 clients: p99 ≤ 500 ms and ≤ 30 KB per connection. This machine
//! caps every process at 20,000 open files (`RLIMIT_NOFILE`, hard limit, not raisable here), and
//! the server needs one per socket plus its own (database, listener, epoll): 19,900 is the
//! largest N that fits, and stands in for 20,000. The benchmark refuses N that do not fit the
//! limit it reads from `/proc/self/limits`.
//!
//! Options: `--clients 1000,10000,19900`, `--posts K` (20 measured posts), `--interval-ms MS`
//! (200: the posts are sent on a fixed schedule, open loop, not one after the other's answer),
//! `--users U` (200 accounts with a token, besides the poster), `--per-process N` (10,000: clients
//! per client process), `--connect-concurrency N` (100 handshakes in flight per client
//! process), `--settle-secs S` (3: idle time before reading the connected RSS), `--drain-secs S`
//! (15: how long to wait after the last post for missing events), `--binary PATH` (default: the
//! package's `ferrodon`, built by cargo for this bench), `--workdir DIR` (default a new temporary
//! directory, removed afterwards unless `--keep`), `--json FILE`, `--check` (exit 1 when a target
//! is missed; loss or a failed round always exits 1).
//!
//! How, per N (a fresh server process each time, on the same data set):
//! 1. Once: `ferrodon seed --accounts U+1 --statuses 0 --follows 0 --tokens U+1` writes U+1 users
//!    with access tokens (scopes `read write follow`, as the timeline benchmark's seeding does);
//!    the first is the poster. Every odd-numbered user then follows the poster through
//!    `POST /api/v1/accounts/:id/follow`, so about half the connections get each post twice
//!    (on `public:local` and on `user`) and the others once (only `public:local`; an `update`
//!    on their `user` stream would be counted as unexpected).
//! 2. `ferrodon serve` starts; after `/health` answers, the poster posts one warm-up status
//!    (nobody listens yet), and after a second the **RSS before** is read (`VmRSS`).
//! 3. The benchmark re-executes itself as client processes (`--client`), each holding up to
//!    `--per-process` connections (each needs a file descriptor of its own too) from its own
//!    source address (127.0.R.C, so no two rounds or processes share an ephemeral port range).
//!    Connection i uses the token of user 1 + (i mod U), connects to
//!    `GET /api/v1/streaming?stream=public:local` with `Authorization: Bearer …`, then sends
//!    `{"type":"subscribe","stream":"user"}`. **Connect time** is from starting the client
//!    processes until every connection is established; the handshake p50 / p99 is per
//!    connection.
//! 4. After `--settle-secs` idle, the **RSS connected** is read; per connection = (connected −
//!    before) / N, in KB of 1,024 bytes. Kernel socket buffers are not in the process's RSS; the
//!    notes give the kernel's TCP memory (`/proc/net/sockstat`, both ends of every connection).
//! 5. A warm-up post with everyone connected must reach every connection on every stream it
//!    subscribed to (this proves the `user` subscriptions are in place; up to 30 s), then K posts
//!    go out every `--interval-ms`. Each status text carries a per-run marker and the post's
//!    number; a client timestamps every text frame it reads (`CLOCK_REALTIME`, as the poster
//!    does, all on one machine) and keeps `(post, stream, time)`. After the last post the
//!    benchmark waits until every expected event has arrived or `--drain-secs` pass.
//! 6. The clients close their connections and report every event; the server gets SIGTERM.
//!    Every expected (connection, post, stream) must have arrived exactly once: missing,
//!    duplicate and unexpected events are counted and printed, and make the exit status 1.
//!
//! The clients run on the same two cores as the server: the latency includes the time a client
//! process needs to get to the frame, and the notes under the table say how the cores were shared.

#![allow(unsafe_code)] // libc: clock ticks, page size, open-file limit, signals

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::http::header::AUTHORIZATION;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const TARGET_P99_MS: f64 = 500.0;
const TARGET_KB_PER_CONNECTION: f64 = 30.0;
/// The N the issue names; the largest N measured stands in for it when the file limit is lower.
const TARGET_CLIENTS: usize = 20_000;
/// File descriptors the server uses besides its sockets (SQLite files, listener, epoll, stdio…).
const SERVER_FD_RESERVE: usize = 60;
/// The same for a client process.
const CLIENT_FD_RESERVE: usize = 30;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);
const WARMUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Streams, as clients report them.
const PUBLIC_LOCAL: u8 = 0;
const USER: u8 = 1;
const OTHER_STREAM: u8 = 2;

/// How a client connection ended.
const END_OPEN: u8 = 0; // still open when the benchmark stopped it
const END_CLOSED: u8 = 1; // the server closed it
const END_ERROR: u8 = 2; // a read error
const END_NO_CONNECTION: u8 = 3; // never connected

/// Whether seeded user `u` (1-based; 0 is the poster) follows the poster.
fn follows_poster(user: usize) -> bool {
    user % 2 == 1
}

/// The user whose token client connection `i` uses.
fn user_of(i: usize, users: usize) -> usize {
    1 + i % users
}

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

fn started() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

fn log(message: impl std::fmt::Display) {
    eprintln!("[{:7.1}s] {message}", started().elapsed().as_secs_f64());
}

fn main() {
    started();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let code = if args.first().map(String::as_str) == Some("--client") {
        runtime.block_on(client::main(&args[1..]))
    } else {
        match parse_options(&args) {
            Ok(o) => runtime.block_on(coordinator(o)),
            Err(problem) => {
                eprintln!("{problem}\n\n{USAGE}");
                2
            }
        }
    };
    runtime.shutdown_timeout(Duration::from_secs(1));
    std::process::exit(code);
}

// ---------------------------------------------------------------------------------------------
// Options

const USAGE: &str = "usage: cargo bench -p ferrodon-cli --bench streaming -- [--clients 1000,10000,19900] \
[--posts 20] [--interval-ms 200] [--users 200] [--per-process 10000] [--connect-concurrency 100] \
[--settle-secs 3] [--drain-secs 15] [--binary PATH] [--workdir DIR] [--keep] [--json FILE] [--check]";

#[derive(Clone, Debug)]
struct Options {
    clients: Vec<usize>,
    posts: usize,
    interval: Duration,
    users: usize,
    per_process: usize,
    concurrency: usize,
    settle: Duration,
    drain: Duration,
    binary: PathBuf,
    workdir: Option<PathBuf>,
    keep: bool,
    json: Option<PathBuf>,
    check: bool,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        clients: vec![1_000, 10_000, 19_900],
        posts: 20,
        interval: Duration::from_millis(200),
        users: 200,
        per_process: 10_000,
        concurrency: 100,
        settle: Duration::from_secs(3),
        drain: Duration::from_secs(15),
        binary: PathBuf::from(env!("CARGO_BIN_EXE_ferrodon")),
        workdir: None,
        keep: false,
        json: None,
        check: false,
    };
    let number = |name: &str, v: &str| -> Result<usize, String> {
        v.replace('_', "").parse().map_err(|_| format!("{name}: not a number: {v}"))
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next().cloned()).ok_or_else(|| format!("{flag} needs a value"));
        match flag {
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" => {}
            "--clients" => {
                let v = value()?;
                o.clients = v
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| number("--clients", s.trim()))
                    .collect::<Result<_, _>>()?;
                if o.clients.is_empty() || o.clients.contains(&0) {
                    return Err("--clients: a comma-separated list of positive numbers".into());
                }
            }
            "--posts" => o.posts = number(flag, &value()?)?.max(1),
            "--interval-ms" => o.interval = Duration::from_millis(number(flag, &value()?)? as u64),
            "--users" => o.users = number(flag, &value()?)?.max(1),
            "--per-process" => o.per_process = number(flag, &value()?)?.max(1),
            "--connect-concurrency" => o.concurrency = number(flag, &value()?)?.max(1),
            "--settle-secs" => o.settle = Duration::from_secs(number(flag, &value()?)? as u64),
            "--drain-secs" => o.drain = Duration::from_secs(number(flag, &value()?)?.max(1) as u64),
            "--binary" => o.binary = PathBuf::from(value()?),
            "--workdir" => o.workdir = Some(PathBuf::from(value()?)),
            "--keep" => o.keep = true,
            "--json" => o.json = Some(PathBuf::from(value()?)),
            "--check" => o.check = true,
            "-h" | "--help" => return Err("ferrodon streaming benchmark".into()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let limit = open_files_limit().unwrap_or(1024);
    if o.per_process + CLIENT_FD_RESERVE > limit {
        return Err(format!(
            "--per-process {}: a client process needs one file per connection, and the limit is {limit}",
            o.per_process
        ));
    }
    if let Some(n) = o.clients.iter().find(|&&n| n + SERVER_FD_RESERVE > limit) {
        return Err(format!(
            "--clients {n}: the server needs one file per connection plus about {SERVER_FD_RESERVE}, and the \
             open-file limit (RLIMIT_NOFILE) is {limit}; at most {} fit",
            limit.saturating_sub(SERVER_FD_RESERVE)
        ));
    }
    if o.clients.iter().any(|&n| n.div_ceil(o.per_process) > 250) {
        return Err("too many client processes (one source address each); raise --per-process".into());
    }
    Ok(o)
}

/// The soft `RLIMIT_NOFILE` of this process (inherited by the server and the clients).
fn open_files_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// /proc

fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?;
    line[field.len() + 1..].split_whitespace().next()?.parse().ok()
}

fn rss_kb(pid: u32) -> Option<u64> {
    proc_status_kb(pid, "VmRSS")
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// User + system CPU seconds of a process so far.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

/// CPU seconds the whole machine has been busy (all CPUs: user, nice, system, irq, softirq, steal).
fn machine_busy_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<f64> = line.split_whitespace().skip(1).filter_map(|w| w.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal
    let busy = v.first()?
        + v.get(1)?
        + v.get(2)?
        + v.get(5).unwrap_or(&0.0)
        + v.get(6).unwrap_or(&0.0)
        + v.get(7).unwrap_or(&0.0);
    Some(busy / clock_ticks())
}

/// The kernel's memory for TCP buffers, all sockets of the machine, in KB.
fn kernel_tcp_kb() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/sockstat").ok()?;
    let line = text.lines().find(|l| l.starts_with("TCP:"))?;
    let mut words = line.split_whitespace();
    while let Some(w) = words.next() {
        if w == "mem" {
            let pages: u64 = words.next()?.parse().ok()?;
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u64;
            return Some(pages * page / 1024);
        }
    }
    None
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| t.lines().next()?.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|kb| format!("{:.1} GB RAM", kb / 1024.0 / 1024.0))
        .unwrap_or_default();
    let kernel =
        std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default();
    format!("{cpus} CPUs ({model}), {memory}, Linux {kernel}")
}

fn git_revision() -> Option<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out =
        std::process::Command::new("git").args(["describe", "--always", "--dirty"]).current_dir(dir).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client for the few REST calls (one connection each, `Connection: close`)

struct HttpResponse {
    status: u16,
    body: String,
}

impl HttpResponse {
    fn json(&self) -> Result<serde_json::Value, String> {
        serde_json::from_str(&self.body)
            .map_err(|e| format!("not JSON ({e}): {}", self.body.chars().take(200).collect::<String>()))
    }
}

fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

async fn http(
    addr: SocketAddr,
    host: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    form: Option<&str>,
) -> Result<HttpResponse, String> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
        let mut request =
            format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nAccept: application/json\r\n");
        if let Some(t) = token {
            let _ = write!(request, "Authorization: Bearer {t}\r\n");
        }
        if let Some(body) = form {
            let _ = write!(
                request,
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            );
        }
        request.push_str("\r\n");
        request.push_str(form.unwrap_or(""));
        stream.write_all(request.as_bytes()).await.map_err(|e| format!("{method} {path}: {e}"))?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.map_err(|e| format!("{method} {path}: {e}"))?;
        Ok::<_, String>(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .map_err(|_| format!("{method} {path}: no answer within 30 s"))??;
    let split =
        raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| format!("{method} {path}: no HTTP response"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{method} {path}: bad status line {head:?}"))?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let mut body = &raw[split + 4..];
    let bytes = if chunked {
        let mut out = Vec::new();
        while let Some(end) = body.windows(2).position(|w| w == b"\r\n") {
            let size_text = String::from_utf8_lossy(&body[..end]);
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
            if size == 0 || body.len() < end + 2 + size {
                break;
            }
            out.extend_from_slice(&body[end + 2..end + 2 + size]);
            body = &body[(end + 4 + size).min(body.len())..];
        }
        out
    } else {
        body.to_vec()
    };
    Ok(HttpResponse { status, body: String::from_utf8_lossy(&bytes).to_string() })
}

// ---------------------------------------------------------------------------------------------
// The server

struct Server {
    child: Child,
    pid: u32,
    addr: SocketAddr,
    host: String,
    log: PathBuf,
}

fn server_env(cmd: &mut Command, data_dir: &Path, port: u16) {
    for key in [
        "DATABASE_URL",
        "DB_HOST",
        "DB_PORT",
        "DB_NAME",
        "DB_USER",
        "DB_PASS",
        "DB_SSLMODE",
        "WEB_DOMAIN",
        "STREAMING_API_BASE_URL",
        "SINGLE_USER_MODE",
    ] {
        cmd.env_remove(key);
    }
    cmd.env("FERRODON_DATA_DIR", data_dir)
        .env("LOCAL_DOMAIN", format!("localhost:{port}"))
        .env("LOCAL_HTTPS", "false")
        .env("BIND", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("RUST_LOG", "warn");
}

/// The child gets `signal` when this process dies, even by SIGKILL (when the destructors that
/// stop it cannot run). Children are spawned from the thread that runs the coordinator
/// (`block_on`), which lives as long as the process.
fn die_with_parent(cmd: &mut Command, signal: libc::c_int) {
    // SAFETY: prctl is async-signal-safe, and the closure touches nothing else.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

impl Server {
    async fn start(o: &Options, data_dir: &Path, port: u16, log_path: &Path) -> Result<Server, String> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
        let mut cmd = Command::new(&o.binary);
        cmd.arg("serve");
        server_env(&mut cmd, data_dir, port);
        cmd.stdin(Stdio::null())
            .stdout(log_file.try_clone().map_err(|e| e.to_string())?)
            .stderr(log_file)
            .kill_on_drop(true);
        die_with_parent(&mut cmd, libc::SIGTERM);
        let child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", o.binary.display()))?;
        let pid = child.id().ok_or("the server exited at once")?;
        let mut server = Server {
            child,
            pid,
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
            host: format!("localhost:{port}"),
            log: log_path.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("the server exited ({status}) before answering /health:\n{}", tail(&server.log)));
            }
            if let Ok(r) = server.get("/health", None).await
                && r.status == 200
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(format!("/health did not answer within 60 s:\n{}", tail(&server.log)));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Result<HttpResponse, String> {
        http(self.addr, &self.host, "GET", path, token, None).await
    }

    async fn post(&self, path: &str, token: &str, form: &str) -> Result<HttpResponse, String> {
        http(self.addr, &self.host, "POST", path, Some(token), Some(form)).await
    }

    fn alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("the server died ({status}):\n{}", tail(&self.log))),
            Err(e) => Err(format!("the server: {e}")),
        }
    }

    /// SIGTERM, then SIGKILL after 30 s. Returns the exit code.
    async fn stop(mut self) -> Result<Option<i32>, String> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(format!("the server had exited already ({status}):\n{}", tail(&self.log)));
        }
        // SAFETY: kill(2) on our own child's pid, which has not been reaped yet (try_wait above).
        unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGTERM) };
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(Ok(status)) => Ok(status.code()),
            _ => {
                let _ = self.child.start_kill();
                let _ = self.child.wait().await;
                Err("the server did not stop within 30 s of SIGTERM; killed".into())
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Client processes, seen from the coordinator

struct ClientProc {
    child: Child,
    pid: u32,
    stdin: ChildStdin,
    lines: mpsc::UnboundedReceiver<String>,
    count: usize,
}

/// What a client process reports when its connections are up.
#[derive(Default, Clone, Debug)]
struct Ready {
    connected: u64,
    connected_following: u64,
    failed: u64,
    errors: BTreeMap<String, u64>,
}

#[derive(Default, Clone, Copy, Debug)]
struct Counts {
    warm: u64,
    measured: u64,
    ended: u64,
}

/// One connection's report.
struct ClientReport {
    user: usize,
    handshake_us: Option<u64>,
    end: u8,
    other_frames: u64,
    error_frames: u64,
    events: Vec<(u32, u8, i64)>,
}

impl ClientProc {
    #[allow(clippy::too_many_arguments)]
    fn spawn(
        exe: &Path,
        server: SocketAddr,
        source: Ipv4Addr,
        tokens: &Path,
        first: usize,
        count: usize,
        o: &Options,
        marker: &str,
    ) -> Result<ClientProc, String> {
        let mut cmd = Command::new(exe);
        die_with_parent(&mut cmd, libc::SIGKILL);
        let mut child = cmd
            .arg("--client")
            .args(["--addr", &server.to_string()])
            .args(["--source", &source.to_string()])
            .arg("--tokens")
            .arg(tokens)
            .args(["--first", &first.to_string()])
            .args(["--count", &count.to_string()])
            .args(["--users", &o.users.to_string()])
            .args(["--concurrency", &o.concurrency.to_string()])
            .args(["--marker", marker])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start a client process: {e}"))?;
        let pid = child.id().ok_or("a client process exited at once")?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(ClientProc { child, pid, stdin, lines, count })
    }

    async fn line(&mut self, prefix: &str, timeout: Duration) -> Result<String, String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Err(_) => return Err(format!("a client process did not answer {prefix} within {timeout:?}")),
                Ok(None) => {
                    let status = self.child.try_wait().ok().flatten();
                    return Err(format!("a client process ended ({status:?}) before {prefix}"));
                }
                Ok(Some(line)) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return Ok(rest.trim().to_string());
                    }
                }
            }
        }
    }

    async fn send(&mut self, command: &str) -> Result<(), String> {
        self.stdin.write_all(format!("{command}\n").as_bytes()).await.map_err(|e| format!("a client process: {e}"))?;
        self.stdin.flush().await.map_err(|e| format!("a client process: {e}"))
    }

    async fn ready(&mut self, timeout: Duration) -> Result<Ready, String> {
        let text = self.line("READY ", timeout).await?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("READY: {e}"))?;
        let n = |k: &str| v[k].as_u64().unwrap_or(0);
        let errors = v["errors"]
            .as_object()
            .map(|m| m.iter().map(|(k, c)| (k.clone(), c.as_u64().unwrap_or(0))).collect())
            .unwrap_or_default();
        Ok(Ready {
            connected: n("connected"),
            connected_following: n("connected_following"),
            failed: n("failed"),
            errors,
        })
    }

    async fn counts(&mut self) -> Result<Counts, String> {
        self.send("COUNT").await?;
        let text = self.line("COUNT ", Duration::from_secs(10)).await?;
        let n: Vec<u64> = text.split_whitespace().filter_map(|w| w.parse().ok()).collect();
        Ok(Counts {
            warm: n.first().copied().unwrap_or(0),
            measured: n.get(1).copied().unwrap_or(0),
            ended: n.get(2).copied().unwrap_or(0),
        })
    }

    /// Stops the connections and collects every connection's report; waits for the process.
    async fn finish(mut self) -> Result<Vec<ClientReport>, String> {
        self.send("STOP").await?;
        let mut reports = Vec::with_capacity(self.count);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let line = match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Err(_) => return Err("a client process did not report within 120 s".into()),
                Ok(None) => return Err("a client process ended before reporting".into()),
                Ok(Some(line)) => line,
            };
            if line == "DONE" {
                break;
            }
            if let Some(rest) = line.strip_prefix("CLIENT ") {
                reports.push(parse_client_line(rest)?);
            }
        }
        drop(self.stdin);
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(Ok(s)) if s.success() => {}
            Ok(Ok(s)) => log(format!("a client process exited with {s}")),
            _ => {
                let _ = self.child.start_kill();
                let _ = self.child.wait().await;
                log("a client process did not exit within 30 s; killed");
            }
        }
        Ok(reports)
    }
}

/// `CLIENT <index> <user> <handshake µs | -> <end> <other frames> <error frames> <post>:<stream>:<ns> …`
fn parse_client_line(rest: &str) -> Result<ClientReport, String> {
    let bad = || format!("bad CLIENT line: {}", rest.chars().take(100).collect::<String>());
    let mut words = rest.split_ascii_whitespace();
    let _index: usize = words.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
    let user: usize = words.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
    let handshake_us = words.next().ok_or_else(bad)?.parse().ok();
    let end: u8 = words.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
    let other_frames: u64 = words.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
    let error_frames: u64 = words.next().and_then(|w| w.parse().ok()).ok_or_else(bad)?;
    let mut events = Vec::new();
    for w in words {
        let mut parts = w.split(':');
        let k = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let s = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let t = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        events.push((k, s, t));
    }
    Ok(ClientReport { user, handshake_us, end, other_frames, error_frames, events })
}

// ---------------------------------------------------------------------------------------------
// The coordinator

struct Setup {
    workdir: PathBuf,
    remove_workdir: bool,
    data_dir: PathBuf,
    tokens_file: PathBuf,
    log: PathBuf,
    port: u16,
    /// Index 0: the poster; 1..=users: the listeners.
    tokens: Vec<String>,
    poster_id: String,
    marker: String,
}

#[derive(Default, Debug, Clone)]
struct Stats {
    count: usize,
    p50: f64,
    p99: f64,
    max: f64,
}

fn stats(values: &mut [f64]) -> Stats {
    if values.is_empty() {
        return Stats::default();
    }
    values.sort_by(f64::total_cmp);
    let pick = |p: f64| values[((p / 100.0 * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
    Stats { count: values.len(), p50: pick(50.0), p99: pick(99.0), max: values[values.len() - 1] }
}

#[derive(Default, Debug, Clone)]
struct Round {
    clients: usize,
    processes: usize,
    connected: u64,
    connected_following: u64,
    failed: u64,
    connect_errors: BTreeMap<String, u64>,
    connect_secs: f64,
    handshake_ms: Stats,
    warmup_expected: u64,
    warmup_received: u64,
    warmup_secs: f64,
    posts_ok: usize,
    post_failures: Vec<String>,
    post_response_ms: Stats,
    expected: u64,
    received: u64,
    missing: u64,
    duplicates: u64,
    unexpected: u64,
    /// Connections that lost at least one event.
    clients_with_loss: u64,
    ended_early: u64,
    error_frames: u64,
    latency_all: Stats,
    latency_public: Stats,
    latency_user: Stats,
    /// Per post: the time until its last expected delivery, ms.
    post_completion_ms: Stats,
    /// Per measured post (1..=K): its deliveries' latency (count, p50, p99, max).
    per_post: Vec<Stats>,
    drained_secs: f64,
    rss_before_kb: u64,
    rss_connected_kb: u64,
    rss_anon_before_kb: u64,
    rss_anon_connected_kb: u64,
    rss_after_posts_kb: u64,
    hwm_kb: u64,
    kb_per_connection: f64,
    kernel_tcp_before_kb: Option<u64>,
    kernel_tcp_connected_kb: Option<u64>,
    server_cpu_connect: f64,
    server_cpu_posts: f64,
    posts_wall_secs: f64,
    clients_cpu_posts: f64,
    /// CPU seconds of everything else on the machine during the posts.
    other_cpu_posts: f64,
    server_exit: Option<i32>,
    error: Option<String>,
}

async fn coordinator(o: Options) -> i32 {
    let (workdir, remove_workdir) = match &o.workdir {
        Some(d) => (d.clone(), false),
        None => (std::env::temp_dir().join(format!("ferrodon-streaming-bench-{}", std::process::id())), !o.keep),
    };
    let run = async {
        let setup = prepare(&o, workdir.clone(), remove_workdir).await?;
        let mut rounds = Vec::new();
        for (r, &n) in o.clients.iter().enumerate() {
            let round = match measure(&o, &setup, r, n).await {
                Ok(round) => round,
                Err(e) => {
                    log(format!("{n} clients: FAILED: {e}"));
                    Round { clients: n, error: Some(e), ..Round::default() }
                }
            };
            rounds.push(round);
        }
        Ok::<_, String>((setup, rounds))
    };
    let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            log(format!("cannot handle SIGTERM: {e}"));
            return 1;
        }
    };
    let outcome = tokio::select! {
        r = run => r,
        _ = tokio::signal::ctrl_c() => Err("interrupted".to_string()),
        _ = terminate.recv() => Err("terminated".to_string()),
    };
    // Every child process was started with kill_on_drop: when the future above is dropped
    // (interrupt, error), whatever still runs is killed.
    let (setup, rounds) = match outcome {
        Ok(x) => x,
        Err(e) => {
            log(format!("FAILED: {e}"));
            if remove_workdir {
                let _ = std::fs::remove_dir_all(&workdir);
            } else {
                log(format!("work directory kept: {}", workdir.display()));
            }
            return 1;
        }
    };
    let report = render(&o, &setup, &rounds);
    println!("{report}");
    if let Some(path) = &o.json {
        let value = to_json(&o, &setup, &rounds);
        match std::fs::write(path, serde_json::to_string_pretty(&value).unwrap_or_default() + "\n") {
            Ok(()) => log(format!("results written to {}", path.display())),
            Err(e) => log(format!("cannot write {}: {e}", path.display())),
        }
    }
    if setup.remove_workdir {
        let _ = std::fs::remove_dir_all(&setup.workdir);
    } else {
        log(format!("work directory kept: {}", setup.workdir.display()));
    }
    let broken = rounds
        .iter()
        .any(|r| r.error.is_some() || r.missing > 0 || r.duplicates > 0 || r.unexpected > 0 || r.failed > 0);
    let missed = target_checks(&rounds).iter().any(|c| !c.pass);
    if broken || (o.check && missed) { 1 } else { 0 }
}

async fn free_port() -> Result<u16, String> {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("no free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Seeds the accounts and tokens, and makes every odd-numbered user follow the poster.
async fn prepare(o: &Options, workdir: PathBuf, remove_workdir: bool) -> Result<Setup, String> {
    let data_dir = workdir.join("data");
    if data_dir.exists() {
        std::fs::remove_dir_all(&data_dir).map_err(|e| format!("cannot empty {}: {e}", data_dir.display()))?;
    }
    std::fs::create_dir_all(&data_dir).map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    let tokens_file = workdir.join("tokens.txt");
    let log_path = workdir.join("server.log");
    let _ = std::fs::remove_file(&log_path);
    let port = free_port().await?;
    log(format!(
        "binary {}; work directory {}; seeding {} users and the poster",
        o.binary.display(),
        workdir.display(),
        o.users
    ));
    let mut cmd = Command::new(&o.binary);
    server_env(&mut cmd, &data_dir, port);
    let accounts = (o.users + 1).to_string();
    let out = cmd
        .args([
            "seed",
            "--accounts",
            &accounts,
            "--statuses",
            "0",
            "--follows",
            "0",
            "--tokens",
            &accounts,
            "--tokens-file",
        ])
        .arg(&tokens_file)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("cannot run {} seed: {e}", o.binary.display()))?;
    if !out.status.success() {
        return Err(format!(
            "ferrodon seed failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = std::fs::read_to_string(&tokens_file).map_err(|e| format!("{}: {e}", tokens_file.display()))?;
    let tokens: Vec<String> = text.lines().filter_map(|l| l.split_whitespace().nth(1).map(str::to_string)).collect();
    if tokens.len() != o.users + 1 {
        return Err(format!("seed wrote {} tokens, not {}", tokens.len(), o.users + 1));
    }
    // The clients read one token a line, in user order.
    std::fs::write(&tokens_file, tokens.join("\n") + "\n").map_err(|e| e.to_string())?;

    let server = Server::start(o, &data_dir, port, &log_path).await?;
    let result = async {
        let me = server.get("/api/v1/accounts/verify_credentials", Some(&tokens[0])).await?;
        if me.status != 200 {
            return Err(format!("verify_credentials: {} {}", me.status, me.body));
        }
        let poster_id = me.json()?["id"].as_str().ok_or("verify_credentials: no id")?.to_string();
        let mut followers = 0;
        for (u, token) in tokens.iter().enumerate().skip(1) {
            if !follows_poster(u) {
                continue;
            }
            let r = server.post(&format!("/api/v1/accounts/{poster_id}/follow"), token, "").await?;
            if r.status != 200 || r.json()?["following"] != serde_json::Value::Bool(true) {
                return Err(format!("user {u} could not follow the poster: {} {}", r.status, r.body));
            }
            followers += 1;
        }
        log(format!("{followers} of {} users follow the poster", o.users));
        Ok(poster_id)
    }
    .await;
    let stopped = server.stop().await;
    let poster_id = result?;
    stopped?;
    let marker = format!("fsb{:08x}n", (now_ns() as u64 ^ u64::from(std::process::id())) & 0xffff_ffff);
    Ok(Setup { workdir, remove_workdir, data_dir, tokens_file, log: log_path, port, tokens, poster_id, marker })
}

/// Posts status `k` (the marker and the number in its text). Returns the time the request was
/// sent (ns), the response time (ms) and the status id, or why it failed.
async fn post_status(
    server_addr: SocketAddr,
    host: String,
    token: String,
    marker: String,
    k: usize,
    of: usize,
) -> (usize, i64, Result<(f64, String), String>) {
    let text = format!("Streaming benchmark post {marker}{k} of {of}");
    let form = format!("status={}&visibility=public", form_encode(&text));
    let sent = now_ns();
    let t0 = Instant::now();
    let r = http(server_addr, &host, "POST", "/api/v1/statuses", Some(&token), Some(&form)).await;
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    let result = match r {
        Ok(r) if r.status == 200 => match r.json() {
            Ok(v) => Ok((ms, v["id"].as_str().unwrap_or("").to_string())),
            Err(e) => Err(e),
        },
        Ok(r) => Err(format!("POST /api/v1/statuses: {} {}", r.status, r.body.chars().take(200).collect::<String>())),
        Err(e) => Err(e),
    };
    (k, sent, result)
}

async fn sum_counts(procs: &mut [ClientProc]) -> Result<Counts, String> {
    let mut total = Counts::default();
    for p in procs.iter_mut() {
        let c = p.counts().await?;
        total.warm += c.warm;
        total.measured += c.measured;
        total.ended += c.ended;
    }
    Ok(total)
}

async fn measure(o: &Options, setup: &Setup, round: usize, n: usize) -> Result<Round, String> {
    let mut r = Round { clients: n, ..Round::default() };
    log(format!("{n} clients: starting the server"));
    let mut server = Server::start(o, &setup.data_dir, setup.port, &setup.log).await?;
    let poster = setup.tokens[0].clone();
    let (_, _, warm) =
        post_status(server.addr, server.host.clone(), poster.clone(), setup.marker.clone(), 0, o.posts).await;
    warm.map_err(|e| format!("the warm-up post before connecting: {e}"))?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    r.rss_before_kb = rss_kb(server.pid).ok_or("cannot read the server's RSS")?;
    r.rss_anon_before_kb = proc_status_kb(server.pid, "RssAnon").unwrap_or(0);
    r.kernel_tcp_before_kb = kernel_tcp_kb();
    let cpu_before = cpu_seconds(server.pid).unwrap_or(0.0);

    // Connect.
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this benchmark's executable: {e}"))?;
    r.processes = n.div_ceil(o.per_process);
    let per = n.div_ceil(r.processes);
    log(format!("{n} clients: connecting from {} client process(es)", r.processes));
    let connect_started = Instant::now();
    let mut procs = Vec::new();
    for c in 0..r.processes {
        let first = c * per;
        let count = per.min(n - first);
        // A source address per round and process: no two share an ephemeral port range, and
        // the previous round's TIME_WAIT sockets are out of the way.
        let source = Ipv4Addr::new(127, 1 + (round % 250) as u8, 1 + c as u8, 1);
        procs.push(ClientProc::spawn(&exe, server.addr, source, &setup.tokens_file, first, count, o, &setup.marker)?);
    }
    let connect_limit = CONNECT_TIMEOUT + Duration::from_millis(5 * n as u64);
    for p in procs.iter_mut() {
        let ready = p.ready(connect_limit).await?;
        r.connected += ready.connected;
        r.connected_following += ready.connected_following;
        r.failed += ready.failed;
        for (e, c) in ready.errors {
            *r.connect_errors.entry(e).or_default() += c;
        }
    }
    r.connect_secs = connect_started.elapsed().as_secs_f64();
    log(format!("{n} clients: {} connected, {} failed in {:.1} s", r.connected, r.failed, r.connect_secs));
    for (e, c) in &r.connect_errors {
        log(format!("  {c} × {e}"));
    }
    server.alive()?;

    // Idle.
    tokio::time::sleep(o.settle).await;
    r.rss_connected_kb = rss_kb(server.pid).ok_or("cannot read the server's RSS")?;
    r.rss_anon_connected_kb = proc_status_kb(server.pid, "RssAnon").unwrap_or(0);
    r.kernel_tcp_connected_kb = kernel_tcp_kb();
    r.kb_per_connection = (r.rss_connected_kb as f64 - r.rss_before_kb as f64) / n as f64;
    let cpu_connected = cpu_seconds(server.pid).unwrap_or(0.0);
    r.server_cpu_connect = cpu_connected - cpu_before;
    log(format!(
        "{n} clients: RSS {:.1} MB before, {:.1} MB connected: {:.1} KB per connection",
        r.rss_before_kb as f64 / 1024.0,
        r.rss_connected_kb as f64 / 1024.0,
        r.kb_per_connection
    ));

    // The warm-up post with everyone connected: proves the subscriptions are in place.
    r.warmup_expected = r.connected + r.connected_following;
    let warm_started = Instant::now();
    let (_, _, warm) =
        post_status(server.addr, server.host.clone(), poster.clone(), setup.marker.clone(), 0, o.posts).await;
    warm.map_err(|e| format!("the warm-up post: {e}"))?;
    loop {
        let c = sum_counts(&mut procs).await?;
        r.warmup_received = c.warm;
        if c.warm >= r.warmup_expected || warm_started.elapsed() > WARMUP_TIMEOUT {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    r.warmup_secs = warm_started.elapsed().as_secs_f64();
    log(format!(
        "{n} clients: warm-up post delivered {} of {} in {:.2} s",
        r.warmup_received, r.warmup_expected, r.warmup_secs
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The measured posts, on a fixed schedule.
    let cpu_posts_start = cpu_seconds(server.pid).unwrap_or(0.0);
    let clients_cpu_start: f64 = procs.iter().filter_map(|p| cpu_seconds(p.pid)).sum();
    let machine_start = machine_busy_seconds().unwrap_or(0.0);
    let posts_started = Instant::now();
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let mut handles = Vec::new();
    log(format!("{n} clients: {} posts, one every {} ms", o.posts, o.interval.as_millis()));
    for k in 1..=o.posts {
        tokio::time::sleep_until(start + o.interval * (k as u32 - 1)).await;
        handles.push(tokio::spawn(post_status(
            server.addr,
            server.host.clone(),
            poster.clone(),
            setup.marker.clone(),
            k,
            o.posts,
        )));
    }
    let mut sent: Vec<Option<i64>> = vec![None; o.posts + 1];
    let mut response_ms = Vec::new();
    for h in handles {
        let (k, at, result) = h.await.map_err(|e| e.to_string())?;
        match result {
            Ok((ms, _id)) => {
                sent[k] = Some(at);
                response_ms.push(ms);
            }
            Err(e) => r.post_failures.push(format!("post {k}: {e}")),
        }
    }
    r.posts_ok = response_ms.len();
    r.post_response_ms = stats(&mut response_ms);
    r.expected = (r.connected + r.connected_following) * r.posts_ok as u64;
    let last_post = Instant::now();
    loop {
        let c = sum_counts(&mut procs).await?;
        if c.measured >= r.expected || last_post.elapsed() > o.drain {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A moment for duplicates or unexpected events to show up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    r.drained_secs = last_post.elapsed().as_secs_f64();
    r.posts_wall_secs = posts_started.elapsed().as_secs_f64();
    r.server_cpu_posts = cpu_seconds(server.pid).unwrap_or(0.0) - cpu_posts_start;
    r.clients_cpu_posts = procs.iter().filter_map(|p| cpu_seconds(p.pid)).sum::<f64>() - clients_cpu_start;
    let machine = machine_busy_seconds().unwrap_or(0.0) - machine_start;
    r.other_cpu_posts = (machine - r.server_cpu_posts - r.clients_cpu_posts).max(0.0);
    r.rss_after_posts_kb = rss_kb(server.pid).unwrap_or(0);
    r.hwm_kb = proc_status_kb(server.pid, "VmHWM").unwrap_or(0);
    server.alive()?;

    // Collect every connection's events.
    log(format!("{n} clients: closing the connections"));
    let mut reports = Vec::with_capacity(n);
    for p in procs {
        reports.extend(p.finish().await?);
    }
    r.server_exit = server.stop().await?;
    analyse(&mut r, o, &reports, &sent);
    log(format!(
        "{n} clients: {} of {} events, {} missing; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        r.received, r.expected, r.missing, r.latency_all.p50, r.latency_all.p99, r.latency_all.max
    ));
    Ok(r)
}

fn analyse(r: &mut Round, o: &Options, reports: &[ClientReport], sent: &[Option<i64>]) {
    let mut all = Vec::new();
    let mut public = Vec::new();
    let mut user = Vec::new();
    let mut handshakes = Vec::new();
    // Per post: every expected delivery's latency.
    let mut by_post: Vec<Vec<f64>> = vec![Vec::new(); o.posts + 1];
    for c in reports {
        if let Some(us) = c.handshake_us {
            handshakes.push(us as f64 / 1000.0);
        } else {
            continue; // never connected: counted in `failed`
        }
        if c.end == END_CLOSED || c.end == END_ERROR {
            r.ended_early += 1;
        }
        r.error_frames += c.error_frames;
        r.unexpected += c.other_frames;
        let following = follows_poster(c.user);
        // seen[k][stream]
        let mut seen = vec![[false; 2]; o.posts + 1];
        for &(k, s, t) in &c.events {
            let k = k as usize;
            if k == 0 {
                continue; // the warm-up post
            }
            let Some(Some(at)) = sent.get(k) else {
                r.unexpected += 1;
                continue;
            };
            let wanted = s == PUBLIC_LOCAL || (s == USER && following);
            if !wanted {
                r.unexpected += 1;
                continue;
            }
            if seen[k][s as usize] {
                r.duplicates += 1;
                continue;
            }
            seen[k][s as usize] = true;
            r.received += 1;
            let ms = (t - at) as f64 / 1e6;
            all.push(ms);
            if s == PUBLIC_LOCAL {
                public.push(ms)
            } else {
                user.push(ms)
            }
            by_post[k].push(ms);
        }
        let mut lost = 0;
        for (k, s) in seen.iter().enumerate().skip(1) {
            if sent[k].is_none() {
                continue;
            }
            if !s[0] {
                lost += 1;
            }
            if following && !s[1] {
                lost += 1;
            }
        }
        r.missing += lost;
        if lost > 0 {
            r.clients_with_loss += 1;
        }
    }
    r.latency_all = stats(&mut all);
    r.latency_public = stats(&mut public);
    r.latency_user = stats(&mut user);
    r.handshake_ms = stats(&mut handshakes);
    r.per_post = by_post.iter_mut().skip(1).map(|v| stats(v)).collect();
    let mut last: Vec<f64> = r.per_post.iter().filter(|s| s.count > 0).map(|s| s.max).collect();
    r.post_completion_ms = stats(&mut last);
}

// ---------------------------------------------------------------------------------------------
// Report

struct Check {
    what: String,
    value: String,
    pass: bool,
}

/// The issue's targets, checked on the largest N measured (which stands in for 20,000).
fn target_checks(rounds: &[Round]) -> Vec<Check> {
    let Some(r) = rounds.iter().filter(|r| r.error.is_none()).max_by_key(|r| r.clients) else {
        return Vec::new();
    };
    let complete = r.failed == 0 && r.missing == 0 && r.duplicates == 0 && r.unexpected == 0;
    vec![
        Check {
            what: format!("{} clients: delivery p99 ≤ {TARGET_P99_MS:.0} ms", thousands(r.clients as u64)),
            value: format!("{:.1} ms", r.latency_all.p99),
            pass: r.latency_all.count > 0 && r.latency_all.p99 <= TARGET_P99_MS,
        },
        Check {
            what: format!("{} clients: ≤ {TARGET_KB_PER_CONNECTION:.0} KB per connection", thousands(r.clients as u64)),
            value: format!("{:.1} KB", r.kb_per_connection),
            pass: r.kb_per_connection <= TARGET_KB_PER_CONNECTION,
        },
        Check {
            what: format!(
                "{} clients: every connection established, every event delivered once",
                thousands(r.clients as u64)
            ),
            value: format!(
                "{} failed, {} missing, {} duplicate, {} unexpected",
                r.failed, r.missing, r.duplicates, r.unexpected
            ),
            pass: complete,
        },
    ]
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mb(kb: u64) -> String {
    format!("{:.1}", kb as f64 / 1024.0)
}

fn render(o: &Options, setup: &Setup, rounds: &[Round]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "ferrodon streaming benchmark{}: {}",
        git_revision().map(|g| format!(" at {g}")).unwrap_or_default(),
        machine()
    );
    let _ = writeln!(s, "binary: {}", o.binary.display());
    let _ = writeln!(
        s,
        "ferrodon serve on SQLite; {} users with tokens (odd-numbered ones, {}, follow the poster); each \
         connection subscribes to public:local (?stream=) and user (subscribe message); {} posts, one every {} ms; \
         at most {} connections per client process; clients and server share the machine",
        o.users,
        (1..=o.users).filter(|&u| follows_poster(u)).count(),
        o.posts,
        o.interval.as_millis(),
        thousands(o.per_process as u64)
    );
    let limit = open_files_limit().unwrap_or(0);
    let _ = writeln!(
        s,
        "open-file limit per process: {} (hard); the largest N that fits one server process is about {}, so {} \
         stands in for the issue's {}",
        thousands(limit as u64),
        thousands(limit.saturating_sub(SERVER_FD_RESERVE) as u64),
        thousands(rounds.iter().map(|r| r.clients).max().unwrap_or(0) as u64),
        thousands(TARGET_CLIENTS as u64)
    );
    s.push('\n');
    s.push_str(
        "| clients | connected | connect s | handshake p50 / p99 ms | events expected | received | missing | \
         latency p50 ms | p99 ms | max ms | RSS before MB | RSS connected MB | KB / connection | server CPU s connect / posts |\n",
    );
    s.push_str("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for r in rounds {
        if let Some(e) = &r.error {
            let _ = writeln!(
                s,
                "| {} | FAILED: {} | | | | | | | | | | | | |",
                thousands(r.clients as u64),
                e.lines().next().unwrap_or("")
            );
            continue;
        }
        let missing = if r.missing > 0 { format!("**{}**", thousands(r.missing)) } else { "0".into() };
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} | {:.1} / {:.1} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {} | {} | {:.1} | {:.1} / {:.1} |",
            thousands(r.clients as u64),
            thousands(r.connected),
            r.connect_secs,
            r.handshake_ms.p50,
            r.handshake_ms.p99,
            thousands(r.expected),
            thousands(r.received),
            missing,
            r.latency_all.p50,
            r.latency_all.p99,
            r.latency_all.max,
            mb(r.rss_before_kb),
            mb(r.rss_connected_kb),
            r.kb_per_connection,
            r.server_cpu_connect,
            r.server_cpu_posts,
        );
    }
    s.push('\n');
    for r in rounds.iter().filter(|r| r.error.is_none()) {
        let tcp = match (r.kernel_tcp_before_kb, r.kernel_tcp_connected_kb) {
            (Some(a), Some(b)) => format!("; kernel TCP buffers (both ends) {} → {} MB", mb(a), mb(b)),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "- {} clients ({} process{}): p99 by stream public:local {:.1} ms ({} events), user {:.1} ms ({} events); \
             post 1 (after idle) reached all in {:.1} ms, the slowest post in {:.1} ms; POST answered in p50 {:.1} / max {:.1} ms; \
             warm-up post {}/{} in {:.2} s; anonymous RSS {} → {} MB; RSS after the posts {} MB, high-water {} MB{tcp}; \
             during the posts ({:.1} s) server {:.0} %, clients {:.0} %, everything else {:.0} % of one core; \
             {} duplicate, {} unexpected, {} connections ended early, {} error frames{}{}",
            thousands(r.clients as u64),
            r.processes,
            if r.processes == 1 { "" } else { "es" },
            r.latency_public.p99,
            thousands(r.latency_public.count as u64),
            r.latency_user.p99,
            thousands(r.latency_user.count as u64),
            r.per_post.first().map_or(0.0, |s| s.max),
            r.post_completion_ms.max,
            r.post_response_ms.p50,
            r.post_response_ms.max,
            thousands(r.warmup_received),
            thousands(r.warmup_expected),
            r.warmup_secs,
            mb(r.rss_anon_before_kb),
            mb(r.rss_anon_connected_kb),
            mb(r.rss_after_posts_kb),
            mb(r.hwm_kb),
            r.posts_wall_secs,
            100.0 * r.server_cpu_posts / r.posts_wall_secs.max(0.001),
            100.0 * r.clients_cpu_posts / r.posts_wall_secs.max(0.001),
            100.0 * r.other_cpu_posts / r.posts_wall_secs.max(0.001),
            r.duplicates,
            r.unexpected,
            r.ended_early,
            r.error_frames,
            if r.clients_with_loss > 0 {
                format!("; **{} connections lost events**", r.clients_with_loss)
            } else {
                String::new()
            },
            if r.post_failures.is_empty() {
                String::new()
            } else {
                format!("; **post failures: {}**", r.post_failures.join("; "))
            },
        );
        for (e, c) in &r.connect_errors {
            let _ = writeln!(s, "  - connect failure × {c}: {e}");
        }
        if r.server_exit.is_some_and(|c| c != 0) {
            let _ = writeln!(s, "  - the server exited with {:?} after SIGTERM", r.server_exit);
        }
    }
    let busy: Vec<String> = rounds
        .iter()
        .filter(|r| r.error.is_none() && r.other_cpu_posts / r.posts_wall_secs.max(0.001) > 0.2)
        .map(|r| {
            format!(
                "{} clients ({:.0} %)",
                thousands(r.clients as u64),
                100.0 * r.other_cpu_posts / r.posts_wall_secs.max(0.001)
            )
        })
        .collect();
    if !busy.is_empty() {
        let _ = writeln!(
            s,
            "\nWARNING: other processes used more than 20 % of a core during the posts of {}: those latencies understate the server.",
            busy.join(", ")
        );
    }
    s.push('\n');
    s.push_str("Targets (issue: at 20,000 clients, p99 ≤ 500 ms and ≤ 30 KB per connection):\n");
    for c in target_checks(rounds) {
        let _ = writeln!(s, "  {}  {} (measured {})", if c.pass { "PASS" } else { "FAIL" }, c.what, c.value);
    }
    let _ = write!(
        s,
        "\nLatency: POST /api/v1/statuses sent → update frame read by the client (both clocks CLOCK_REALTIME on this \
         machine), every expected delivery counted once. Per connection: (RSS connected − RSS before) / N, VmRSS of \
         the server; kernel socket buffers are not included. Server log: {}",
        if setup.remove_workdir {
            "removed with the work directory (--keep to keep it)".to_string()
        } else {
            setup.log.display().to_string()
        }
    );
    s
}

fn stats_json(s: &Stats) -> serde_json::Value {
    serde_json::json!({ "count": s.count, "p50": s.p50, "p99": s.p99, "max": s.max })
}

fn to_json(o: &Options, setup: &Setup, rounds: &[Round]) -> serde_json::Value {
    let checks: Vec<serde_json::Value> = target_checks(rounds)
        .into_iter()
        .map(|c| serde_json::json!({ "target": c.what, "measured": c.value, "pass": c.pass }))
        .collect();
    let rounds: Vec<serde_json::Value> = rounds
        .iter()
        .map(|r| {
            serde_json::json!({
                "clients": r.clients,
                "error": r.error,
                "client_processes": r.processes,
                "connected": r.connected,
                "connected_following_poster": r.connected_following,
                "failed": r.failed,
                "connect_errors": r.connect_errors,
                "connect_seconds": r.connect_secs,
                "handshake_ms": stats_json(&r.handshake_ms),
                "warmup": { "expected": r.warmup_expected, "received": r.warmup_received, "seconds": r.warmup_secs },
                "posts_ok": r.posts_ok,
                "post_failures": r.post_failures,
                "post_response_ms": stats_json(&r.post_response_ms),
                "events": {
                    "expected": r.expected, "received": r.received, "missing": r.missing,
                    "duplicates": r.duplicates, "unexpected": r.unexpected,
                    "connections_with_loss": r.clients_with_loss,
                },
                "connections_ended_early": r.ended_early,
                "error_frames": r.error_frames,
                "latency_ms": {
                    "all": stats_json(&r.latency_all),
                    "public_local": stats_json(&r.latency_public),
                    "user": stats_json(&r.latency_user),
                    "post_last_delivery": stats_json(&r.post_completion_ms),
                    "per_post": r.per_post.iter().map(stats_json).collect::<Vec<_>>(),
                },
                "drain_seconds": r.drained_secs,
                "server_rss_kb": {
                    "before": r.rss_before_kb, "connected": r.rss_connected_kb,
                    "anon_before": r.rss_anon_before_kb, "anon_connected": r.rss_anon_connected_kb,
                    "after_posts": r.rss_after_posts_kb, "high_water": r.hwm_kb,
                },
                "kb_per_connection": r.kb_per_connection,
                "kernel_tcp_kb": { "before": r.kernel_tcp_before_kb, "connected": r.kernel_tcp_connected_kb },
                "cpu_seconds": {
                    "server_connect": r.server_cpu_connect, "server_posts": r.server_cpu_posts,
                    "clients_posts": r.clients_cpu_posts, "other_posts": r.other_cpu_posts,
                    "posts_wall": r.posts_wall_secs,
                },
                "server_exit_code": r.server_exit,
            })
        })
        .collect();
    serde_json::json!({
        "machine": machine(),
        "git": git_revision(),
        "binary": o.binary.display().to_string(),
        "settings": {
            "clients": o.clients, "posts": o.posts, "interval_ms": o.interval.as_millis() as u64, "users": o.users,
            "per_process": o.per_process, "connect_concurrency": o.concurrency,
            "settle_seconds": o.settle.as_secs(), "drain_seconds": o.drain.as_secs(),
            "open_files_limit": open_files_limit(), "poster_id": setup.poster_id,
        },
        "targets": { "clients": TARGET_CLIENTS, "p99_ms": TARGET_P99_MS, "kb_per_connection": TARGET_KB_PER_CONNECTION },
        "rounds": rounds,
        "checks": checks,
    })
}

// ---------------------------------------------------------------------------------------------
// A client process: `--client`, started by the coordinator

mod client {
    use super::*;

    struct Config {
        addr: SocketAddr,
        source: Ipv4Addr,
        url: String,
        marker: String,
    }

    #[derive(Default)]
    struct Counters {
        warm: AtomicU64,
        measured: AtomicU64,
        ended: AtomicU64,
    }

    struct Record {
        index: usize,
        user: usize,
        handshake_us: Option<u64>,
        end: u8,
        other: u64,
        errors: u64,
        events: Vec<(u32, u8, i64)>,
    }

    fn arg<'a>(args: &'a [String], name: &str) -> Result<&'a str, String> {
        let i = args.iter().position(|a| a == name).ok_or_else(|| format!("--client needs {name}"))?;
        args.get(i + 1).map(String::as_str).ok_or_else(|| format!("{name} needs a value"))
    }

    fn num(args: &[String], name: &str) -> Result<usize, String> {
        arg(args, name)?.parse().map_err(|_| format!("{name}: not a number"))
    }

    pub async fn main(args: &[String]) -> i32 {
        match run(args).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("client process: {e}");
                1
            }
        }
    }

    async fn open(cfg: &Config, token: &str) -> Result<tokio_tungstenite::WebSocketStream<TcpStream>, String> {
        let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
        socket.bind(SocketAddr::new(IpAddr::V4(cfg.source), 0)).map_err(|e| format!("bind {}: {e}", cfg.source))?;
        let stream = socket.connect(cfg.addr).await.map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
        let mut request = cfg.url.as_str().into_client_request().map_err(|e| e.to_string())?;
        let bearer = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| e.to_string())?;
        request.headers_mut().insert(AUTHORIZATION, bearer);
        let config = WebSocketConfig::default().read_buffer_size(8 * 1024).write_buffer_size(0);
        let (mut ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        ws.send(Message::Text(r#"{"type":"subscribe","stream":"user"}"#.into()))
            .await
            .map_err(|e| format!("subscribe: {e}"))?;
        Ok(ws)
    }

    /// The post number after the marker, if the frame is one of this run's posts.
    fn post_number(text: &str, marker: &str) -> Option<u32> {
        let at = text.find(marker)? + marker.len();
        let digits: String = text[at..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    }

    #[allow(clippy::too_many_arguments)]
    async fn connection(
        index: usize,
        user: usize,
        token: Arc<str>,
        cfg: Arc<Config>,
        gate: Arc<Semaphore>,
        mut stop: watch::Receiver<bool>,
        counters: Arc<Counters>,
        ready: mpsc::UnboundedSender<Result<bool, String>>,
    ) -> Record {
        let mut rec =
            Record { index, user, handshake_us: None, end: END_NO_CONNECTION, other: 0, errors: 0, events: Vec::new() };
        let permit = gate.acquire_owned().await;
        let t0 = Instant::now();
        let opened = tokio::time::timeout(CONNECT_TIMEOUT, open(&cfg, &token)).await;
        drop(permit);
        let mut ws = match opened {
            Ok(Ok(ws)) => ws,
            Ok(Err(e)) => {
                let _ = ready.send(Err(e));
                return rec;
            }
            Err(_) => {
                let _ = ready.send(Err(format!("no connection within {CONNECT_TIMEOUT:?}")));
                return rec;
            }
        };
        rec.handshake_us = Some(t0.elapsed().as_micros() as u64);
        rec.end = END_OPEN;
        let _ = ready.send(Ok(follows_poster(user)));
        drop(ready);
        loop {
            tokio::select! {
                _ = stop.changed() => {
                    let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
                    break;
                }
                message = ws.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        let at = now_ns();
                        let text = text.as_str();
                        if text.starts_with("{\"error\"") {
                            rec.errors += 1;
                            continue;
                        }
                        if !text.contains("\"event\":\"update\"") {
                            rec.other += 1;
                            continue;
                        }
                        let stream = if text.contains("\"stream\":[\"public:local\"]") {
                            PUBLIC_LOCAL
                        } else if text.contains("\"stream\":[\"user\"]") {
                            USER
                        } else {
                            OTHER_STREAM
                        };
                        match post_number(text, &cfg.marker) {
                            Some(k) => {
                                rec.events.push((k, stream, at));
                                let counter = if k == 0 { &counters.warm } else { &counters.measured };
                                counter.fetch_add(1, Ordering::Relaxed);
                            }
                            None => rec.other += 1,
                        }
                    }
                    Some(Ok(Message::Close(_))) | None => {
                        rec.end = END_CLOSED;
                        counters.ended.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Some(Ok(_)) => {} // pings (answered by tungstenite), pongs
                    Some(Err(_)) => {
                        rec.end = END_ERROR;
                        counters.ended.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                },
            }
        }
        rec
    }

    async fn run(args: &[String]) -> Result<(), String> {
        let addr: SocketAddr = arg(args, "--addr")?.parse().map_err(|_| "--addr: not an address")?;
        let source: Ipv4Addr = arg(args, "--source")?.parse().map_err(|_| "--source: not an IPv4 address")?;
        let first = num(args, "--first")?;
        let count = num(args, "--count")?;
        let users = num(args, "--users")?.max(1);
        let concurrency = num(args, "--concurrency")?.max(1);
        let marker = arg(args, "--marker")?.to_string();
        let tokens_path = arg(args, "--tokens")?;
        let tokens: Vec<Arc<str>> = std::fs::read_to_string(tokens_path)
            .map_err(|e| format!("{tokens_path}: {e}"))?
            .lines()
            .map(Arc::from)
            .collect();
        if tokens.len() < users + 1 {
            return Err(format!("{tokens_path}: {} tokens, {} needed", tokens.len(), users + 1));
        }
        let cfg =
            Arc::new(Config { addr, source, url: format!("ws://{addr}/api/v1/streaming?stream=public:local"), marker });

        // Commands from the coordinator, one a line; end of input means it is gone.
        let (command_tx, mut commands) = mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::stdin().lines() {
                match line {
                    Ok(l) => {
                        if command_tx.send(l.trim().to_string()).is_err() {
                            return;
                        }
                    }
                    Err(_) => break,
                }
            }
            let _ = command_tx.send("EOF".into());
        });

        let started = Instant::now();
        let gate = Arc::new(Semaphore::new(concurrency));
        let (stop_tx, stop_rx) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
        let mut tasks = Vec::with_capacity(count);
        for index in first..first + count {
            let user = user_of(index, users);
            tasks.push(tokio::spawn(connection(
                index,
                user,
                tokens[user].clone(),
                cfg.clone(),
                gate.clone(),
                stop_rx.clone(),
                counters.clone(),
                ready_tx.clone(),
            )));
        }
        drop(ready_tx);
        let (mut connected, mut following, mut failed) = (0u64, 0u64, 0u64);
        let mut errors: BTreeMap<String, u64> = BTreeMap::new();
        while let Some(r) = ready_rx.recv().await {
            match r {
                Ok(f) => {
                    connected += 1;
                    following += u64::from(f);
                }
                Err(e) => {
                    failed += 1;
                    *errors.entry(e).or_default() += 1;
                }
            }
        }
        let ready = serde_json::json!({
            "connected": connected, "connected_following": following, "failed": failed,
            "elapsed_ms": started.elapsed().as_millis() as u64, "errors": errors,
        });
        println!("READY {ready}");

        while let Some(command) = commands.recv().await {
            match command.as_str() {
                "COUNT" => println!(
                    "COUNT {} {} {}",
                    counters.warm.load(Ordering::Relaxed),
                    counters.measured.load(Ordering::Relaxed),
                    counters.ended.load(Ordering::Relaxed)
                ),
                "STOP" | "EOF" => break,
                _ => {}
            }
        }
        let _ = stop_tx.send(true);
        let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
        for task in tasks {
            let rec = task.await.map_err(|e| e.to_string())?;
            let handshake = rec.handshake_us.map_or("-".to_string(), |us| us.to_string());
            let mut line =
                format!("CLIENT {} {} {handshake} {} {} {}", rec.index, rec.user, rec.end, rec.other, rec.errors);
            for (k, s, t) in &rec.events {
                let _ = write!(line, " {k}:{s}:{t}");
            }
            line.push('\n');
            out.write_all(line.as_bytes()).map_err(|e| e.to_string())?;
        }
        out.write_all(b"DONE\n").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
        Ok(())
    }
}
