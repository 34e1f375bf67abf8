//! Every document of the corpus under `tests/fixtures/<software>/` (real ActivityPub JSON from
//! other server software, sources in `fixtures/SOURCES.md`) is read the way the inbox and the
//! fetcher read it: actors become accounts, post-like objects become statuses, activities name
//! an actor and an object. A document we cannot read is a document some server really sends.

use std::path::{Path, PathBuf};

use ferrodon_federation::protocol::{has_type, id_of, types};
use ferrodon_federation::resolve::{actor_to_remote, parse_object};
use serde_json::Value;

const ACTORS: &[&str] = &["Person", "Service", "Group", "Application", "Organization"];
const POSTS: &[&str] = &["Note", "Question", "Article", "Page"];
const ACTIVITIES: &[&str] = &[
    "Create",
    "Update",
    "Delete",
    "Follow",
    "Accept",
    "Reject",
    "Undo",
    "Like",
    "Announce",
    "Block",
    "Move",
    "Flag",
    "Add",
    "Remove",
    "EmojiReact",
    "Dislike",
];

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") && path.file_name().is_some_and(|n| n != "index.json") {
            out.push(path);
        }
    }
}

/// Checks one document; returns what it was read as.
fn read(doc: &Value) -> Result<&'static str, String> {
    if has_type(doc, ACTORS) {
        let a = actor_to_remote(doc).map_err(|e| e.message)?;
        if a.username.is_empty() || a.inbox_url.is_empty() {
            return Err("an actor without username or inbox".into());
        }
        return Ok("actor");
    }
    if has_type(doc, POSTS) {
        let followers = doc.get("attributedTo").and_then(id_of).map(|a| format!("{a}/followers")).unwrap_or_default();
        parse_object(doc, &followers).map_err(|e| e.message)?;
        return Ok("post");
    }
    if has_type(doc, ACTIVITIES) {
        if doc.get("actor").and_then(id_of).is_none() {
            return Err("an activity without actor".into());
        }
        let object = doc.get("object").ok_or("an activity without object")?;
        if id_of(object).is_none() && !object.is_object() {
            return Err("an object that is neither a reference nor a document".into());
        }
        if object.is_object() {
            read(object)?;
        }
        return Ok("activity");
    }
    Ok("other")
}

#[test]
fn every_document_of_the_corpus_is_read() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut all = Vec::new();
    files(&root, &mut all);
    all.sort();
    assert!(all.len() >= 50, "the corpus has only {} documents", all.len());
    let mut failures = Vec::new();
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    for path in &all {
        let text = std::fs::read_to_string(path).unwrap();
        let doc: Value = match serde_json::from_str(&text) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{}: not JSON: {e}", path.display()));
                continue;
            }
        };
        match read(&doc) {
            Ok(kind) => *kinds.entry(kind).or_default() += 1,
            Err(e) => {
                failures.push(format!("{} ({:?}): {e}", path.strip_prefix(&root).unwrap().display(), types(&doc)))
            }
        }
    }
    println!("{} documents: {kinds:?}", all.len());
    assert!(failures.is_empty(), "{} of {} documents not read:\n{}", failures.len(), all.len(), failures.join("\n"));
}

fn load(relative: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(relative);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn the_corpus_covers_the_servers_we_federate_with() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for software in [
        "mastodon",
        "gotosocial",
        "misskey",
        "pleroma",
        "lemmy",
        "peertube",
        "friendica",
        "mitra",
        "bookwyrm",
        "hubzilla",
    ] {
        let mut found = Vec::new();
        files(&root.join(software), &mut found);
        assert!(!found.is_empty(), "no document of {software}");
    }
}

#[test]
fn misskey_and_gotosocial_documents_read_as_mastodon_would() {
    // A Misskey poll without an end date, with its counts.
    let poll = parse_object(&load("misskey/objects-question_no_end_date.json"), "").unwrap();
    assert_eq!(poll.poll.unwrap().options, ["Working", "Broken af"]);
    assert_eq!(poll.poll_counts.unwrap().votes, [0, 1]);
    // A Misskey actor.
    let aimu = actor_to_remote(&load("misskey/objects-person.json")).unwrap();
    assert_eq!(aimu.username, "aimu");
    // A GoToSocial actor: locked, with its two profile fields.
    let turtle = actor_to_remote(&load("gotosocial/objects-person.json")).unwrap();
    assert_eq!((turtle.username.as_str(), turtle.locked), ("1happyturtle", true));
    let fields: Vec<Value> = serde_json::from_str(&turtle.fields_json).unwrap();
    assert_eq!(fields.len(), 2, "{fields:?}");
}

#[test]
fn mastodon_attachments_and_poll_counts_are_read() {
    let create = load("mastodon/activities-create_with_attachment.json");
    let note = parse_object(&create["object"], "").unwrap();
    assert_eq!(note.media.len(), 1);
    assert_eq!(note.media[0].kind, "image");
    assert!(note.media[0].url.ends_with("/334ce029e7bfb920.jpg"), "{:?}", note.media[0]);
    let question = parse_object(&load("mastodon/activities-create_question.json")["object"], "").unwrap();
    let counts = question.poll_counts.unwrap();
    assert_eq!(counts.votes, [0, 1, 0, 1]);
    // Single choice without votersCount: one voter per vote.
    assert_eq!(counts.voters_count, 2);
}
