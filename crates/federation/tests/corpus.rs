//! Every document of the corpus under `tests/fixtures/<software>/` (real ActivityPub JSON from
//! other server software, sources in `fixtures/SOURCES.md`) is read the way the inbox and the
//! fetcher read it, from its bytes: actors become accounts, post-like objects become posts,
//! activities become what they mean. A document we cannot read is a document some server
//! really sends. What each reading yields is checked against the JSON itself, read with the
//! `Value` helpers.

use std::path::{Path, PathBuf};

use ferrodon_domain::model::{
    Activity, FollowRef, PUBLIC_AUDIENCE, ReceivedPost, RemoteAccount, Undone, Updated, Visibility, visibility_of,
};
use ferrodon_federation::protocol::{
    self, ACTOR_TYPES, POST_TYPES, has_type, id_of, ids_of, read_activity, read_actor, read_actor_value, read_post,
    read_post_value, types,
};
use serde_json::Value;

/// The activity types every document of must read as something applied (not `Unsupported`),
/// unless its object is not one ferrodon applies.
const APPLIED: &[&str] = &[
    "Create", "Update", "Delete", "Follow", "Accept", "Reject", "Undo", "Like", "Announce", "Block", "Move", "Flag",
    "Add", "Remove",
];
/// Activity types read, but not applied (yet).
const NOT_APPLIED: &[&str] = &["EmojiReact", "Dislike"];

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

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

fn check_actor(doc: &Value, a: &RemoteAccount) -> Result<(), String> {
    if a.username.is_empty() || a.inbox_url.is_empty() {
        return Err("an actor without username or inbox".into());
    }
    if Some(a.uri.as_str()) != id_of(doc) {
        return Err(format!("actor uri {} is not the document's id", a.uri));
    }
    Ok(())
}

fn check_post(doc: &Value, p: &ReceivedPost) -> Result<(), String> {
    if Some(p.uri.as_str()) != id_of(doc) || Some(p.author.as_str()) != doc.get("attributedTo").and_then(id_of) {
        return Err(format!("post {} by {} does not match its document", p.uri, p.author));
    }
    let addressed = ids_of(doc.get("to")).len() + ids_of(doc.get("cc")).len();
    if p.addressed().count() != addressed || p.addressed().any(|a| a != PUBLIC_AUDIENCE && protocol::is_public(a)) {
        return Err(format!("addressing {:?} {:?} does not match its document", p.to, p.cc));
    }
    Ok(())
}

/// Whether two readings of the post `doc` are the same. What the document does not say is
/// "now" (a post without `published`, a poll without an end): not compared.
fn same_post(doc: &Value, a: &ReceivedPost, mut b: ReceivedPost) -> bool {
    if protocol::time(doc, "published").is_none() {
        b.created_at = a.created_at;
    }
    if let (Some(pa), Some(pb)) = (&a.poll, &mut b.poll)
        && protocol::time(doc, "endTime").is_none()
        && protocol::time(doc, "closed").is_none()
    {
        pb.expires_at = pa.expires_at;
    }
    *a == b
}

/// Whether a document of an applied type may still read as `Unsupported`: its object is not
/// something that type applies to.
fn unsupported_object(doc: &Value) -> bool {
    let object = doc.get("object").unwrap_or(&Value::Null);
    if has_type(doc, &["Create"]) {
        return !has_type(object, POST_TYPES);
    }
    if has_type(doc, &["Update"]) {
        return !has_type(object, POST_TYPES) && !has_type(object, ACTOR_TYPES);
    }
    if has_type(doc, &["Accept", "Reject"]) {
        return object.is_object() && !types(object).is_empty() && !has_type(object, &["Follow"]);
    }
    false
}

