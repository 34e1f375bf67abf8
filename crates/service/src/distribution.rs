//! Publishing to the streaming API, as Mastodon's fan-out does it: jobs on the `default` queue,
//! enqueued in the transaction of the change (so an event is never published for a change that
//! rolled back, nor lost for one that committed), each rendering its payload once and publishing
//! it on every channel that should carry it. Channels without a subscriber are skipped.
//!
//! - [`DistributeStatus`] (Mastodon's `DistributionWorker`): a new or edited status goes to the
//!   author's and their local followers' home channels (by the home feed's rules), to the public
//!   and hashtag channels when public, and as a `conversation` to the participants when direct.
//! - [`DistributeDeletion`] (`RemovalWorker`): `delete` to the same places.
//! - [`PublishNotification`]: a notification to its recipient.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use ferrodon_domain::model::Job;
use ferrodon_domain::model::{List, Queue, Status, Visibility};
use ferrodon_domain::ports::{Event, JobContext, JobHandler, RetryPolicy, StatusSubject, Tx, channel};
use ferrodon_kernel::{Error, Id, Result};
use serde::{Deserialize, Serialize};

use crate::jobs::enqueue;
use crate::{Services, filters, present};

/// Streaming events are worth little late: a few quick attempts, no dead set.
pub const POLICY: RetryPolicy = RetryPolicy { max_attempts: 3, keep_dead: false };

fn payload<T: for<'a> Deserialize<'a>>(job: &Job) -> Result<T> {
    serde_json::from_str(&job.payload).map_err(|e| Error::internal(format!("bad {} payload: {e}", job.kind)))
}

fn json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(Error::internal)
}

/// Whether a public status belongs on the public timelines (the REST ones agree): not a reblog,
/// not a reply to someone else.
fn on_public_timelines(s: &Status) -> bool {
    s.visibility == Visibility::Public
        && s.reblog_of_id.is_none()
        && s.in_reply_to_account_id.is_none_or(|to| to == s.account_id)
}

/// The public and hashtag channels of a status on the public timelines.
fn public_channels(local: bool, media: bool, tags: &[String]) -> Vec<String> {
    let locality = if local { "local" } else { "remote" };
    let mut out = vec![channel::public(None, false), channel::public(Some(locality), false)];
    // A status with attachments also goes to the `:media` streams (Mastodon's `only_media`).
    if media {
        out.extend([channel::public(None, true), channel::public(Some(locality), true)]);
    }
    for tag in tags {
        out.push(channel::hashtag(tag, false));
        if local {
            out.push(channel::hashtag(tag, true));
        }
    }
    out
}

/// The author and the mentioned accounts (a direct status' conversation).
fn participants(s: &Status) -> Vec<Id> {
    std::iter::once(s.account_id).chain(s.mentions().into_iter().map(|m| m.id)).collect()
}

#[derive(Serialize, Deserialize)]
struct StatusJob {
    status_id: Id,
    edit: bool,
}

/// Publishes a new (`update`) or edited (`status.update`) status.
pub struct DistributeStatus {
    pub(crate) svc: Services,
}

impl DistributeStatus {
    pub const KIND: &'static str = "DistributeStatus";

    /// Nothing is queued while no one streams in this process ([`ferrodon_domain::ports::EventBus::idle`]): a client
    /// gets the events published after it subscribed.
    pub(crate) async fn enqueue(svc: &Services, tx: &mut Box<dyn Tx>, status_id: Id, edit: bool) -> Result<()> {
        if svc.events.idle() {
            return Ok(());
        }
        let body = serde_json::to_value(StatusJob { status_id, edit }).map_err(Error::internal)?;
        enqueue(tx, Queue::Default, Self::KIND, &body, POLICY).await.map(|_| ())
    }
}

