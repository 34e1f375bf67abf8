//! Local data as ActivityPub documents, shaped as Mastodon shapes them (its JSON-LD context,
//! addressing per visibility, activity ids), so every other server reads them as it reads
//! Mastodon's. Pure functions: the service loads what a document shows ([`Post`],
//! [`Outbound`]), these write it.

use ferrodon_domain::model::{Account, LocalActor, Outbound, Post, RemoteEmoji, Status, Visibility};
use ferrodon_kernel::Id;
use ferrodon_kernel::time::{now_ms, rfc3339};
use serde_json::{Value, json};

use crate::protocol::PUBLIC;

/// The `@context` of actors: ActivityStreams, security, and the extension terms we use.
pub fn actor_context() -> Value {
    json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        {
            "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
            "toot": "http://joinmastodon.org/ns#",
            "featured": {"@id": "toot:featured", "@type": "@id"},
            "featuredTags": {"@id": "toot:featuredTags", "@type": "@id"},
            "discoverable": "toot:discoverable",
            "indexable": "toot:indexable",
            "memorial": "toot:memorial",
            "Emoji": "toot:Emoji",
            "schema": "http://schema.org#",
            "PropertyValue": "schema:PropertyValue",
            "value": "schema:value"
        }
    ])
}

/// The `@context` of statuses and activities.
pub fn context() -> Value {
    json!([
        "https://www.w3.org/ns/activitystreams",
        {
            "ostatus": "http://ostatus.org#",
            "atomUri": "ostatus:atomUri",
            "inReplyToAtomUri": "ostatus:inReplyToAtomUri",
            "conversation": "ostatus:conversation",
            "sensitive": "as:sensitive",
            "toot": "http://joinmastodon.org/ns#",
            "votersCount": "toot:votersCount",
            "blurhash": "toot:blurhash",
            "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
            "Hashtag": "as:Hashtag",
            "Emoji": "toot:Emoji"
        }
    ])
}

pub fn inbox(a: &Account) -> String {
    format!("{}/inbox", a.uri)
}
pub fn followers(a: &Account) -> String {
    format!("{}/followers", a.uri)
}
pub fn key_id(a: &Account) -> String {
    format!("{}#main-key", a.uri)
}

/// A local account as an actor (`Person`, or `Service` for bots).
pub fn actor(base: &str, local: &LocalActor) -> Value {
    let (a, public_key_pem) = (&local.account, &local.public_key_pem);
    let fields: Vec<Value> = a
        .fields()
        .into_iter()
        .map(|f| json!({"type": "PropertyValue", "name": f.name, "value": html_escape(&f.value)}))
        .collect();
    let mut doc = json!({
        "@context": actor_context(),
        "id": a.uri,
        "type": if a.bot { "Service" } else { "Person" },
        "following": format!("{}/following", a.uri),
        "followers": followers(a),
        "inbox": inbox(a),
        "outbox": format!("{}/outbox", a.uri),
        "featured": format!("{}/collections/featured", a.uri),
        "featuredTags": format!("{}/collections/tags", a.uri),
        "preferredUsername": a.username,
        "name": a.display_name,
        "summary": a.note,
        "url": a.url,
        "manuallyApprovesFollowers": a.locked,
        "discoverable": a.discoverable,
        "indexable": a.indexable,
        "memorial": false,
        "published": rfc3339(a.created_at - a.created_at.rem_euclid(86_400_000)),
        "publicKey": {"id": key_id(a), "owner": a.uri, "publicKeyPem": public_key_pem},
        "tag": a.emojis().iter().map(|e| emoji_tag(base, e)).collect::<Vec<_>>(),
        "attachment": fields,
        "endpoints": {"sharedInbox": format!("{base}/inbox")},
    });
    for (name, url) in [("icon", &local.icon), ("image", &local.image)] {
        if let Some(url) = url {
            doc[name] = json!({"type": "Image", "mediaType": image_type(url), "url": url});
        }
    }
    if a.suspended_at.is_some() {
        doc["suspended"] = json!(true);
    }
    doc
}

/// A custom emoji as an `Emoji` tag (of a post or an actor).
fn emoji_tag(base: &str, e: &RemoteEmoji) -> Value {
    json!({"id": format!("{base}/emojis/{}", e.shortcode), "type": "Emoji", "name": format!(":{}:", e.shortcode),
        "icon": {"type": "Image", "mediaType": image_type(&e.url), "url": e.url}})
}

/// The type of a stored image, by the extension it was stored with.
fn image_type(url: &str) -> &'static str {
    match url.rsplit('.').next().unwrap_or("") {
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => "image/jpeg",
    }
}

