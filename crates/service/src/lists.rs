//! Lists: `/api/v1/lists` (a user's lists of accounts they follow), their members, their
//! timeline (`/api/v1/timelines/list/:id`) and stream, and `/api/v1/accounts/:id/lists`.
//! Members must be followed; unfollowing removes them (see the relationship store). An
//! exclusive list's members leave the owner's home timeline and home stream.

use ferrodon_domain::model::{Account, LIST_REPLIES_POLICIES, List, MAX_LISTS, Status};
use ferrodon_domain::ports::Tx;
use ferrodon_kernel::{Error, Id, Page, PageRequest, Result};

use crate::Services;
use crate::auth::{Viewer, now};

/// The parameters of `POST` and `PUT /api/v1/lists`; absent ones are left as they are.
#[derive(Debug, Default)]
pub struct ListParams {
    pub title: Option<String>,
    pub replies_policy: Option<String>,
    pub exclusive: Option<bool>,
}

/// `GET /api/v1/lists`
pub async fn index(svc: &Services, me: &Viewer) -> Result<Vec<List>> {
    svc.db.read().await?.lists_of(me.account.id).await
}

/// `GET /api/v1/lists/:id`
pub async fn show(svc: &Services, me: &Viewer, id: &str) -> Result<List> {
    let mut tx = svc.db.read().await?;
    own(&mut tx, me, id).await
}

/// `POST /api/v1/lists`
pub async fn create(svc: &Services, me: &Viewer, p: ListParams) -> Result<List> {
    let at = now();
    let mut list = List {
        id: Id::generate(),
        account_id: me.account.id,
        title: String::new(),
        replies_policy: "list".into(),
        exclusive: false,
        created_at: at,
        updated_at: at,
    };
    apply(&mut list, p)?;
    let mut tx = svc.db.write().await?;
    if tx.lists_of(me.account.id).await?.len() >= MAX_LISTS {
        return Err(Error::validation(format!("Validation failed: You cannot have more than {MAX_LISTS} lists")));
    }
    tx.insert_list(&list).await?;
    tx.commit().await?;
    Ok(list)
}

/// `PUT /api/v1/lists/:id`
pub async fn update(svc: &Services, me: &Viewer, id: &str, p: ListParams) -> Result<List> {
    let mut tx = svc.db.write().await?;
    let mut list = own(&mut tx, me, id).await?;
    apply(&mut list, p)?;
    list.updated_at = now();
    tx.update_list(&list).await?;
    tx.commit().await?;
    Ok(list)
}

/// `DELETE /api/v1/lists/:id`
pub async fn delete(svc: &Services, me: &Viewer, id: &str) -> Result<()> {
    let mut tx = svc.db.write().await?;
    let list = own(&mut tx, me, id).await?;
    tx.delete_list(list.id).await?;
    tx.commit().await
}

/// `GET /api/v1/lists/:id/accounts`: members, newest membership first (`limit` 0: all).
pub async fn members(svc: &Services, me: &Viewer, id: &str, page: &PageRequest) -> Result<Page<Account>> {
    let mut tx = svc.db.read().await?;
    let list = own(&mut tx, me, id).await?;
    let rows = tx.list_members(list.id, page).await?;
    let ids: Vec<Id> = rows.iter().map(|r| r.item).collect();
    let accounts = tx.accounts_by_ids(&ids).await?;
    // With `limit` 0 everything was read: no next page.
    let page = Page::from_rows(rows, |r| r.key, if page.limit == 0 { u32::MAX } else { page.limit });
    let items = page.items.iter().filter_map(|r| accounts.iter().find(|a| a.id == r.item).cloned()).collect();
    Ok(Page { items, next_max_id: page.next_max_id, prev_min_id: page.prev_min_id })
}

/// `POST /api/v1/lists/:id/accounts` (`account_ids[]`): accounts the owner follows.
pub async fn add_members(svc: &Services, me: &Viewer, id: &str, raw_ids: &[String]) -> Result<()> {
    let ids = parse_ids(raw_ids)?;
    let mut tx = svc.db.write().await?;
    let list = own(&mut tx, me, id).await?;
    if tx.accounts_by_ids(&ids).await?.len() != ids.len() {
        return Err(Error::not_found());
    }
    for account in &ids {
        if !tx.is_following(me.account.id, *account).await? {
            return Err(Error::validation("Validation failed: Account has not been followed"));
        }
    }
    tx.add_list_members(list.id, &ids).await?;
    tx.commit().await
}

/// `DELETE /api/v1/lists/:id/accounts` (`account_ids[]`)
pub async fn remove_members(svc: &Services, me: &Viewer, id: &str, raw_ids: &[String]) -> Result<()> {
    let ids = parse_ids(raw_ids)?;
    let mut tx = svc.db.write().await?;
    let list = own(&mut tx, me, id).await?;
    tx.remove_list_members(list.id, &ids).await?;
    tx.commit().await
}

/// `GET /api/v1/accounts/:id/lists`: the viewer's lists that have the account.
pub async fn containing(svc: &Services, me: &Viewer, account_id: &str) -> Result<Vec<List>> {
    let id = Id::parse(account_id).ok_or_else(Error::not_found)?;
    let mut tx = svc.db.read().await?;
    tx.account_by_id(id).await?.ok_or_else(Error::not_found)?;
    tx.lists_with_member(id, Some(me.account.id)).await
}

/// `GET /api/v1/timelines/list/:id`
pub async fn timeline(svc: &Services, me: &Viewer, id: &str, page: &PageRequest) -> Result<Page<Status>> {
    let mut tx = svc.db.read().await?;
    let list = own(&mut tx, me, id).await?;
    let rows = tx.list_timeline(&list, page).await?;
    crate::timelines::page_of(&mut tx, Some(me.account.id), rows, page, true).await
}

/// The viewer's list `raw_id` (another's is not found), for the streaming API too.
pub async fn own(tx: &mut Box<dyn Tx>, me: &Viewer, raw_id: &str) -> Result<List> {
    let id = Id::parse(raw_id).ok_or_else(Error::not_found)?;
    let lists = tx.lists_of(me.account.id).await?;
    lists.into_iter().find(|l| l.id == id).ok_or_else(Error::not_found)
}

fn apply(list: &mut List, p: ListParams) -> Result<()> {
    if let Some(title) = p.title {
        list.title = title.trim().to_string();
    }
    if list.title.is_empty() {
        return Err(Error::field("title", "ERR_BLANK", "can't be blank"));
    }
    if let Some(policy) = p.replies_policy.map(|r| r.trim().to_string()).filter(|r| !r.is_empty()) {
        if !LIST_REPLIES_POLICIES.contains(&policy.as_str()) {
            return Err(Error::field("replies_policy", "ERR_INCLUSION", "is not included in the list"));
        }
        list.replies_policy = policy;
    }
    list.exclusive = p.exclusive.unwrap_or(list.exclusive);
    Ok(())
}

fn parse_ids(raw: &[String]) -> Result<Vec<Id>> {
    let mut ids = Vec::new();
    for r in raw {
        let id = Id::parse(r).ok_or_else(Error::not_found)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}
