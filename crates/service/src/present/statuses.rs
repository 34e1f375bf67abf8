//! Mastodon entities for statuses: `Status` (with its `Poll`), loading what a list of statuses
//! needs in a fixed number of queries, whatever the list's length.

use std::collections::HashMap;

use ferrodon_domain::model::{
    Account, Application, Filter, Poll, PreviewCard, Status, StatusInteractions, matching_filters,
};
use ferrodon_domain::ports::Tx;
use ferrodon_kernel::time::{now_ms, rfc3339};
use ferrodon_kernel::{Error, Id, Page, Result};
use ferrodon_mastodon_api as api;

use super::account;
use crate::statuses::{Deleted, History, Thread};
use crate::{Services, Viewer, filters};

fn render_poll(p: &Poll, viewer_votes: Option<&[i64]>) -> api::Poll {
    let votes = p.votes();
    let expired = p.expired(now_ms());
    let hide = p.hide_totals && !expired;
    api::Poll {
        id: p.id.to_string(),
        expires_at: Some(rfc3339(p.expires_at)),
        expired,
        multiple: p.multiple,
        votes_count: p.votes_count,
        voters_count: if p.multiple { Some(p.voters_count) } else { None },
        options: p
            .options()
            .into_iter()
            .zip(votes)
            .map(|(title, v)| api::PollOption { title, votes_count: if hide { None } else { Some(v) } })
            .collect(),
        emojis: Vec::new(),
        voted: viewer_votes.map(|v| !v.is_empty()),
        own_votes: viewer_votes.map(<[i64]>::to_vec),
    }
}

/// Everything needed to render a batch of statuses, loaded in bulk.
struct Loaded {
    accounts: HashMap<Id, Account>,
    polls: HashMap<Id, Poll>,
    interactions: HashMap<Id, StatusInteractions>,
    applications: HashMap<Id, (String, Option<String>)>,
    reblogged: HashMap<Id, Status>,
    /// The link preview cards, by status.
    cards: HashMap<Id, PreviewCard>,
    /// The viewer's custom filters (for `filtered`).
    filters: Vec<Filter>,
}

async fn load(tx: &mut Box<dyn Tx>, viewer: Option<Id>, statuses: &[Status]) -> Result<Loaded> {
    let originals: Vec<Id> = statuses.iter().filter_map(|s| s.reblog_of_id).collect();
    let reblogged: HashMap<Id, Status> = tx.statuses_by_ids(&originals).await?.into_iter().map(|s| (s.id, s)).collect();
    let all: Vec<&Status> = statuses.iter().chain(reblogged.values()).collect();
    let mut account_ids: Vec<Id> = all.iter().map(|s| s.account_id).collect();
    account_ids.sort_unstable();
    account_ids.dedup();
    let accounts = tx.accounts_by_ids(&account_ids).await?.into_iter().map(|a| (a.id, a)).collect();
    let with_polls: Vec<Id> = all.iter().filter(|s| s.has_poll).map(|s| s.id).collect();
    let polls = tx.polls_of(&with_polls).await?.into_iter().map(|p| (p.status_id, p)).collect();
    let interactions = match viewer {
        Some(v) => tx.interactions(v, &all).await?.into_iter().collect(),
        None => HashMap::new(),
    };
    let applications = applications_of(tx, &all).await?;
    // Only a status with a link other than mentions and hashtags can show a card.
    let linking: Vec<Id> = all.iter().filter(|s| crate::cards::may_have_card(s)).map(|s| s.id).collect();
    let cards = tx.cards_of(&linking).await?.into_iter().map(|(id, _, card)| (id, card)).collect();
    let filters = match viewer {
        Some(v) => tx.filters_of(v).await?,
        None => Vec::new(),
    };
    Ok(Loaded { accounts, polls, interactions, applications, reblogged, cards, filters })
}