/// Checks what an activity was read as against its JSON.
fn check_activity(doc: &Value, actor: &str, activity: &Activity) -> Result<(), String> {
    let id = id_of(doc).map(str::to_string);
    let object = doc.get("object").unwrap_or(&Value::Null);
    let object_id = id_of(object).map(str::to_string);
    let target = doc.get("target").and_then(id_of).map(str::to_string);
    let is = |a: &Option<String>, b: &String| a.as_ref() == Some(b);
    if Some(actor) != doc.get("actor").and_then(id_of) {
        return Err(format!("actor {actor} is not the document's"));
    }
    let matches = match activity {
        Activity::Follow { id: i, object: o } => is(&id, i) && is(&object_id, o),
        Activity::Accept { object: f } | Activity::Reject { object: f } => match object {
            Value::String(s) => *f == FollowRef { id: Some(s.clone()), actor: None },
            _ => f.id == object_id && f.actor == object.get("actor").and_then(id_of).map(str::to_string),
        },
        Activity::Undo { object: undone } => {
            let inner = object.get("object").and_then(id_of).map(str::to_string);
            match undone {
                Undone::Follow { object: o } => has_type(object, &["Follow"]) && is(&inner, o),
                Undone::Like { object: o } => has_type(object, &["Like"]) && is(&inner, o),
                Undone::Block { object: o } => has_type(object, &["Block"]) && is(&inner, o),
                Undone::Announce { id: i } => has_type(object, &["Announce"]) && is(&object_id, i),
                Undone::Other { id: i } => {
                    !has_type(object, &["Follow", "Like", "Block", "Announce"]) && *i == object_id
                }
            }
        }
        Activity::Create { object: p } => {
            check_post(object, p)?;
            // The same post as when it is fetched by itself.
            same_post(object, p, read_post(&bytes(object)).map_err(|e| e.message)?)
        }
        Activity::Update { object: Updated::Post(p) } => {
            check_post(object, p)?;
            same_post(object, p, read_post(&bytes(object)).map_err(|e| e.message)?)
        }
        Activity::Update { object: Updated::Actor(a) } => {
            check_actor(object, a)?;
            *a == read_actor(&bytes(object)).map_err(|e| e.message)?
        }
        Activity::Delete { object: o } | Activity::Like { object: o } | Activity::Block { object: o } => {
            is(&object_id, o)
        }
        Activity::Announce { id: i, object: o, to, cc, .. } => {
            is(&id, i)
                && is(&object_id, o)
                && to.len() == ids_of(doc.get("to")).len()
                && cc.len() == ids_of(doc.get("cc")).len()
        }
        Activity::Move { object: o, target: t } | Activity::Add { object: o, target: t } => {
            is(&object_id, o) && is(&target, t)
        }
        Activity::Remove { object: o, target: t } => is(&object_id, o) && is(&target, t),
        Activity::Flag { id: i, objects, .. } => is(&id, i) && *objects == ids_of(doc.get("object")),
        Activity::Unsupported { kind } => {
            let applied = has_type(doc, APPLIED);
            if applied && !unsupported_object(doc) {
                return Err(format!("read as Unsupported ({kind})"));
            }
            true
        }
    };
    if !matches {
        return Err(format!("read as {activity:?}, which does not match the document"));
    }
    Ok(())
}

/// Reads one document from its bytes; returns what it was read as.
fn read(doc: &Value, raw: &[u8]) -> Result<&'static str, String> {
    if has_type(doc, ACTOR_TYPES) {
        let a = read_actor(raw).map_err(|e| e.message)?;
        check_actor(doc, &a)?;
        if read_actor_value(doc).map_err(|e| e.message)? != a {
            return Err("read differently from a Value".into());
        }
        return Ok("actor");
    }
    if has_type(doc, POST_TYPES) {
        let p = read_post(raw).map_err(|e| e.message)?;
        check_post(doc, &p)?;
        if !same_post(doc, &p, read_post_value(doc).map_err(|e| e.message)?) {
            return Err("read differently from a Value".into());
        }
        return Ok("post");
    }
    if has_type(doc, APPLIED) || has_type(doc, NOT_APPLIED) {
        let (actor, activity) = read_activity(raw).map_err(|e| e.message)?;
        check_activity(doc, &actor, &activity)?;
        return Ok(match activity {
            Activity::Unsupported { .. } => "activity not applied",
            _ => "activity",
        });
    }
    Ok("other")
}

#[test]
fn every_document_of_the_corpus_is_read() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut all = Vec::new();
    files(&root, &mut all);
    all.sort();
    assert!(all.len() >= 140, "the corpus has only {} documents", all.len());
    let mut failures = Vec::new();
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    for path in &all {
        let raw = std::fs::read(path).unwrap();
        let doc: Value = match serde_json::from_slice(&raw) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{}: not JSON: {e}", path.display()));
                continue;
            }
        };
        match read(&doc, &raw) {
            Ok(kind) => *kinds.entry(kind).or_default() += 1,
            Err(e) => {
                failures.push(format!("{} ({:?}): {e}", path.strip_prefix(&root).unwrap().display(), types(&doc)))
            }
        }
    }
    println!("{} documents: {kinds:?}", all.len());
    assert!(failures.is_empty(), "{} of {} documents not read:\n{}", failures.len(), all.len(), failures.join("\n"));
    // Every kind is there.
    for kind in ["actor", "post", "activity", "activity not applied"] {
        assert!(kinds.get(kind).is_some_and(|n| *n > 0), "no {kind} in {kinds:?}");
    }
}

fn load(relative: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(relative)).unwrap()
}

fn activity(relative: &str) -> Activity {
    read_activity(&load(relative)).unwrap_or_else(|e| panic!("{relative}: {e}")).1
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
    let poll = read_post(&load("misskey/objects-question_no_end_date.json")).unwrap().poll.unwrap();
    assert_eq!(poll.options, ["Working", "Broken af"]);
    assert_eq!(poll.votes, [0, 1]);
    // A Misskey actor.
    let aimu = read_actor(&load("misskey/objects-person.json")).unwrap();
    assert_eq!(aimu.username, "aimu");
    // A GoToSocial actor: locked, with its two profile fields.
    let turtle = read_actor(&load("gotosocial/objects-person.json")).unwrap();
    assert_eq!((turtle.username.as_str(), turtle.locked), ("1happyturtle", true));
    let fields: Vec<Value> = serde_json::from_str(&turtle.fields_json).unwrap();
    assert_eq!(fields.len(), 2, "{fields:?}");
}

