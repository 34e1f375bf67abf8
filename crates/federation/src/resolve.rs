//! Remote actors and posts made known here: WebFinger, fetching, and turning documents into
//! what the service layer stores. Every fetch goes through [`Federation::fetch`] (signed,
//! SSRF-checked, size- and time-limited).

use ferrodon_domain::model::{Account, NewPoll, RemoteAccount, RemoteEmoji, RemoteMedia, Status, Visibility};
use ferrodon_kernel::time::now_ms;
use ferrodon_kernel::{Error, Id, Result};
use ferrodon_service::inbox::{PollCounts, RemoteStatus};
use serde_json::Value;

use crate::protocol::{self, authority, has_type, id_of, ids_of, items, same_origin, text};
use crate::{Federation, net, sanitize};

/// At most this many unknown accounts of one post are looked up, for at most this long.
const MAX_RESOLVED_MENTIONS: usize = 10;
const MENTION_RESOLUTION: std::time::Duration = std::time::Duration::from_secs(10);

/// Actors are fetched again when older than this.
const STALE_MS: i64 = 24 * 3_600_000;
/// How far up a thread a reply's parents are fetched.
const MAX_THREAD_DEPTH: usize = 8;
const ACTOR_TYPES: &[&str] = &["Person", "Service", "Group", "Application", "Organization"];

