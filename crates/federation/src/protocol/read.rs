//! Received documents read into what they mean: an activity into a domain [`Activity`], a post
//! into a [`ReceivedPost`], an actor into a [`RemoteAccount`]. Straight from the bytes (no
//! `serde_json::Value` of the whole document), with remote HTML sanitised here and nothing
//! resolved: references stay URIs.
//!
//! What is an error: a document that is not JSON, an activity without actor or type, and one
//! without what its type needs (a Like without object, an Announce without id...). An activity
//! of a type, or with an object, that ferrodon does not apply is no error: it reads as
//! [`Activity::Unsupported`].

use ferrodon_domain::model::{
    Activity, FollowRef, PUBLIC_AUDIENCE, ReceivedPoll, ReceivedPost, RemoteAccount, RemoteEmoji, StatusMedia, Undone,
    Updated,
};
use ferrodon_kernel::time::now_ms;
use ferrodon_kernel::{Error, Result};
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use super::tolerant::{Node, Ref, Refs, Types};
use super::wire::{Actor, Attachment, Embedded, Envelope, Object, Tag, Typed};
use super::{authority, is_public};
use crate::sanitize;

/// The types read as posts when an activity creates or updates them.
pub const POST_TYPES: &[&str] = &["Note", "Question", "Article", "Page"];
/// The types of actors.
pub const ACTOR_TYPES: &[&str] = &["Person", "Service", "Group", "Application", "Organization"];
/// The activity types read into an [`Activity`] other than `Unsupported`.
pub const ACTIVITY_TYPES: &[&str] = &[
    "Follow", "Accept", "Reject", "Undo", "Create", "Update", "Delete", "Like", "Announce", "Block", "Move", "Flag",
    "Add", "Remove",
];
/// Types whose `name` is their title, shown when they have no content.
const TITLED_TYPES: &[&str] = &["Article", "Page", "Event", "Video"];
/// At most this many attachments of a remote post are kept (Mastodon's limit).
const MAX_REMOTE_MEDIA: usize = 4;
/// At most this many profile fields of a remote actor are kept.
const MAX_FIELDS: usize = 16;
const MAX_DISPLAY_NAME: usize = 100;
/// A poll without an end closes after a day.
const DEFAULT_POLL_DURATION: i64 = 86_400_000;

/// "a" or "an", before an activity type.
fn article(kind: &str) -> &'static str {
    if kind.starts_with(['A', 'E', 'I', 'O', 'U']) { "an" } else { "a" }
}

fn invalid(why: impl Into<String>) -> Error {
    Error::validation(why)
}

/// Reads an activity (a verified inbox request's body): its actor's URI, and what it means.
pub fn read_activity(body: &[u8]) -> Result<(String, Activity)> {
    Envelope::parse(body)?.read()
}

/// Reads a post-like document (fetched, or embedded in an activity). Any type reads; a caller
/// that takes only some checks them first ([`POST_TYPES`] is what a Create may carry).
pub fn read_post(json: &[u8]) -> Result<ReceivedPost> {
    serde_json::from_slice::<Object>(json).map_err(|e| invalid(format!("not a post: {e}")))?.into_post()
}

/// [`read_post`] of a document already parsed (a `Value` has lost the order of a `contentMap`:
/// its language is then the first in alphabetical order).
pub fn read_post_value(doc: &Value) -> Result<ReceivedPost> {
    Object::deserialize_from(doc)?.into_post()
}

/// Reads an actor document into the account to store.
pub fn read_actor(json: &[u8]) -> Result<RemoteAccount> {
    serde_json::from_slice::<Actor>(json).map_err(|e| invalid(format!("not an actor: {e}")))?.into_account()
}

/// [`read_actor`] of a document already parsed.
pub fn read_actor_value(doc: &Value) -> Result<RemoteAccount> {
    Actor::deserialize_from(doc)?.into_account()
}

trait FromValue: Sized {
    fn deserialize_from(doc: &Value) -> Result<Self>;
}

impl<T: DeserializeOwned> FromValue for T {
    fn deserialize_from(doc: &Value) -> Result<T> {
        T::deserialize(doc).map_err(|e| invalid(format!("unreadable document: {e}")))
    }
}

/// The full IRI for every spelling of the public collection.
fn audience(refs: Refs) -> Vec<String> {
    refs.0.into_iter().map(|r| if is_public(&r) { PUBLIC_AUDIENCE.to_string() } else { r }).collect()
}

fn unsupported(kind: &str, object: &Types) -> Activity {
    Activity::Unsupported { kind: format!("{kind} of {}", object.first().unwrap_or("an untyped object")) }
}

