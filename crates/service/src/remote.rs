//! Remote accounts and posts made known here, through the federation port: by URI (fetched when
//! unknown, or when an account is stale), by `user@domain` (WebFinger), named in a search or
//! mentioned in a post being written; and, when someone here looks, a remote thread's replies
//! and a remote account's pinned posts (fetched later, on `pull`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ferrodon_domain::model::{Account, ReceivedPost, RemoteAccount, Status};
use ferrodon_domain::ports::Fetched;
use ferrodon_domain::rules::text;
use ferrodon_domain::rules::uri::same_origin;
use ferrodon_kernel::time::now_ms;
use ferrodon_kernel::{Error, Id, Result};

use crate::jobs::fetch::{FetchFeatured, FetchReplies};
use crate::{Services, inbox, keys, lock};

/// Actors are fetched again when older than this.
const STALE_MS: i64 = 24 * 3_600_000;
/// How far up a thread a reply's parents are fetched.
const MAX_THREAD_DEPTH: usize = 8;
/// At most this many unknown accounts of a post being written are looked up, for at most this
/// long.
const MAX_RESOLVED_MENTIONS: usize = 10;
const MENTION_RESOLUTION: Duration = Duration::from_secs(10);
/// A thread's replies, or an account's pinned posts, are fetched at most this often.
const REFETCH_AFTER: Duration = Duration::from_secs(15 * 60);

fn is_ours(svc: &Services, uri: &str) -> bool {
    uri.starts_with(&format!("{}/", svc.base_url()))
}

/// The account at `uri`: local, known and fresh, or fetched now.
pub(crate) async fn account(svc: &Services, uri: &str) -> Result<Account> {
    let known = match svc.state.accounts.get_by_uri(uri) {
        Some(a) => Some(a),
        None => svc.db.read().await?.account_by_uri(uri).await?,
    };
    match known {
        Some(a) if a.is_local() || a.fetched_at.is_some_and(|t| now_ms() - t < STALE_MS) => Ok(a),
        Some(a) => Ok(refresh_account(svc, uri).await.unwrap_or(a)),
        None => refresh_account(svc, uri).await,
    }
}

/// Fetches the actor at `uri` (or the owner of the key at `uri`) and stores it.
pub async fn refresh_account(svc: &Services, uri: &str) -> Result<Account> {
    let remote = fetch_actor(svc, uri).await?;
    store_account(svc, &remote).await
}

/// Fetches the actor at `uri` (or the owner of the key at `uri`): it must be on `uri`'s host.
pub(crate) async fn fetch_actor(svc: &Services, uri: &str) -> Result<RemoteAccount> {
    if is_ours(svc, uri) {
        return Err(Error::not_found());
    }
    let key = keys::instance(svc).await?;
    let fediverse = svc.fediverse()?;
    let remote = match fediverse.fetch(uri, &key).await? {
        Fetched::Actor(a) => a,
        Fetched::Key { owner } => match fediverse.fetch(&owner, &key).await? {
            Fetched::Actor(a) => a,
            _ => return Err(Error::validation(format!("the owner of {uri} is not an actor"))),
        },
        _ => return Err(Error::validation(format!("{uri} is not an actor"))),
    };
    if !same_origin(&remote.uri, uri) {
        return Err(Error::validation(format!("{uri} names an actor of another host")));
    }
    Ok(remote)
}

/// Inserts or refreshes a remote actor, as read.
pub(crate) async fn store_account(svc: &Services, remote: &RemoteAccount) -> Result<Account> {
    let mut tx = svc.db.write().await?;
    let before = tx.account_by_uri(&remote.uri).await?;
    let account = tx.upsert_remote_account(remote, now_ms()).await?;
    crate::effects::remote_account_stored(&mut tx, before.as_ref(), &account).await?;
    tx.commit().await?;
    svc.state.accounts.put(&account);
    Ok(account)
}

/// The remote account whose key has id `key_id`, if known (inbox signature checks).
pub async fn key_owner(svc: &Services, key_id: &str) -> Result<Option<Account>> {
    Ok(svc.db.read().await?.account_by_key_id(key_id).await?.filter(|a| !a.is_local()))
}

/// The account of `user@domain`, through WebFinger.
pub(crate) async fn webfinger(svc: &Services, user: &str, domain: &str) -> Result<Account> {
    let actor = svc.fediverse()?.webfinger(user, domain).await?;
    account(svc, &actor).await
}

/// The status at `uri`: known, or fetched with its author and, within limits, its parents.
pub(crate) async fn status(svc: &Services, uri: &str) -> Result<Status> {
    status_at_depth(svc, uri, 0).await
}

async fn status_at_depth(svc: &Services, uri: &str, depth: usize) -> Result<Status> {
    if let Some(s) = svc.db.read().await?.status_by_uri(uri).await? {
        return Ok(s);
    }
    if depth > MAX_THREAD_DEPTH || is_ours(svc, uri) {
        return Err(Error::not_found());
    }
    let key = keys::instance(svc).await?;
    let Fetched::Post(post) = svc.fediverse()?.fetch(uri, &key).await? else {
        return Err(Error::not_found());
    };
    if !same_origin(&post.uri, uri) {
        return Err(Error::validation(format!("{uri} returned an object of another host")));
    }
    store_fetched(svc, post, depth).await
}