/// The applications `statuses` were posted with, by id: (name, website).
async fn applications_of(tx: &mut Box<dyn Tx>, statuses: &[&Status]) -> Result<HashMap<Id, (String, Option<String>)>> {
    let mut ids: Vec<Id> = statuses.iter().filter_map(|s| s.application_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let found: Vec<Application> = tx.applications_by_ids(&ids).await?;
    Ok(found.into_iter().map(|a| (a.id, (a.name, a.website))).collect())
}

fn render_one(svc: &Services, l: &Loaded, s: &Status, viewer: Option<Id>) -> Option<api::Status> {
    let author = l.accounts.get(&s.account_id)?;
    let reblog = match s.reblog_of_id {
        Some(id) => Some(Box::new(render_one(svc, l, l.reblogged.get(&id)?, viewer)?)),
        None => None,
    };
    let inter = l.interactions.get(&s.id);
    let flag = |f: fn(&StatusInteractions) -> bool| viewer.map(|_| inter.is_some_and(f));
    let base = svc.base_url();
    let mentions = s
        .mentions()
        .into_iter()
        .map(|m| api::StatusMention { id: m.id.to_string(), username: m.username, url: m.url, acct: m.acct })
        .collect();
    let tags = s
        .tags()
        .into_iter()
        .map(|n| api::StatusTag { url: format!("{base}/tags/{}", n.to_lowercase()), name: n.to_lowercase() })
        .collect();
    let is_owner = viewer == Some(s.account_id);
    Some(api::Status {
        id: s.id.to_string(),
        uri: s.uri.clone(),
        url: if s.reblog_of_id.is_some() { None } else { Some(s.url.clone()) },
        created_at: rfc3339(s.created_at),
        edited_at: s.edited_at.map(rfc3339),
        account: account(svc, author),
        content: s.content.clone(),
        visibility: s.visibility.as_str().into(),
        sensitive: s.sensitive,
        spoiler_text: s.spoiler_text.clone(),
        media_attachments: super::media::attachments(svc, s),
        application: s
            .application_id
            .filter(|_| is_owner || s.local)
            .and_then(|id| l.applications.get(&id))
            .map(|(name, website)| api::StatusApplication { name: name.clone(), website: website.clone() }),
        mentions,
        tags,
        emojis: emojis(s.emojis()),
        reblogs_count: s.reblogs_count,
        favourites_count: s.favourites_count,
        replies_count: s.replies_count,
        quotes_count: 0,
        in_reply_to_id: s.in_reply_to_id.map(|i| i.to_string()),
        in_reply_to_account_id: s.in_reply_to_account_id.map(|i| i.to_string()),
        reblog,
        poll: l.polls.get(&s.id).map(|p| {
            let own = viewer
                .map(|v| if v == s.account_id { &[][..] } else { inter.map(|i| &i.poll_votes[..]).unwrap_or(&[]) });
            let mut rendered = render_poll(p, own);
            if is_owner {
                rendered.voted = Some(true);
            }
            rendered
        }),
        card: l.cards.get(&s.id).map(|c| card(svc, c)),
        language: s.language.clone(),
        text: None,
        quote: None,
        quote_approval: api::QuoteApproval {
            automatic: if matches!(
                s.visibility,
                ferrodon_domain::model::Visibility::Public | ferrodon_domain::model::Visibility::Unlisted
            ) {
                vec!["public".into()]
            } else {
                Vec::new()
            },
            manual: Vec::new(),
            current_user: if viewer.is_some() { "automatic".into() } else { "unknown".into() },
        },
        favourited: flag(|i| i.favourited),
        reblogged: flag(|i| i.reblogged),
        muted: flag(|i| i.muted),
        bookmarked: flag(|i| i.bookmarked),
        pinned: if is_owner && s.reblog_of_id.is_none() { flag(|i| i.pinned) } else { None },
        filtered: viewer.map(|_| filtered(l, s)),
    })
}

/// A `PreviewCard`: its picture served from here; its one author as the page names them.
fn card(svc: &Services, c: &PreviewCard) -> api::PreviewCard {
    let p = &c.preview;
    api::PreviewCard {
        url: p.url.clone(),
        title: p.title.clone(),
        description: p.description.clone(),
        kind: p.kind.as_str().into(),
        authors: vec![api::PreviewCardAuthor { name: p.author_name.clone(), url: p.author_url.clone(), account: None }],
        author_name: p.author_name.clone(),
        author_url: p.author_url.clone(),
        provider_name: p.provider_name.clone(),
        provider_url: p.provider_url.clone(),
        html: p.html.clone(),
        width: p.width,
        height: p.height,
        image: c.image_key.as_deref().and_then(|k| crate::media::url(svc, k)),
        image_description: p.image_description.clone(),
        embed_url: p.embed_url.clone(),
        blurhash: c.blurhash.clone(),
        language: p.language.clone(),
        published_at: p.published_at.map(rfc3339),
    }
}

/// `Status.filtered` for the viewer: every filter that matches (the reblog of a status carries
/// the results, not the reblog itself), whatever its context, as Mastodon's REST API does.
fn filtered(l: &Loaded, s: &Status) -> Vec<serde_json::Value> {
    if l.filters.is_empty() || s.reblog_of_id.is_some() {
        return Vec::new();
    }
    let text = filters::text_of(s, l.polls.get(&s.id));
    let matches = matching_filters(&l.filters, s.id, &text, now_ms());
    super::filter_results(&matches).into_iter().filter_map(|r| serde_json::to_value(r).ok()).collect()
}

/// Renders statuses in the given order; statuses whose author or original is gone are skipped.
pub(crate) async fn statuses_in(
    svc: &Services,
    tx: &mut Box<dyn Tx>,
    viewer: Option<Id>,
    list: &[Status],
) -> Result<Vec<api::Status>> {
    let loaded = load(tx, viewer, list).await?;
    Ok(list.iter().filter_map(|s| render_one(svc, &loaded, s, viewer)).collect())
}

/// Renders one status for each of `viewers` (home-feed streaming, where Mastodon renders for
/// the recipient): what all share is loaded once, each viewer's interactions apart.
pub(crate) async fn status_for_each(
    svc: &Services,
    tx: &mut Box<dyn Tx>,
    s: &Status,
    viewers: &[Id],
) -> Result<Vec<(Id, api::Status)>> {
    let mut loaded = load(tx, None, std::slice::from_ref(s)).await?;
    let all: Vec<Status> = std::iter::once(s.clone()).chain(loaded.reblogged.values().cloned()).collect();
    let all: Vec<&Status> = all.iter().collect();
    let mut out = Vec::with_capacity(viewers.len());
    for &viewer in viewers {
        loaded.interactions = tx.interactions(viewer, &all).await?.into_iter().collect();
        loaded.filters = tx.filters_of(viewer).await?;
        if let Some(rendered) = render_one(svc, &loaded, s, Some(viewer)) {
            out.push((viewer, rendered));
        }
    }
    Ok(out)
}

pub(crate) async fn status_in(
    svc: &Services,
    tx: &mut Box<dyn Tx>,
    viewer: Option<Id>,
    s: &Status,
) -> Result<api::Status> {
    statuses_in(svc, tx, viewer, std::slice::from_ref(s)).await?.pop().ok_or_else(Error::not_found)
}

fn viewer_id(viewer: Option<&Viewer>) -> Option<Id> {
    viewer.map(|v| v.account.id)
}

/// Statuses as `viewer` sees them, in the given order (one read transaction; what they need is
/// loaded in a fixed number of queries). Statuses whose author or original is gone are left out.
pub async fn statuses(svc: &Services, viewer: Option<&Viewer>, list: &[Status]) -> Result<Vec<api::Status>> {
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = svc.db.read().await?;
    statuses_in(svc, &mut tx, viewer_id(viewer), list).await
}

/// A status as `viewer` sees it.
pub async fn status(svc: &Services, viewer: Option<&Viewer>, s: &Status) -> Result<api::Status> {
    statuses(svc, viewer, std::slice::from_ref(s)).await?.pop().ok_or_else(Error::not_found)
}

/// A page of statuses (a timeline, bookmarks, …), its cursors kept.
pub async fn status_page(svc: &Services, viewer: Option<&Viewer>, page: Page<Status>) -> Result<Page<api::Status>> {
    let items = statuses(svc, viewer, &page.items).await?;
    Ok(Page { items, next_max_id: page.next_max_id, prev_min_id: page.prev_min_id })
}

/// The reblog `me` just made (`POST /api/v1/statuses/:id/reblog`). Mastodon renders a new reblog
/// without a relationships presenter, so its top level says what the viewer did to the original
/// (`reblogged?`, `favourited?`, `bookmarked?` look at `status.proper`): reblogged, and
/// favourited or bookmarked as the original is.
pub async fn reblog(svc: &Services, me: &Viewer, reblog: &Status) -> Result<api::Status> {
    let mut out = status(svc, Some(me), reblog).await?;
    if let Some(original) = out.reblog.as_deref() {
        (out.reblogged, out.favourited, out.bookmarked) =
            (original.reblogged, original.favourited, original.bookmarked);
    }
    Ok(out)
}

/// The `Conversation` a direct status is for `to`, one of its `participants`: the others, and
/// the status as `to` sees it (`rendered`), unread unless `to` wrote it.
pub(crate) fn conversation(
    svc: &Services,
    status: &Status,
    to: Id,
    participants: &[Account],
    rendered: &api::Status,
) -> serde_json::Value {
    serde_json::json!({
        "id": status.conversation_id.to_string(),
        "unread": to != status.account_id,
        "accounts": participants.iter().filter(|a| a.id != to).map(|a| account(svc, a)).collect::<Vec<_>>(),
        "last_status": rendered,
    })
}

/// A status its author just deleted, as it was before (its author, poll and the author's marks
/// were read before the rows went), with its source `text` for redrafting.
pub async fn deleted_status(svc: &Services, me: &Viewer, d: &Deleted) -> Result<api::Status> {
    let viewer = Some(me.account.id);
    let (applications, filters) = {
        let mut tx = svc.db.read().await?;
        (applications_of(&mut tx, &[&d.status]).await?, tx.filters_of(me.account.id).await?)
    };
    let loaded = Loaded {
        accounts: HashMap::from([(d.author.id, d.author.clone())]),
        polls: d.poll.iter().map(|p| (p.status_id, p.clone())).collect(),
        interactions: d.interactions.iter().map(|i| (d.status.id, i.clone())).collect(),
        applications,
        reblogged: HashMap::new(),
        cards: HashMap::new(),
        filters,
    };
    let mut out = render_one(svc, &loaded, &d.status, viewer).ok_or_else(Error::not_found)?;
    out.text = Some(d.status.text.clone());
    Ok(out)
}

/// The poll of a status, as `viewer` sees it (`own_votes`, `voted`).
pub async fn poll(svc: &Services, viewer: Option<&Viewer>, s: &Status) -> Result<api::Poll> {
    status(svc, viewer, s).await?.poll.ok_or_else(Error::not_found)
}

/// `GET /api/v1/statuses/:id/context`.
pub async fn context(svc: &Services, viewer: Option<&Viewer>, thread: &Thread) -> Result<api::Context> {
    let mut tx = svc.db.read().await?;
    let viewer = viewer_id(viewer);
    Ok(api::Context {
        ancestors: statuses_in(svc, &mut tx, viewer, &thread.ancestors).await?,
        descendants: statuses_in(svc, &mut tx, viewer, &thread.descendants).await?,
    })
}

/// `GET /api/v1/statuses/:id/history`: the revisions, oldest first; a never-edited status is
/// its one revision.
pub fn history(svc: &Services, h: &History) -> Vec<api::StatusEdit> {
    let account = account(svc, &h.author);
    let poll_json = |options: Option<&str>| {
        options.and_then(|o| serde_json::from_str::<Vec<String>>(o).ok()).map(|opts| {
            serde_json::json!({ "options": opts.into_iter().map(|t| serde_json::json!({"title": t})).collect::<Vec<_>>() })
        })
    };
    if h.revisions.is_empty() {
        let s = &h.status;
        return vec![api::StatusEdit {
            content: s.content.clone(),
            spoiler_text: s.spoiler_text.clone(),
            sensitive: s.sensitive,
            created_at: rfc3339(s.created_at),
            account,
            poll: poll_json(h.poll.as_ref().map(|p| p.options_json.as_str())),
            media_attachments: Vec::new(),
            emojis: Vec::new(),
        }];
    }
    h.revisions
        .iter()
        .map(|r| api::StatusEdit {
            content: r.content.clone(),
            spoiler_text: r.spoiler_text.clone(),
            sensitive: r.sensitive,
            created_at: rfc3339(r.created_at),
            account: account.clone(),
            poll: poll_json(r.poll_options_json.as_deref()),
            media_attachments: Vec::new(),
            emojis: Vec::new(),
        })
        .collect()
}

/// `GET /api/v1/statuses/:id/source`.
pub fn status_source(s: &Status) -> api::StatusSource {
    api::StatusSource { id: s.id.to_string(), text: s.text.clone(), spoiler_text: s.spoiler_text.clone() }
}

/// The custom emoji a status or an account uses, as Mastodon shows them.
pub(crate) fn emojis(list: Vec<ferrodon_domain::model::RemoteEmoji>) -> Vec<api::CustomEmoji> {
    list.into_iter()
        .map(|e| api::CustomEmoji {
            shortcode: e.shortcode,
            static_url: e.url.clone(),
            url: e.url,
            visible_in_picker: false,
            category: None,
        })
        .collect()
}