/// The instance actor (`Application`, named after the domain), as Mastodon's `/actor`.
pub fn instance_actor(base: &str, domain: &str, public_key_pem: &str) -> Value {
    let uri = format!("{base}/actor");
    json!({
        "@context": actor_context(),
        "id": uri,
        "type": "Application",
        "inbox": format!("{uri}/inbox"),
        "outbox": format!("{uri}/outbox"),
        "preferredUsername": domain,
        "url": format!("{base}/about/more?instance_actor=true"),
        "manuallyApprovesFollowers": true,
        "publicKey": {"id": format!("{uri}#main-key"), "owner": uri, "publicKeyPem": public_key_pem},
        "endpoints": {"sharedInbox": format!("{base}/inbox")},
    })
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Who a status is addressed to, as Mastodon addresses it.
pub fn audience(visibility: Visibility, author: &Account, mentions: &[String]) -> (Vec<String>, Vec<String>) {
    let followers = followers(author);
    match visibility {
        Visibility::Public => (vec![PUBLIC.into()], [vec![followers], mentions.to_vec()].concat()),
        Visibility::Unlisted => (vec![followers], [vec![PUBLIC.into()], mentions.to_vec()].concat()),
        Visibility::Private => (vec![followers], mentions.to_vec()),
        Visibility::Direct => (mentions.to_vec(), Vec::new()),
    }
}

/// A local status as a `Note` (or `Question` with a poll), without `@context`.
pub fn note(base: &str, post: &Post) -> Value {
    let (s, author) = (&post.status, &post.author);
    let mention_uris: Vec<String> = post.mentioned.iter().map(|a| a.uri.clone()).collect();
    let (to, cc) = audience(s.visibility, author, &mention_uris);
    let parent = &post.in_reply_to;
    let mut tags: Vec<Value> = post
        .mentioned
        .iter()
        .map(|a| json!({"type": "Mention", "href": a.uri, "name": format!("@{}", full_acct(a, base))}))
        .collect();
    tags.extend(s.tags().iter().map(|t| {
        json!({"type": "Hashtag", "href": format!("{base}/tags/{}", t.to_lowercase()), "name": format!("#{}", t.to_lowercase())})
    }));
    tags.extend(s.emojis().iter().map(|e| emoji_tag(base, e)));
    let mut doc = json!({
        "id": s.uri,
        "type": "Note",
        "summary": if s.spoiler_text.is_empty() { Value::Null } else { json!(s.spoiler_text) },
        "inReplyTo": parent,
        "published": rfc3339(s.created_at),
        "url": s.url,
        "attributedTo": author.uri,
        "to": to,
        "cc": cc,
        "sensitive": s.sensitive,
        "atomUri": s.uri,
        "inReplyToAtomUri": parent,
        "conversation": format!("tag:{},{}:objectId={}:objectType=Conversation",
            base.split("://").nth(1).unwrap_or(base), &rfc3339(s.created_at)[..10], s.conversation_id),
        "content": s.content,
        "attachment": attachments(s),
        "tag": tags,
        "replies": {
            "id": format!("{}/replies", s.uri),
            "type": "Collection",
            "first": {"type": "CollectionPage", "next": format!("{}/replies?only_other_accounts=true&page=true", s.uri), "partOf": format!("{}/replies", s.uri), "items": []}
        },
    });
    if let Some(lang) = &s.language {
        doc["contentMap"] = json!({ lang: s.content });
    }
    if let Some(edited) = s.edited_at {
        doc["updated"] = json!(rfc3339(edited));
    }
    if let Some(p) = &post.poll {
        let options: Vec<Value> = p
            .options()
            .into_iter()
            .zip(p.votes())
            .map(|(name, n)| json!({"type": "Note", "name": name, "replies": {"type": "Collection", "totalItems": n}}))
            .collect();
        doc["type"] = json!("Question");
        doc[if p.multiple { "anyOf" } else { "oneOf" }] = json!(options);
        doc["endTime"] = json!(rfc3339(p.expires_at));
        doc["votersCount"] = json!(p.voters_count);
        if p.expired(now_ms()) {
            doc["closed"] = json!(rfc3339(p.expires_at));
        }
    }
    doc
}

/// A post's attachments as Mastodon sends them: `Document`s with the alt text as `name`.
fn attachments(s: &Status) -> Vec<Value> {
    s.media()
        .into_iter()
        .map(|m| {
            let mut doc = json!({
                "type": "Document",
                "mediaType": m.content_type,
                "url": m.url,
                "name": m.description,
                "blurhash": m.blurhash,
            });
            if let Some(f) = m.focus {
                doc["focalPoint"] = json!([f.x, f.y]);
            }
            if let (Some(w), Some(h)) = (m.width, m.height) {
                doc["width"] = json!(w);
                doc["height"] = json!(h);
            }
            doc
        })
        .collect()
}

/// A served post: its Note with `@context`.
pub fn served_note(base: &str, post: &Post) -> Value {
    let mut doc = note(base, post);
    doc["@context"] = context();
    doc
}

/// `user@domain` of an account (local ones with our domain).
fn full_acct(a: &Account, base: &str) -> String {
    if a.is_local() { format!("{}@{}", a.username, base.split("://").nth(1).unwrap_or(base)) } else { a.acct() }
}

/// Wraps an object in an activity of `kind` by `actor`, with the object's audience.
pub fn activity(kind: &str, id: &str, actor: &str, object: Value, to: &[String], cc: &[String]) -> Value {
    let mut doc = json!({
        "@context": context(),
        "id": id,
        "type": kind,
        "actor": actor,
        "object": object,
    });
    if !to.is_empty() {
        doc["to"] = json!(to);
    }
    if !cc.is_empty() {
        doc["cc"] = json!(cc);
    }
    doc
}

/// `Create` of a local status: id `<status>/activity`, published with it.
pub fn create(note: Value, author: &Account) -> Value {
    let id = format!("{}/activity", note["id"].as_str().unwrap_or_default());
    let to = crate::protocol::ids_of(note.get("to"));
    let cc = crate::protocol::ids_of(note.get("cc"));
    let published = note["published"].clone();
    let mut doc = activity("Create", &id, &author.uri, note, &to, &cc);
    doc["published"] = published;
    doc
}

/// The `replies` collection of a local post: its public and unlisted replies (of any account,
/// oldest first), as one `CollectionPage` embedded as `first`, or that page alone (`?page=true`).
pub fn replies(status_uri: &str, items: &[String], page_only: bool) -> Value {
    let collection = format!("{status_uri}/replies");
    let page = json!({
        "id": format!("{collection}?page=true"),
        "type": "CollectionPage",
        "partOf": collection,
        "items": items,
    });
    if page_only {
        let mut page = page;
        page["@context"] = json!("https://www.w3.org/ns/activitystreams");
        return page;
    }
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": collection,
        "type": "Collection",
        "first": page,
    })
}

