//! Remote actors and posts made known here: WebFinger, fetching, and turning documents into
//! what the service layer stores. Every fetch goes through [`Federation::fetch`] (signed,
//! SSRF-checked, size- and time-limited).

use ferrodon_domain::model::{Account, NewPoll, RemoteAccount, RemoteEmoji, RemoteMedia, Status, Visibility};
use ferrodon_kernel::time::now_ms;
use ferrodon_kernel::{Error, Id, Result};
use ferrodon_service::inbox::{PollCounts, RemoteStatus};
use serde_json::Value;

use crate::protocol::{self, has_type, id_of, items, same_origin};
use crate::{Federation, net};

/// At most this many unknown accounts of one post are looked up, for at most this long.
const MAX_RESOLVED_MENTIONS: usize = 10;
const MENTION_RESOLUTION: std::time::Duration = std::time::Duration::from_secs(10);

/// Actors are fetched again when older than this.
const STALE_MS: i64 = 24 * 3_600_000;
/// How far up a thread a reply's parents are fetched.
const MAX_THREAD_DEPTH: usize = 8;
const ACTOR_TYPES: &[&str] = &["Person", "Service", "Group", "Application", "Organization"];

/// A fetched actor document as the account to store (its id must be `uri`'s origin).
/// [`protocol::read_actor_value`]: the rules live in [`protocol::read`].
pub fn actor_to_remote(doc: &Value) -> Result<RemoteAccount> {
    protocol::read_actor_value(doc)
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

/// Reads a `Note`, `Question`, `Article`, `Page` (or similar) of an author whose followers
/// collection is `followers_url`; the visibility follows Mastodon's reading of `to` / `cc`.
/// [`protocol::read_post_value`]: the rules live in [`protocol::read`].
pub fn parse_object(doc: &Value, followers_url: &str) -> Result<ParsedObject> {
    let p = protocol::read_post_value(doc)?;
    Ok(ParsedObject {
        visibility: p.visibility(followers_url),
        addressed: p.addressed().map(str::to_string).collect(),
        poll: p.poll.as_ref().map(|q| NewPoll {
            id: Id::generate(),
            options: q.options.clone(),
            expires_at: q.expires_at,
            multiple: q.multiple,
            hide_totals: false,
        }),
        poll_counts: p.poll.map(|q| PollCounts { votes: q.votes, voters_count: q.voters_count }),
        uri: p.uri,
        url: p.url,
        content: p.content,
        spoiler_text: p.spoiler_text,
        sensitive: p.sensitive,
        language: p.language,
        in_reply_to: p.in_reply_to,
        mentions: p.mentions,
        tags: p.tags,
        created_at: p.created_at,
        edited_at: p.edited_at,
        media: p.media,
        emojis: p.emojis,
    })
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
    fn a_fetched_actor_s_avatar_may_come_in_several_sizes() {
        // PeerTube lists its avatars by size: the first is kept (Mastodon does the same).
        let doc = json!({
            "id": "https://remote.example/accounts/a",
            "type": "Person",
            "preferredUsername": "a",
            "inbox": "https://remote.example/accounts/a/inbox",
            "icon": [
                {"type": "Image", "mediaType": "image/jpeg", "width": 48, "url": "https://remote.example/a-48.jpg"},
                {"type": "Image", "mediaType": "image/jpeg", "width": 120, "url": "https://remote.example/a-120.jpg"},
            ],
        });
        assert_eq!(actor_to_remote(&doc).unwrap().avatar_remote_url, "https://remote.example/a-48.jpg");
    }

    #[test]
    fn numbers_sent_as_strings_are_read() {
        let mut doc = question("oneOf", None);
        doc["type"] = json!("Note");
        doc["attachment"] = json!([{"type": "Document", "mediaType": "image/png", "url": "https://remote.example/1.png",
                                    "width": "640", "height": "480"}]);
        let media = &parse_object(&doc, "").unwrap().media[0];
        assert_eq!((media.width, media.height), (Some(640), Some(480)));
    }

    #[test]
    fn a_note_has_no_poll_counts() {
        let mut doc = question("oneOf", Some(4));
        doc["type"] = json!("Note");
        assert_eq!(parse_object(&doc, "").unwrap().poll_counts, None);
    }
}
