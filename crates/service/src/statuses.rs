//! Statuses: posting, editing, deleting, and everything done to a status (favourite, reblog,
//! bookmark, pin, mute, polls), with the notifications these cause.

use ferrodon_domain::model::{
    Account, Keyed, MentionedAccount, NewPoll, NewStatus, NotificationType, Poll, Status, StatusEdit as EditRecord,
    StatusInteractions, StatusRevision, Visibility,
};
use ferrodon_domain::ports::{RelatedAccounts, StatusMark, Tx};
use ferrodon_domain::rules::text;
use ferrodon_kernel::{Error, ErrorKind, Id, Page, PageRequest, Result};

use crate::auth::{Caller, Viewer, now};
use crate::effects::{self, Removed};
use crate::visibility::{can_view, visible};
use crate::{Services, limits};
use crate::{media, remote};

/// Accounts mentioned in `source` that exist here (local ones, or remote ones we know).
pub(crate) async fn resolve_mentions(
    svc: &Services,
    tx: &mut Box<dyn Tx>,
    source: &str,
) -> Result<Vec<(text::MentionRef, Account)>> {
    let mut out = Vec::new();
    for m in text::extract_mentions(source) {
        let domain = match m.domain.as_deref() {
            Some(d) if !svc.config.is_local_domain(d) => d,
            _ => "",
        };
        if let Some(a) = tx.account_by_username(&m.username, domain).await?
            && a.suspended_at.is_none()
        {
            out.push((m, a));
        }
    }
    Ok(out)
}

/// `source` as HTML, as a local status' text is rendered, linking the `resolved` mentions.
pub(crate) fn format_text(svc: &Services, source: &str, resolved: &[(text::MentionRef, Account)]) -> String {
    let base = svc.base_url();
    let resolve = |m: &text::MentionRef| {
        resolved
            .iter()
            .find(|(r, _)| r.username.eq_ignore_ascii_case(&m.username) && r.domain == m.domain)
            .map(|(_, a)| text::ResolvedMention { url: a.url.clone(), username: a.username.clone() })
    };
    let ctx =
        text::FormatContext { local_domain: &svc.config.local_domain, base_url: &base, resolve_mention: &resolve };
    text::format_status(source, &ctx)
}

/// Parameters of a new status (`POST /api/v1/statuses`) or an edit (`PUT`).
#[derive(Clone, Debug, Default)]
pub struct StatusParams {
    pub status: Option<String>,
    pub spoiler_text: Option<String>,
    pub sensitive: Option<bool>,
    pub visibility: Option<String>,
    pub language: Option<String>,
    pub in_reply_to_id: Option<String>,
    /// The uploads to attach (`None`: not given, so an edit keeps the attachments it has).
    pub media_ids: Option<Vec<String>>,
    /// New descriptions and focus points of attachments, on an edit.
    pub media_attributes: Vec<MediaAttribute>,
    pub poll: Option<PollParams>,
    pub scheduled_at: Option<String>,
}

/// `media_attributes[][id|description|focus]` of an edit.
#[derive(Clone, Debug, Default)]
pub struct MediaAttribute {
    pub id: String,
    pub description: Option<String>,
    pub focus: Option<String>,
}

impl StatusParams {
    fn has_media(&self) -> bool {
        self.media_ids.as_ref().is_some_and(|ids| !ids.is_empty())
    }
}

#[derive(Clone, Debug, Default)]
pub struct PollParams {
    pub options: Vec<String>,
    pub expires_in: Option<i64>,
    pub multiple: bool,
    pub hide_totals: bool,
}

struct Rendered {
    text: String,
    content: String,
    spoiler_text: String,
    mentions: Vec<Account>,
    tags: Vec<String>,
    poll: Option<NewPoll>,
    language: Option<String>,
}

fn validate_language(l: Option<&str>) -> Result<Option<String>> {
    match l.map(str::trim).filter(|l| !l.is_empty()) {
        None => Ok(None),
        Some(l) if l.len() <= 3 && l.chars().all(|c| c.is_ascii_lowercase()) || (l.len() <= 10 && l.contains('-')) => {
            Ok(Some(l.to_string()))
        }
        Some(l) => Err(Error::validation(format!("Validation failed: Language {l} is not a valid language code"))),
    }
}

