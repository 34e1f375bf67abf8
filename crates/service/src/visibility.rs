//! Who may see which status: Mastodon's `StatusPolicy#show?` for single statuses and the
//! timeline filters (blocks either way, mutes) for lists.

use std::collections::HashMap;

use ferrodon_domain::model::{Relationship, Status, Visibility};
use ferrodon_domain::ports::Tx;
use ferrodon_kernel::{Id, Result};

use crate::auth::now;

/// May `viewer` (None = anonymous) see `status`? A reblog needs its original to be visible too.
pub(crate) async fn can_view(tx: &mut Box<dyn Tx>, viewer: Option<Id>, status: &Status) -> Result<bool> {
    Ok(!visible(tx, viewer, std::slice::from_ref(status), false).await?.is_empty())
}

/// Keeps the statuses `viewer` may see, in order. With `timeline`, statuses by (or reblogging)
/// accounts the viewer blocks or mutes are dropped too, as Mastodon's feeds do.
pub(crate) async fn visible(
    tx: &mut Box<dyn Tx>,
    viewer: Option<Id>,
    statuses: &[Status],
    timeline: bool,
) -> Result<Vec<Status>> {
    if statuses.is_empty() {
        return Ok(Vec::new());
    }
    let original_ids: Vec<Id> = statuses.iter().filter_map(|s| s.reblog_of_id).collect();
    let originals: HashMap<Id, Status> =
        tx.statuses_by_ids(&original_ids).await?.into_iter().map(|s| (s.id, s)).collect();
    let mut authors: Vec<Id> =
        statuses.iter().map(|s| s.account_id).chain(originals.values().map(|s| s.account_id)).collect();
    authors.sort_unstable();
    authors.dedup();
    let relations: HashMap<Id, Relationship> = match viewer {
        Some(v) => tx.relationships(v, &authors, now()).await?.into_iter().map(|r| (r.target_id, r)).collect(),
        None => HashMap::new(),
    };
    let allowed = |s: &Status| -> bool {
        let owned = viewer == Some(s.account_id);
        if owned {
            return true;
        }
        let rel = relations.get(&s.account_id);
        if rel.is_some_and(|r| r.blocked_by) {
            return false;
        }
        if timeline && rel.is_some_and(|r| r.blocking || r.muting.is_some()) {
            return false;
        }
        // A blocked domain's posts leave the timelines, except those of accounts still followed
        // (a domain block does not end the viewer's own follows), as in Mastodon.
        if timeline && rel.is_some_and(|r| r.domain_blocking && r.following.is_none()) {
            return false;
        }
        match s.visibility {
            Visibility::Direct => viewer.is_some_and(|v| s.mentions_account(v)),
            Visibility::Private => {
                viewer.is_some_and(|v| s.mentions_account(v)) || rel.is_some_and(|r| r.following.is_some())
            }
            Visibility::Public | Visibility::Unlisted => true,
        }
    };
    Ok(statuses
        .iter()
        .filter(|s| {
            allowed(s)
                && match s.reblog_of_id {
                    None => true,
                    Some(id) => originals.get(&id).is_some_and(&allowed),
                }
        })
        .cloned()
        .collect())
}
