//! What local changes tell other servers, and to whom. A change's intent ([`Outgoing`], enqueued
//! by [`crate::effects`]) becomes the activities to send with the inboxes they go to (Mastodon's
//! `StatusReachFinder`: the author's followers' servers, the mentioned accounts', the author of
//! the post replied to); each inbox gets one delivery job, shared inboxes de-duplicated, and
//! suspended, not allowed and unavailable domains left out. Deliveries that fail are counted per
//! domain: one that fails on seven distinct days is marked unavailable (Mastodon's rule) until it
//! answers again.

use std::collections::HashSet;

use ferrodon_domain::model::{Account, NewJob, Outbound, Post, Signer, Status, Visibility};
use ferrodon_domain::ports::Tx;
use ferrodon_domain::rules::uri::authority;
use ferrodon_kernel::time::now_ms;
use ferrodon_kernel::{Error, Id, Result};

use crate::jobs::federate::{DeliverActivity, Outgoing};
use crate::{Services, domains, lock};

/// Failing on this many distinct days makes a domain unavailable.
pub const FAILURE_DAYS: usize = 7;

/// What an intent becomes: activities signed by `signer`, each for every inbox.
pub(crate) struct Prepared {
    pub signer: Signer,
    pub activities: Vec<Outbound>,
    pub inboxes: Vec<String>,
}

/// A local status as its Note shows it (with the accounts it mentions, the URI of its parent
/// and its poll).
pub(crate) async fn post(tx: &mut Box<dyn Tx>, author: &Account, status: Status) -> Result<Post> {
    let ids: Vec<Id> = status.mentions().iter().map(|m| m.id).collect();
    let mentioned = tx.accounts_by_ids(&ids).await?;
    let in_reply_to = match status.in_reply_to_id {
        Some(id) => tx.status_by_id(id).await?.map(|p| p.uri),
        None => None,
    };
    let poll = if status.has_poll { tx.polls_of(&[status.id]).await?.pop() } else { None };
    Ok(Post { status, author: author.clone(), mentioned, in_reply_to, poll })
}

/// The inbox of an account (its shared inbox preferred); none for a local account.
fn inbox_of(a: &Account) -> Option<String> {
    if a.is_local() {
        return None;
    }
    Some(if a.shared_inbox_url.is_empty() { a.inbox_url.clone() } else { a.shared_inbox_url.clone() })
        .filter(|i| !i.is_empty())
}

/// The personal inbox of a remote account (follows, blocks and votes go there).
fn direct_inbox(a: &Account) -> Vec<String> {
    if a.is_local() || a.inbox_url.is_empty() { Vec::new() } else { vec![a.inbox_url.clone()] }
}

async fn account(tx: &mut Box<dyn Tx>, id: Id) -> Result<Account> {
    tx.account_by_id(id).await?.ok_or_else(Error::not_found)
}