fn build_poll(p: &PollParams) -> Result<NewPoll> {
    if p.options.len() < 2 {
        return Err(Error::validation("Validation failed: Poll options must have at least 2 items"));
    }
    if p.options.len() > limits::MAX_POLL_OPTIONS {
        return Err(Error::validation(format!(
            "Validation failed: Poll options must have at most {} items",
            limits::MAX_POLL_OPTIONS
        )));
    }
    if p.options.iter().any(|o| o.trim().is_empty()) {
        return Err(Error::validation("Validation failed: Poll options must not be blank"));
    }
    if p.options.iter().any(|o| o.chars().count() > limits::MAX_POLL_OPTION_CHARS) {
        return Err(Error::validation(format!(
            "Validation failed: Poll options must not exceed {} characters each",
            limits::MAX_POLL_OPTION_CHARS
        )));
    }
    let mut seen = std::collections::HashSet::new();
    if !p.options.iter().all(|o| seen.insert(o.trim().to_string())) {
        return Err(Error::validation("Validation failed: Poll options must not contain duplicate items"));
    }
    let expires_in =
        p.expires_in.ok_or_else(|| Error::validation("Validation failed: Poll expires in can't be blank"))?;
    if expires_in < limits::MIN_POLL_EXPIRATION {
        return Err(Error::validation("Validation failed: Poll expiration time is too short"));
    }
    if expires_in > limits::MAX_POLL_EXPIRATION {
        return Err(Error::validation("Validation failed: Poll expiration time is too long"));
    }
    Ok(NewPoll {
        id: Id::generate(),
        options: p.options.iter().map(|o| o.trim().to_string()).collect(),
        expires_at: now() + expires_in * 1000,
        multiple: p.multiple,
        hide_totals: p.hide_totals,
    })
}

async fn render(
    svc: &Services,
    tx: &mut Box<dyn Tx>,
    p: &StatusParams,
    default_language: Option<&str>,
    with_media: bool,
) -> Result<Rendered> {
    // Mastodon strips surrounding white space before saving.
    let text_source = p.status.as_deref().unwrap_or("").trim().to_string();
    if text_source.trim().is_empty() && p.poll.is_none() && !with_media {
        return Err(Error::validation("Validation failed: Text can't be blank"));
    }
    let spoiler_text = p.spoiler_text.as_deref().unwrap_or("").trim().to_string();
    let length = text::status_length(&text_source) + text::grapheme_count(&spoiler_text);
    if length > limits::MAX_STATUS_CHARS {
        return Err(Error::validation(format!(
            "Validation failed: Text character limit of {} exceeded",
            limits::MAX_STATUS_CHARS
        )));
    }
    let poll = p.poll.as_ref().map(build_poll).transpose()?;
    let language = validate_language(p.language.as_deref())?.or_else(|| default_language.map(str::to_string));
    let resolved = resolve_mentions(svc, tx, &text_source).await?;
    let content = format_text(svc, &text_source, &resolved);
    let mut mentions: Vec<Account> = Vec::new();
    for (_, a) in resolved {
        if !mentions.iter().any(|m| m.id == a.id) {
            mentions.push(a);
        }
    }
    Ok(Rendered {
        tags: text::extract_hashtags(&text_source),
        text: text_source,
        content,
        spoiler_text,
        mentions,
        poll,
        language,
    })
}

fn mentioned(a: &Account) -> MentionedAccount {
    MentionedAccount { id: a.id, username: a.username.clone(), acct: a.acct(), url: a.url.clone() }
}

fn status_id(raw: &str) -> Result<Id> {
    Id::parse(raw).ok_or_else(Error::not_found)
}

