//! Publishing to the streaming API, as Mastodon's fan-out does it: jobs on the `default` queue,
//! enqueued in the transaction of the change (so an event is never published for a change that
//! rolled back, nor lost for one that committed), each rendering its payload once and publishing
//! it on every channel that should carry it. Channels without a subscriber are skipped.
//!
//! - [`DistributeStatus`] (Mastodon's `DistributionWorker`): a new or edited status goes to the
//!   home, list, public and hashtag channels whose timelines take it, as the store decides with
//!   the same rules those timelines are read by (`home_feed_recipients`, `list_recipients`,
//!   `public_reach`), and as a `conversation` to the participants when direct.
//! - [`DistributeDeletion`] (`RemovalWorker`): `delete` to the same places.
//! - [`PublishNotification`]: a notification to its recipient.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use ferrodon_domain::model::Job;
use ferrodon_domain::model::{AnnouncementReaction, PublicReach, Queue, Status, Visibility};
use ferrodon_domain::ports::{Event, JobContext, JobHandler, RetryPolicy, StatusSubject, Tx, channel};
use ferrodon_kernel::{Error, Id, Result};
use serde::{Deserialize, Serialize};

use crate::jobs::{enqueue, payload};
use crate::{Services, filters, present};

/// Streaming events are worth little late: a few quick attempts, no dead set.
pub const POLICY: RetryPolicy = RetryPolicy { max_attempts: 3, keep_dead: false };

fn json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(Error::internal)
}

/// The public and hashtag channels of a status, as the store's rules place it (`reach`).
fn public_channels(reach: PublicReach, local: bool, media: bool, tags: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    if reach.public {
        let locality = if local { "local" } else { "remote" };
        out.extend([channel::public(None, false), channel::public(Some(locality), false)]);
        // A status with attachments also goes to the `:media` streams (Mastodon's `only_media`).
        if media {
            out.extend([channel::public(None, true), channel::public(Some(locality), true)]);
        }
    }
    for tag in tags.iter().filter(|_| reach.hashtags) {
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
        // Who and which timelines take it: the store's rules, the ones the timelines read by.
        let mut home: Vec<Id> = tx.home_feed_recipients(&status).await?;
        let reach = tx.public_reach(&status).await?;
        let public = public_channels(reach, status.local, !status.media().is_empty(), &status.tags());
        let direct = status.visibility == Visibility::Direct && !p.edit;
        let participants = if direct { participants(&status) } else { Vec::new() };
        let mut lists = tx.list_recipients(&status).await?;
        // Which of the channels are held, in one question to the bus.
        let held: HashSet<String> = svc
            .events
            .listened(
                home.iter()
                    .map(|id| channel::home(*id))
                    .chain(public.iter().cloned())
                    .chain(participants.iter().map(|id| channel::direct(*id)))
                    .chain(lists.iter().map(|l| channel::list(l.id)))
                    .collect(),
            )
            .await
            .into_iter()
            .collect();
        home.retain(|id| held.contains(&channel::home(*id)));
        let public: Vec<String> = public.into_iter().filter(|c| held.contains(c)).collect();
        let direct_to: Vec<Id> =
            participants.iter().copied().filter(|id| held.contains(&channel::direct(*id))).collect();
        lists.retain(|l| held.contains(&channel::list(l.id)));
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
            let rendered = present::status_in(svc, &mut tx, None, &status).await?;
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
                let conversation = present::conversation(svc, &status, to, &accounts, &rendered);
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

/// What a deletion job needs, taken before the rows are gone.
#[derive(Serialize, Deserialize)]
struct DeletionJob {
    /// The status and its reblogs.
    ids: Vec<Id>,
    /// Whose followers had them: the author and the rebloggers.
    authors: Vec<Id>,
    /// The public and hashtag channels it was on.
    #[serde(default)]
    channels: Vec<String>,
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
        // The status' last state, as the rules of the public and hashtag timelines place it.
        let reach = tx.public_reach(status).await?;
        let job = DeletionJob {
            ids: std::iter::once(status.id).chain(reblog_ids).collect(),
            authors: std::iter::once(status.account_id).chain(rebloggers).collect(),
            channels: public_channels(reach, status.local, !status.media().is_empty(), &status.tags()),
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
        channels.extend(p.channels.iter().cloned());
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
        let Some(rendered) = present::notifications_in(svc, &mut tx, p.account_id, &[n]).await?.pop() else {
            return Ok(());
        };
        svc.publish(&to, Event::new("notification", Some(json(&rendered)?), None));
        Ok(())
    }
}

/// An event for an account's own streaming connections (its `system` channel).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum AccountEvent {
    /// Its blocks, mutes or domain blocks changed: connections reload what they filter with.
    RelationsChanged,
    /// Its custom filters changed: connections reload them, and clients hear `filters_changed`.
    FiltersChanged,
    /// A token was revoked: the connections that use it close.
    TokenRevoked { token_id: Id },
    /// Every token was revoked (disabled, password reset): every connection closes.
    Disconnect,
}

#[derive(Serialize, Deserialize)]
struct AccountEventJob {
    account_id: Id,
    #[serde(flatten)]
    event: AccountEvent,
}

/// Publishes an [`AccountEvent`]. A job rather than a publish after the commit: it is kept with
/// the change that causes it, and reaches the account's connections whatever process holds
/// them (a command run by an admin, a worker, another web process).
pub struct PublishAccountEvent {
    pub(crate) svc: Services,
}

impl PublishAccountEvent {
    pub const KIND: &'static str = "PublishAccountEvent";

    /// Nothing is queued when the account has no connection (exact for the in-process bus; a
    /// bus shared between processes always queues). A disconnection is always queued: an admin
    /// command makes it in a process of its own, whose bus knows nothing of the server's
    /// connections.
    pub(crate) async fn enqueue(
        svc: &Services,
        tx: &mut Box<dyn Tx>,
        account_id: Id,
        event: AccountEvent,
    ) -> Result<()> {
        let always = matches!(event, AccountEvent::Disconnect);
        if !always && !svc.events.has_subscribers(&channel::system(account_id)) {
            return Ok(());
        }
        let body = serde_json::to_value(AccountEventJob { account_id, event }).map_err(Error::internal)?;
        enqueue(tx, Queue::Default, Self::KIND, &body, POLICY).await.map(|_| ())
    }
}

#[async_trait]
impl JobHandler for PublishAccountEvent {
    async fn run(&self, _ctx: &JobContext, job: &Job) -> Result<()> {
        let p: AccountEventJob = payload(job)?;
        let system = channel::system(p.account_id);
        match p.event {
            AccountEvent::RelationsChanged => {
                self.svc.publish(&system, Event::new(Event::RELATIONS_CHANGED, None, None));
            }
            AccountEvent::FiltersChanged => {
                self.svc.publish(&system, Event::new(Event::RELATIONS_CHANGED, None, None));
                self.svc.publish(&channel::home(p.account_id), Event::new("filters_changed", None, None));
            }
            AccountEvent::TokenRevoked { token_id } => {
                self.svc.publish(&system, Event::new(Event::KILL, Some(token_id.to_string()), None));
            }
            AccountEvent::Disconnect => self.svc.publish(&system, Event::new(Event::KILL, None, None)),
        }
        Ok(())
    }
}

/// An announcement's event for every local user's stream.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AnnouncementEvent {
    Published { id: Id },
    Reaction { id: Id, name: String },
    Deleted { id: Id },
}