/// Stores a post fetched from its server (not received in an inbox: no rule decides whether
/// it is kept, someone here asked for it).
async fn store_fetched(svc: &Services, post: ReceivedPost, depth: usize) -> Result<Status> {
    if !same_origin(&post.author, &post.uri) {
        return Err(Error::validation("a status must come from its author's host"));
    }
    let author = account(svc, &post.author).await?;
    Box::pin(store_post_at(svc, &author, post, depth)).await
}

/// Stores `post` of the remote account `author` as a fetched post is stored: what it names is
/// made known here (fetched when unknown), then it is kept once per URI, with a local post's
/// consequences (timelines, streams, notifications).
pub async fn store_post(svc: &Services, author: &Account, post: ReceivedPost) -> Result<Status> {
    store_post_at(svc, author, post, 0).await
}

async fn store_post_at(svc: &Services, author: &Account, post: ReceivedPost, depth: usize) -> Result<Status> {
    let resolved = resolve(svc, author, post, depth).await?;
    inbox::create_status(svc, author, resolved).await
}

/// A received post with what it names made known here: its visibility read with its author's
/// followers collection, the mentioned accounts (local ones, and remote ones, fetched when
/// unknown), and the post it replies to (fetched, within limits, when unknown).
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    pub post: ReceivedPost,
    pub visibility: ferrodon_domain::model::Visibility,
    pub mentions: Vec<Account>,
    pub in_reply_to: Option<Status>,
}

/// Resolves what `post` (by `author`) names; `depth` is how far up a thread it is.
pub(crate) async fn resolve(svc: &Services, author: &Account, post: ReceivedPost, depth: usize) -> Result<Resolved> {
    let mut mentions: Vec<Account> = Vec::new();
    let mut unknown = Vec::new();
    // Addressed local people are mentioned too (a direct message without a Mention tag).
    let addressed: Vec<&str> = post.addressed().filter(|a| is_ours(svc, a)).collect();
    let named = post.mentions.iter().map(|m| (m.as_str(), true)).chain(addressed.into_iter().map(|a| (a, false)));
    let mut tx = None;
    for (uri, is_mention) in named {
        if mentions.iter().any(|m| m.uri == uri) {
            continue;
        }
        let found = match svc.state.accounts.get_by_uri(uri) {
            Some(a) => Some(a),
            None => {
                if tx.is_none() {
                    tx = Some(svc.db.read().await?);
                }
                let a = tx.as_mut().expect("opened above").account_by_uri(uri).await?;
                if let Some(a) = &a {
                    svc.state.accounts.put(a);
                }
                a
            }
        };
        match found {
            Some(a) if (is_mention || a.is_local()) && !mentions.iter().any(|m| m.id == a.id) => mentions.push(a),
            Some(_) => {}
            None if is_mention => unknown.push(uri.to_string()),
            None => {}
        }
    }
    drop(tx);
    for uri in unknown {
        if let Ok(a) = account(svc, &uri).await
            && !mentions.iter().any(|m| m.id == a.id)
        {
            mentions.push(a);
        }
    }
    let in_reply_to = match &post.in_reply_to {
        Some(parent) => Box::pin(status_at_depth(svc, parent, depth + 1)).await.ok(),
        None => None,
    };
    let visibility = post.visibility(&author.followers_url);
    Ok(Resolved { post, visibility, mentions, in_reply_to })
}

/// Makes what a search names known here: `@user@domain` through WebFinger, a URL as the actor
/// or post it is (then the post's replies are fetched, its thread being about to be looked
/// at). Errors mean "nothing found".
pub(crate) async fn resolve_query(svc: &Services, q: &str) -> Result<()> {
    let q = q.trim();
    if q.starts_with("https://") || q.starts_with("http://") {
        if is_ours(svc, q) {
            return Ok(());
        }
        let key = keys::instance(svc).await?;
        match svc.fediverse()?.fetch(q, &key).await? {
            // A profile or post page may answer with the document of another id: the
            // document is fetched again by its id, from its own host.
            Fetched::Actor(a) if a.uri == q => {
                store_account(svc, &a).await?;
            }
            Fetched::Actor(a) => {
                refresh_account(svc, &a.uri).await?;
            }
            Fetched::Post(p) => {
                let status = if p.uri == q { store_fetched(svc, p, 0).await? } else { status(svc, &p.uri).await? };
                fetch_replies_later(svc, &status).await?;
            }
            Fetched::Key { .. } | Fetched::Other { .. } => return Err(Error::not_found()),
        }
        return Ok(());
    }
    let acct = q.trim_start_matches('@');
    if let Some((user, domain)) = acct.split_once('@')
        && !user.is_empty()
        && !domain.is_empty()
        && !svc.config.is_local_domain(domain)
        && svc.db.read().await?.account_by_username(user, domain).await?.is_none()
    {
        webfinger(svc, user, domain).await?;
    }
    Ok(())
}