/// `POST /api/v1/statuses`. With an `Idempotency-Key` seen in the last hour, returns that status.
pub async fn create(svc: &Services, me: &Viewer, p: StatusParams, idempotency_key: Option<&str>) -> Result<Status> {
    if p.scheduled_at.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(Error::validation("Validation failed: Scheduled statuses are not supported yet"));
    }
    if p.has_media() && p.poll.is_some() {
        return Err(Error::validation("Validation failed: Cannot attach files to a status with a poll"));
    }
    let visibility = match p.visibility.as_deref().filter(|v| !v.is_empty()) {
        None => me.user.default_visibility,
        Some(v) => Visibility::parse(v)
            .ok_or_else(|| Error::validation("Validation failed: Visibility is not included in the list"))?,
    };
    // Remote accounts it mentions that are not known here yet are looked up first, as Mastodon
    // resolves mentions while posting (outside the transaction: it waits on other servers).
    if let Some(text) = p.status.as_deref() {
        remote::make_mentions_known(svc, text).await;
    }
    let mut tx = svc.db.write().await?;
    let id = Id::generate();
    if let Some(key) = idempotency_key.filter(|k| !k.is_empty()) {
        // Claimed before the status exists: a concurrent request with the same key waits on the
        // claim and then answers with this status instead of making a second one.
        if let Some(existing) = tx.claim_idempotency_key(me.account.id, key, id, now(), now() - 3_600_000).await? {
            return tx.status_by_id(existing).await?.ok_or_else(Error::not_found);
        }
    }
    let parent = match p.in_reply_to_id.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(raw) => {
            let parent = Id::parse(raw).ok_or_else(Error::not_found)?;
            let parent =
                tx.status_by_id(parent).await?.filter(|s| s.reblog_of_id.is_none()).ok_or_else(Error::not_found)?;
            if !can_view(&mut tx, Some(me.account.id), &parent).await? {
                return Err(Error::not_found());
            }
            Some(parent)
        }
    };
    let attached = media::for_status(&mut tx, me.account.id, p.media_ids.as_deref().unwrap_or_default(), None).await?;
    let r = render(svc, &mut tx, &p, me.user.default_language.as_deref(), !attached.is_empty()).await?;
    let emojis = crate::emoji::used_in(svc, &mut tx, &[&r.text, &r.spoiler_text]).await?;
    let base = svc.base_url();
    let new = NewStatus {
        id,
        account_id: me.account.id,
        uri: format!("{base}/users/{}/statuses/{id}", me.account.username),
        url: format!("{base}/@{}/{id}", me.account.username),
        text: r.text,
        content: r.content,
        sensitive: p.sensitive.unwrap_or(me.user.default_sensitive) || !r.spoiler_text.is_empty(),
        spoiler_text: r.spoiler_text,
        visibility,
        language: r.language,
        in_reply_to_id: parent.as_ref().map(|s| s.id),
        in_reply_to_account_id: parent.as_ref().map(|s| s.account_id),
        reblog_of_id: None,
        conversation_id: parent.as_ref().map(|s| s.conversation_id).unwrap_or(id),
        application_id: Some(me.token.application_id),
        created_at: now(),
        mentions: r.mentions.iter().map(mentioned).collect(),
        tags: r.tags,
        poll: r.poll,
        local: true,
        media: attached.iter().filter_map(|m| media::status_media(svc, m)).collect(),
        emojis,
    };
    let status = tx.insert_status(&new).await?;
    media::attach(&mut tx, status.id, &attached).await?;
    effects::status_created(svc, &mut tx, &me.account, &status, &r.mentions).await?;
    tx.commit().await?;
    Ok(status)
}

/// A status the viewer may see, or 404.
async fn visible_status(tx: &mut Box<dyn Tx>, viewer: Option<Id>, id: Id) -> Result<Status> {
    let s = tx.status_by_id(id).await?.ok_or_else(Error::not_found)?;
    if !can_view(tx, viewer, &s).await? {
        return Err(Error::not_found());
    }
    Ok(s)
}

/// `GET /api/v1/statuses/:id`.
pub async fn get(svc: &Services, caller: &Caller, raw_id: &str) -> Result<Status> {
    let viewer = caller.optional_user("read:statuses")?.map(|v| v.account.id);
    let mut tx = svc.db.read().await?;
    visible_status(&mut tx, viewer, status_id(raw_id)?).await
}

/// `GET /api/v1/statuses?id[]=`: the visible ones, in the order asked.
pub async fn get_many(svc: &Services, caller: &Caller, raw_ids: &[String]) -> Result<Vec<Status>> {
    let viewer = caller.optional_user("read:statuses")?.map(|v| v.account.id);
    let ids: Vec<Id> = raw_ids.iter().filter_map(|r| Id::parse(r)).take(20).collect();
    let mut tx = svc.db.read().await?;
    let found = tx.statuses_by_ids(&ids).await?;
    let ordered: Vec<Status> = ids.iter().filter_map(|id| found.iter().find(|s| s.id == *id).cloned()).collect();
    visible(&mut tx, viewer, &ordered, false).await
}

