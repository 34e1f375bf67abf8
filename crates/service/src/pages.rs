//! What the public web pages show an anonymous visitor: a local account's profile and feed, a
//! post with its thread. Only what is public, of confirmed and approved local accounts; nothing
//! of suspended ones (their pages say they are gone).

use ferrodon_domain::model::{Account, AccountStatusFilter, Status};
use ferrodon_kernel::{ErrorKind, Id, PageRequest, Result};

use crate::{Caller, Services, accounts, statuses, timelines};

/// What a page finds.
pub enum Shown<T> {
    Found(T),
    /// Nothing an anonymous visitor may see (404).
    Missing,
    /// The account was suspended (410).
    Gone,
}

/// A profile's posts: the pinned ones first on the first page, then the recent ones.
pub struct Profile {
    pub account: Account,
    pub statuses: Vec<Status>,
    pub next_max_id: Option<Id>,
}

/// `/@user` (pinned, then recent public posts without replies), or with `feed` its RSS feed
/// (its own posts, without replies or boosts, as Mastodon's).
pub async fn profile(svc: &Services, username: &str, page: &PageRequest, feed: bool) -> Result<Shown<Profile>> {
    let Some(account) = accounts::public_local(svc, username).await? else { return Ok(Shown::Missing) };
    if account.suspended_at.is_some() {
        return Ok(Shown::Gone);
    }
    let id = account.id.to_string();
    let filter = AccountStatusFilter { exclude_replies: true, exclude_reblogs: feed, ..Default::default() };
    let recent = timelines::account(svc, &Caller::Anonymous, &id, filter, page).await?;
    let mut shown = Vec::new();
    if !feed && page.max_id.is_none() {
        let pinned = AccountStatusFilter { pinned: true, ..Default::default() };
        let first = PageRequest { max_id: None, since_id: None, min_id: None, limit: page.limit };
        shown = timelines::account(svc, &Caller::Anonymous, &id, pinned, &first).await?.items;
    }
    let pinned: Vec<Id> = shown.iter().map(|st| st.id).collect();
    shown.extend(recent.items.into_iter().filter(|st| !pinned.contains(&st.id)));
    Ok(Shown::Found(Profile { account, statuses: shown, next_max_id: recent.next_max_id }))
}

/// A post and its public thread, in order (ancestors, the post, descendants).
pub struct Thread {
    pub main: Status,
    pub statuses: Vec<Status>,
}

/// `/@user/:id`: a public post of `username`'s, with the rest of its thread an anonymous visitor
/// may see, suspended accounts' posts left out.
pub async fn thread(svc: &Services, username: &str, raw_id: &str) -> Result<Shown<Thread>> {
    let main = match statuses::get(svc, &Caller::Anonymous, raw_id).await {
        Ok(st) => st,
        Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::Forbidden | ErrorKind::Unauthorized) => {
            return Ok(Shown::Missing);
        }
        Err(e) => return Err(e),
    };
    let author = accounts::public_local(svc, username).await?;
    let Some(author) = author.filter(|a| a.id == main.account_id && main.reblog_of_id.is_none()) else {
        return Ok(Shown::Missing);
    };
    if author.suspended_at.is_some() {
        return Ok(Shown::Gone);
    }
    let context = statuses::context(svc, &Caller::Anonymous, raw_id).await?;
    let all: Vec<Status> = context.ancestors.into_iter().chain([main.clone()]).chain(context.descendants).collect();
    let mut ids: Vec<Id> = all.iter().map(|st| st.account_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let suspended: Vec<Id> = svc
        .db
        .read()
        .await?
        .accounts_by_ids(&ids)
        .await?
        .into_iter()
        .filter(|a| a.suspended_at.is_some())
        .map(|a| a.id)
        .collect();
    let statuses = all.into_iter().filter(|st| !suspended.contains(&st.account_id)).collect();
    Ok(Shown::Found(Thread { main, statuses }))
}