#[async_trait]
impl JobHandler for DistributeStatus {
    async fn run(&self, _ctx: &JobContext, job: &Job) -> Result<()> {
        let p: StatusJob = payload(job)?;
        let svc = &self.svc;
        if svc.events.idle() {
            return Ok(()); // no one listens in this process
        }
        let mut tx = svc.db.read().await?;
        let Some(status) = tx.status_by_id(p.status_id).await? else {
            return Ok(()); // deleted since
        };
        let author = tx.account_by_id(status.account_id).await?.ok_or_else(Error::not_found)?;
        let mut home: Vec<Id> = tx.home_feed_recipients(&status).await?;
        if author.is_local() {
            home.push(status.account_id);
        }
        let public: Vec<String> = if on_public_timelines(&status) {
            public_channels(status.local, !status.media().is_empty(), &status.tags())
        } else {
            Vec::new()
        };
        let direct = status.visibility == Visibility::Direct && !p.edit;
        let participants = if direct { participants(&status) } else { Vec::new() };
        let candidate_lists = tx.lists_with_member(status.account_id, None).await?;
        // Which of the channels are held, in one question to the bus.
        let held: HashSet<String> = svc
            .events
            .listened(
                home.iter()
                    .map(|id| channel::home(*id))
                    .chain(public.iter().cloned())
                    .chain(participants.iter().map(|id| channel::direct(*id)))
                    .chain(candidate_lists.iter().map(|l| channel::list(l.id)))
                    .collect(),
            )
            .await
            .into_iter()
            .collect();
        home.retain(|id| held.contains(&channel::home(*id)));
        let public: Vec<String> = public.into_iter().filter(|c| held.contains(c)).collect();
        let direct_to: Vec<Id> =
            participants.iter().copied().filter(|id| held.contains(&channel::direct(*id))).collect();
        let lists = list_recipients(&mut tx, &status, candidate_lists, &held).await?;
        if home.is_empty() && public.is_empty() && direct_to.is_empty() && lists.is_empty() {
            return Ok(());
        }
        let original = match status.reblog_of_id {
            Some(id) => tx.status_by_id(id).await?,
            None => None,
        };
        let proper = original.as_ref().unwrap_or(&status);
        let poll = if proper.has_poll { tx.polls_of(&[proper.id]).await?.pop() } else { None };
        let about = StatusSubject {
            author: status.account_id,
            others: original
                .iter()
                .flat_map(|o| std::iter::once(o.account_id).chain(o.mentions().into_iter().map(|m| m.id)))
                .chain(status.mentions().into_iter().map(|m| m.id))
                .collect(),
            domain: (!author.is_local()).then(|| author.domain.clone()),
            language: original.as_ref().unwrap_or(&status).language.clone(),
            status_id: proper.id,
            text: filters::text_of(proper, poll.as_ref()).into(),
        };
        let name = if p.edit { "status.update" } else { "update" };
        // Everything is rendered first and published together, so that a client on several
        // streams gets one status on all of them at once (and in one write).
        let mut out: Vec<(String, Arc<Event>)> = Vec::new();
        // Home channels get the status as their owner sees it (favourited, bookmarked, …), as
        // Mastodon's PushUpdateWorker renders it; public channels get it rendered for no one.
        for (to, rendered) in present::status_for_each(svc, &mut tx, &status, &home).await? {
            out.push((channel::home(to), Event::new(name, Some(json(&rendered)?), Some(about.clone()))));
        }
        if !public.is_empty() {
            let rendered = present::status(svc, &mut tx, None, &status).await?;
            let event = Event::new(name, Some(json(&rendered)?), Some(about.clone()));
            out.extend(public.into_iter().map(|c| (c, event.clone())));
        }
        // A list's stream gets it as its owner sees it.
        let owners: Vec<Id> = lists.iter().map(|l| l.account_id).collect();
        for (owner, rendered) in present::status_for_each(svc, &mut tx, &status, &owners).await? {
            let event = Event::new(name, Some(json(&rendered)?), Some(about.clone()));
            for list in lists.iter().filter(|l| l.account_id == owner) {
                out.push((channel::list(list.id), event.clone()));
            }
        }
        // A direct status is also a conversation for each participant, showing the others.
        if !direct_to.is_empty() {
            let accounts = tx.accounts_by_ids(&participants).await?;
            for (to, rendered) in present::status_for_each(svc, &mut tx, &status, &direct_to).await? {
                let conversation = serde_json::json!({
                    "id": status.conversation_id.to_string(),
                    "unread": to != status.account_id,
                    "accounts": accounts.iter().filter(|a| a.id != to).map(|a| present::account(svc, a)).collect::<Vec<_>>(),
                    "last_status": rendered,
                });
                out.push((
                    channel::direct(to),
                    Event::new("conversation", Some(json(&conversation)?), Some(about.clone())),
                ));
            }
        }
        for (c, event) in out {
            svc.publish(&c, event);
        }
        Ok(())
    }
}