/// A status just deleted, as it was: with its author, its poll and what its author had done to
/// it, read before the rows went (the response shows them, and the source text for redraft).
pub struct Deleted {
    pub status: Status,
    pub author: Account,
    pub poll: Option<Poll>,
    pub interactions: Option<StatusInteractions>,
}

/// `DELETE /api/v1/statuses/:id`.
pub async fn delete(svc: &Services, me: &Viewer, raw_id: &str, delete_media: bool) -> Result<Deleted> {
    let mut tx = svc.db.write().await?;
    let s = tx
        .status_by_id(status_id(raw_id)?)
        .await?
        .filter(|s| s.account_id == me.account.id && s.reblog_of_id.is_none());
    let s = s.ok_or_else(Error::not_found)?;
    let author = tx.account_by_id(s.account_id).await?.ok_or_else(Error::not_found)?;
    let poll = if s.has_poll { tx.polls_of(&[s.id]).await?.pop() } else { None };
    let interactions = tx.interactions(me.account.id, &[&s]).await?.pop().map(|(_, i)| i);
    // Attachments are let go with the status (free to be posted again within a day), or
    // removed with it.
    if delete_media {
        let media = tx.media_of_status(s.id).await?;
        tx.delete_media(&media.iter().map(|m| m.id).collect::<Vec<_>>()).await?;
        effects::media_removed(&mut tx, &media).await?;
    }
    let removed = remove(&mut tx, &s, None).await?;
    effects::status_deleted(svc, &mut tx, &me.account, &s, None, removed).await?;
    tx.commit().await?;
    Ok(Deleted { status: s, author, poll, interactions })
}

/// Deletes `status` (a reblog of `original`, if given) and its reblogs, with what depends on
/// them (a reblog's notification of the original's author). Returns what the deletion's
/// effects need to know of the rows that went.
pub(crate) async fn remove(tx: &mut Box<dyn Tx>, status: &Status, original: Option<&Status>) -> Result<Removed> {
    let page = PageRequest { limit: 1000, ..Default::default() };
    let rebloggers = match status.reblog_of_id {
        None => tx.list_related_accounts(RelatedAccounts::RebloggedBy(status.id), &page).await?,
        Some(_) => Vec::new(),
    };
    let removed = tx.delete_status(status.id).await?;
    if let Some(o) = original {
        tx.delete_notifications_for(o.account_id, status.account_id, Some(o.id), NotificationType::Reblog.as_str())
            .await?;
    }
    Ok(Removed {
        reblog_ids: removed.into_iter().filter(|id| *id != status.id).collect(),
        rebloggers: rebloggers.into_iter().map(|r| r.item.id).collect(),
    })
}

/// `PUT /api/v1/statuses/:id`.
pub async fn edit(svc: &Services, me: &Viewer, raw_id: &str, p: StatusParams) -> Result<Status> {
    if let Some(text) = p.status.as_deref() {
        remote::make_mentions_known(svc, text).await;
    }
    let mut tx = svc.db.write().await?;
    let s = tx
        .status_by_id(status_id(raw_id)?)
        .await?
        .filter(|s| s.account_id == me.account.id && s.reblog_of_id.is_none());
    let s = s.ok_or_else(Error::not_found)?;
    let current_poll = tx.polls_of(&[s.id]).await?.pop();
    let media = edit_media(svc, &mut tx, &s, &p).await?;
    let with_media = match &media {
        Some(m) => !m.is_empty(),
        None => !s.media().is_empty(),
    };
    if with_media && p.poll.is_some() {
        return Err(Error::validation("Validation failed: Cannot attach files to a status with a poll"));
    }
    let r = render(svc, &mut tx, &p, s.language.as_deref(), with_media).await?;
    let emojis = crate::emoji::used_in(svc, &mut tx, &[&r.text, &r.spoiler_text]).await?;
    // An unchanged poll keeps its votes (the store compares options).
    let poll = match (r.poll, current_poll) {
        (Some(mut new), Some(old)) if new.options == old.options() && new.multiple == old.multiple => {
            new.expires_at = old.expires_at;
            Some(new)
        }
        (poll, _) => poll,
    };
    let edit = EditRecord {
        text: r.text,
        content: r.content,
        sensitive: p.sensitive.unwrap_or(s.sensitive) || !r.spoiler_text.is_empty(),
        spoiler_text: r.spoiler_text,
        language: r.language,
        mentions: r.mentions.iter().map(mentioned).collect(),
        tags: r.tags,
        poll,
        edited_at: now(),
        media: Some((media.unwrap_or_else(|| s.media()), emojis)),
    };
    tx.edit_status(s.id, &edit).await?;
    let updated = tx.status_by_id(s.id).await?.ok_or_else(Error::not_found)?;
    effects::status_edited(svc, &mut tx, &me.account, &updated).await?;
    tx.commit().await?;
    Ok(updated)
}