impl<'a> Envelope<'a> {
    /// Reads the envelope of an activity; its object is read by [`Envelope::read`].
    pub fn parse(body: &'a [u8]) -> Result<Envelope<'a>> {
        serde_json::from_slice(body).map_err(|e| invalid(format!("not an activity: {e}")))
    }

    /// The actor's URI.
    pub fn actor(&self) -> Option<&str> {
        self.actor.0.as_deref()
    }

    /// The activity's type ([`ACTIVITY_TYPES`] without prefix, else as written).
    pub fn kind(&self) -> &str {
        self.kind.find(ACTIVITY_TYPES).or(self.kind.first()).unwrap_or("")
    }

    /// The id its object names (the object itself, or an embedded object's id).
    pub fn object_id(&self) -> Option<String> {
        self.object.and_then(|raw| serde_json::from_str::<Ref>(raw.get()).ok()).and_then(|r| r.0)
    }

    /// Its object, read as `T`.
    fn object_as<T: DeserializeOwned>(&self, kind: &str) -> Result<T> {
        let raw: &RawValue = self.object.ok_or_else(|| invalid(format!("{} {kind} without object", article(kind))))?;
        serde_json::from_str(raw.get()).map_err(|e| invalid(format!("the object of {} {kind}: {e}", article(kind))))
    }

    /// Its object, which must be embedded, read as `T`.
    fn embedded<T: DeserializeOwned>(&self, kind: &str) -> Result<T> {
        match self.object_as::<Node<T>>(kind)? {
            Node::Object(o) => Ok(o),
            _ => Err(invalid(format!("{} {kind} without an embedded object", article(kind)))),
        }
    }

    fn required_object_id(&self, kind: &str) -> Result<String> {
        self.object_id().ok_or_else(|| invalid(format!("{} {kind} without object", article(kind))))
    }

    fn required_id(&self, kind: &str) -> Result<String> {
        self.id.0.clone().ok_or_else(|| invalid(format!("{} {kind} without id", article(kind))))
    }

    fn required_target(&self, kind: &str) -> Result<String> {
        self.target.0.clone().ok_or_else(|| invalid(format!("{} {kind} without target", article(kind))))
    }

    /// What the activity means, with its actor's URI.
    pub fn read(self) -> Result<(String, Activity)> {
        let actor = self.actor.0.clone().ok_or_else(|| invalid("an activity without actor"))?;
        let Some(kind) = self.kind.find(ACTIVITY_TYPES) else {
            let kind = self.kind.first().ok_or_else(|| invalid("an activity without type"))?;
            return Ok((actor, Activity::Unsupported { kind: kind.to_string() }));
        };
        let activity = match kind {
            "Follow" => Activity::Follow { id: self.required_id(kind)?, object: self.required_object_id(kind)? },
            "Accept" | "Reject" => {
                let follow = match self.object_as::<Node<Embedded>>(kind)? {
                    Node::Link(id) => FollowRef { id: Some(id), actor: None },
                    Node::Object(e) if e.kind.0.is_empty() || e.kind.is_any(&["Follow"]) => {
                        if e.id.0.is_none() && e.actor.0.is_none() {
                            return Err(invalid(format!("{} {kind} of a Follow without id or actor", article(kind))));
                        }
                        FollowRef { id: e.id.0, actor: e.actor.0 }
                    }
                    Node::Object(e) => return Ok((actor, unsupported(kind, &e.kind))),
                    Node::Absent => return Err(invalid(format!("{} {kind} without object", article(kind)))),
                };
                if kind == "Accept" { Activity::Accept { object: follow } } else { Activity::Reject { object: follow } }
            }
            "Undo" => Activity::Undo { object: self.undone()? },
            "Create" => match self.object_as::<Node<Object>>(kind)? {
                Node::Object(o) if o.kind.is_any(POST_TYPES) => Activity::Create { object: o.into_post()? },
                Node::Object(o) => unsupported(kind, &o.kind),
                Node::Link(_) => Activity::Unsupported { kind: "Create of a reference".into() },
                Node::Absent => return Err(invalid("a Create without object")),
            },
            "Update" => match self.object_as::<Node<Typed>>(kind)? {
                Node::Object(t) if t.kind.is_any(ACTOR_TYPES) => {
                    Activity::Update { object: Updated::Actor(self.embedded::<Actor>(kind)?.into_account()?) }
                }
                Node::Object(t) if t.kind.is_any(POST_TYPES) => {
                    Activity::Update { object: Updated::Post(self.embedded::<Object>(kind)?.into_post()?) }
                }
                Node::Object(t) => unsupported(kind, &t.kind),
                Node::Link(_) => Activity::Unsupported { kind: "Update of a reference".into() },
                Node::Absent => return Err(invalid("an Update without object")),
            },
            "Delete" => Activity::Delete { object: self.required_object_id(kind)? },
            "Like" => Activity::Like { object: self.required_object_id(kind)? },
            "Block" => Activity::Block { object: self.required_object_id(kind)? },
            "Announce" => Activity::Announce {
                id: self.required_id(kind)?,
                object: self.required_object_id(kind)?,
                published: self.published.0,
                to: audience(self.to),
                cc: audience(self.cc),
            },
            "Move" => Activity::Move { object: self.required_object_id(kind)?, target: self.required_target(kind)? },
            "Flag" => {
                let objects = self.object_as::<Refs>(kind)?.0;
                if objects.is_empty() {
                    return Err(invalid("a Flag without object"));
                }
                let comment = self.content.0.as_deref().or(self.content_map.first_text()).unwrap_or("");
                Activity::Flag { id: self.required_id(kind)?, objects, content: sanitize::plain(comment) }
            }
            "Add" => Activity::Add { object: self.required_object_id(kind)?, target: self.required_target(kind)? },
            "Remove" => {
                Activity::Remove { object: self.required_object_id(kind)?, target: self.required_target(kind)? }
            }
            other => Activity::Unsupported { kind: other.to_string() },
        };
        Ok((actor, activity))
    }

    /// What an Undo takes back: an embedded activity, or only its id.
    fn undone(&self) -> Result<Undone> {
        let e = match self.object_as::<Node<Embedded>>("Undo")? {
            Node::Link(id) => return Ok(Undone::Other { id: Some(id) }),
            Node::Object(e) => e,
            Node::Absent => return Err(invalid("an Undo without object")),
        };
        let inner =
            |what: &str| e.object.0.clone().ok_or_else(|| invalid(format!("an Undo of a {what} without object")));
        Ok(match e.kind.find(&["Follow", "Like", "Announce", "Block"]) {
            Some("Follow") => Undone::Follow { object: inner("Follow")? },
            Some("Like") => Undone::Like { object: inner("Like")? },
            Some("Block") => Undone::Block { object: inner("Block")? },
            Some("Announce") => {
                Undone::Announce { id: e.id.0.clone().ok_or_else(|| invalid("an Undo of an Announce without id"))? }
            }
            _ => Undone::Other { id: e.id.0 },
        })
    }
}

impl Object {
    /// The post this object is; the visibility follows from `to`/`cc` ([`ReceivedPost::visibility`]).
    pub fn into_post(self) -> Result<ReceivedPost> {
        let poll = poll_of(&self);
        let uri = self.id.0.ok_or_else(|| invalid("a post without id"))?;
        let author = self.attributed_to.0.ok_or_else(|| invalid("a post without attributedTo"))?;
        let mut content = sanitize::html(self.content.0.as_deref().or(self.content_map.first_text()).unwrap_or(""));
        let name = self.name.0.or_else(|| self.name_map.first_text().map(str::to_string));
        if content.is_empty() && self.kind.is_any(TITLED_TYPES) {
            content = sanitize::html(name.as_deref().unwrap_or(""));
        }
        let mut mentions: Vec<String> = Vec::new();
        let mut tags = Vec::new();
        for tag in self.tag.0.iter().filter_map(Node::object) {
            if tag.kind.is_any(&["Mention"]) {
                if let Some(href) = &tag.href.0
                    && !mentions.contains(href)
                {
                    mentions.push(href.clone());
                }
            } else if tag.kind.is_any(&["Hashtag"])
                && let Some(name) = &tag.name.0
            {
                let name = name.trim_start_matches('#');
                if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    tags.push(name.to_string());
                }
            }
        }
        Ok(ReceivedPost {
            url: self.url.0.unwrap_or_else(|| uri.clone()),
            uri,
            author,
            content,
            spoiler_text: sanitize::plain(self.summary.0.as_deref().or(self.summary_map.first_text()).unwrap_or("")),
            sensitive: self.sensitive.0,
            language: self.content_map.first_language().map(str::to_string),
            in_reply_to: self.in_reply_to.0,
            to: audience(self.to),
            cc: audience(self.cc),
            mentions,
            tags,
            created_at: self.published.0.unwrap_or_else(now_ms),
            edited_at: self.updated.0,
            poll,
            media: media_of(&self.attachment.0),
            emojis: emojis_of(&self.tag.0),
            name,
        })
    }
}