#[test]
fn mastodon_attachments_and_poll_counts_are_read() {
    let Activity::Create { object: note } = activity("mastodon/activities-create_with_attachment.json") else {
        panic!("not a Create")
    };
    assert_eq!(note.media.len(), 1);
    assert_eq!(note.media[0].kind, "image");
    assert!(note.media[0].url.ends_with("/334ce029e7bfb920.jpg"), "{:?}", note.media[0]);
    let Activity::Create { object: question } = activity("mastodon/activities-create_question.json") else {
        panic!("not a Create")
    };
    let poll = question.poll.unwrap();
    assert_eq!(poll.votes, [0, 1, 0, 1]);
    // Single choice without votersCount: one voter per vote.
    assert_eq!(poll.voters_count, 2);
    assert!(!poll.multiple);
}

#[test]
fn an_undo_names_what_it_takes_back() {
    // An embedded Follow: the account no longer followed.
    assert_eq!(
        activity("mastodon/activities-undo_follow.json"),
        Activity::Undo { object: Undone::Follow { object: "https://ds9.lemmy.ml/c/testcom".into() } }
    );
    // An embedded Like: the post no longer favourited.
    assert!(matches!(
        activity("mastodon/activities-undo_like_page.json"),
        Activity::Undo { object: Undone::Like { .. } }
    ));
    // A Dislike (not applied here): only its id.
    assert_eq!(
        activity("friendica/activities-undo_dislike_page.json"),
        Activity::Undo {
            object: Undone::Other { id: Some("https://pirati.ca/objects/ec054ce7-5762-3ce2-b3e4-87e268433367".into()) }
        }
    );
}

#[test]
fn an_accept_names_the_follow_by_id_or_embedded() {
    // Mitra: only the Follow's id.
    assert_eq!(
        activity("mitra/activities-accept.json"),
        Activity::Accept {
            object: FollowRef {
                id: Some("https://voyager.lemmy.ml/activities/follow/7d782f02-b91d-4455-b6c0-772540f00c2d".into()),
                actor: None
            }
        }
    );
    // Mbin: the Follow embedded, with the follower.
    let Activity::Accept { object } = activity("mbin/activities-accept.json") else { panic!("not an Accept") };
    assert_eq!(object.actor.as_deref(), Some("https://some-other.instance/u/someUser"));
}

#[test]
fn an_announce_keeps_its_addressing() {
    let Activity::Announce { id, object, to, cc, published } = activity("peertube/activities-announce_video.json")
    else {
        panic!("not an Announce")
    };
    assert!(id.ends_with("/announces/299"));
    assert_eq!(object, "https://tilvids.com/videos/watch/e7946124-7b72-4ad7-9d22-844a84bb2de1");
    assert_eq!(to, [PUBLIC_AUDIENCE]);
    assert_eq!(cc, ["https://tilvids.com/accounts/thelinuxexperiment/followers"]);
    assert_eq!(published, None);
    assert_eq!(visibility_of(&to, &cc, ""), Visibility::Public);
    assert_eq!(visibility_of(&cc, &[], ""), Visibility::Private);
}

#[test]
fn a_flag_names_every_object_and_its_comment() {
    let Activity::Flag { id, objects, content } = activity("mastodon/activities-flag.json") else {
        panic!("not a Flag")
    };
    assert_eq!(id, "https://mastodon.example/ccb4f39a-506a-490e-9a8c-71831c7713a4");
    assert_eq!(
        objects,
        ["https://example.com/users/1", "https://example.com/posts/380590", "https://example.com/posts/380591"]
    );
    assert_eq!(content, "Please take a look at this user and their posts");
}

#[test]
fn activities_of_objects_not_applied_are_named() {
    assert_eq!(
        activity("lemmy/activities-create_or_update-create_private_message_0.19.json"),
        Activity::Unsupported { kind: "Create of ChatMessage".into() }
    );
    assert_eq!(activity("lemmy/activities-community-lock_page.json"), Activity::Unsupported { kind: "Lock".into() });
    // A Lemmy community updating itself: an actor.
    let Activity::Update { object: Updated::Actor(group) } =
        activity("lemmy/activities-community-update_community.json")
    else {
        panic!("not an actor update")
    };
    assert_eq!(group.actor_type, "Group");
}

#[test]
fn an_avatar_given_in_several_sizes_is_the_first() {
    // PeerTube lists its avatars by size, Bridgy its icon and image as lists.
    let peertube = read_actor(&load("peertube/objects-person.json")).unwrap();
    assert_eq!(
        peertube.avatar_remote_url,
        "https://tilvids.com/lazy-static/avatars/e74c2c6b-1f6b-4506-9d03-2cbba1635b20.jpg"
    );
    let channel = read_actor(&load("peertube/objects-group.json")).unwrap();
    assert!(channel.header_remote_url.starts_with("https://tilvids.com/lazy-static/banners/"));
    let bridgy = read_actor(&load("bridgy/objects-person.json")).unwrap();
    assert_eq!(bridgy.avatar_remote_url, "https://jk.nipponalba.scot/images/profile.jpg");
}