/// The attachments an edit leaves on `s`: those of `media_ids` (or the current ones), with the
/// descriptions and focus points of `media_attributes`. `None` when the edit changes neither.
/// Uploads no longer named are detached (and stay the author's, as in Mastodon).
async fn edit_media(
    svc: &Services,
    tx: &mut Box<dyn Tx>,
    s: &Status,
    p: &StatusParams,
) -> Result<Option<Vec<ferrodon_domain::model::StatusMedia>>> {
    if p.media_ids.is_none() && p.media_attributes.is_empty() {
        return Ok(None);
    }
    let current = tx.media_of_status(s.id).await?;
    let ids: Vec<String> = match &p.media_ids {
        Some(ids) => ids.clone(),
        None => current.iter().map(|m| m.id.to_string()).collect(),
    };
    let mut chosen = media::for_status(tx, s.account_id, &ids, Some(s.id)).await?;
    for m in chosen.iter_mut() {
        if let Some(a) = p.media_attributes.iter().find(|a| Id::parse(&a.id) == Some(m.id)) {
            media::apply_attributes(m, a.description.as_deref(), a.focus.as_deref())?;
            tx.update_media(m).await?;
        }
    }
    let gone: Vec<Id> = current.iter().filter(|c| !chosen.iter().any(|m| m.id == c.id)).map(|c| c.id).collect();
    tx.detach_media(&gone).await?;
    media::attach(tx, s.id, &chosen).await?;
    Ok(Some(chosen.iter().filter_map(|m| media::status_media(svc, m)).collect()))
}

/// A status' edit history: its revisions, oldest first (none for a never-edited status, which
/// is then shown as its one revision, with its poll).
pub struct History {
    pub status: Status,
    pub author: Account,
    pub revisions: Vec<StatusRevision>,
    pub poll: Option<Poll>,
}

/// `GET /api/v1/statuses/:id/history`.
pub async fn history(svc: &Services, caller: &Caller, raw_id: &str) -> Result<History> {
    let viewer = caller.optional_user("read:statuses")?.map(|v| v.account.id);
    let mut tx = svc.db.read().await?;
    let status = visible_status(&mut tx, viewer, status_id(raw_id)?).await?;
    let author = tx.account_by_id(status.account_id).await?.ok_or_else(Error::not_found)?;
    let revisions = tx.status_revisions(status.id).await?;
    let poll = if revisions.is_empty() { tx.polls_of(&[status.id]).await?.pop() } else { None };
    Ok(History { status, author, revisions, poll })
}

/// `GET /api/v1/statuses/:id/source`.
pub async fn source(svc: &Services, caller: &Caller, raw_id: &str) -> Result<Status> {
    let viewer = caller.optional_user("read:statuses")?.map(|v| v.account.id);
    let mut tx = svc.db.read().await?;
    visible_status(&mut tx, viewer, status_id(raw_id)?).await
}

/// A status' thread as its viewer may see it: ancestors oldest first, descendants depth-first.
pub struct Thread {
    pub ancestors: Vec<Status>,
    pub descendants: Vec<Status>,
}