/// A fetched actor document as the account to store (its id must be `uri`'s origin).
pub fn actor_to_remote(doc: &Value) -> Result<RemoteAccount> {
    let bad = |why: &str| Error::validation(format!("not a usable actor: {why}"));
    if !has_type(doc, ACTOR_TYPES) {
        return Err(bad("wrong type"));
    }
    let uri = id_of(doc).ok_or_else(|| bad("no id"))?.to_string();
    let domain = authority(&uri).ok_or_else(|| bad("id is not a URL"))?;
    let username =
        text(doc, "preferredUsername").filter(|u| !u.is_empty()).ok_or_else(|| bad("no preferredUsername"))?;
    let inbox = doc.get("inbox").and_then(id_of).ok_or_else(|| bad("no inbox"))?.to_string();
    let key = doc.get("publicKey").map(|k| items(Some(k))).unwrap_or_default();
    let key = key.into_iter().find(|k| k.get("publicKeyPem").is_some());
    let fields = items(doc.get("attachment"))
        .into_iter()
        .filter(|a| has_type(a, &["PropertyValue"]))
        .filter_map(|a| {
            Some(serde_json::json!({
                "name": sanitize::plain(a.get("name")?.as_str()?),
                "value": sanitize::html(a.get("value")?.as_str()?),
            }))
        })
        .take(16)
        .collect::<Vec<_>>();
    let url = doc.get("url").and_then(id_of).unwrap_or(&uri).to_string();
    Ok(RemoteAccount {
        username: username.to_string(),
        domain,
        actor_type: protocol::types(doc).first().copied().unwrap_or("Person").to_string(),
        display_name: sanitize::plain(text(doc, "name").unwrap_or("")).chars().take(100).collect(),
        note: sanitize::html(text(doc, "summary").unwrap_or("")),
        fields_json: serde_json::to_string(&fields).unwrap_or_else(|_| "[]".into()),
        locked: protocol::bool_field(doc, "manuallyApprovesFollowers"),
        bot: has_type(doc, &["Service", "Application"]),
        discoverable: protocol::bool_field(doc, "discoverable"),
        indexable: protocol::bool_field(doc, "indexable"),
        shared_inbox_url: doc
            .get("endpoints")
            .and_then(|e| e.get("sharedInbox"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        inbox_url: inbox,
        outbox_url: doc.get("outbox").and_then(id_of).unwrap_or("").to_string(),
        followers_url: doc.get("followers").and_then(id_of).unwrap_or("").to_string(),
        featured_url: doc.get("featured").and_then(id_of).unwrap_or("").to_string(),
        avatar_remote_url: doc
            .get("icon")
            .and_then(|i| i.get("url").or(Some(i)))
            .and_then(id_of)
            .unwrap_or("")
            .to_string(),
        header_remote_url: doc
            .get("image")
            .and_then(|i| i.get("url").or(Some(i)))
            .and_then(id_of)
            .unwrap_or("")
            .to_string(),
        public_key_pem: key.and_then(|k| k.get("publicKeyPem")).and_then(Value::as_str).unwrap_or("").to_string(),
        key_id: key.and_then(id_of).unwrap_or("").to_string(),
        created_at: protocol::time(doc, "published"),
        url,
        uri,
    })
}

impl Federation {
    /// The account at `uri`: local, known and fresh, or fetched now.
    pub async fn account(&self, uri: &str) -> Result<Account> {
        let known = self.svc.db.read().await?.account_by_uri(uri).await?;
        match known {
            Some(a) if a.is_local() || a.fetched_at.is_some_and(|t| now_ms() - t < STALE_MS) => Ok(a),
            Some(a) => Ok(self.refresh_account(uri).await.unwrap_or(a)),
            None => self.refresh_account(uri).await,
        }
    }

    /// Fetches `uri` and stores the actor it describes.
    pub async fn refresh_account(&self, uri: &str) -> Result<Account> {
        if uri.starts_with(&format!("{}/", self.base())) {
            return Err(Error::not_found());
        }
        let doc = self.fetch(uri).await?;
        // A key document names its owner.
        let doc = if !has_type(&doc, ACTOR_TYPES) && doc.get("owner").is_some() {
            let owner = doc.get("owner").and_then(id_of).ok_or_else(Error::not_found)?.to_string();
            self.fetch(&owner).await?
        } else {
            doc
        };
        let remote = actor_to_remote(&doc)?;
        if !same_origin(&remote.uri, uri) {
            return Err(Error::validation(format!("{uri} names an actor of another host")));
        }
        let mut tx = self.svc.db.write().await?;
        let account = tx.upsert_remote_account(&remote, now_ms()).await?;
        tx.commit().await?;
        self.accounts.put(&account);
        Ok(account)
    }

    /// `user@domain` through WebFinger (http only where the domain's addresses are allowed).
    /// Makes the remote accounts that `text` (a local post) mentions known here, through
    /// WebFinger, as Mastodon resolves mentions while posting: a mention of someone not seen
    /// before becomes a link, a notification and a delivery. One that cannot be resolved
    /// (within a few seconds) stays plain text.
    pub async fn resolve_mentions_in(&self, text: &str) {
        let config = &self.svc.config;
        let remote: Vec<(String, String)> = ferrodon_domain::rules::text::extract_mentions(text)
            .into_iter()
            .filter_map(|m| Some((m.username, m.domain?.to_lowercase())))
            .filter(|(_, d)| {
                !d.eq_ignore_ascii_case(&config.local_domain) && !d.eq_ignore_ascii_case(&config.web_domain)
            })
            .take(MAX_RESOLVED_MENTIONS)
            .collect();
        if remote.is_empty() {
            return;
        }
        let mut unknown = Vec::new();
        if let Ok(mut tx) = self.svc.db.read().await {
            for (user, domain) in remote {
                if let Ok(None) = tx.account_by_username(&user, &domain).await {
                    unknown.push((user, domain));
                }
            }
        }
        let _ = tokio::time::timeout(MENTION_RESOLUTION, async {
            for (user, domain) in unknown {
                if let Err(e) = self.webfinger(&user, &domain).await {
                    tracing::debug!(error = %e, user, domain, "a mentioned account could not be resolved");
                }
            }
        })
        .await;
    }

    pub async fn webfinger(&self, user: &str, domain: &str) -> Result<Account> {
        let resource = format!("acct:{user}@{domain}");
        // https first; plain http only where allowed (ALLOWED_PRIVATE_ADDRESSES), for loopback set-ups.
        let mut answer = Err(Error::validation(format!("{domain} may not be fetched")));
        for scheme in ["https", "http"] {
            let url = format!("{scheme}://{domain}/.well-known/webfinger?resource={resource}");
            if net::check_url(&url, &self.allowed).await.is_err() {
                continue;
            }
            match self.http.get(&url).header("Accept", "application/jrd+json").send().await {
                Ok(r) => {
                    answer = Ok(r);
                    break;
                }
                Err(e) => answer = Err(Error::unavailable(e.to_string())),
            }
        }
        let response = answer?;
        if !response.status().is_success() {
            return Err(Error::not_found());
        }
        let jrd: Value = serde_json::from_slice(&net::read_limited(response, 64 * 1024).await?)
            .map_err(|_| Error::unavailable("WebFinger answered with something that is not JSON"))?;
        let actor = items(jrd.get("links"))
            .into_iter()
            .find(|l| {
                l.get("rel").and_then(Value::as_str) == Some("self")
                    && l.get("type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| t.contains("activity+json") || t.contains("ld+json"))
            })
            .and_then(|l| l.get("href").and_then(Value::as_str))
            .ok_or_else(Error::not_found)?
            .to_string();
        self.account(&actor).await
    }

    /// The status at `uri`: known, or fetched (with its author and, within limits, its parents).
    pub async fn status(&self, uri: &str) -> Result<Status> {
        self.status_at_depth(uri, 0).await
    }

    async fn status_at_depth(&self, uri: &str, depth: usize) -> Result<Status> {
        if let Some(s) = self.svc.db.read().await?.status_by_uri(uri).await? {
            return Ok(s);
        }
        if depth > MAX_THREAD_DEPTH || uri.starts_with(&format!("{}/", self.base())) {
            return Err(Error::not_found());
        }
        let doc = self.fetch(uri).await?;
        let id = id_of(&doc).ok_or_else(Error::not_found)?;
        if !same_origin(id, uri) {
            return Err(Error::validation(format!("{uri} returned an object of another host")));
        }
        let author_uri = doc.get("attributedTo").and_then(id_of).ok_or_else(Error::not_found)?.to_string();
        if !same_origin(&author_uri, id) {
            return Err(Error::validation("a status must come from its author's host"));
        }
        let author = self.account(&author_uri).await?;
        let remote = Box::pin(self.remote_status(&doc, &author, depth)).await?;
        ferrodon_service::inbox::create_status(&self.svc, &author, remote).await
    }

    /// A `Note` (or `Question`, `Article`, `Page`) as the status to store: [`parse_object`],
    /// then the accounts and the parent it names, made known here.
    pub async fn remote_status(&self, doc: &Value, author: &Account, depth: usize) -> Result<RemoteStatus> {
        let o = parse_object(doc, &author.followers_url)?;
        let mut mentions: Vec<Account> = Vec::new();
        let mut unknown = Vec::new();
        // Addressed local people are mentioned too (a direct message without a Mention tag).
        let base = format!("{}/", self.base());
        let addressed: Vec<&String> = o.addressed.iter().filter(|a| a.starts_with(&base)).collect();
        let mut tx: Option<Box<dyn ferrodon_domain::ports::Tx>> = None;
        for (uri, is_mention) in o.mentions.iter().map(|m| (m, true)).chain(addressed.into_iter().map(|a| (a, false))) {
            if mentions.iter().any(|m| m.uri == *uri) {
                continue;
            }
            let found = match self.accounts.get_by_uri(uri) {
                Some(a) => Some(a),
                None => {
                    if tx.is_none() {
                        tx = Some(self.svc.db.read().await?);
                    }
                    let a = tx.as_mut().expect("opened above").account_by_uri(uri).await?;
                    if let Some(a) = &a {
                        self.accounts.put(a);
                    }
                    a
                }
            };
            match found {
                Some(a) if (is_mention || a.is_local()) && !mentions.iter().any(|m| m.id == a.id) => mentions.push(a),
                Some(_) => {}
                None if is_mention => unknown.push(uri.clone()),
                None => {}
            }
        }
        drop(tx);
        for href in unknown {
            if let Ok(a) = self.account(&href).await
                && !mentions.iter().any(|m| m.id == a.id)
            {
                mentions.push(a);
            }
        }
        let in_reply_to = match &o.in_reply_to {
            Some(parent) => Box::pin(self.status_at_depth(parent, depth + 1)).await.ok(),
            None => None,
        };
        Ok(RemoteStatus {
            uri: o.uri,
            url: o.url,
            content: o.content,
            spoiler_text: o.spoiler_text,
            sensitive: o.sensitive,
            visibility: o.visibility,
            language: o.language,
            in_reply_to,
            mentions,
            tags: o.tags,
            created_at: o.created_at,
            edited_at: o.edited_at,
            poll: o.poll,
            poll_counts: o.poll_counts,
            media: o.media,
            emojis: o.emojis,
        })
    }
}

/// What a post-like object says, read without resolving anything.
#[derive(Clone, Debug)]
pub struct ParsedObject {
    pub uri: String,
    pub url: String,
    pub content: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub visibility: Visibility,
    pub language: Option<String>,
    pub in_reply_to: Option<String>,
    /// `href`s of Mention tags.
    pub mentions: Vec<String>,
    /// Everyone in `to` and `cc`.
    pub addressed: Vec<String>,
    pub tags: Vec<String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub poll: Option<NewPoll>,
    pub poll_counts: Option<PollCounts>,
    pub media: Vec<RemoteMedia>,
    pub emojis: Vec<RemoteEmoji>,
}

/// At most this many attachments of a remote post are kept (Mastodon's limit).
const MAX_REMOTE_MEDIA: usize = 4;

/// A link's target: a string, or a `Link` object's `href` (or an object's `url`); only http(s).
fn link(value: Option<&Value>) -> Option<String> {
    let v = value?;
    let href = match v {
        Value::String(s) => Some(s.as_str()),
        Value::Array(a) => return a.iter().find_map(|x| link(Some(x))),
        Value::Object(_) => v.get("href").and_then(Value::as_str).or_else(|| v.get("url").and_then(Value::as_str)),
        _ => None,
    }?;
    (href.starts_with("https://") || href.starts_with("http://")).then(|| href.to_string())
}

/// The attachments of an object (`Document`, `Image`, `Video`, `Audio`), as Mastodon types them.
fn media_of(doc: &Value) -> Vec<RemoteMedia> {
    items(doc.get("attachment"))
        .into_iter()
        .filter(|a| !has_type(a, &["PropertyValue", "Link", "Note", "Page"]))
        .filter_map(|a| {
            let url = link(a.get("url"))?;
            let media_type = a.get("mediaType").and_then(Value::as_str).unwrap_or("");
            let kind = match media_type.split('/').next().unwrap_or("") {
                _ if media_type == "image/gif" => "gifv",
                "image" => "image",
                "video" => "video",
                "audio" => "audio",
                _ if has_type(a, &["Image"]) => "image",
                _ if has_type(a, &["Video"]) => "video",
                _ if has_type(a, &["Audio"]) => "audio",
                _ => "unknown",
            };
            let dimension = |k: &str| a.get(k).and_then(Value::as_i64).filter(|n| *n > 0);
            Some(RemoteMedia {
                kind: kind.to_string(),
                url,
                preview_url: link(a.get("icon")),
                description: text(a, "name")
                    .or_else(|| text(a, "summary"))
                    .map(sanitize::plain)
                    .filter(|d| !d.is_empty()),
                blurhash: text(a, "blurhash").map(str::to_string),
                width: dimension("width"),
                height: dimension("height"),
            })
        })
        .take(MAX_REMOTE_MEDIA)
        .collect()
}

/// The custom emoji an object's `tag` names (`Emoji` with a name and an icon).
fn emojis_of(doc: &Value) -> Vec<RemoteEmoji> {
    let mut out: Vec<RemoteEmoji> = Vec::new();
    for tag in items(doc.get("tag")).into_iter().filter(|t| has_type(t, &["Emoji"])) {
        let Some(name) = tag.get("name").and_then(Value::as_str) else { continue };
        let shortcode = name.trim_matches(':');
        let valid = !shortcode.is_empty() && shortcode.chars().all(|c| c.is_alphanumeric() || c == '_');
        if let (true, Some(url)) = (valid, link(tag.get("icon")))
            && !out.iter().any(|e| e.shortcode == shortcode)
        {
            out.push(RemoteEmoji { shortcode: shortcode.to_string(), url });
        }
    }
    out
}

/// Reads a `Note`, `Question`, `Article`, `Page` (or similar) of an author whose followers
/// collection is `followers_url`; the visibility follows Mastodon's reading of `to` / `cc`.
pub fn parse_object(doc: &Value, followers_url: &str) -> Result<ParsedObject> {
    let uri = id_of(doc).ok_or_else(|| Error::validation("an object without id"))?.to_string();
    let to = ids_of(doc.get("to"));
    let cc = ids_of(doc.get("cc"));
    let visibility = if to.iter().any(|t| protocol::is_public(t)) {
        Visibility::Public
    } else if cc.iter().any(|t| protocol::is_public(t)) {
        Visibility::Unlisted
    } else if to
        .iter()
        .chain(&cc)
        .any(|t| (!followers_url.is_empty() && t == followers_url) || t.ends_with("/followers"))
    {
        Visibility::Private
    } else {
        Visibility::Direct
    };
    let mut mentions = Vec::new();
    let mut tags = Vec::new();
    for tag in items(doc.get("tag")) {
        if has_type(tag, &["Mention"]) {
            if let Some(href) = tag.get("href").and_then(Value::as_str)
                && !mentions.iter().any(|m| m == href)
            {
                mentions.push(href.to_string());
            }
        } else if has_type(tag, &["Hashtag"])
            && let Some(name) = tag.get("name").and_then(Value::as_str)
        {
            let name = name.trim_start_matches('#');
            if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                tags.push(name.to_string());
            }
        }
    }
    let mut content = sanitize::html(text(doc, "content").unwrap_or(""));
    if content.is_empty() && has_type(doc, &["Article", "Page", "Event", "Video"]) {
        content = sanitize::html(text(doc, "name").unwrap_or(""));
    }
    Ok(ParsedObject {
        url: doc.get("url").and_then(id_of).unwrap_or(&uri).to_string(),
        content,
        spoiler_text: sanitize::plain(text(doc, "summary").unwrap_or("")),
        sensitive: protocol::bool_field(doc, "sensitive"),
        visibility,
        language: protocol::language(doc),
        in_reply_to: doc.get("inReplyTo").and_then(id_of).map(str::to_string),
        mentions,
        addressed: to.into_iter().chain(cc).collect(),
        tags,
        created_at: protocol::time(doc, "published").unwrap_or_else(now_ms),
        edited_at: protocol::time(doc, "updated"),
        poll: poll_of(doc),
        poll_counts: poll_counts_of(doc),
        media: media_of(doc),
        emojis: emojis_of(doc),
        uri,
    })
}

/// The counts a `Question` reports: each option's `replies.totalItems`, and `votersCount`
/// (for a single-choice poll without it, the sum of the votes).
fn poll_counts_of(doc: &Value) -> Option<PollCounts> {
    if !has_type(doc, &["Question"]) {
        return None;
    }
    let (options, multiple) = match (doc.get("oneOf"), doc.get("anyOf")) {
        (Some(o), _) => (items(Some(o)), false),
        (None, Some(a)) => (items(Some(a)), true),
        _ => return None,
    };
    let votes: Vec<i64> = options
        .iter()
        .filter(|o| o.get("name").and_then(Value::as_str).is_some())
        .map(|o| o.pointer("/replies/totalItems").and_then(Value::as_i64).unwrap_or(0).max(0))
        .collect();
    let voters_count = match doc.get("votersCount").and_then(Value::as_i64) {
        Some(n) => n.max(0),
        None if !multiple => votes.iter().sum(),
        None => return Some(PollCounts { voters_count: votes.iter().copied().max().unwrap_or(0), votes }),
    };
    Some(PollCounts { votes, voters_count })
}

fn poll_of(doc: &Value) -> Option<NewPoll> {
    if !has_type(doc, &["Question"]) {
        return None;
    }
    let (options, multiple) = match (doc.get("oneOf"), doc.get("anyOf")) {
        (Some(o), _) => (items(Some(o)), false),
        (None, Some(a)) => (items(Some(a)), true),
        _ => return None,
    };
    let options: Vec<String> =
        options.into_iter().filter_map(|o| o.get("name").and_then(Value::as_str)).map(sanitize::plain).collect();
    if options.is_empty() {
        return None;
    }
    let expires_at = protocol::time(doc, "endTime")
        .or_else(|| protocol::time(doc, "closed"))
        .unwrap_or_else(|| now_ms() + 86_400_000);
    Some(NewPoll { id: Id::generate(), options, expires_at, multiple, hide_totals: false })
}

impl Federation {
    /// Makes what a search names known here: `@user@domain` through WebFinger, a URL as the
    /// actor or post it is. Errors mean "nothing found".
    pub async fn resolve_query(&self, q: &str) -> Result<()> {
        let q = q.trim();
        if q.starts_with("https://") || q.starts_with("http://") {
            if q.starts_with(&format!("{}/", self.base())) {
                return Ok(());
            }
            let doc = self.fetch(q).await?;
            let id = id_of(&doc).ok_or_else(Error::not_found)?.to_string();
            if has_type(&doc, ACTOR_TYPES) {
                self.refresh_account(&id).await?;
            } else {
                let status = self.status(&id).await?;
                // Its thread is about to be looked at: fetch its replies.
                self.fetch_replies_later(&status).await?;
            }
            return Ok(());
        }
        let acct = q.trim_start_matches('@');
        if let Some((user, domain)) = acct.split_once('@') {
            let local = domain.eq_ignore_ascii_case(&self.svc.config.local_domain)
                || domain.eq_ignore_ascii_case(&self.svc.config.web_domain);
            if !local && !user.is_empty() && !domain.is_empty() {
                let known = self.svc.db.read().await?.account_by_username(user, domain).await?;
                if known.is_none() {
                    self.webfinger(user, domain).await?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn question(choices: &str, voters: Option<i64>) -> Value {
        let mut doc = json!({
            "id": "https://remote.example/users/a/statuses/1",
            "type": "Question",
            "attributedTo": "https://remote.example/users/a",
            "content": "<p>which?</p>",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "endTime": "2030-01-01T00:00:00Z",
        });
        doc[choices] = json!([
            {"type": "Note", "name": "yes", "replies": {"type": "Collection", "totalItems": 3}},
            {"type": "Note", "name": "no", "replies": {"type": "Collection", "totalItems": 1}},
        ]);
        if let Some(n) = voters {
            doc["votersCount"] = json!(n);
        }
        doc
    }

    #[test]
    fn a_question_reports_its_counts() {
        let o = parse_object(&question("oneOf", Some(4)), "").unwrap();
        assert_eq!(o.poll.unwrap().options, ["yes", "no"]);
        assert_eq!(o.poll_counts, Some(PollCounts { votes: vec![3, 1], voters_count: 4 }));
        // Without votersCount: a single-choice poll has one voter per vote.
        let counts = parse_object(&question("oneOf", None), "").unwrap().poll_counts.unwrap();
        assert_eq!(counts.voters_count, 4);
        let counts = parse_object(&question("anyOf", Some(2)), "").unwrap().poll_counts.unwrap();
        assert_eq!((counts.votes, counts.voters_count), (vec![3, 1], 2));
    }

    #[test]
    fn a_note_has_no_poll_counts() {
        let mut doc = question("oneOf", Some(4));
        doc["type"] = json!("Note");
        assert_eq!(parse_object(&doc, "").unwrap().poll_counts, None);
    }
}