/// Makes the remote accounts that `text` (a post being written) mentions known here, as
/// Mastodon resolves mentions while posting: a mention of someone not seen before becomes a
/// link, a notification and a delivery. One that cannot be resolved within a few seconds stays
/// plain text.
pub(crate) async fn make_mentions_known(svc: &Services, text: &str) {
    if svc.fediverse().is_err() {
        return;
    }
    let remote: Vec<(String, String)> = text::extract_mentions(text)
        .into_iter()
        .filter_map(|m| Some((m.username, m.domain?.to_lowercase())))
        .filter(|(_, d)| !svc.config.is_local_domain(d))
        .take(MAX_RESOLVED_MENTIONS)
        .collect();
    if remote.is_empty() {
        return;
    }
    let mut unknown = Vec::new();
    if let Ok(mut tx) = svc.db.read().await {
        for (user, domain) in remote {
            if let Ok(None) = tx.account_by_username(&user, &domain).await {
                unknown.push((user, domain));
            }
        }
    }
    let _ = tokio::time::timeout(MENTION_RESOLUTION, async {
        for (user, domain) in unknown {
            if let Err(e) = webfinger(svc, &user, &domain).await {
                tracing::debug!(error = %e, user, domain, "a mentioned account could not be resolved");
            }
        }
    })
    .await;
}

/// Whether `id` was asked for less than [`REFETCH_AFTER`] ago; remembers it now if not.
fn recently(memory: &Mutex<HashMap<Id, Instant>>, id: Id) -> bool {
    let mut seen = lock(memory);
    if seen.get(&id).is_some_and(|t| t.elapsed() < REFETCH_AFTER) {
        return true;
    }
    if seen.len() > 10_000 {
        seen.retain(|_, t| t.elapsed() < REFETCH_AFTER);
    }
    seen.insert(id, Instant::now());
    false
}

/// Queues a fetch of `status`'s replies (on `pull`) when it is remote and was not asked for
/// recently. (Local statuses are remembered too, so a thread viewed again costs no read.)
pub(crate) async fn fetch_replies_later(svc: &Services, status: &Status) -> Result<()> {
    if recently(&svc.state.replies_fetched, status.id) || status.local || status.reblog_of_id.is_some() {
        return Ok(());
    }
    let mut tx = svc.db.write().await?;
    FetchReplies::enqueue(&mut tx, status.id).await?;
    tx.commit().await
}

/// Queues a read of the pinned posts of the account `account_id` (on `pull`) when it is remote
/// and was not read recently.
pub(crate) async fn fetch_featured_later(svc: &Services, account_id: Id) -> Result<()> {
    if recently(&svc.state.featured_fetched, account_id) {
        return Ok(());
    }
    let account = svc.db.read().await?.account_by_id(account_id).await?;
    if account.is_none_or(|a| a.is_local() || a.featured_url.is_empty()) {
        return Ok(());
    }
    let mut tx = svc.db.write().await?;
    FetchFeatured::enqueue(&mut tx, account_id).await?;
    tx.commit().await
}

/// A few seconds' memory of accounts: processing a burst of activities reads the same actors
/// and mentioned accounts again and again, and on SQLite every read is a round trip to a
/// connection's thread. What this process changes itself (an actor's Update or Delete)
/// replaces or drops the entry; other changes show after at most [`ACCOUNT_TTL`].
#[derive(Default)]
pub(crate) struct AccountCache(Mutex<AccountCacheInner>);

#[derive(Default)]
struct AccountCacheInner {
    by_id: HashMap<Id, (Account, Instant)>,
    by_uri: HashMap<String, Id>,
}

/// How long an entry is trusted.
const ACCOUNT_TTL: Duration = Duration::from_secs(5);
/// Entries kept at most (then the cache starts over).
const ACCOUNT_CACHE_MAX: usize = 50_000;

impl AccountCache {
    pub(crate) fn get(&self, id: Id) -> Option<Account> {
        let inner = lock(&self.0);
        inner.by_id.get(&id).filter(|(_, at)| at.elapsed() < ACCOUNT_TTL).map(|(a, _)| a.clone())
    }

    pub(crate) fn get_by_uri(&self, uri: &str) -> Option<Account> {
        let id = *lock(&self.0).by_uri.get(uri)?;
        self.get(id)
    }

    pub(crate) fn put(&self, a: &Account) {
        let mut inner = lock(&self.0);
        if inner.by_id.len() >= ACCOUNT_CACHE_MAX {
            inner.by_id.clear();
            inner.by_uri.clear();
        }
        inner.by_uri.insert(a.uri.clone(), a.id);
        inner.by_id.insert(a.id, (a.clone(), Instant::now()));
    }

    pub(crate) fn forget(&self, id: Id) {
        let mut inner = lock(&self.0);
        if let Some((a, _)) = inner.by_id.remove(&id) {
            inner.by_uri.remove(&a.uri);
        }
    }
}