/// `GET /api/v1/statuses/:id/context`.
pub async fn context(svc: &Services, caller: &Caller, raw_id: &str) -> Result<Thread> {
    let viewer = caller.optional_user("read:statuses")?.map(|v| v.account.id);
    let mut tx = svc.db.read().await?;
    let s = visible_status(&mut tx, viewer, status_id(raw_id)?).await?;
    let s = match s.reblog_of_id {
        Some(original) => visible_status(&mut tx, viewer, original).await?,
        None => s,
    };
    let thread = tx.conversation(s.conversation_id, 4096).await?;
    let (max_ancestors, max_descendants) = if viewer.is_some() { (4096, 4096) } else { (40, 60) };
    let mut ancestors = Vec::new();
    let mut cursor = s.in_reply_to_id;
    while let Some(id) = cursor {
        let Some(parent) = thread.iter().find(|t| t.id == id) else {
            break;
        };
        ancestors.push(parent.clone());
        cursor = parent.in_reply_to_id;
        if ancestors.len() >= max_ancestors {
            break;
        }
    }
    ancestors.reverse();
    let mut descendants = Vec::new();
    let mut stack = vec![(s.id, 0usize)];
    while let Some((id, depth)) = stack.pop() {
        if id != s.id
            && let Some(st) = thread.iter().find(|t| t.id == id)
        {
            descendants.push(st.clone());
        }
        if depth >= 20 {
            continue;
        }
        let mut children: Vec<Id> = thread.iter().filter(|t| t.in_reply_to_id == Some(id)).map(|t| t.id).collect();
        children.reverse();
        stack.extend(children.into_iter().map(|c| (c, depth + 1)));
    }
    descendants.truncate(max_descendants);
    let ancestors = visible(&mut tx, viewer, &ancestors, false).await?;
    let descendants = visible(&mut tx, viewer, &descendants, true).await?;
    drop(tx);
    // A remote thread being looked at: its replies elsewhere are fetched on `pull` (at most
    // every 15 minutes), for the next look.
    if let Err(e) = remote::fetch_replies_later(svc, &s).await {
        tracing::debug!(error = %e, "queueing a fetch of replies failed");
    }
    Ok(Thread { ancestors, descendants })
}

/// What can be done to a status by its viewer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Favourite,
    Unfavourite,
    Bookmark,
    Unbookmark,
    Pin,
    Unpin,
    Mute,
    Unmute,
}

/// favourite / bookmark / pin / mute and their undo. Returns the status as the viewer now sees it.
pub async fn act(svc: &Services, me: &Viewer, raw_id: &str, action: Action) -> Result<Status> {
    let mut tx = svc.db.write().await?;
    let target = visible_status(&mut tx, Some(me.account.id), status_id(raw_id)?).await?;
    // The status asked for, as pinning checks it (a reblog is never pinned in its original's stead).
    let asked = (target.reblog_of_id.is_some(), target.account_id, target.visibility);
    // Acting on a reblog acts on the original.
    let s = match target.reblog_of_id {
        Some(id) => visible_status(&mut tx, Some(me.account.id), id).await?,
        None => target,
    };
    let me_id = me.account.id;
    let t = now();
    match action {
        Action::Favourite => {
            if tx.add_mark(StatusMark::Favourite, Id::generate(), me_id, s.id, t).await? {
                effects::favourited(svc, &mut tx, &me.account, &s).await?;
            }
        }
        Action::Unfavourite => {
            if tx.remove_mark(StatusMark::Favourite, me_id, s.id).await? {
                tx.delete_notifications_for(s.account_id, me_id, Some(s.id), "favourite").await?;
                effects::unfavourited(&mut tx, &me.account, &s).await?;
            }
        }
        Action::Bookmark => {
            tx.add_mark(StatusMark::Bookmark, Id::generate(), me_id, s.id, t).await?;
        }
        Action::Unbookmark => {
            tx.remove_mark(StatusMark::Bookmark, me_id, s.id).await?;
        }
        Action::Pin => {
            // Mastodon's StatusPinValidator, in its order: not a boost, not someone else's, not
            // direct (followers-only posts may be pinned).
            let (reblog, owner, visibility) = asked;
            let pin_errors: Vec<&str> = [
                (reblog, "A boost cannot be pinned"),
                (owner != me_id, "Someone else's post cannot be pinned"),
                (visibility == Visibility::Direct, "Posts that are only visible to mentioned users cannot be pinned"),
            ]
            .into_iter()
            .filter_map(|(refused, why)| refused.then_some(why))
            .collect();
            if !pin_errors.is_empty() {
                return Err(Error::validation(format!("Validation failed: {}", pin_errors.join(", "))));
            }
            let page = PageRequest { limit: 100, ..Default::default() };
            let pinned = tx.marked_statuses(StatusMark::Pin, me_id, &page).await?.len() as i64;
            if pinned >= limits::MAX_PINNED_STATUSES
                && !tx.interactions(me_id, &[&s]).await?.first().is_some_and(|i| i.1.pinned)
            {
                return Err(Error::validation(
                    "Validation failed: You have already pinned the maximum number of posts",
                ));
            }
            // Followers' servers are told (an Add to the featured collection), once.
            if tx.add_mark(StatusMark::Pin, Id::generate(), me_id, s.id, t).await? {
                effects::pinned(&mut tx, &me.account, &s, true).await?;
            }
        }
        Action::Unpin => {
            if tx.remove_mark(StatusMark::Pin, me_id, s.id).await? {
                effects::pinned(&mut tx, &me.account, &s, false).await?;
            }
        }
        Action::Mute => {
            tx.add_mark(StatusMark::Mute, Id::generate(), me_id, s.conversation_id, t).await?;
        }
        Action::Unmute => {
            tx.remove_mark(StatusMark::Mute, me_id, s.conversation_id).await?;
        }
    }
    let fresh = tx.status_by_id(s.id).await?.ok_or_else(Error::not_found)?;
    tx.commit().await?;
    Ok(fresh)
}

