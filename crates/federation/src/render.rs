//! Local data as ActivityPub documents, shaped as Mastodon shapes them (its JSON-LD context,
//! addressing per visibility, activity ids), so every other server reads them as it reads
//! Mastodon's.

use ferrodon_domain::model::{Account, Status, Visibility};
use ferrodon_domain::ports::Tx;
use ferrodon_kernel::time::rfc3339;
use ferrodon_kernel::{Error, Result};
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
            "Hashtag": "as:Hashtag"
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
pub fn actor(base: &str, a: &Account, public_key_pem: &str) -> Value {
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
        "tag": [],
        "attachment": fields,
        "endpoints": {"sharedInbox": format!("{base}/inbox")},
    });
    if a.suspended_at.is_some() {
        doc["suspended"] = json!(true);
    }
    doc
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

/// A local status as a `Note` (or `Question` with a poll).
pub async fn note(tx: &mut Box<dyn Tx>, base: &str, author: &Account, s: &Status) -> Result<Value> {
    let mention_ids: Vec<_> = s.mentions().iter().map(|m| m.id).collect();
    let mentioned = tx.accounts_by_ids(&mention_ids).await?;
    let mention_uris: Vec<String> = mentioned.iter().map(|a| a.uri.clone()).collect();
    let (to, cc) = audience(s.visibility, author, &mention_uris);
    let parent = match s.in_reply_to_id {
        Some(id) => tx.status_by_id(id).await?.map(|p| p.uri),
        None => None,
    };
    let mut tags: Vec<Value> = mentioned
        .iter()
        .map(|a| json!({"type": "Mention", "href": a.uri, "name": format!("@{}", full_acct(a, base))}))
        .collect();
    tags.extend(s.tags().iter().map(|t| {
        json!({"type": "Hashtag", "href": format!("{base}/tags/{}", t.to_lowercase()), "name": format!("#{}", t.to_lowercase())})
    }));
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
        "attachment": [],
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
    if s.has_poll
        && let Some(p) = tx.polls_of(&[s.id]).await?.pop()
    {
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
        if p.expired(ferrodon_kernel::time::now_ms()) {
            doc["closed"] = json!(rfc3339(p.expires_at));
        }
    }
    Ok(doc)
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

/// A status of ours, however it is requested: 404 unless public or unlisted (the rest is only
/// ever delivered, never served, until signed fetches of private posts exist).
pub async fn served_note(tx: &mut Box<dyn Tx>, base: &str, s: &Status) -> Result<Value> {
    if !s.local || s.reblog_of_id.is_some() || !matches!(s.visibility, Visibility::Public | Visibility::Unlisted) {
        return Err(Error::not_found());
    }
    let author = tx.account_by_id(s.account_id).await?.ok_or_else(Error::not_found)?;
    let mut doc = note(tx, base, &author, s).await?;
    doc["@context"] = context();
    Ok(doc)
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
