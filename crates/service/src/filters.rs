//! Custom filters: `/api/v2/filters` (with their keywords and statuses) and the older
//! `/api/v1/filters` (one keyword each), and the `filtered` results statuses carry.
//!
//! As on Mastodon, REST responses carry every matching filter (the client picks by context)
//! while the streaming API applies a filter in its context: `hide` drops the status, others
//! attach the results. Every change tells the user's streams (`filters_changed`).

use ferrodon_domain::model::{
    FILTER_ACTIONS, FILTER_CONTEXTS, Filter, FilterKeyword, FilterStatus, MAX_FILTER_KEYWORD, MAX_FILTER_TITLE, Poll,
    Status, filterable_text,
};
use ferrodon_domain::ports::Tx;
use ferrodon_kernel::{Error, Id, Result};

use crate::auth::{Viewer, now};
use crate::{Services, effects};

/// A keyword in `keywords_attributes[]`: new without `id`; changed, or removed with `_destroy`.
#[derive(Debug, Default, Clone)]
pub struct KeywordParams {
    pub id: Option<String>,
    pub keyword: Option<String>,
    pub whole_word: Option<bool>,
    pub destroy: bool,
}

/// The parameters of `POST` and `PUT /api/v2/filters`; absent ones are left as they are.
#[derive(Debug, Default)]
pub struct FilterParams {
    pub title: Option<String>,
    pub context: Option<Vec<String>>,
    pub filter_action: Option<String>,
    /// Seconds from now; `Some(None)` (given blank) removes the expiry.
    pub expires_in: Option<Option<i64>>,
    pub keywords: Vec<KeywordParams>,
}

/// `GET /api/v2/filters`
pub async fn list(svc: &Services, me: &Viewer) -> Result<Vec<Filter>> {
    svc.db.read().await?.filters_of(me.account.id).await
}

/// `GET /api/v2/filters/:id`
pub async fn show(svc: &Services, me: &Viewer, id: &str) -> Result<Filter> {
    let mut tx = svc.db.read().await?;
    own(&mut tx, me, id).await
}

/// `POST /api/v2/filters`
pub async fn create(svc: &Services, me: &Viewer, p: FilterParams) -> Result<Filter> {
    let at = now();
    let mut filter = Filter {
        id: Id::generate(),
        account_id: me.account.id,
        title: String::new(),
        context_json: "[]".into(),
        action: "warn".into(),
        expires_at: None,
        created_at: at,
        updated_at: at,
        keywords: Vec::new(),
        statuses: Vec::new(),
    };
    apply(&mut filter, &p, at)?;
    let mut tx = svc.db.write().await?;
    tx.insert_filter(&filter).await?;
    let filter = save_keywords(&mut tx, filter, &p.keywords).await?;
    effects::filters_changed(svc, &mut tx, me.account.id).await?;
    tx.commit().await?;
    Ok(filter)
}

/// `PUT /api/v2/filters/:id`
pub async fn update(svc: &Services, me: &Viewer, id: &str, p: FilterParams) -> Result<Filter> {
    let mut tx = svc.db.write().await?;
    let mut filter = own(&mut tx, me, id).await?;
    let at = now();
    apply(&mut filter, &p, at)?;
    filter.updated_at = at;
    tx.update_filter(&filter).await?;
    let filter = save_keywords(&mut tx, filter, &p.keywords).await?;
    effects::filters_changed(svc, &mut tx, me.account.id).await?;
    tx.commit().await?;
    Ok(filter)
}

/// `DELETE /api/v2/filters/:id`
pub async fn delete(svc: &Services, me: &Viewer, id: &str) -> Result<()> {
    let mut tx = svc.db.write().await?;
    let filter = own(&mut tx, me, id).await?;
    tx.delete_filter(filter.id).await?;
    effects::filters_changed(svc, &mut tx, me.account.id).await?;
    tx.commit().await?;
    Ok(())
}

/// `GET /api/v2/filters/:filter_id/keywords`
pub async fn keywords(svc: &Services, me: &Viewer, filter_id: &str) -> Result<Vec<FilterKeyword>> {
    let mut tx = svc.db.read().await?;
    Ok(own(&mut tx, me, filter_id).await?.keywords)
}