/// `POST /api/v1/statuses/:id/reblog`: idempotent; returns the reblog (of the original).
pub async fn reblog(svc: &Services, me: &Viewer, raw_id: &str, visibility: Option<&str>) -> Result<Status> {
    match reblog_once(svc, me, raw_id, visibility).await {
        // A concurrent reblog of the same status won the unique index: answer with that one.
        Err(e) if e.kind == ErrorKind::Conflict => reblog_once(svc, me, raw_id, visibility).await,
        other => other,
    }
}

async fn reblog_once(svc: &Services, me: &Viewer, raw_id: &str, visibility: Option<&str>) -> Result<Status> {
    let mut tx = svc.db.write().await?;
    let target = visible_status(&mut tx, Some(me.account.id), status_id(raw_id)?).await?;
    let original = match target.reblog_of_id {
        Some(id) => visible_status(&mut tx, Some(me.account.id), id).await?,
        None => target,
    };
    let can_reblog = matches!(original.visibility, Visibility::Public | Visibility::Unlisted)
        || (original.visibility == Visibility::Private && original.account_id == me.account.id);
    if !can_reblog {
        return Err(Error::forbidden("This action is not allowed"));
    }
    let reblog = match tx.reblog_of(me.account.id, original.id).await? {
        Some(existing) => existing,
        None => {
            let visibility = match visibility.filter(|v| !v.is_empty()) {
                Some(v) => Visibility::parse(v)
                    .filter(|v| *v != Visibility::Direct)
                    .ok_or_else(|| Error::validation("Validation failed: Visibility is not included in the list"))?,
                None => me.user.default_visibility,
            };
            // A reblog is never more visible than its original.
            let visibility = if original.visibility == Visibility::Private { Visibility::Private } else { visibility };
            let id = Id::generate();
            let base = svc.base_url();
            let uri = format!("{base}/users/{}/statuses/{id}/activity", me.account.username);
            let url = format!("{base}/@{}/{id}", me.account.username);
            let new = NewStatus {
                local: true,
                application_id: Some(me.token.application_id),
                ..NewStatus::reblog(id, me.account.id, original.id, visibility, uri, url, now())
            };
            let created = tx.insert_status(&new).await?;
            effects::reblogged(svc, &mut tx, &me.account, &created, &original).await?;
            created
        }
    };
    tx.commit().await?;
    Ok(reblog)
}