/// The attachments of a post, as Mastodon types them.
fn media_of(attachments: &[Node<Attachment>]) -> Vec<StatusMedia> {
    attachments
        .iter()
        .filter_map(Node::object)
        .filter(|a| !a.kind.is_any(&["PropertyValue", "Link", "Note", "Page"]))
        .filter_map(|a| {
            let url = a.url.0.clone()?;
            let media_type = a.media_type.0.as_deref().unwrap_or("");
            let kind = match media_type.split('/').next().unwrap_or("") {
                _ if media_type == "image/gif" => "gifv",
                "image" => "image",
                "video" => "video",
                "audio" => "audio",
                _ if a.kind.is_any(&["Image"]) => "image",
                _ if a.kind.is_any(&["Video"]) => "video",
                _ if a.kind.is_any(&["Audio"]) => "audio",
                _ => "unknown",
            };
            let description =
                a.name.0.as_deref().or(a.name_map.first_text()).or(a.summary.0.as_deref()).map(sanitize::plain);
            Some(StatusMedia {
                kind: kind.to_string(),
                url,
                preview_url: a.icon.0.clone(),
                description: description.filter(|d| !d.is_empty()),
                blurhash: a.blurhash.0.clone(),
                width: a.width.0.filter(|n| *n > 0),
                height: a.height.0.filter(|n| *n > 0),
                content_type: a.media_type.0.clone(),
                ..Default::default()
            })
        })
        .take(MAX_REMOTE_MEDIA)
        .collect()
}

/// The custom emoji a post's `tag` names (`Emoji` with a valid shortcode and an icon).
fn emojis_of(tags: &[Node<Tag>]) -> Vec<RemoteEmoji> {
    let mut out: Vec<RemoteEmoji> = Vec::new();
    for tag in tags.iter().filter_map(Node::object).filter(|t| t.kind.is_any(&["Emoji"])) {
        let Some(name) = &tag.name.0 else { continue };
        let shortcode = name.trim_matches(':');
        let valid = !shortcode.is_empty() && shortcode.chars().all(|c| c.is_alphanumeric() || c == '_');
        if let (true, Some(url)) = (valid, &tag.icon.0)
            && !out.iter().any(|e| e.shortcode == shortcode)
        {
            out.push(RemoteEmoji { shortcode: shortcode.to_string(), url: url.clone() });
        }
    }
    out
}

