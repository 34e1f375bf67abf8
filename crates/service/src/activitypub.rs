//! Local accounts and posts as ActivityPub serves them to other servers (the federation crate
//! renders them): an actor with its key, a post when it may be served, an account's outbox, its
//! pinned posts, and the replies of a post. Only public and unlisted posts are served; the
//! others are only ever delivered.

use ferrodon_domain::model::{Account, AccountStatusFilter, LocalActor, Post, Status, Visibility};
use ferrodon_domain::ports::{SigningKey, StatusMark, Tx};
use ferrodon_kernel::{Error, Id, PageRequest, Result};

use crate::{Services, keys, outbox};

/// Posts an outbox page shows.
pub const OUTBOX_PAGE: u32 = 20;
/// Replies a replies collection lists.
pub const REPLIES_PAGE: usize = 40;

/// Whether a status is served to anyone who asks: a local, public or unlisted post.
fn served(s: &Status) -> bool {
    s.local && s.reblog_of_id.is_none() && matches!(s.visibility, Visibility::Public | Visibility::Unlisted)
}

async fn local(tx: &mut Box<dyn Tx>, username: &str) -> Result<Account> {
    tx.account_by_username(username, "").await?.ok_or_else(Error::not_found)
}

/// A local account by username (for its collections).
pub async fn account(svc: &Services, username: &str) -> Result<Account> {
    local(&mut svc.db.read().await?, username).await
}

/// A local account and its public key (made with its private key the first time).
pub async fn actor(svc: &Services, username: &str) -> Result<LocalActor> {
    let account = account(svc, username).await?;
    local_actor(svc, account).await
}

/// A local account with what its actor document shows beside it.
pub(crate) async fn local_actor(svc: &Services, account: Account) -> Result<LocalActor> {
    let public_key_pem = keys::public_key_pem(svc, &account).await?;
    let url = |file: &Option<String>| file.as_deref().and_then(|key| crate::media::url(svc, key));
    let (icon, image) = (url(&account.avatar_file), url(&account.header_file));
    Ok(LocalActor { account, public_key_pem, icon, image })
}

/// The instance actor's key (its document shows the public half).
pub async fn instance_actor(svc: &Services) -> Result<SigningKey> {
    keys::instance(svc).await
}

/// The post `id` of `username`, when it is served.
pub async fn post(svc: &Services, username: &str, id: &str) -> Result<Post> {
    let mut tx = svc.db.read().await?;
    let (author, status) = served_status(&mut tx, username, id).await?;
    outbox::post(&mut tx, &author, status).await
}

async fn served_status(tx: &mut Box<dyn Tx>, username: &str, id: &str) -> Result<(Account, Status)> {
    let author = local(tx, username).await?;
    let id = Id::parse(id).ok_or_else(Error::not_found)?;
    let status = tx.status_by_id(id).await?.filter(|s| s.account_id == author.id && served(s));
    Ok((author, status.ok_or_else(Error::not_found)?))
}

/// The URI of the served post `id` of `username`, and the URIs of its public and unlisted
/// replies (of any account, oldest first): what other servers fetch to complete a thread.
pub async fn replies(svc: &Services, username: &str, id: &str) -> Result<(String, Vec<String>)> {
    let mut tx = svc.db.read().await?;
    let (_, status) = served_status(&mut tx, username, id).await?;
    let thread = tx.conversation(status.conversation_id, 4096).await?;
    let replies = thread
        .into_iter()
        .filter(|r| r.in_reply_to_id == Some(status.id))
        .filter(|r| matches!(r.visibility, Visibility::Public | Visibility::Unlisted))
        .take(REPLIES_PAGE)
        .map(|r| r.uri)
        .collect();
    Ok((status.uri, replies))
}

/// A page of `username`'s outbox: its served posts (no reblogs), newest first, before
/// `max_id`; and the `max_id` of the next page, when there may be one.
pub async fn outbox(svc: &Services, username: &str, max_id: Option<Id>) -> Result<(Account, Vec<Post>, Option<Id>)> {
    let mut tx = svc.db.read().await?;
    let author = local(&mut tx, username).await?;
    let page = PageRequest { max_id, limit: OUTBOX_PAGE, ..Default::default() };
    let filter = AccountStatusFilter { exclude_reblogs: true, ..Default::default() };
    let statuses = tx.account_statuses(author.id, &filter, &page).await?;
    let next = statuses.last().map(|s| s.id).filter(|_| statuses.len() == OUTBOX_PAGE as usize);
    let mut posts = Vec::with_capacity(statuses.len());
    for s in statuses.into_iter().filter(served) {
        posts.push(outbox::post(&mut tx, &author, s).await?);
    }
    Ok((author, posts, next))
}

/// `username`'s pinned posts that are served.
pub async fn featured(svc: &Services, username: &str) -> Result<(Account, Vec<Post>)> {
    let mut tx = svc.db.read().await?;
    let author = local(&mut tx, username).await?;
    let page = PageRequest { limit: 20, ..Default::default() };
    let ids: Vec<Id> =
        tx.marked_statuses(StatusMark::Pin, author.id, &page).await?.into_iter().map(|k| k.item).collect();
    let mut posts = Vec::new();
    for s in tx.statuses_by_ids(&ids).await?.into_iter().filter(served) {
        posts.push(outbox::post(&mut tx, &author, s).await?);
    }
    Ok((author, posts))
}