/// What `out` becomes, and where it goes; `None` when there is nothing to send any more (the
/// status was deleted, the request withdrawn).
pub(crate) async fn prepare(svc: &Services, out: &Outgoing) -> Result<Option<Prepared>> {
    let mut tx = svc.db.read().await?;
    let local = |a: &Account| Signer::Account(a.id);
    Ok(Some(match out {
        Outgoing::Create { status_id } | Outgoing::Update { status_id } | Outgoing::PollUpdate { status_id } => {
            let Some(s) = tx.status_by_id(*status_id).await? else { return Ok(None) };
            let author = account(&mut tx, s.account_id).await?;
            // A direct status goes to the mentioned only.
            let mut inboxes = match s.visibility {
                Visibility::Direct => Vec::new(),
                _ => tx.follower_inboxes(author.id).await?,
            };
            if let Some(original_id) = s.reblog_of_id {
                let Some(original) = tx.status_by_id(original_id).await? else { return Ok(None) };
                let original_author = account(&mut tx, original.account_id).await?;
                inboxes.extend(inbox_of(&original_author));
                let activity = Outbound::Announce {
                    actor: author.clone(),
                    reblog: s,
                    original_uri: original.uri,
                    original_author_uri: original_author.uri,
                };
                return Ok(Some(Prepared { signer: local(&author), activities: vec![activity], inboxes }));
            }
            // The mentioned, and the author of the post replied to (Mastodon's StatusReachFinder).
            let mut reached: Vec<Id> = s.mentions().iter().map(|m| m.id).collect();
            if s.visibility != Visibility::Direct {
                reached.extend(s.in_reply_to_account_id);
            }
            // A poll's new counts also go to the remote accounts that voted in it.
            if matches!(out, Outgoing::PollUpdate { .. })
                && let Some(poll) = tx.polls_of(&[s.id]).await?.pop()
            {
                reached.extend(tx.poll_voters(poll.id).await?);
            }
            inboxes.extend(tx.accounts_by_ids(&reached).await?.iter().filter_map(inbox_of));
            let at = match out {
                Outgoing::PollUpdate { .. } => Some(now_ms()),
                Outgoing::Update { .. } => Some(s.edited_at.unwrap_or_else(now_ms)),
                _ => None,
            };
            let post = post(&mut tx, &author, s).await?;
            let activity = match at {
                None => Outbound::Create(post),
                Some(at) => Outbound::Update { post, at },
            };
            Prepared { signer: local(&author), activities: vec![activity], inboxes }
        }
        Outgoing::Delete { status } => {
            let author = account(&mut tx, status.account_id).await?;
            let mut inboxes = tx.follower_inboxes(author.id).await?;
            let mentioned = tx.accounts_by_ids(&status.mentioned).await?;
            inboxes.extend(mentioned.iter().filter_map(inbox_of));
            let activity = match &status.reblog_of {
                Some((original_uri, original_author)) => {
                    if let Some(a) = tx.account_by_id(*original_author).await? {
                        inboxes.extend(inbox_of(&a));
                    }
                    Outbound::UndoAnnounce {
                        actor_uri: author.uri.clone(),
                        uri: status.uri.clone(),
                        original_uri: original_uri.clone(),
                    }
                }
                None => Outbound::Delete { actor_uri: author.uri.clone(), uri: status.uri.clone() },
            };
            Prepared { signer: local(&author), activities: vec![activity], inboxes }
        }
        Outgoing::Like { account_id, status_id } | Outgoing::UndoLike { account_id, status_id } => {
            let actor = account(&mut tx, *account_id).await?;
            let Some(s) = tx.status_by_id(*status_id).await? else { return Ok(None) };
            let author = account(&mut tx, s.account_id).await?;
            let undo = matches!(out, Outgoing::UndoLike { .. });
            let activity = Outbound::Like { actor_uri: actor.uri.clone(), status_id: s.id, status_uri: s.uri, undo };
            Prepared {
                signer: local(&actor),
                activities: vec![activity],
                inboxes: inbox_of(&author).into_iter().collect(),
            }
        }
        Outgoing::Follow { account_id, target_id } => {
            let actor = account(&mut tx, *account_id).await?;
            let target = account(&mut tx, *target_id).await?;
            // Withdrawn before it went out: nothing to say.
            let Some(id) = tx.relation_uri("follow_request", actor.id, target.id).await? else { return Ok(None) };
            let activity =
                Outbound::Follow { id, actor_uri: actor.uri.clone(), target_uri: target.uri.clone(), undo: false };
            Prepared { signer: local(&actor), activities: vec![activity], inboxes: direct_inbox(&target) }
        }
        Outgoing::UndoFollow { account_id, target_id, follow_uri } => {
            let actor = account(&mut tx, *account_id).await?;
            let target = account(&mut tx, *target_id).await?;
            let activity = Outbound::Follow {
                id: follow_uri.clone(),
                actor_uri: actor.uri.clone(),
                target_uri: target.uri.clone(),
                undo: true,
            };
            Prepared { signer: local(&actor), activities: vec![activity], inboxes: direct_inbox(&target) }
        }
        Outgoing::AcceptFollow { account_id, follower_id, follow_uri }
        | Outgoing::RejectFollow { account_id, follower_id, follow_uri } => {
            let actor = account(&mut tx, *account_id).await?;
            let follower = account(&mut tx, *follower_id).await?;
            let activity = Outbound::FollowAnswer {
                accept: matches!(out, Outgoing::AcceptFollow { .. }),
                actor_uri: actor.uri.clone(),
                follower_uri: follower.uri.clone(),
                follow_uri: follow_uri.clone(),
            };
            Prepared { signer: local(&actor), activities: vec![activity], inboxes: direct_inbox(&follower) }
        }
        Outgoing::Block { account_id, target_id } | Outgoing::UndoBlock { account_id, target_id } => {
            let actor = account(&mut tx, *account_id).await?;
            let target = account(&mut tx, *target_id).await?;
            let activity = Outbound::Block {
                actor_uri: actor.uri.clone(),
                target_id: target.id,
                target_uri: target.uri.clone(),
                undo: matches!(out, Outgoing::UndoBlock { .. }),
            };
            Prepared { signer: local(&actor), activities: vec![activity], inboxes: direct_inbox(&target) }
        }
        Outgoing::Pin { account_id, status_id } | Outgoing::Unpin { account_id, status_id } => {
            // Mastodon's Add / Remove with the featured collection as target, to the followers.
            let actor = account(&mut tx, *account_id).await?;
            let Some(s) = tx.status_by_id(*status_id).await? else { return Ok(None) };
            let activity = Outbound::Featured {
                actor_uri: actor.uri.clone(),
                status_id: s.id,
                status_uri: s.uri,
                added: matches!(out, Outgoing::Pin { .. }),
            };
            let inboxes = tx.follower_inboxes(actor.id).await?;
            Prepared { signer: local(&actor), activities: vec![activity], inboxes }
        }
        Outgoing::Flag { report_id } => {
            // Sent by the instance actor, as Mastodon does: the reporter stays anonymous.
            let Some(report) = tx.report_by_id(*report_id).await? else { return Ok(None) };
            let target = account(&mut tx, report.target_account_id).await?;
            let statuses = tx.statuses_by_ids(&report.status_ids()).await?;
            let objects = std::iter::once(target.uri.clone()).chain(statuses.into_iter().map(|s| s.uri)).collect();
            let activity = Outbound::Flag { report_id: report.id, comment: report.comment, objects };
            Prepared {
                signer: Signer::Instance,
                activities: vec![activity],
                inboxes: inbox_of(&target).into_iter().collect(),
            }
        }
        Outgoing::UpdateActor { account_id } => {
            let actor = account(&mut tx, *account_id).await?;
            drop(tx);
            let inboxes = svc.db.read().await?.follower_inboxes(actor.id).await?;
            let activity = Outbound::Actor(crate::activitypub::local_actor(svc, actor.clone()).await?);
            return Ok(Some(Prepared { signer: local(&actor), activities: vec![activity], inboxes }));
        }
        Outgoing::Vote { account_id, status_id, choices } => {
            let actor = account(&mut tx, *account_id).await?;
            let Some(s) = tx.status_by_id(*status_id).await? else { return Ok(None) };
            let author = account(&mut tx, s.account_id).await?;
            let Some(poll) = tx.polls_of(&[s.id]).await?.pop() else { return Ok(None) };
            let options = poll.options();
            // One Create(Note) per choice, as Mastodon sends votes.
            let activities = choices
                .iter()
                .filter_map(|c| {
                    Some(Outbound::Vote {
                        actor_uri: actor.uri.clone(),
                        poll_id: poll.id,
                        choice: *c,
                        name: options.get(usize::try_from(*c).ok()?)?.clone(),
                        author_uri: author.uri.clone(),
                        status_uri: s.uri.clone(),
                    })
                })
                .collect();
            Prepared { signer: local(&actor), activities, inboxes: direct_inbox(&author) }
        }
    }))
}