fn with_context(mut doc: Value) -> Value {
    if let Some(o) = doc.as_object_mut() {
        o.insert("@context".into(), json!("https://www.w3.org/ns/activitystreams"));
    }
    doc
}

/// Removes a document's `@context` (it is embedded in one that has it).
fn embedded(mut doc: Value) -> Value {
    if let Some(o) = doc.as_object_mut() {
        o.remove("@context");
    }
    doc
}

/// An activity to deliver, as its document. `instance_actor` is the URI of the actor that
/// sends reports.
pub fn outbound(base: &str, instance_actor: &str, activity: &Outbound) -> Value {
    match activity {
        Outbound::Create(post) => create(note(base, post), &post.author),
        Outbound::Update { post, at } => {
            let note = note(base, post);
            let to = crate::protocol::ids_of(note.get("to"));
            let cc = crate::protocol::ids_of(note.get("cc"));
            let id = format!("{}#updates/{at}", post.status.uri);
            self::activity("Update", &id, &post.author.uri, note, &to, &cc)
        }
        Outbound::Announce { actor, reblog, original_uri, original_author_uri } => {
            announce(actor, reblog, original_uri, original_author_uri)
        }
        Outbound::Delete { actor_uri, uri } => {
            let tombstone = json!({"id": uri, "type": "Tombstone", "atomUri": uri});
            self::activity("Delete", &format!("{uri}#delete"), actor_uri, tombstone, &[PUBLIC.to_string()], &[])
        }
        Outbound::UndoAnnounce { actor_uri, uri, original_uri } => {
            let announce = json!({"id": uri, "type": "Announce", "actor": actor_uri, "object": original_uri});
            self::activity("Undo", &format!("{uri}#undo"), actor_uri, announce, &[PUBLIC.to_string()], &[])
        }
        Outbound::Like { actor_uri, status_id, status_uri, undo } => {
            let like_id = format!("{actor_uri}#likes/{status_id}");
            let like = json!({"id": like_id, "type": "Like", "actor": actor_uri, "object": status_uri});
            if *undo {
                self::activity("Undo", &format!("{like_id}/undo"), actor_uri, like, &[], &[])
            } else {
                with_context(like)
            }
        }
        Outbound::Follow { id, actor_uri, target_uri, undo } => {
            let follow = json!({"id": id, "type": "Follow", "actor": actor_uri, "object": target_uri});
            if *undo {
                self::activity("Undo", &format!("{id}/undo"), actor_uri, follow, &[], &[])
            } else {
                with_context(follow)
            }
        }
        Outbound::FollowAnswer { accept, actor_uri, follower_uri, follow_uri } => {
            let follow = json!({"id": follow_uri, "type": "Follow", "actor": follower_uri, "object": actor_uri});
            let kind = if *accept { "Accept" } else { "Reject" };
            let id = format!("{actor_uri}#{}s/follows/{}", kind.to_lowercase(), Id::generate());
            self::activity(kind, &id, actor_uri, follow, &[], &[])
        }
        Outbound::Block { actor_uri, target_id, target_uri, undo } => {
            let block_id = format!("{actor_uri}#blocks/{target_id}");
            let block = json!({"id": block_id, "type": "Block", "actor": actor_uri, "object": target_uri});
            if *undo {
                self::activity("Undo", &format!("{block_id}/undo"), actor_uri, block, &[], &[])
            } else {
                with_context(block)
            }
        }
        Outbound::Featured { actor_uri, status_id, status_uri, added } => {
            let (kind, suffix) = if *added { ("Add", "") } else { ("Remove", "/undo") };
            with_context(json!({
                "id": format!("{actor_uri}#pins/{status_id}/{}{suffix}", now_ms()),
                "type": kind,
                "actor": actor_uri,
                "target": format!("{actor_uri}/collections/featured"),
                "object": status_uri,
            }))
        }
        Outbound::Flag { report_id, comment, objects } => with_context(json!({
            "id": format!("{base}/reports/{report_id}"),
            "type": "Flag",
            "actor": instance_actor,
            "content": comment,
            "object": objects,
        })),
        Outbound::Actor(local) => {
            let person = actor(base, local);
            let uri = &local.account.uri;
            let id = format!("{uri}#updates/{}", now_ms());
            self::activity("Update", &id, uri, person, &[PUBLIC.to_string()], &[])
        }
        Outbound::Vote { actor_uri, poll_id, choice, name, author_uri, status_uri } => {
            let id = format!("{actor_uri}#votes/{poll_id}/{choice}");
            let note = json!({"id": id, "type": "Note", "name": name, "attributedTo": actor_uri,
                "to": [author_uri], "inReplyTo": status_uri});
            self::activity("Create", &format!("{id}/activity"), actor_uri, note, std::slice::from_ref(author_uri), &[])
        }
    }
}