/// A `Question`'s poll: the choices of `oneOf` (single choice) or else `anyOf` (multiple),
/// each option's votes in `replies.totalItems`, and `votersCount` (for a single-choice poll
/// without it, the sum of the votes; for a multiple-choice one, the largest count).
fn poll_of(o: &Object) -> Option<ReceivedPoll> {
    if !o.kind.is_any(&["Question"]) {
        return None;
    }
    let (choices, multiple) = if !o.one_of.0.is_empty() { (&o.one_of.0, false) } else { (&o.any_of.0, true) };
    let named: Vec<(&str, i64)> = choices
        .iter()
        .filter_map(Node::object)
        .filter_map(|c| {
            let votes = c.replies.object().and_then(|r| r.total_items.0).unwrap_or(0).max(0);
            Some((c.name.0.as_deref()?, votes))
        })
        .collect();
    if named.is_empty() {
        return None;
    }
    let votes: Vec<i64> = named.iter().map(|(_, v)| *v).collect();
    let voters_count = match o.voters_count.0 {
        Some(n) => n.max(0),
        None if !multiple => votes.iter().sum(),
        None => votes.iter().copied().max().unwrap_or(0),
    };
    Some(ReceivedPoll {
        options: named.iter().map(|(name, _)| sanitize::plain(name)).collect(),
        multiple,
        expires_at: o.end_time.0.or(o.closed.0).unwrap_or_else(|| now_ms() + DEFAULT_POLL_DURATION),
        votes,
        voters_count,
    })
}

/// A profile field as kept (`fields_json`).
#[derive(serde::Serialize)]
struct ProfileField {
    name: String,
    value: String,
}

impl Actor {
    /// The account this actor is (its `id` gives the domain).
    pub fn into_account(self) -> Result<RemoteAccount> {
        let bad = |why: &str| invalid(format!("not a usable actor: {why}"));
        if !self.kind.is_any(ACTOR_TYPES) {
            return Err(bad("wrong type"));
        }
        let uri = self.id.0.ok_or_else(|| bad("no id"))?;
        let domain = authority(&uri).ok_or_else(|| bad("id is not a URL"))?;
        let username =
            self.preferred_username.0.filter(|u| !u.is_empty()).ok_or_else(|| bad("no preferredUsername"))?;
        let inbox_url = self.inbox.0.ok_or_else(|| bad("no inbox"))?;
        let key = self.public_key.0.iter().filter_map(Node::object).find(|k| k.public_key_pem.0.is_some());
        let fields: Vec<ProfileField> = self
            .attachment
            .0
            .iter()
            .filter_map(Node::object)
            .filter(|f| f.kind.is_any(&["PropertyValue"]))
            .filter_map(|f| {
                Some(ProfileField {
                    name: sanitize::plain(f.name.0.as_deref()?),
                    value: sanitize::html(f.value.0.as_deref()?),
                })
            })
            .take(MAX_FIELDS)
            .collect();
        let display_name = self.name.0.as_deref().or(self.name_map.first_text()).unwrap_or("");
        Ok(RemoteAccount {
            username,
            domain,
            actor_type: self.kind.first().unwrap_or("Person").to_string(),
            display_name: sanitize::plain(display_name).chars().take(MAX_DISPLAY_NAME).collect(),
            note: sanitize::html(self.summary.0.as_deref().or(self.summary_map.first_text()).unwrap_or("")),
            fields_json: serde_json::to_string(&fields).unwrap_or_else(|_| "[]".into()),
            locked: self.manually_approves_followers.0,
            bot: self.kind.is_any(&["Service", "Application"]),
            discoverable: self.discoverable.0,
            indexable: self.indexable.0,
            shared_inbox_url: self.endpoints.object().and_then(|e| e.shared_inbox.0.clone()).unwrap_or_default(),
            inbox_url,
            outbox_url: self.outbox.0.unwrap_or_default(),
            followers_url: self.followers.0.unwrap_or_default(),
            featured_url: self.featured.0.unwrap_or_default(),
            avatar_remote_url: self.icon.0.unwrap_or_default(),
            header_remote_url: self.image.0.unwrap_or_default(),
            public_key_pem: key.and_then(|k| k.public_key_pem.0.clone()).unwrap_or_default(),
            key_id: key.and_then(|k| k.id.0.clone()).unwrap_or_default(),
            created_at: self.published.0,
            also_known_as: self.also_known_as.0,
            emojis_json: serde_json::to_string(&emojis_of(&self.tag.0)).unwrap_or_else(|_| "[]".into()),
            url: self.url.0.unwrap_or_else(|| uri.clone()),
            uri,
        })
    }
}

#[cfg(test)]
mod tests {
    use ferrodon_domain::model::Visibility;
    use serde_json::json;

    use super::*;

    const ACTOR: &str = "https://remote.example/users/a";

