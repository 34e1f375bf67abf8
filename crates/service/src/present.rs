//! Domain -> Mastodon entities. The only module that knows Mastodon's JSON shapes; it loads
//! what a list of statuses needs in a fixed number of queries, whatever the list's length.

use std::collections::HashMap;

use ferrodon_domain::model::{
    Account, Filter, Notification, Poll, Relationship, Status, StatusInteractions, User, matching_filters,
};
use ferrodon_domain::ports::Tx;
use ferrodon_kernel::time::{date, now_ms, rfc3339};
use ferrodon_kernel::{Id, Result};
use ferrodon_mastodon_api as api;

use crate::{Services, filters};

impl Services {
    pub(crate) fn avatar_missing(&self) -> String {
        format!("{}/avatars/original/missing.png", self.base_url())
    }
    pub(crate) fn header_missing(&self) -> String {
        format!("{}/headers/original/missing.png", self.base_url())
    }
}

/// A profile field value as Mastodon shows it: one line, links and hashtags made clickable.
fn field_html(svc: &Services, value: &str) -> String {
    use ferrodon_domain::rules::text;
    let base = svc.base_url();
    let no_mentions = |_: &text::MentionRef| None;
    let ctx =
        text::FormatContext { local_domain: &svc.config.local_domain, base_url: &base, resolve_mention: &no_mentions };
    let one_line = value.replace(['\r', '\n'], " ");
    let html = text::format_note(one_line.trim(), &ctx);
    html.strip_prefix("<p>").and_then(|h| h.strip_suffix("</p>")).map(str::to_string).unwrap_or(html)
}

fn remote_or(url: &str, missing: impl FnOnce() -> String) -> String {
    if url.starts_with("https://") || url.starts_with("http://") { url.to_string() } else { missing() }
}

pub fn account(svc: &Services, a: &Account) -> api::Account {
    let suspended = a.suspended_at.is_some();
    api::Account {
        id: a.id.to_string(),
        username: a.username.clone(),
        acct: a.acct(),
        url: a.url.clone(),
        uri: a.uri.clone(),
        display_name: if suspended { String::new() } else { a.display_name.clone() },
        note: if suspended { String::new() } else { a.note.clone() },
        // Remote images are linked where they are until media caching exists.
        avatar: remote_or(&a.avatar_remote_url, || svc.avatar_missing()),
        avatar_static: remote_or(&a.avatar_remote_url, || svc.avatar_missing()),
        avatar_description: String::new(),
        header: remote_or(&a.header_remote_url, || svc.header_missing()),
        header_static: remote_or(&a.header_remote_url, || svc.header_missing()),
        header_description: String::new(),
        locked: a.locked,
        fields: if suspended {
            Vec::new()
        } else {
            a.fields()
                .into_iter()
                .map(|f| api::Field { value: field_html(svc, &f.value), name: f.name, verified_at: None })
                .collect()
        },
        emojis: Vec::new(),
        bot: a.bot,
        group: false,
        discoverable: Some(a.discoverable),
        indexable: a.indexable,
        hide_collections: Some(a.hide_collections),
        noindex: Some(!a.indexable),
        memorial: false,
        suspended,
        limited: a.silenced_at.is_some(),
        created_at: rfc3339(a.created_at - a.created_at.rem_euclid(86_400_000)),
        last_status_at: a.last_status_at.map(date),
        statuses_count: a.statuses_count,
        followers_count: a.followers_count,
        following_count: a.following_count,
        roles: Vec::new(),
        source: None,
        role: None,
    }
}

/// The account with `source` and `role`, for its owner (verify_credentials).
pub fn credential_account(svc: &Services, a: &Account, u: &User, follow_requests_count: i64) -> api::Account {
    let mut out = account(svc, a);
    out.source = Some(api::Source {
        note: a.note_source.clone(),
        fields: a
            .fields()
            .into_iter()
            .map(|f| api::Field { name: f.name, value: f.value, verified_at: None })
            .collect(),
        privacy: u.default_visibility.as_str().into(),
        sensitive: u.default_sensitive,
        language: u.default_language.clone(),
        follow_requests_count,
        hide_collections: Some(a.hide_collections),
        discoverable: Some(a.discoverable),
        indexable: a.indexable,
        attribution_domains: Vec::new(),
        quote_policy: "public".into(),
    });
    out.role = Some(api::Role {
        id: u.role.mastodon_id().into(),
        name: u.role.display_name().into(),
        color: String::new(),
        permissions: u.role.permissions().into(),
        highlighted: u.role != ferrodon_domain::model::Role::User,
    });
    out
}