/// Accounts asked about per round (which of them stream now).
const RECIPIENTS_PER_ROUND: u32 = 1000;

impl AnnouncementEvent {
    pub const KIND: &'static str = "PublishAnnouncementEvent";
    pub const POLICY: RetryPolicy = RetryPolicy { max_attempts: 3, keep_dead: false };

    /// Queued in the change's transaction (whatever process makes the change, the workers send).
    pub(crate) async fn enqueue(&self, tx: &mut Box<dyn Tx>) -> Result<()> {
        let body = serde_json::to_value(self).map_err(Error::internal)?;
        enqueue(tx, Queue::Default, Self::KIND, &body, Self::POLICY).await.map(|_| ())
    }

    /// What users' streams get, or nothing when the announcement is gone or no longer published.
    async fn event(&self, svc: &Services) -> Result<Option<std::sync::Arc<Event>>> {
        let mut tx = svc.db.read().await?;
        Ok(match self {
            AnnouncementEvent::Published { id } => {
                let Some(a) = tx.announcement(*id).await?.filter(|a| a.published) else {
                    return Ok(None);
                };
                let rendered = present::announcements_in(svc, &mut tx, std::slice::from_ref(&a), None).await?;
                let payload = serde_json::to_string(&rendered[0]).map_err(Error::internal)?;
                Some(Event::new("announcement", Some(payload), None))
            }
            AnnouncementEvent::Reaction { id, name } => {
                let count = tx
                    .announcement_reactions(&[*id], None)
                    .await?
                    .into_iter()
                    .find(|r: &AnnouncementReaction| r.name == *name)
                    .map_or(0, |r| r.count);
                let payload = serde_json::json!({ "name": name, "count": count, "announcement_id": id.to_string() });
                Some(Event::new("announcement.reaction", Some(payload.to_string()), None))
            }
            AnnouncementEvent::Deleted { id } => Some(Event::new("announcement.delete", Some(id.to_string()), None)),
        })
    }
}

/// Sends [`AnnouncementEvent`]s to the home channels of the local users who stream.
pub struct PublishAnnouncementEvent {
    pub(crate) svc: Services,
}

#[async_trait]
impl JobHandler for PublishAnnouncementEvent {
    async fn run(&self, _ctx: &JobContext, job: &Job) -> Result<()> {
        let svc = &self.svc;
        if svc.events.idle() {
            return Ok(());
        }
        let what: AnnouncementEvent = serde_json::from_str(&job.payload).map_err(Error::internal)?;
        let Some(event) = what.event(svc).await? else {
            return Ok(());
        };
        let mut after = Id(0);
        loop {
            let accounts = svc.db.read().await?.local_user_accounts(after, RECIPIENTS_PER_ROUND).await?;
            let Some(last) = accounts.last() else { break };
            after = *last;
            let channels = svc.events.listened(accounts.into_iter().map(channel::home).collect()).await;
            for c in channels {
                svc.publish(&c, event.clone());
            }
        }
        Ok(())
    }
}

/// The handlers of this module, for [`crate::jobs::handlers`].
pub(crate) fn handlers(svc: &Services) -> Vec<(&'static str, RetryPolicy, Arc<dyn JobHandler>)> {
    vec![
        (DistributeStatus::KIND, POLICY, Arc::new(DistributeStatus { svc: svc.clone() })),
        (DistributeDeletion::KIND, POLICY, Arc::new(DistributeDeletion { svc: svc.clone() })),
        (PublishNotification::KIND, POLICY, Arc::new(PublishNotification { svc: svc.clone() })),
        (PublishAccountEvent::KIND, POLICY, Arc::new(PublishAccountEvent { svc: svc.clone() })),
        (AnnouncementEvent::KIND, AnnouncementEvent::POLICY, Arc::new(PublishAnnouncementEvent { svc: svc.clone() })),
    ]
}