/// `POST /api/v1/statuses/:id/unreblog`: returns the original.
pub async fn unreblog(svc: &Services, me: &Viewer, raw_id: &str) -> Result<Status> {
    let mut tx = svc.db.write().await?;
    let target = tx.status_by_id(status_id(raw_id)?).await?.ok_or_else(Error::not_found)?;
    let original_id = target.reblog_of_id.unwrap_or(target.id);
    let original = visible_status(&mut tx, Some(me.account.id), original_id).await?;
    if let Some(reblog) = tx.reblog_of(me.account.id, original.id).await? {
        let removed = remove(&mut tx, &reblog, Some(&original)).await?;
        effects::status_deleted(svc, &mut tx, &me.account, &reblog, Some(&original), removed).await?;
    }
    let fresh = tx.status_by_id(original.id).await?.ok_or_else(Error::not_found)?;
    tx.commit().await?;
    Ok(fresh)
}

/// `GET /api/v1/statuses/:id/favourited_by` and `reblogged_by`.
pub async fn interacted_by(
    svc: &Services,
    caller: &Caller,
    raw_id: &str,
    reblogs: bool,
    page: &PageRequest,
) -> Result<Page<Account>> {
    let viewer = caller.optional_user("read:accounts")?.map(|v| v.account.id);
    {
        let mut tx = svc.db.read().await?;
        visible_status(&mut tx, viewer, status_id(raw_id)?).await?;
    }
    let id = status_id(raw_id)?;
    let q = if reblogs { RelatedAccounts::RebloggedBy(id) } else { RelatedAccounts::FavouritedBy(id) };
    crate::accounts::related(svc, q, page).await
}

/// `GET /api/v1/polls/:id`: the status that has the poll.
pub async fn poll(svc: &Services, caller: &Caller, raw_id: &str) -> Result<Status> {
    let viewer = caller.optional_user("read:statuses")?.map(|v| v.account.id);
    let mut tx = svc.db.read().await?;
    let p = tx.poll_by_id(status_id(raw_id)?).await?.ok_or_else(Error::not_found)?;
    visible_status(&mut tx, viewer, p.status_id).await
}

/// `POST /api/v1/polls/:id/votes`: the status that has the poll.
pub async fn vote(svc: &Services, me: &Viewer, raw_id: &str, choices: &[String]) -> Result<Status> {
    let mut tx = svc.db.write().await?;
    let p = tx.poll_by_id(status_id(raw_id)?).await?.ok_or_else(Error::not_found)?;
    let s = visible_status(&mut tx, Some(me.account.id), p.status_id).await?;
    if p.expired(now()) {
        return Err(Error::validation("Validation failed: The poll has already ended"));
    }
    if s.account_id == me.account.id {
        return Err(Error::validation("Validation failed: You cannot vote in your own poll"));
    }
    let mut parsed: Vec<i64> = Vec::new();
    for c in choices {
        let n: i64 = c.trim().parse().map_err(|_| Error::validation("Validation failed: Choice is invalid"))?;
        if n < 0 || n as usize >= p.options().len() {
            return Err(Error::validation("Validation failed: Choice is invalid"));
        }
        if !parsed.contains(&n) {
            parsed.push(n);
        }
    }
    if parsed.is_empty() {
        return Err(Error::validation("Validation failed: Votes can't be blank"));
    }
    if !p.multiple && parsed.len() > 1 {
        return Err(Error::validation("Validation failed: You have already voted on this poll"));
    }
    tx.vote(p.id, me.account.id, &parsed, now()).await?;
    effects::voted(&mut tx, &me.account, &s, &parsed).await?;
    tx.commit().await?;
    Ok(s)
}

/// Statuses the viewer favourited or bookmarked, paged by the mark id.
pub async fn marked(svc: &Services, me: &Viewer, mark: StatusMark, page: &PageRequest) -> Result<Page<Status>> {
    let mut tx = svc.db.read().await?;
    let rows: Vec<Keyed<Id>> = tx.marked_statuses(mark, me.account.id, page).await?;
    let ids: Vec<Id> = rows.iter().map(|r| r.item).collect();
    let found = tx.statuses_by_ids(&ids).await?;
    let ordered: Vec<Status> = ids.iter().filter_map(|id| found.iter().find(|s| s.id == *id).cloned()).collect();
    let list = visible(&mut tx, Some(me.account.id), &ordered, false).await?;
    let cursor = Page::from_rows(rows, |r| r.key, page.limit);
    Ok(Page { items: list, next_max_id: cursor.next_max_id, prev_min_id: cursor.prev_min_id })
}