pub fn relationship(r: &Relationship) -> api::Relationship {
    let f = r.following.as_ref().or(r.requested.as_ref());
    api::Relationship {
        id: r.target_id.to_string(),
        following: r.following.is_some(),
        showing_reblogs: f.is_some_and(|f| f.show_reblogs),
        notifying: f.is_some_and(|f| f.notify),
        languages: f.and_then(|f| f.languages.as_ref()).map(|l| l.split(',').map(str::to_string).collect()),
        followed_by: r.followed_by,
        blocking: r.blocking,
        blocked_by: r.blocked_by,
        muting: r.muting.is_some(),
        muting_notifications: r.muting.as_ref().is_some_and(|m| m.hide_notifications),
        muting_expires_at: r.muting.as_ref().and_then(|m| m.expires_at).map(rfc3339),
        requested: r.requested.is_some(),
        requested_by: r.requested_by,
        domain_blocking: r.domain_blocking,
        endorsed: false,
        note: r.note.clone(),
    }
}

pub fn poll(p: &Poll, viewer_votes: Option<&[i64]>) -> api::Poll {
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
    let mut app_ids: Vec<Id> = all.iter().filter_map(|s| s.application_id).collect();
    app_ids.sort_unstable();
    app_ids.dedup();
    let applications =
        tx.applications_by_ids(&app_ids).await?.into_iter().map(|a| (a.id, (a.name, a.website))).collect();
    let filters = match viewer {
        Some(v) => tx.filters_of(v).await?,
        None => Vec::new(),
    };
    Ok(Loaded { accounts, polls, interactions, applications, reblogged, filters })
}

/// A remote post's attachments as Mastodon's `MediaAttachment`s, linked where they are (no
/// copy is kept here yet, so `url` is the remote file). Ids are derived from the status id.
fn media_attachments(s: &Status) -> Vec<serde_json::Value> {
    s.media()
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let meta = match (m.width, m.height) {
                (Some(w), Some(h)) => serde_json::json!({"original": {
                    "width": w, "height": h, "size": format!("{w}x{h}"), "aspect": w as f64 / h as f64,
                }}),
                _ => serde_json::json!({}),
            };
            serde_json::json!({
                "id": (s.id.0 * 16 + i as i64).to_string(),
                "type": m.kind,
                "url": m.url,
                "preview_url": m.preview_url.as_ref().unwrap_or(&m.url),
                "remote_url": m.url,
                "preview_remote_url": m.preview_url,
                "text_url": null,
                "meta": meta,
                "description": m.description,
                "blurhash": m.blurhash,
            })
        })
        .collect()
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
        media_attachments: media_attachments(s),
        application: s
            .application_id
            .filter(|_| is_owner || s.local)
            .and_then(|id| l.applications.get(&id))
            .map(|(name, website)| api::StatusApplication { name: name.clone(), website: website.clone() }),
        mentions,
        tags,
        emojis: s
            .emojis()
            .into_iter()
            .map(|e| api::CustomEmoji {
                shortcode: e.shortcode,
                static_url: e.url.clone(),
                url: e.url,
                visible_in_picker: false,
                category: None,
            })
            .collect(),
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
            let mut rendered = poll(p, own);
            if is_owner {
                rendered.voted = Some(true);
            }
            rendered
        }),
        card: None,
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

/// `Status.filtered` for the viewer: every filter that matches (the reblog of a status carries
/// the results, not the reblog itself), whatever its context, as Mastodon's REST API does.
fn filtered(l: &Loaded, s: &Status) -> Vec<serde_json::Value> {
    if l.filters.is_empty() || s.reblog_of_id.is_some() {
        return Vec::new();
    }
    let text = filters::text_of(s, l.polls.get(&s.id));
    let matches = matching_filters(&l.filters, s.id, &text, now_ms());
    filters::results(&matches).into_iter().filter_map(|r| serde_json::to_value(r).ok()).collect()
}

/// Renders statuses in the given order; statuses whose author or original is gone are skipped.
pub async fn statuses(
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
pub async fn status_for_each(
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

pub async fn status(svc: &Services, tx: &mut Box<dyn Tx>, viewer: Option<Id>, s: &Status) -> Result<api::Status> {
    statuses(svc, tx, viewer, std::slice::from_ref(s)).await?.pop().ok_or_else(ferrodon_kernel::Error::not_found)
}

pub async fn notifications(
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
        statuses(svc, tx, Some(viewer), &found).await?.into_iter().map(|s| (s.id.clone(), s)).collect();
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