    fn activity(doc: Value) -> Result<Activity> {
        read_activity(doc.to_string().as_bytes()).map(|(actor, a)| {
            assert_eq!(actor, ACTOR);
            a
        })
    }

    fn post(doc: Value) -> ReceivedPost {
        let from_bytes = read_post(doc.to_string().as_bytes()).unwrap();
        let from_value = read_post_value(&doc).unwrap();
        assert_eq!(ReceivedPost { created_at: from_bytes.created_at, ..from_value }, from_bytes);
        from_bytes
    }

    fn note() -> Value {
        json!({
            "id": "https://remote.example/notes/1",
            "type": "Note",
            "attributedTo": ACTOR,
            "content": "<p>Hi</p>",
            "to": ["as:Public"],
            "cc": [{"id": "https://remote.example/users/a/followers"}],
            "published": "2024-01-02T03:04:05Z",
        })
    }

    #[test]
    fn what_each_activity_needs() {
        let base = |kind: &str, extra: Value| {
            let mut doc = json!({"id": "https://remote.example/activities/1", "type": kind, "actor": ACTOR});
            doc.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            doc
        };
        let object = json!({"object": "https://here.example/users/b"});
        assert_eq!(
            activity(base("Follow", object.clone())).unwrap(),
            Activity::Follow {
                id: "https://remote.example/activities/1".into(),
                object: "https://here.example/users/b".into()
            }
        );
        assert_eq!(
            activity(base("as:Like", json!({"object": {"id": "https://here.example/statuses/1", "type": "Note"}})))
                .unwrap(),
            Activity::Like { object: "https://here.example/statuses/1".into() }
        );
        assert_eq!(
            activity(base("Delete", json!({"object": {"type": "Tombstone", "id": "https://remote.example/notes/1"}})))
                .unwrap(),
            Activity::Delete { object: "https://remote.example/notes/1".into() }
        );
        assert_eq!(
            activity(base("Move", json!({"object": ACTOR, "target": {"id": "https://new.example/users/a"}}))).unwrap(),
            Activity::Move { object: ACTOR.into(), target: "https://new.example/users/a".into() }
        );
        assert_eq!(
            activity(base(
                "Remove",
                json!({"object": "https://remote.example/notes/1", "target": "https://remote.example/featured"})
            ))
            .unwrap(),
            Activity::Remove {
                object: "https://remote.example/notes/1".into(),
                target: "https://remote.example/featured".into()
            }
        );
        // Missing what the type needs: an error each, never a panic.
        for (doc, why) in [
            (json!({"type": "Like", "object": "https://x/1"}), "an activity without actor"),
            (json!({"actor": ACTOR, "object": "https://x/1"}), "an activity without type"),
            (base("Like", json!({})), "a Like without object"),
            (base("Like", json!({"object": {"type": "Note"}})), "a Like without object"),
            (base("Block", json!({"object": null})), "a Block without object"),
            (json!({"type": "Follow", "actor": ACTOR, "object": "https://x/1"}), "a Follow without id"),
            (json!({"type": "Announce", "actor": ACTOR, "object": "https://x/1"}), "an Announce without id"),
            (json!({"type": "Flag", "actor": ACTOR, "object": "https://x/1"}), "a Flag without id"),
            (base("Flag", json!({"object": []})), "a Flag without object"),
            (base("Move", object.clone()), "a Move without target"),
            (base("Add", object.clone()), "an Add without target"),
            (base("Undo", json!({"object": {"type": "Follow", "actor": ACTOR}})), "an Undo of a Follow without object"),
            (base("Undo", json!({"object": {"type": "Announce"}})), "an Undo of an Announce without id"),
            (base("Accept", json!({"object": {"type": "Follow"}})), "an Accept of a Follow without id or actor"),
            (base("Create", json!({"object": {"type": "Note", "id": "https://x/1"}})), "a post without attributedTo"),
            (
                base("Update", json!({"object": {"type": "Person", "id": ACTOR}})),
                "not a usable actor: no preferredUsername",
            ),
        ] {
            let e = activity(doc.clone()).expect_err(&doc.to_string());
            assert!(e.message.starts_with(why), "{doc}: {}", e.message);
        }
        assert!(read_activity(b"<html>").unwrap_err().message.starts_with("not an activity"));
        assert!(read_activity(b"[1, 2]").is_err());
        // Other types, or a known type whose object we do not apply: named.
        for (doc, kind) in [
            (base("EmojiReact", object.clone()), "EmojiReact"),
            (base("Create", json!({"object": {"type": "ChatMessage", "id": "https://x/1"}})), "Create of ChatMessage"),
            (base("Create", json!({"object": "https://x/1"})), "Create of a reference"),
            (base("Update", json!({"object": {"type": "Tombstone"}})), "Update of Tombstone"),
            (base("Accept", json!({"object": {"type": "Invite", "id": "https://x/1"}})), "Accept of Invite"),
        ] {
            assert_eq!(activity(doc).unwrap(), Activity::Unsupported { kind: kind.into() });
        }
    }