/// `POST /api/v2/filters/:filter_id/keywords`
pub async fn add_keyword(svc: &Services, me: &Viewer, filter_id: &str, p: KeywordParams) -> Result<FilterKeyword> {
    let mut tx = svc.db.write().await?;
    let filter = own(&mut tx, me, filter_id).await?;
    let keyword = FilterKeyword {
        id: Id::generate(),
        filter_id: filter.id,
        keyword: valid_keyword(p.keyword.as_deref())?,
        whole_word: p.whole_word.unwrap_or(true),
    };
    tx.upsert_filter_keyword(&keyword).await?;
    effects::filters_changed(svc, &mut tx, me.account.id).await?;
    tx.commit().await?;
    Ok(keyword)
}

/// `GET /api/v2/filters/keywords/:id`
pub async fn keyword(svc: &Services, me: &Viewer, id: &str) -> Result<FilterKeyword> {
    let mut tx = svc.db.read().await?;
    own_keyword(&mut tx, me, id).await
}

/// `PUT /api/v2/filters/keywords/:id`
pub async fn update_keyword(svc: &Services, me: &Viewer, id: &str, p: KeywordParams) -> Result<FilterKeyword> {
    let mut tx = svc.db.write().await?;
    let mut keyword = own_keyword(&mut tx, me, id).await?;
    if p.keyword.is_some() {
        keyword.keyword = valid_keyword(p.keyword.as_deref())?;
    }
    keyword.whole_word = p.whole_word.unwrap_or(keyword.whole_word);
    tx.upsert_filter_keyword(&keyword).await?;
    effects::filters_changed(svc, &mut tx, me.account.id).await?;
    tx.commit().await?;
    Ok(keyword)
}

/// `DELETE /api/v2/filters/keywords/:id`
pub async fn delete_keyword(svc: &Services, me: &Viewer, id: &str) -> Result<()> {
    let mut tx = svc.db.write().await?;
    let keyword = own_keyword(&mut tx, me, id).await?;
    tx.delete_filter_keyword(keyword.id).await?;
    effects::filters_changed(svc, &mut tx, me.account.id).await?;
    tx.commit().await?;
    Ok(())
}

/// `GET /api/v2/filters/:filter_id/statuses`
pub async fn statuses(svc: &Services, me: &Viewer, filter_id: &str) -> Result<Vec<FilterStatus>> {
    let mut tx = svc.db.read().await?;
    Ok(own(&mut tx, me, filter_id).await?.statuses)
}

/// `POST /api/v2/filters/:filter_id/statuses` (`status_id`): a status the viewer can see.
pub async fn add_status(svc: &Services, me: &Viewer, filter_id: &str, status_id: Option<&str>) -> Result<FilterStatus> {
    let status_id = status_id.and_then(Id::parse).ok_or_else(Error::not_found)?;
    let mut tx = svc.db.write().await?;
    let filter = own(&mut tx, me, filter_id).await?;
    let status = tx.status_by_id(status_id).await?.ok_or_else(Error::not_found)?;
    if !crate::visibility::can_view(&mut tx, Some(me.account.id), &status).await? {
        return Err(Error::not_found());
    }
    let row = FilterStatus { id: Id::generate(), filter_id: filter.id, status_id: status.id };
    if !tx.insert_filter_status(&row).await? {
        return Err(Error::field("status", "ERR_TAKEN", "has already been taken"));
    }
    effects::filters_changed(svc, &mut tx, me.account.id).await?;
    tx.commit().await?;
    Ok(row)
}

/// `GET /api/v2/filters/statuses/:id`
pub async fn status(svc: &Services, me: &Viewer, id: &str) -> Result<FilterStatus> {
    let mut tx = svc.db.read().await?;
    own_status(&mut tx, me, id).await
}

/// `DELETE /api/v2/filters/statuses/:id`: answers what was removed (as documented).
pub async fn delete_status(svc: &Services, me: &Viewer, id: &str) -> Result<FilterStatus> {
    let mut tx = svc.db.write().await?;
    let row = own_status(&mut tx, me, id).await?;
    tx.delete_filter_status(row.id).await?;
    effects::filters_changed(svc, &mut tx, me.account.id).await?;
    tx.commit().await?;
    Ok(row)
}

/// The parameters of `POST` and `PUT /api/v1/filters`.
#[derive(Debug, Default)]
pub struct V1Params {
    pub phrase: Option<String>,
    pub context: Option<Vec<String>>,
    pub irreversible: Option<bool>,
    pub whole_word: Option<bool>,
    pub expires_in: Option<Option<i64>>,
}

/// A keyword with the filter it belongs to: what `/api/v1/filters` calls a filter.
pub struct KeywordFilter {
    pub filter: Filter,
    pub keyword: FilterKeyword,
}