/// Of `lists` (those with the author as a member), the ones whose stream is `held` and that take
/// `status`: the owner may see it (a direct status only when mentioned), and a reply passes the
/// list's replies policy.
async fn list_recipients(
    tx: &mut Box<dyn Tx>,
    status: &Status,
    mut lists: Vec<List>,
    held: &HashSet<String>,
) -> Result<Vec<List>> {
    lists.retain(|l| held.contains(&channel::list(l.id)));
    let mut out = Vec::with_capacity(lists.len());
    for list in lists {
        let owner = list.account_id;
        if status.visibility == Visibility::Direct && !status.mentions().iter().any(|m| m.id == owner) {
            continue;
        }
        let reply_to = status.in_reply_to_account_id.filter(|to| *to != status.account_id);
        let passes = match (reply_to, list.replies_policy.as_str()) {
            (None, _) => true,
            (Some(_), "none") => false,
            (Some(to), "followed") => to == owner || tx.is_following(owner, to).await?,
            (Some(to), _) => tx.lists_with_member(to, Some(owner)).await?.iter().any(|l| l.id == list.id),
        };
        if passes {
            out.push(list);
        }
    }
    Ok(out)
}

/// What a deletion job needs, taken before the rows are gone.
#[derive(Serialize, Deserialize)]
struct DeletionJob {
    /// The status and its reblogs.
    ids: Vec<Id>,
    /// Whose followers had them: the author and the rebloggers.
    authors: Vec<Id>,
    /// Tags, when the status was on the public timelines.
    public: Option<Vec<String>>,
    local: bool,
    /// It had attachments (it was on the `:media` streams).
    #[serde(default)]
    media: bool,
    /// The participants, when direct.
    direct: Vec<Id>,
}

/// Publishes `delete` for a removed status (and its reblogs).
pub struct DistributeDeletion {
    pub(crate) svc: Services,
}

impl DistributeDeletion {
    pub const KIND: &'static str = "DistributeDeletion";

    /// Enqueues the deletion of `status`, reblogged by `rebloggers` as `reblog_ids`.
    pub(crate) async fn enqueue(
        svc: &Services,
        tx: &mut Box<dyn Tx>,
        status: &Status,
        reblog_ids: Vec<Id>,
        rebloggers: Vec<Id>,
    ) -> Result<()> {
        if svc.events.idle() {
            return Ok(());
        }
        let job = DeletionJob {
            ids: std::iter::once(status.id).chain(reblog_ids).collect(),
            authors: std::iter::once(status.account_id).chain(rebloggers).collect(),
            public: on_public_timelines(status).then(|| status.tags()),
            local: status.local,
            media: !status.media().is_empty(),
            direct: if status.visibility == Visibility::Direct { participants(status) } else { Vec::new() },
        };
        let body = serde_json::to_value(job).map_err(Error::internal)?;
        enqueue(tx, Queue::Default, Self::KIND, &body, POLICY).await.map(|_| ())
    }
}

#[async_trait]
impl JobHandler for DistributeDeletion {
    async fn run(&self, _ctx: &JobContext, job: &Job) -> Result<()> {
        let p: DeletionJob = payload(job)?;
        let svc = &self.svc;
        if svc.events.idle() {
            return Ok(());
        }
        let mut channels: Vec<String> = Vec::new();
        let mut tx = svc.db.read().await?;
        for author in &p.authors {
            channels.push(channel::home(*author));
            channels.extend(tx.local_followers(*author).await?.into_iter().map(channel::home));
            channels.extend(tx.lists_with_member(*author, None).await?.into_iter().map(|l| channel::list(l.id)));
        }
        if let Some(tags) = &p.public {
            channels.extend(public_channels(p.local, p.media, tags));
        }
        channels.extend(p.direct.iter().map(|id| channel::direct(*id)));
        channels.sort();
        channels.dedup();
        let channels = svc.events.listened(channels).await;
        for id in &p.ids {
            let event = Event::new("delete", Some(id.to_string()), None);
            for c in &channels {
                svc.publish(c, event.clone());
            }
        }
        Ok(())
    }
}

#[derive(Serialize, Deserialize)]
struct NotificationJob {
    account_id: Id,
    notification_id: Id,
}