    #[test]
    fn undo_and_accept_with_embedded_or_bare_objects() {
        let undo = |object: Value| activity(json!({"type": "Undo", "actor": ACTOR, "object": object})).unwrap();
        let follow = json!({"id": "https://remote.example/f/1", "type": "Follow", "actor": ACTOR, "object": {"id": "https://here.example/users/b", "type": "Person"}});
        assert_eq!(
            undo(follow.clone()),
            Activity::Undo { object: Undone::Follow { object: "https://here.example/users/b".into() } }
        );
        assert_eq!(
            undo(json!({"type": "Like", "object": "https://here.example/statuses/1"})),
            Activity::Undo { object: Undone::Like { object: "https://here.example/statuses/1".into() } }
        );
        assert_eq!(
            undo(json!([{"type": "Announce", "id": "https://remote.example/announces/1"}])),
            Activity::Undo { object: Undone::Announce { id: "https://remote.example/announces/1".into() } }
        );
        assert_eq!(
            undo(json!({"type": "Block", "object": "https://here.example/users/b"})),
            Activity::Undo { object: Undone::Block { object: "https://here.example/users/b".into() } }
        );
        assert_eq!(
            undo(json!("https://remote.example/announces/2")),
            Activity::Undo { object: Undone::Other { id: Some("https://remote.example/announces/2".into()) } }
        );
        assert_eq!(undo(json!({"type": "EmojiReact"})), Activity::Undo { object: Undone::Other { id: None } });
        let answer =
            |kind: &str, object: Value| activity(json!({"type": kind, "actor": ACTOR, "object": object})).unwrap();
        assert_eq!(
            answer("Reject", json!("https://here.example/users/b#follows/7")),
            Activity::Reject {
                object: FollowRef { id: Some("https://here.example/users/b#follows/7".into()), actor: None }
            }
        );
        assert_eq!(
            answer("Accept", json!({"type": "Follow", "actor": {"id": "https://here.example/users/b"}})),
            Activity::Accept { object: FollowRef { id: None, actor: Some("https://here.example/users/b".into()) } }
        );
        // No type at all: an embedded reference.
        assert_eq!(
            answer("Accept", json!({"id": "https://here.example/users/b#follows/8"})),
            Activity::Accept {
                object: FollowRef { id: Some("https://here.example/users/b#follows/8".into()), actor: None }
            }
        );
    }

    #[test]
    fn announce_and_flag() {
        let a = activity(json!({
            "id": "https://remote.example/announces/1", "type": ["Announce"], "actor": {"id": ACTOR, "type": "Person"},
            "object": {"id": "https://here.example/statuses/1", "type": "Note", "content": "embedded"},
            "to": "Public", "cc": ["https://remote.example/users/a/followers", "as:Public"],
            "published": "2024-01-02T03:04:05Z",
        }))
        .unwrap();
        assert_eq!(
            a,
            Activity::Announce {
                id: "https://remote.example/announces/1".into(),
                object: "https://here.example/statuses/1".into(),
                to: vec![PUBLIC_AUDIENCE.into()],
                cc: vec!["https://remote.example/users/a/followers".into(), PUBLIC_AUDIENCE.into()],
                published: Some(1_704_164_645_000),
            }
        );
        let f = activity(json!({
            "id": "https://remote.example/flags/1", "type": "Flag", "actor": ACTOR,
            "object": ["https://here.example/users/b", {"id": "https://here.example/statuses/1"}],
            "contentMap": {"en": "<b>spam</b> & more"},
        }))
        .unwrap();
        assert_eq!(
            f,
            Activity::Flag {
                id: "https://remote.example/flags/1".into(),
                objects: vec!["https://here.example/users/b".into(), "https://here.example/statuses/1".into()],
                content: "spam & more".into(),
            }
        );
    }

    #[test]
    fn create_and_update_carry_a_post_or_an_actor() {
        let Activity::Create { object: p } =
            activity(json!({"type": "Create", "actor": ACTOR, "object": note()})).unwrap()
        else {
            panic!("not a Create")
        };
        assert_eq!(p, post(note()));
        let Activity::Update { object: Updated::Post(p) } =
            activity(json!({"type": "Update", "actor": ACTOR, "object": [note()]})).unwrap()
        else {
            panic!("not an Update of a post")
        };
        assert_eq!(p.uri, "https://remote.example/notes/1");
        let person = json!({"id": ACTOR, "type": "Person", "preferredUsername": "a", "inbox": "https://remote.example/users/a/inbox"});
        let Activity::Update { object: Updated::Actor(a) } =
            activity(json!({"type": "Update", "actor": ACTOR, "object": person})).unwrap()
        else {
            panic!("not an Update of an actor")
        };
        assert_eq!((a.username.as_str(), a.domain.as_str()), ("a", "remote.example"));
    }