/// `GET /api/v1/filters`: every keyword of every filter.
pub async fn v1_list(svc: &Services, me: &Viewer) -> Result<Vec<KeywordFilter>> {
    let filters = svc.db.read().await?.filters_of(me.account.id).await?;
    Ok(filters
        .iter()
        .flat_map(|f| f.keywords.iter().map(move |k| KeywordFilter { filter: f.clone(), keyword: k.clone() }))
        .collect())
}

/// `GET /api/v1/filters/:id` (a keyword's id).
pub async fn v1_show(svc: &Services, me: &Viewer, id: &str) -> Result<KeywordFilter> {
    let mut tx = svc.db.read().await?;
    let (filter, keyword) = own_v1(&mut tx, me, id).await?;
    Ok(KeywordFilter { filter, keyword })
}

/// `POST /api/v1/filters`: a filter titled by its one keyword.
pub async fn v1_create(svc: &Services, me: &Viewer, p: V1Params) -> Result<KeywordFilter> {
    let phrase = valid_keyword(p.phrase.as_deref())?;
    let params = FilterParams {
        title: Some(phrase.clone()),
        context: p.context,
        filter_action: Some(if p.irreversible.unwrap_or(false) { "hide" } else { "warn" }.into()),
        expires_in: p.expires_in,
        keywords: vec![KeywordParams { keyword: Some(phrase), whole_word: p.whole_word, ..Default::default() }],
    };
    let created = create(svc, me, params).await?;
    let id = created.keywords.first().map(|k| k.id.to_string()).unwrap_or_default();
    v1_show(svc, me, &id).await
}

/// `PUT /api/v1/filters/:id`: changes the keyword and its filter.
pub async fn v1_update(svc: &Services, me: &Viewer, id: &str, p: V1Params) -> Result<KeywordFilter> {
    let mut tx = svc.db.write().await?;
    let (mut filter, mut keyword) = own_v1(&mut tx, me, id).await?;
    let at = now();
    let params = FilterParams {
        title: None,
        context: p.context,
        filter_action: p.irreversible.map(|i| if i { "hide" } else { "warn" }.into()),
        expires_in: p.expires_in,
        keywords: Vec::new(),
    };
    apply(&mut filter, &params, at)?;
    filter.updated_at = at;
    if p.phrase.is_some() {
        keyword.keyword = valid_keyword(p.phrase.as_deref())?;
    }
    keyword.whole_word = p.whole_word.unwrap_or(keyword.whole_word);
    tx.update_filter(&filter).await?;
    tx.upsert_filter_keyword(&keyword).await?;
    effects::filters_changed(svc, &mut tx, me.account.id).await?;
    tx.commit().await?;
    Ok(KeywordFilter { filter, keyword })
}

/// `DELETE /api/v1/filters/:id`: the keyword, and its filter when it was the last one.
pub async fn v1_delete(svc: &Services, me: &Viewer, id: &str) -> Result<()> {
    let mut tx = svc.db.write().await?;
    let (filter, keyword) = own_v1(&mut tx, me, id).await?;
    if filter.keywords.len() == 1 && filter.statuses.is_empty() {
        tx.delete_filter(filter.id).await?;
    } else {
        tx.delete_filter_keyword(keyword.id).await?;
    }
    effects::filters_changed(svc, &mut tx, me.account.id).await?;
    tx.commit().await?;
    Ok(())
}

/// What a status is matched against: see [`filterable_text`] (poll options included).
pub fn text_of(s: &Status, poll: Option<&Poll>) -> String {
    let mut extra: Vec<String> = s.media().into_iter().filter_map(|m| m.description).collect();
    extra.extend(poll.map(Poll::options).unwrap_or_default());
    filterable_text(&s.spoiler_text, &s.content, &extra)
}

