//! Mastodon entities for notifications: `Notification`.

use std::collections::HashMap;

use ferrodon_domain::model::{Account, Notification};
use ferrodon_domain::ports::Tx;
use ferrodon_kernel::time::rfc3339;
use ferrodon_kernel::{Id, Result};
use ferrodon_mastodon_api as api;

use super::{account, statuses_in};
use crate::Services;

pub(crate) async fn notifications_in(
    svc: &Services,
    tx: &mut Box<dyn Tx>,
    viewer: Id,
    list: &[Notification],
) -> Result<Vec<api::Notification>> {
    let mut account_ids: Vec<Id> = list.iter().map(|n| n.from_account_id).collect();
    account_ids.sort_unstable();
    account_ids.dedup();
    let accounts: HashMap<Id, Account> =
        tx.accounts_by_ids(&account_ids).await?.into_iter().map(|a| (a.id, a)).collect();
    let status_ids: Vec<Id> = list.iter().filter_map(|n| n.status_id).collect();
    let found = tx.statuses_by_ids(&status_ids).await?;
    let rendered: HashMap<String, api::Status> =
        statuses_in(svc, tx, Some(viewer), &found).await?.into_iter().map(|s| (s.id.clone(), s)).collect();
    Ok(list
        .iter()
        .filter_map(|n| {
            let from = accounts.get(&n.from_account_id)?;
            let status = match n.status_id {
                Some(id) => Some(rendered.get(&id.to_string())?.clone()),
                None => None,
            };
            Some(api::Notification {
                id: n.id.to_string(),
                kind: n.kind.as_str().into(),
                group_key: n.group_key.clone(),
                created_at: rfc3339(n.created_at),
                account: account(svc, from),
                status,
            })
        })
        .collect())
}