/// Enqueues one delivery of `body` per inbox, signed by `signer`: inboxes de-duplicated,
/// refused and unavailable domains left out. Returns how many were enqueued.
pub(crate) async fn deliver_later(svc: &Services, signer: Signer, body: &str, inboxes: &[String]) -> Result<usize> {
    let mut unique: Vec<&String> = inboxes.iter().collect();
    unique.sort();
    unique.dedup();
    let mut open = Vec::with_capacity(unique.len());
    for inbox in unique {
        if !domains::refuses(svc, inbox).await? && !is_unavailable(svc, inbox).await? {
            open.push(inbox);
        }
    }
    if open.is_empty() {
        return Ok(0);
    }
    let now = now_ms();
    let jobs: Vec<NewJob> = open.iter().map(|inbox| DeliverActivity::job(inbox, signer, body, now)).collect();
    let mut tx = svc.db.write().await?;
    tx.enqueue_many(&jobs).await?;
    tx.commit().await?;
    Ok(jobs.len())
}

/// Which domains failed deliveries, and which of them are marked unavailable (read once).
#[derive(Default)]
pub(crate) struct DeliveryState {
    failing: HashSet<String>,
    unavailable: HashSet<String>,
}

async fn delivery_state(svc: &Services) -> Result<&std::sync::Mutex<DeliveryState>> {
    svc.state
        .delivery
        .get_or_try_init(|| async {
            let unavailable: HashSet<String> = svc.db.read().await?.unavailable_domains().await?.into_iter().collect();
            Ok::<_, Error>(std::sync::Mutex::new(DeliveryState { failing: unavailable.clone(), unavailable }))
        })
        .await
}

/// Whether deliveries to the host of `inbox` are skipped (Mastodon drops them too).
pub(crate) async fn is_unavailable(svc: &Services, inbox: &str) -> Result<bool> {
    let Some(domain) = authority(inbox) else { return Ok(false) };
    Ok(lock(delivery_state(svc).await?).unavailable.contains(&domain))
}

/// Records a failed delivery to `domain`; marks it unavailable on the seventh failing day.
pub(crate) async fn delivery_failed(svc: &Services, domain: &str) -> Result<()> {
    let state = delivery_state(svc).await?;
    lock(state).failing.insert(domain.to_string());
    let mut tx = svc.db.write().await?;
    let day = now_ms().div_euclid(86_400_000);
    let unavailable = tx.record_delivery_failure(domain, day, FAILURE_DAYS, now_ms()).await?;
    tx.commit().await?;
    if unavailable && lock(state).unavailable.insert(domain.to_string()) {
        tracing::warn!(domain, "marked unavailable after failing on {FAILURE_DAYS} days");
    }
    Ok(())
}

/// `domain` answered (a delivery went through, or it sent us a signed activity): its failures
/// are forgotten and deliveries to it resume.
pub async fn domain_answered(svc: &Services, domain: &str) {
    let Ok(state) = delivery_state(svc).await else { return };
    if !lock(state).failing.contains(domain) {
        return;
    }
    let forgotten = async {
        let mut tx = svc.db.write().await?;
        tx.record_delivery_success(domain).await?;
        tx.commit().await
    };
    if forgotten.await.is_ok() {
        let mut state = lock(state);
        state.failing.remove(domain);
        if state.unavailable.remove(domain) {
            tracing::info!(domain, "available again");
        }
    }
}