/// A reblog as `Announce`, addressed as Mastodon addresses it.
fn announce(actor: &Account, reblog: &Status, original_uri: &str, original_author_uri: &str) -> Value {
    let (to, mut cc) = audience(reblog.visibility, actor, &[]);
    cc.push(original_author_uri.to_string());
    let mut doc = activity("Announce", &reblog.uri, &actor.uri, json!(original_uri), &to, &cc);
    doc["published"] = json!(rfc3339(reblog.created_at));
    doc
}

/// A page of an outbox: its posts as Create activities, and the next page's link.
pub fn outbox_page(base: &str, account: &Account, posts: &[Post], max_id: Option<&str>, next: Option<Id>) -> Value {
    let id = format!("{}/outbox", account.uri);
    let items: Vec<Value> = posts.iter().map(|p| embedded(create(note(base, p), &p.author))).collect();
    let mut doc = json!({
        "@context": context(),
        "id": format!("{id}?page=true{}", max_id.map(|m| format!("&max_id={m}")).unwrap_or_default()),
        "type": "OrderedCollectionPage",
        "partOf": id,
        "orderedItems": items,
    });
    if let Some(next) = next {
        doc["next"] = json!(format!("{id}?max_id={next}&page=true"));
    }
    doc
}

/// An outbox: its size and the link to its first page.
pub fn outbox(account: &Account) -> Value {
    let id = format!("{}/outbox", account.uri);
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": id,
        "type": "OrderedCollection",
        "totalItems": account.statuses_count,
        "first": format!("{id}?page=true"),
        "last": format!("{id}?min_id=0&page=true"),
    })
}

/// The featured collection: the pinned posts.
pub fn featured(base: &str, account: &Account, posts: &[Post]) -> Value {
    let items: Vec<Value> = posts.iter().map(|p| note(base, p)).collect();
    json!({
        "@context": context(),
        "id": format!("{}/collections/featured", account.uri),
        "type": "OrderedCollection",
        "totalItems": items.len(),
        "orderedItems": items,
    })
}

/// The featured hashtags (none are kept yet).
pub fn featured_tags(account: &Account) -> Value {
    json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/collections/tags", account.uri),
        "type": "Collection",
        "totalItems": 0,
        "items": [],
    })
}

/// An `OrderedCollection` that shows only its size (followers and following, as Mastodon shows
/// them when the owner hides them).
pub fn counted_collection(id: String, total: i64) -> Value {
    json!({"@context": "https://www.w3.org/ns/activitystreams", "id": id, "type": "OrderedCollection", "totalItems": total})
}
