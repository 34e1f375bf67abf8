//! The layering of docs/architecture.md, held by the build's own description of itself: every
//! workspace crate may depend (for its product code, dev-dependencies aside) only on the crates
//! its layer allows, and the service layer names Mastodon's wire types only where it presents
//! entities. A change that crosses a line fails here, with the line it crossed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// For each workspace crate, the workspace crates its product code may depend on.
const ALLOWED: &[(&str, &[&str])] = &[
    ("kernel", &[]),
    ("config", &["kernel"]),
    ("domain", &["kernel"]),
    ("mastodon-api", &["kernel"]),
    ("service", &["kernel", "config", "domain", "mastodon-api"]),
    ("storage", &["kernel", "config", "domain"]),
    ("queue", &["kernel", "config", "domain"]),
    ("streaming", &["kernel", "config", "domain"]),
    ("federation", &["kernel", "config", "domain", "service"]),
    // The media ports: files on disk (object storage next) and the processing of uploads.
    ("media", &["kernel", "config", "domain"]),
    // The mailer port: mail rendered from its templates and sent over SMTP (or logged).
    ("mail", &["kernel", "config", "domain"]),
    ("api", &["kernel", "config", "domain", "mastodon-api", "service", "federation"]),
    // Dev-only: drives the whole application in tests.
    (
        "testkit",
        &["kernel", "config", "domain", "service", "federation", "media", "mail", "storage", "streaming", "api"],
    ),
    // The composition root: the one crate that names every backend.
    (
        "cli",
        &[
            "kernel",
            "config",
            "domain",
            "mastodon-api",
            "service",
            "federation",
            "media",
            "mail",
            "storage",
            "queue",
            "streaming",
            "api",
        ],
    ),
];

/// Outside crates that belong to one layer only: what the others must not depend on.
const KEPT_TO: &[(&str, &[&str])] = &[
    // HTTP serving: the api crate (and the composition root that serves it).
    ("axum", &["api", "cli", "testkit"]),
    // SQL: the storage backends and the test helpers that make databases; kernel and domain only
    // behind their optional `sqlx` feature, which lets storage decode rows into their types.
    ("sqlx", &["storage", "testkit", "kernel", "domain"]),
    // HTTP client: federation.
    ("reqwest", &["federation"]),
    // Redis: the event bus backend.
    ("redis", &["streaming"]),
    // SMTP: the mailer.
    ("lettre", &["mail"]),
];

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

/// Each workspace crate (by folder name) with the crates its product code depends on.
fn product_dependencies(meta: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for package in meta["packages"].as_array().expect("packages") {
        let name = package["name"].as_str().unwrap().trim_start_matches("ferrodon-").to_string();
        let deps = package["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"].is_null()) // normal dependencies have no kind ("dev", "build")
            .map(|d| d["name"].as_str().unwrap().to_string())
            .collect();
        out.insert(name, deps);
    }
    out
}

#[test]
fn crates_depend_only_on_what_their_layer_allows() {
    let deps = product_dependencies(&metadata());
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut crossings = Vec::new();
    for (krate, uses) in &deps {
        let Some(ok) = allowed.get(krate.as_str()) else {
            crossings.push(format!(
                "{krate}: a new crate, not placed in a layer (add it to ALLOWED and to docs/architecture.md)"
            ));
            continue;
        };
        for dep in uses.iter().filter_map(|d| d.strip_prefix("ferrodon-")) {
            if !ok.contains(&dep) {
                crossings.push(format!("{krate} depends on {dep}, which its layer does not allow"));
            }
        }
        for (outside, owners) in KEPT_TO {
            if uses.contains(*outside) && !owners.contains(&krate.as_str()) {
                crossings.push(format!("{krate} depends on {outside}, which belongs to {}", owners.join(", ")));
            }
        }
    }
    for (krate, _) in ALLOWED {
        assert!(deps.contains_key(*krate), "ALLOWED names {krate}, which is not a workspace crate");
    }
    assert!(crossings.is_empty(), "layering broken:\n{}", crossings.join("\n"));
}

/// The Rust sources under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn mastodon_wire_types_appear_in_the_service_only_where_entities_are_presented() {
    let service = Path::new(env!("CARGO_MANIFEST_DIR")).join("../service/src");
    let present = service.join("present");
    let mut files = Vec::new();
    sources(&service, &mut files);
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| !f.starts_with(&present))
        .filter(|f| {
            // Code that names the crate (a doc comment may mention it).
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .any(|l| !l.trim_start().starts_with("//") && l.contains("mastodon_api"))
        })
        .map(|f| f.strip_prefix(&service).unwrap().display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "Mastodon's entity types are used outside service/src/present/ in: {}",
        offenders.join(", ")
    );
}

#[test]
fn every_crate_shares_the_workspace_lints() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&crates).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest)
            && !text.contains("[lints]\nworkspace = true")
        {
            missing.push(manifest.display().to_string());
        }
    }
    assert!(missing.is_empty(), "without `[lints] workspace = true`: {}", missing.join(", "));
}
