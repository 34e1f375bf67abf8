//! `GET /api/v2/search`: local accounts and hashtags (status full text comes with the search
//! backends).

use ferrodon_domain::model::{Account, Status, Tag};
use ferrodon_kernel::{Error, Result};

use crate::auth::Caller;
use crate::{Services, accounts};

pub struct SearchQuery<'a> {
    pub q: &'a str,
    pub kind: Option<&'a str>,
    pub limit: u32,
    pub offset: u32,
    /// Look up on other servers what the query names (`resolve=true`; signed-in users only,
    /// as in Mastodon).
    pub resolve: bool,
}

/// What a search found.
#[derive(Debug, Default)]
pub struct Found {
    pub accounts: Vec<Account>,
    pub statuses: Vec<Status>,
    pub tags: Vec<Tag>,
}

pub async fn search(svc: &Services, caller: &Caller, q: SearchQuery<'_>) -> Result<Found> {
    caller.optional_user("read:search")?;
    if q.offset > 0 && (caller.viewer().is_none() || q.kind.is_none()) {
        return Err(Error::unauthorized("Search queries with offset require an authenticated user and a type"));
    }
    let want = |k: &str| q.kind.is_none_or(|t| t == k);
    let mut out = Found::default();
    let text = q.q.trim();
    if text.is_empty() {
        return Ok(out);
    }
    if q.resolve
        && caller.viewer().is_some()
        && let Err(e) = crate::remote::resolve_query(svc, text).await
    {
        tracing::debug!(error = %e, q = text, "resolving a search query found nothing");
    }
    if let Some(found) = exact(svc, caller, text).await? {
        match found {
            Exact::Account(a) if want("accounts") => out.accounts.push(*a),
            Exact::Status(s) if want("statuses") => out.statuses.push(*s),
            _ => {}
        }
        return Ok(out);
    }
    if want("accounts") && !text.starts_with('#') {
        out.accounts = accounts::search(svc, text, q.limit, q.offset).await?;
    }
    if want("hashtags") && !text.starts_with('@') {
        let name = text.trim_start_matches('#');
        if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            let mut tx = svc.db.read().await?;
            out.tags = tx.search_tags(name, q.limit, q.offset).await?;
        }
    }
    Ok(out)
}

enum Exact {
    Account(Box<Account>),
    Status(Box<Status>),
}

/// A query that names one thing: `@user@domain`, or the URL of an account or a status.
async fn exact(svc: &Services, caller: &Caller, text: &str) -> Result<Option<Exact>> {
    let mut tx = svc.db.read().await?;
    if text.starts_with("https://") || text.starts_with("http://") {
        if let Some(a) = tx.account_by_uri(text).await? {
            return Ok(Some(Exact::Account(Box::new(a))));
        }
        if let Some(s) = tx.status_by_uri(text).await? {
            drop(tx);
            return Ok(crate::statuses::get(svc, caller, &s.id.to_string())
                .await
                .ok()
                .map(|s| Exact::Status(Box::new(s))));
        }
        return Ok(None);
    }
    let acct = text.trim_start_matches('@');
    if let Some((user, domain)) = acct.split_once('@')
        && !domain.is_empty()
    {
        let local = svc.config.is_local_domain(domain);
        let found = tx.account_by_username(user, if local { "" } else { domain }).await?;
        return Ok(found.map(|a| Exact::Account(Box::new(a))));
    }
    Ok(None)
}