    #[test]
    fn a_post_read_leniently() {
        let p = post(note());
        assert_eq!(p.to, [PUBLIC_AUDIENCE]);
        assert_eq!(p.cc, ["https://remote.example/users/a/followers"]);
        assert_eq!(p.visibility("https://remote.example/users/a/followers"), Visibility::Public);
        assert_eq!(p.created_at, 1_704_164_645_000);
        assert_eq!((p.url.as_str(), p.content.as_str()), ("https://remote.example/notes/1", "<p>Hi</p>"));
        let p = post(json!({
            "id": "https://remote.example/articles/1",
            "type": ["Article"],
            "attributedTo": [{"type": "Person", "id": ACTOR}, {"type": "Group", "id": "https://remote.example/g"}],
            "nameMap": {"de": "Titel"},
            "summaryMap": {"de": "<i>Achtung</i>"},
            "sensitive": "true",
            "url": [{"type": "Link", "mediaType": "text/html", "href": "https://remote.example/a/1"}],
            "inReplyTo": {"id": "https://here.example/statuses/1"},
            "tag": [
                {"type": "Mention", "href": "https://here.example/users/b"},
                {"type": "Mention", "href": "https://here.example/users/b"},
                {"type": "Hashtag", "name": "#Rust_lang"},
                {"type": "Hashtag", "name": "#not valid"},
                {"type": "Emoji", "name": ":blob:", "icon": {"type": "Image", "url": "https://remote.example/blob.png"}},
                {"type": "Emoji", "name": ":blob:", "icon": {"url": "https://remote.example/other.png"}},
                {"type": "Emoji", "name": ":no-icon:"},
                "https://remote.example/tags/a-string",
            ],
            "attachment": {"type": "Document", "mediaType": "image/png", "url": "https://remote.example/1.png",
                           "name": "a <b>cat</b>", "width": "640", "height": 0, "blurhash": "UABC"},
            "updated": "2024-01-03T00:00:00Z",
            "unknownField": {"with": ["anything"]},
        }));
        assert_eq!(p.author, ACTOR);
        assert_eq!(p.content, "Titel");
        assert_eq!(p.name.as_deref(), Some("Titel"));
        assert_eq!(p.spoiler_text, "Achtung");
        assert!(p.sensitive);
        assert_eq!(p.language, None);
        assert_eq!(p.url, "https://remote.example/a/1");
        assert_eq!(p.in_reply_to.as_deref(), Some("https://here.example/statuses/1"));
        assert_eq!(p.mentions, ["https://here.example/users/b"]);
        assert_eq!(p.tags, ["Rust_lang"]);
        assert_eq!(p.emojis, [RemoteEmoji { shortcode: "blob".into(), url: "https://remote.example/blob.png".into() }]);
        assert_eq!(
            p.media,
            [StatusMedia {
                kind: "image".into(),
                url: "https://remote.example/1.png".into(),
                preview_url: None,
                description: Some("a cat".into()),
                blurhash: Some("UABC".into()),
                width: Some(640),
                height: None,
                content_type: Some("image/png".into()),
                ..Default::default()
            }]
        );
        assert_eq!(p.edited_at, Some(1_704_240_000_000));
        assert!(p.to.is_empty() && p.cc.is_empty());
        assert_eq!(p.visibility(""), Visibility::Direct);
        // contentMap: the content and its language; a vote's name.
        let p = post(json!({"id": "https://x/1", "type": "Note", "attributedTo": ACTOR, "name": "yes",
                            "contentMap": {"fr": "<p>Salut <script>x</script></p>"}}));
        assert_eq!(
            (p.content.as_str(), p.language.as_deref(), p.name.as_deref()),
            ("<p>Salut </p>", Some("fr"), Some("yes"))
        );
        assert!(read_post(b"{\"type\": \"Note\"}").unwrap_err().message.contains("without id"));
        assert!(read_post(b"\"https://x/1\"").is_err());
    }

    #[test]
    fn attachments_as_mastodon_types_them() {
        let p = post(json!({"id": "https://x/1", "type": "Note", "attributedTo": ACTOR, "attachment": [
            {"type": "Document", "mediaType": "image/gif", "url": "https://x/a.gif"},
            {"type": "Video", "url": [{"type": "Link", "href": "https://x/v.mp4"}], "icon": "https://x/v.png"},
            {"type": "Document", "mediaType": "audio/ogg", "url": {"href": "https://x/a.ogg"}, "summary": "sound"},
            {"type": "PropertyValue", "name": "a field", "value": "not media"},
            {"type": "Document", "url": "javascript:alert(1)"},
            "https://x/bare-string",
            {"type": "Document", "mediaType": "application/pdf", "url": "https://x/d.pdf"},
            {"type": "Image", "url": "https://x/fifth.png"},
        ]}));
        let kinds: Vec<&str> = p.media.iter().map(|m| m.kind.as_str()).collect();
        assert_eq!(kinds, ["gifv", "video", "audio", "unknown"]);
        assert_eq!(p.media[1].preview_url.as_deref(), Some("https://x/v.png"));
        assert_eq!(p.media[2].description.as_deref(), Some("sound"));
    }

    fn question(choices: &str, voters: Option<Value>) -> Value {
        let mut doc = json!({
            "id": "https://remote.example/users/a/statuses/1",
            "type": "Question",
            "attributedTo": ACTOR,
            "content": "<p>which?</p>",
            "endTime": "2030-01-01T00:00:00Z",
        });
        doc[choices] = json!([
            {"type": "Note", "name": "yes", "replies": {"type": "Collection", "totalItems": 3}},
            {"type": "Note", "name": "<b>no</b>", "replies": {"type": "Collection", "totalItems": "1"}},
            {"type": "Note", "replies": {"totalItems": 5}},
        ]);
        if let Some(n) = voters {
            doc["votersCount"] = n;
        }
        doc
    }