/// Publishes a notification to its recipient.
pub struct PublishNotification {
    pub(crate) svc: Services,
}

impl PublishNotification {
    pub const KIND: &'static str = "PublishNotification";

    /// Queued only when the recipient has a streaming connection open (every connection holds
    /// its account's system channel; always, on a bus shared between processes). Whether it
    /// listens to its notifications is asked when the job publishes, as for every other event
    /// and as Mastodon's worker does: a client that subscribes and at once acts (a follow on
    /// another connection) may have its subscribe read after the action was requested, but
    /// before the event goes out.
    pub(crate) async fn enqueue(
        svc: &Services,
        tx: &mut Box<dyn Tx>,
        account_id: Id,
        notification_id: Id,
    ) -> Result<()> {
        if !svc.events.has_subscribers(&channel::system(account_id)) {
            return Ok(());
        }
        let body = serde_json::to_value(NotificationJob { account_id, notification_id }).map_err(Error::internal)?;
        enqueue(tx, Queue::Default, Self::KIND, &body, POLICY).await.map(|_| ())
    }
}

#[async_trait]
impl JobHandler for PublishNotification {
    async fn run(&self, _ctx: &JobContext, job: &Job) -> Result<()> {
        let p: NotificationJob = payload(job)?;
        let svc = &self.svc;
        let to = channel::notifications(p.account_id);
        if svc.events.listened(vec![to.clone()]).await.is_empty() {
            return Ok(());
        }
        let mut tx = svc.db.read().await?;
        let Some(n) = tx.notification(p.account_id, p.notification_id).await? else {
            return Ok(()); // dismissed or undone since
        };
        let Some(rendered) = present::notifications(svc, &mut tx, p.account_id, &[n]).await?.pop() else {
            return Ok(());
        };
        svc.publish(&to, Event::new("notification", Some(json(&rendered)?), None));
        Ok(())
    }
}

/// Tells `accounts`' streaming connections to reload their filters (blocks or mutes changed).
pub(crate) fn relations_changed(svc: &Services, accounts: &[Id]) {
    for id in accounts {
        svc.publish(&channel::system(*id), Event::new(Event::RELATIONS_CHANGED, None, None));
    }
}

/// Closes the streaming connections that use a revoked token.
pub(crate) fn token_revoked(svc: &Services, account: Id, token: Id) {
    svc.publish(&channel::system(account), Event::new(Event::KILL, Some(token.to_string()), None));
}

#[derive(Serialize, Deserialize)]
struct DisconnectJob {
    account_id: Id,
}

/// Closes every streaming connection of an account whose tokens were all revoked (disabled,
/// password reset). A job, not a direct publish, so that the command may run in another
/// process than the streaming connections (`ferrodon accounts modify`): the queue reaches them.
pub struct DisconnectAccount {
    pub(crate) svc: Services,
}

impl DisconnectAccount {
    pub const KIND: &'static str = "DisconnectAccount";

    pub(crate) async fn enqueue(tx: &mut Box<dyn Tx>, account_id: Id) -> Result<()> {
        let body = serde_json::to_value(DisconnectJob { account_id }).map_err(Error::internal)?;
        enqueue(tx, Queue::Default, Self::KIND, &body, POLICY).await.map(|_| ())
    }
}

#[async_trait]
impl JobHandler for DisconnectAccount {
    async fn run(&self, _ctx: &JobContext, job: &Job) -> Result<()> {
        let p: DisconnectJob = payload(job)?;
        self.svc.publish(&channel::system(p.account_id), Event::new(Event::KILL, None, None));
        Ok(())
    }
}

/// The handlers of this module, for [`crate::jobs::handlers`].
pub(crate) fn handlers(svc: &Services) -> Vec<(&'static str, RetryPolicy, Arc<dyn JobHandler>)> {
    vec![
        (DistributeStatus::KIND, POLICY, Arc::new(DistributeStatus { svc: svc.clone() })),
        (DistributeDeletion::KIND, POLICY, Arc::new(DistributeDeletion { svc: svc.clone() })),
        (PublishNotification::KIND, POLICY, Arc::new(PublishNotification { svc: svc.clone() })),
        (DisconnectAccount::KIND, POLICY, Arc::new(DisconnectAccount { svc: svc.clone() })),
    ]
}
