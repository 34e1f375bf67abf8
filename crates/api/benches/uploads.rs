//! Upload benchmark: the resident memory of the server while a 99 MB video is uploaded through
//! `POST /api/v2/media`, which must stay flat (the body is streamed to a file as it arrives,
//! never held), and how fast it is taken.
//!
//! ```text
//! cargo bench -p ferrodon-api --bench uploads [-- --mb 99 --runs 3]
//! ```
//!
//! The whole application runs in this process (the real router, services and SQLite storage,
//! served over HTTP on loopback by hyper, as `ferrodon serve` serves it); a client task sends
//! the request over TCP in 64 KB writes, as fast as the server takes them. The file is an MP4
//! header followed by filler: it is taken, stored as it came and queued for processing (202),
//! which is what a video upload costs the web process. Resident memory is sampled every 5 ms
//! from /proc/self/status.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ferrodon_testkit::{Engine, TestApp};

const CHUNK: usize = 64 * 1024;

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(|l| l.to_string()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Sends a `POST /api/v2/media` of one `file` part of `size` bytes (an MP4 header, then
/// filler) over a new connection to `addr`, in 64 KB writes; returns the status line.
async fn post_upload(addr: std::net::SocketAddr, token: &str, size: u64) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let boundary = "b0undary-upload-bench";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.mp4\"\r\n\
         Content-Type: video/mp4\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let length = head.len() as u64 + size + tail.len() as u64;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /api/v2/media HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\
         Connection: close\r\n\r\n{head}"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut chunk = b"\0\0\0\x18ftypisom\0\0\x02\0isomavc1".to_vec();
    chunk.resize(CHUNK, 0x42);
    let mut left = size as usize;
    while left > 0 {
        let n = left.min(CHUNK);
        stream.write_all(&chunk[..n]).await.unwrap();
        chunk[..24].fill(0x42);
        left -= n;
    }
    stream.write_all(tail.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).lines().next().unwrap_or("").to_string()
}

#[tokio::main]
async fn main() {
    let mb = arg("--mb", 99);
    let runs = arg("--runs", 3);
    let app = TestApp::start(Engine::Sqlite).await.expect("SQLite");
    let (_, token) = app.create_user("uploader").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    println!("upload of {mb} MB through POST /api/v2/media, {runs} runs (resident memory of the whole process)");
    println!("{:>4} {:>12} {:>12} {:>12} {:>10} {:>10}", "run", "before MB", "peak MB", "after MB", "seconds", "MB/s");
    for run in 1..=runs {
        let before = rss_kb();
        let peak = Arc::new(AtomicU64::new(before));
        let done = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (peak, done) = (peak.clone(), done.clone());
            tokio::spawn(async move {
                while !done.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_kb(), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        };
        let started = Instant::now();
        let status = post_upload(addr, &token, mb * 1024 * 1024).await;
        let seconds = started.elapsed().as_secs_f64();
        done.store(true, Ordering::Relaxed);
        sampler.await.unwrap();
        assert!(status.contains(" 202 "), "{status}");
        let after = rss_kb();
        let mbf = |kb: u64| kb as f64 / 1024.0;
        println!(
            "{run:>4} {:>12.1} {:>12.1} {:>12.1} {seconds:>10.2} {:>10.0}",
            mbf(before),
            mbf(peak.load(Ordering::Relaxed)),
            mbf(after),
            mb as f64 / seconds
        );
    }
}
