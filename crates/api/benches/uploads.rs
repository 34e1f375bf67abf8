//! Upload benchmark: the resident memory of the server while a 99 MB video is uploaded through
//! `POST /api/v2/media`, which must stay flat (the body is streamed to a file as it arrives,
//! never held), and how fast it is taken.
//!
//! ```text
//! cargo bench -p ferrodon-api --bench uploads [-- --mb 99 --runs 3]
//! ```
//!
//! The whole application runs in this process (the real router, services and SQLite storage,
//! as `ferrodon serve` has them); the body is produced in 64 KB chunks as the upload reads it.
//! The file is an MP4 header followed by filler: it is taken, stored as it came and queued for
//! processing (202), which is what a video upload costs the web process. Resident memory is
//! sampled every 5 ms from /proc/self/status.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
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

/// A multipart body of one `file` part of `size` bytes: an MP4 header, then filler, produced
/// chunk by chunk.
fn body(size: u64) -> (String, Body) {
    let boundary = "b0undary-upload-bench";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.mp4\"\r\n\
         Content-Type: video/mp4\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let mut ftyp = b"\0\0\0\x18ftypisom\0\0\x02\0isomavc1".to_vec();
    ftyp.resize(CHUNK, 0x42);
    let chunks = (size as usize).div_ceil(CHUNK);
    let last = size as usize - (chunks - 1) * CHUNK;
    let stream = futures_util::stream::iter(
        std::iter::once(axum::body::Bytes::from(head))
            .chain((0..chunks).map(move |i| {
                let mut c = if i == 0 { ftyp.clone() } else { vec![0x42; CHUNK] };
                if i == chunks - 1 {
                    c.truncate(last);
                }
                axum::body::Bytes::from(c)
            }))
            .chain(std::iter::once(axum::body::Bytes::from(tail)))
            .map(Ok::<_, std::io::Error>),
    );
    (format!("multipart/form-data; boundary={boundary}"), Body::from_stream(stream))
}

#[tokio::main]
async fn main() {
    let mb = arg("--mb", 99);
    let runs = arg("--runs", 3);
    let app = TestApp::start(Engine::Sqlite).await.expect("SQLite");
    let (_, token) = app.create_user("uploader").await;
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
        let (content_type, body) = body(mb * 1024 * 1024);
        let req = Request::builder()
            .method(Method::POST)
            .uri("/api/v2/media")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", content_type)
            .body(body)
            .unwrap();
        let started = Instant::now();
        let r = app.send(req).await;
        let seconds = started.elapsed().as_secs_f64();
        done.store(true, Ordering::Relaxed);
        sampler.await.unwrap();
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
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