/// Checks and applies the given fields of `p` to `filter`.
fn apply(filter: &mut Filter, p: &FilterParams, at: i64) -> Result<()> {
    if let Some(title) = &p.title {
        filter.title = title.trim().to_string();
    }
    if filter.title.is_empty() {
        return Err(Error::field("title", "ERR_BLANK", "can't be blank"));
    }
    if filter.title.chars().count() > MAX_FILTER_TITLE {
        let description = format!("is too long (maximum is {MAX_FILTER_TITLE} characters)");
        return Err(Error::field("title", "ERR_TOO_LONG", &description));
    }
    if let Some(context) = &p.context {
        let mut context: Vec<String> = context.iter().map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect();
        context.dedup();
        if context.iter().any(|c| !FILTER_CONTEXTS.contains(&c.as_str())) {
            return Err(Error::field("context", "ERR_INVALID", "None or invalid context supplied"));
        }
        filter.context_json = serde_json::to_string(&context).map_err(Error::internal)?;
    }
    if filter.contexts().is_empty() {
        return Err(Error::field("context", "ERR_BLANK", "can't be blank"));
    }
    if let Some(action) = p.filter_action.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        if !FILTER_ACTIONS.contains(&action) {
            return Err(Error::field("filter_action", "ERR_INCLUSION", "is not included in the list"));
        }
        filter.action = action.to_string();
    }
    match p.expires_in {
        Some(Some(secs)) if secs <= 0 => {
            return Err(Error::field("expires_in", "ERR_INVALID", "must be greater than 0"));
        }
        Some(Some(secs)) => filter.expires_at = Some(at.saturating_add(secs.saturating_mul(1000))),
        Some(None) => filter.expires_at = None,
        None => {}
    }
    Ok(())
}

/// Applies `keywords_attributes`: new ones added, given ids changed or (`_destroy`) removed.
async fn save_keywords(tx: &mut Box<dyn Tx>, mut filter: Filter, params: &[KeywordParams]) -> Result<Filter> {
    for p in params {
        match p.id.as_deref().filter(|i| !i.is_empty()) {
            None if p.destroy => {}
            None => {
                let keyword = FilterKeyword {
                    id: Id::generate(),
                    filter_id: filter.id,
                    keyword: valid_keyword(p.keyword.as_deref())?,
                    whole_word: p.whole_word.unwrap_or(true),
                };
                tx.upsert_filter_keyword(&keyword).await?;
                filter.keywords.push(keyword);
            }
            Some(id) => {
                let id = Id::parse(id).ok_or_else(Error::not_found)?;
                let at = filter.keywords.iter().position(|k| k.id == id).ok_or_else(Error::not_found)?;
                if p.destroy {
                    tx.delete_filter_keyword(id).await?;
                    filter.keywords.remove(at);
                    continue;
                }
                let k = &mut filter.keywords[at];
                if p.keyword.is_some() {
                    k.keyword = valid_keyword(p.keyword.as_deref())?;
                }
                k.whole_word = p.whole_word.unwrap_or(k.whole_word);
                tx.upsert_filter_keyword(k).await?;
            }
        }
    }
    Ok(filter)
}

fn valid_keyword(raw: Option<&str>) -> Result<String> {
    let keyword = raw.map(str::trim).unwrap_or_default();
    if keyword.is_empty() {
        return Err(Error::field("keyword", "ERR_BLANK", "can't be blank"));
    }
    if keyword.chars().count() > MAX_FILTER_KEYWORD {
        let description = format!("is too long (maximum is {MAX_FILTER_KEYWORD} characters)");
        return Err(Error::field("keyword", "ERR_TOO_LONG", &description));
    }
    Ok(keyword.to_string())
}

/// The viewer's filter `raw_id`; another's is not found.
async fn own(tx: &mut Box<dyn Tx>, me: &Viewer, raw_id: &str) -> Result<Filter> {
    let id = Id::parse(raw_id).ok_or_else(Error::not_found)?;
    let filters = tx.filters_of(me.account.id).await?;
    filters.into_iter().find(|f| f.id == id).ok_or_else(Error::not_found)
}

async fn own_v1(tx: &mut Box<dyn Tx>, me: &Viewer, raw_id: &str) -> Result<(Filter, FilterKeyword)> {
    let id = Id::parse(raw_id).ok_or_else(Error::not_found)?;
    let filters = tx.filters_of(me.account.id).await?;
    filters
        .into_iter()
        .find_map(|f| f.keywords.iter().find(|k| k.id == id).cloned().map(|k| (f, k)))
        .ok_or_else(Error::not_found)
}

async fn own_keyword(tx: &mut Box<dyn Tx>, me: &Viewer, raw_id: &str) -> Result<FilterKeyword> {
    Ok(own_v1(tx, me, raw_id).await?.1)
}

async fn own_status(tx: &mut Box<dyn Tx>, me: &Viewer, raw_id: &str) -> Result<FilterStatus> {
    let id = Id::parse(raw_id).ok_or_else(Error::not_found)?;
    let filters = tx.filters_of(me.account.id).await?;
    filters.iter().flat_map(|f| f.statuses.iter()).find(|s| s.id == id).cloned().ok_or_else(Error::not_found)
}