    #[test]
    fn a_question_reports_its_counts() {
        let poll = post(question("oneOf", Some(json!(4)))).poll.unwrap();
        assert_eq!(poll.options, ["yes", "no"]);
        assert_eq!((poll.votes, poll.voters_count, poll.multiple), (vec![3, 1], 4, false));
        assert_eq!(poll.expires_at, 1_893_456_000_000);
        // Without votersCount: a single-choice poll has one voter per vote; a multiple-choice
        // one at least as many as its most chosen option.
        assert_eq!(post(question("oneOf", None)).poll.unwrap().voters_count, 4);
        let poll = post(question("anyOf", None)).poll.unwrap();
        assert_eq!((poll.multiple, poll.voters_count), (true, 3));
        assert_eq!(post(question("anyOf", Some(json!("2")))).poll.unwrap().voters_count, 2);
        // A Note has no poll, and a Question without named choices none either.
        let mut doc = question("oneOf", Some(json!(4)));
        doc["type"] = json!("Note");
        assert_eq!(post(doc).poll, None);
        let mut doc = question("oneOf", None);
        doc["oneOf"] = json!([{"type": "Note"}]);
        assert_eq!(post(doc).poll, None);
    }

    #[test]
    fn an_actor_read_leniently() {
        let doc = json!({
            "id": "https://remote.example:8443/users/a",
            "type": ["Service"],
            "preferredUsername": ["a"],
            "nameMap": {"en": "<b>A</b> bot"},
            "summary": "<p>hello<script>x</script></p>",
            "inbox": {"id": "https://remote.example:8443/users/a/inbox"},
            "endpoints": {"sharedInbox": "https://remote.example:8443/inbox"},
            "publicKey": [{"id": "https://remote.example:8443/users/a#ed25519"},
                          {"id": "https://remote.example:8443/users/a#main-key", "publicKeyPem": "PEM"}],
            "attachment": [
                {"type": "PropertyValue", "name": "<i>site</i>", "value": "<a href=\"https://a\">a</a>"},
                {"type": "PropertyValue", "name": "no value"},
                {"type": "IdentityProof", "name": "x", "value": "y"},
            ],
            "icon": [{"type": "Image", "url": "https://remote.example/small.png"}, {"url": "https://remote.example/big.png"}],
            "image": "https://remote.example/header.png",
            "tag": {"type": "Emoji", "name": ":wave:", "icon": {"type": "Image", "url": "https://remote.example/wave.png"}},
            "manuallyApprovesFollowers": "true",
            "discoverable": true,
            "published": "2024-01-02T03:04:05Z",
        });
        let a = read_actor(doc.to_string().as_bytes()).unwrap();
        assert_eq!(a, read_actor_value(&doc).unwrap());
        assert_eq!(
            (a.username.as_str(), a.domain.as_str(), a.actor_type.as_str()),
            ("a", "remote.example:8443", "Service")
        );
        assert_eq!((a.display_name.as_str(), a.note.as_str()), ("A bot", "<p>hello</p>"));
        assert!(a.bot && a.locked && a.discoverable && !a.indexable);
        assert_eq!(a.inbox_url, "https://remote.example:8443/users/a/inbox");
        assert_eq!(a.shared_inbox_url, "https://remote.example:8443/inbox");
        assert_eq!(
            (a.key_id.as_str(), a.public_key_pem.as_str()),
            ("https://remote.example:8443/users/a#main-key", "PEM")
        );
        let fields: Vec<Value> = serde_json::from_str(&a.fields_json).unwrap();
        assert_eq!(fields, [json!({"name": "site", "value": "<a href=\"https://a\" rel=\"nofollow noopener\">a</a>"})]);
        assert_eq!(a.avatar_remote_url, "https://remote.example/small.png");
        assert_eq!(a.header_remote_url, "https://remote.example/header.png");
        assert_eq!(a.emojis_json, r#"[{"shortcode":"wave","url":"https://remote.example/wave.png"}]"#);
        assert_eq!(a.url, a.uri);
        assert_eq!(a.created_at, Some(1_704_164_645_000));
        for (change, why) in [
            (json!({"type": "Note"}), "wrong type"),
            (json!({"id": null}), "no id"),
            (json!({"id": "not a url"}), "id is not a URL"),
            (json!({"preferredUsername": ""}), "no preferredUsername"),
            (json!({"inbox": null}), "no inbox"),
        ] {
            let mut bad = doc.clone();
            bad.as_object_mut().unwrap().extend(change.as_object().unwrap().clone());
            let e = read_actor(bad.to_string().as_bytes()).unwrap_err();
            assert_eq!(e.message, format!("not a usable actor: {why}"));
        }
    }

    #[test]
    fn the_envelope_answers_before_the_object_is_read() {
        let body = json!({"type": "Delete", "actor": ACTOR, "object": {"id": ACTOR, "type": "Tombstone"}}).to_string();
        let env = Envelope::parse(body.as_bytes()).unwrap();
        assert_eq!((env.actor(), env.kind(), env.object_id().as_deref()), (Some(ACTOR), "Delete", Some(ACTOR)));
        assert_eq!(env.read().unwrap().1, Activity::Delete { object: ACTOR.into() });
    }
}
