//! Reading received documents, per document of the corpus (`tests/fixtures/`): a measurement,
//! not a test (nothing fails).
//!
//! ```text
//! cargo bench -p ferrodon-federation --bench read
//! ```
//!
//! For the activities of the corpus, and for its `Create(Note)`s alone, it reports the time per
//! document of:
//! - `Value`: `serde_json::from_slice::<Value>`, what the inbox does with a body before queuing it;
//! - `envelope`: [`Envelope::parse`] with the actor and the object's id (what the inbox needs to
//!   check an activity before queuing it);
//! - `typed`: [`read_activity`], the whole activity into a domain `Activity` (post HTML sanitised);
//! - `Value + post`: a `Value` first, then its object read as a post from the `Value`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferrodon_federation::protocol::wire::Envelope;
use ferrodon_federation::protocol::{has_type, read_activity, read_post_value};
use serde_json::Value;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

/// Runs `f` over every document for about a second; returns the time per document.
fn measure(docs: &[Vec<u8>], mut f: impl FnMut(&[u8])) -> Duration {
    let (mut rounds, start) = (0u32, Instant::now());
    while start.elapsed() < Duration::from_secs(1) || rounds < 3 {
        for d in docs {
            f(std::hint::black_box(d));
        }
        rounds += 1;
    }
    start.elapsed() / (rounds * docs.len() as u32)
}

fn report(name: &str, docs: &[Vec<u8>]) {
    let bytes: usize = docs.iter().map(Vec::len).sum();
    println!("{name}: {} documents, {} bytes on average", docs.len(), bytes / docs.len());
    let value = measure(docs, |d| drop(std::hint::black_box(serde_json::from_slice::<Value>(d).unwrap())));
    let envelope = measure(docs, |d| {
        let env = Envelope::parse(d).unwrap();
        std::hint::black_box((env.actor(), env.kind(), env.object_id()));
    });
    let typed = measure(docs, |d| drop(std::hint::black_box(read_activity(d))));
    let value_post = measure(docs, |d| {
        let v: Value = serde_json::from_slice(d).unwrap();
        if let Some(o) = v.get("object").filter(|o| o.is_object()) {
            drop(std::hint::black_box(read_post_value(o)));
        }
    });
    for (what, t) in [("Value", value), ("envelope", envelope), ("typed", typed), ("Value + post", value_post)] {
        println!("  {what:>13}: {:>8.2} µs per document", t.as_secs_f64() * 1e6);
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut paths = Vec::new();
    files(&root, &mut paths);
    paths.sort();
    let mut activities = Vec::new();
    let mut creates = Vec::new();
    for p in paths {
        let raw = std::fs::read(&p).unwrap();
        let Ok(doc) = serde_json::from_slice::<Value>(&raw) else { continue };
        if doc.get("actor").is_none() {
            continue;
        }
        if has_type(&doc, &["Create"]) && doc.get("object").is_some_and(|o| has_type(o, &["Note"])) {
            creates.push(raw.clone());
        }
        activities.push(raw);
    }
    report("activities", &activities);
    report("Create(Note)", &creates);
}
