//! Image processing throughput and memory: 12-megapixel JPEG photos (4000×3000, a noisy
//! gradient so that JPEG compresses it like a photo) through `Processor::process` (original,
//! small and blurhash), one and two at a time, and the peak resident memory while eight are
//! processed at once.
//!
//! Run with `cargo bench -p ferrodon-media --bench images` (release build). Targets on a
//! 2-core machine: at least 10 photos per second with two at a time, at most 250 MB peak RSS.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ferrodon_domain::model::MediaKind;
use ferrodon_domain::ports::{MediaProcessor, Sniffed};
use ferrodon_media::Processor;
use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, ImageEncoder};
use rand::{Rng, SeedableRng};

const WIDTH: u32 = 4000;
const HEIGHT: u32 = 3000;
const PHOTOS: usize = 20;
const TARGET_PER_SECOND: f64 = 10.0;
const TARGET_PEAK_MB: f64 = 250.0;

/// Set in the child process that measures memory: the photo to process.
const CHILD_PHOTO: &str = "FERRODON_MEDIA_BENCH_PHOTO";

fn main() {
    if let Ok(photo) = std::env::var(CHILD_PHOTO) {
        return memory_child(Path::new(&photo));
    }
    let dir = std::env::temp_dir().join(format!("ferrodon-media-bench-{}", std::process::id()));
    let scratch = dir.join("scratch");
    std::fs::create_dir_all(&scratch).expect("bench folder");
    let photo = dir.join("photo.jpg");
    let started = Instant::now();
    let bytes = photo_like_jpeg();
    std::fs::write(&photo, &bytes).expect("photo written");
    println!(
        "input: {WIDTH}×{HEIGHT} JPEG, {:.1} MB (made in {:.1} s); {} CPUs",
        bytes.len() as f64 / 1e6,
        started.elapsed().as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    drop(bytes);

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let processor = Arc::new(Processor::new());
    // Warm up (page cache, allocator, CPU feature detection).
    runtime.block_on(run(&processor, &photo, &scratch, 1, 2));

    let mut rows = Vec::new();
    for concurrent in [1, 2] {
        let started = Instant::now();
        runtime.block_on(run(&processor, &photo, &scratch, concurrent, PHOTOS));
        let per_second = PHOTOS as f64 / started.elapsed().as_secs_f64();
        let target = if concurrent == 2 { format!("≥{TARGET_PER_SECOND}/s") } else { "-".into() };
        let ok = if concurrent == 2 { pass(per_second >= TARGET_PER_SECOND) } else { "" };
        rows.push((format!("12-MP JPEG photos/s, {concurrent} at a time"), format!("{per_second:.2}"), target, ok));
    }

    // Memory in a fresh process: this one's allocator keeps what the runs above freed.
    let child = std::process::Command::new(std::env::current_exe().expect("own path"))
        .env(CHILD_PHOTO, &photo)
        .output()
        .expect("memory run");
    let report = String::from_utf8_lossy(&child.stdout);
    assert!(child.status.success(), "memory run failed: {report}{}", String::from_utf8_lossy(&child.stderr));
    let field = |name: &str| -> f64 {
        report.split_whitespace().find_map(|w| w.strip_prefix(name)?.parse().ok()).expect("memory figures")
    };
    let (baseline, peak, seconds) = (field("baseline="), field("peak="), field("seconds="));
    rows.push((
        format!("peak RSS (MB), 8 at once, whole process ({seconds:.1} s)"),
        format!("{peak:.0}"),
        format!("≤{TARGET_PEAK_MB}"),
        pass(peak <= TARGET_PEAK_MB),
    ));
    rows.push(("RSS before the 8 (MB): runtime and binary".into(), format!("{baseline:.0}"), "-".into(), ""));

    println!();
    println!("| {:<58} | {:>8} | {:>8} | {:<4} |", "measure", "value", "target", "");
    println!("|{:-<60}|{:->10}|{:->10}|{:-<6}|", "", "", "", "");
    for (measure, value, target, ok) in rows {
        println!("| {measure:<58} | {value:>8} | {target:>8} | {ok:<4} |");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Processes 8 photos at once in a fresh process and prints its resident memory before and at
/// its peak.
fn memory_child(photo: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let processor = Arc::new(Processor::new());
    let scratch = photo.parent().expect("bench folder").join("scratch-memory");
    std::fs::create_dir_all(&scratch).expect("scratch");
    let baseline = status_kb("VmRSS") as f64 / 1024.0;
    let started = Instant::now();
    runtime.block_on(run(&processor, photo, &scratch, 8, 8));
    let seconds = started.elapsed().as_secs_f64();
    let peak = status_kb("VmHWM") as f64 / 1024.0;
    println!("baseline={baseline} peak={peak} seconds={seconds}");
}

fn pass(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISS" }
}

/// Processes `total` copies of `photo`, `concurrent` at a time, removing the outputs.
async fn run(processor: &Arc<Processor>, photo: &Path, scratch: &Path, concurrent: usize, total: usize) {
    let sniffed = Sniffed { kind: MediaKind::Image, content_type: "image/jpeg".into() };
    let lanes = (0..concurrent).map(|lane| {
        let (processor, photo, scratch, sniffed) =
            (processor.clone(), photo.to_path_buf(), scratch.to_path_buf(), sniffed.clone());
        let count = total / concurrent + usize::from(lane < total % concurrent);
        tokio::spawn(async move {
            for _ in 0..count {
                let p = processor.process(&photo, &sniffed, &scratch).await.expect("processed");
                let files: Vec<PathBuf> = [Some(p.original), p.small].into_iter().flatten().map(|f| f.path).collect();
                for f in files {
                    let _ = std::fs::remove_file(f);
                }
            }
        })
    });
    for lane in lanes.collect::<Vec<_>>() {
        lane.await.expect("lane");
    }
}

/// A 4000×3000 "photo": smooth light and colour, edges, and sensor-like noise, at quality 92.
fn photo_like_jpeg() -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let mut pixels = Vec::with_capacity((WIDTH * HEIGHT * 3) as usize);
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let (fx, fy) = (x as f32 / WIDTH as f32, y as f32 / HEIGHT as f32);
            let light = 0.5 + 0.5 * ((fx * 9.0).sin() * (fy * 7.0).cos());
            let band = if ((x / 250) + (y / 190)) % 3 == 0 { 40.0 } else { 0.0 };
            let base = [60.0 + 150.0 * fx * light + band, 50.0 + 140.0 * fy * light, 90.0 + 100.0 * light - band];
            for c in base {
                let noise: f32 = rng.random_range(-7.5..7.5);
                pixels.push((c + noise).clamp(0.0, 255.0) as u8);
            }
        }
    }
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 92)
        .write_image(&pixels, WIDTH, HEIGHT, ExtendedColorType::Rgb8)
        .expect("encoded");
    out
}

/// A line of /proc/self/status, in kB.
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':')?.trim().strip_suffix("kB")?.trim().parse().ok())
        .unwrap_or(0)
}
