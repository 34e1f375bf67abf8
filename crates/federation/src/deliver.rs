//! Outgoing activities. [`Federate`] (on `push`) builds the activity a local change calls for
//! and enqueues one [`DeliverActivity`] per inbox, shared inboxes de-duplicated and unavailable
//! domains left out. A delivery signs and POSTs; a server error or a network failure is retried
//! with backoff and counted against the domain, which is marked unavailable after failing on
//! seven distinct days (Mastodon's rule) and resumes when it answers again.

use async_trait::async_trait;
use ferrodon_domain::model::{Account, Job, NewJob, Queue, Status};
use ferrodon_domain::ports::{JobContext, JobHandler, RetryPolicy};
use ferrodon_kernel::time::{now_ms, rfc3339};
use ferrodon_kernel::{Error, ErrorKind, Id, Result};
use ferrodon_service::jobs::federate::{DeletedStatus, Outgoing};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::protocol::{PUBLIC, authority};
use crate::render::{self, activity};
use crate::{ACTIVITY_JSON, Fed, Federation, lock};

/// The signer of a delivery made by the instance actor (no account row has id 0).
const INSTANCE_SIGNER: Id = Id(0);

/// Failing on this many distinct days makes a domain unavailable.
pub const FAILURE_DAYS: usize = 7;

impl Federation {
    async fn account_or_gone(&self, id: Id) -> Result<Account> {
        self.svc.db.read().await?.account_by_id(id).await?.ok_or_else(Error::not_found)
    }

    /// The inbox of one account (its shared inbox preferred).
    fn inbox_of(a: &Account) -> Option<String> {
        if a.is_local() {
            return None;
        }
        Some(if a.shared_inbox_url.is_empty() { a.inbox_url.clone() } else { a.shared_inbox_url.clone() })
            .filter(|i| !i.is_empty())
    }

    /// Builds the activity and the inboxes it goes to.
    async fn build(&self, out: &Outgoing) -> Result<Option<(Id, Value, Vec<String>)>> {
        let base = self.base();
        let mut tx = self.svc.db.read().await?;
        let followers_and = |author: Id, extra: Vec<Account>| async move {
            let mut tx = self.svc.db.read().await?;
            let mut inboxes = tx.follower_inboxes(author).await?;
            inboxes.extend(extra.iter().filter_map(Self::inbox_of));
            Ok::<_, Error>(inboxes)
        };
        Ok(Some(match out {
            Outgoing::Create { status_id } | Outgoing::Update { status_id } | Outgoing::PollUpdate { status_id } => {
                let Some(s) = tx.status_by_id(*status_id).await? else { return Ok(None) };
                let author = tx.account_by_id(s.account_id).await?.ok_or_else(Error::not_found)?;
                if let Some(original_id) = s.reblog_of_id {
                    let Some(original) = tx.status_by_id(original_id).await? else { return Ok(None) };
                    let original_author = tx.account_by_id(original.account_id).await?.ok_or_else(Error::not_found)?;
                    let doc = announce(&author, &s, &original, &original_author);
                    drop(tx);
                    (author.id, doc, followers_and(author.id, vec![original_author]).await?)
                } else {
                    // The mentioned, and the author of the post replied to (Mastodon's StatusReachFinder).
                    let mut reached: Vec<Id> = s.mentions().iter().map(|m| m.id).collect();
                    if s.visibility != ferrodon_domain::model::Visibility::Direct {
                        reached.extend(s.in_reply_to_account_id);
                    }
                    // A poll's new counts also go to the remote accounts that voted in it.
                    if matches!(out, Outgoing::PollUpdate { .. })
                        && let Some(poll) = tx.polls_of(&[s.id]).await?.pop()
                    {
                        reached.extend(tx.poll_voters(poll.id).await?);
                    }
                    let mentioned = tx.accounts_by_ids(&reached).await?;
                    let note = render::note(&mut tx, &base, &author, &s).await?;
                    let doc = if matches!(out, Outgoing::Create { .. }) {
                        render::create(note, &author)
                    } else {
                        let to = crate::protocol::ids_of(note.get("to"));
                        let cc = crate::protocol::ids_of(note.get("cc"));
                        let at = match out {
                            Outgoing::PollUpdate { .. } => now_ms(),
                            _ => s.edited_at.unwrap_or_else(now_ms),
                        };
                        let id = format!("{}#updates/{at}", s.uri);
                        activity("Update", &id, &author.uri, note, &to, &cc)
                    };
                    drop(tx);
                    let mut inboxes = if s.visibility == ferrodon_domain::model::Visibility::Direct {
                        Vec::new()
                    } else {
                        followers_and(author.id, Vec::new()).await?
                    };
                    inboxes.extend(mentioned.iter().filter_map(Self::inbox_of));
                    (author.id, doc, inboxes)
                }
            }
            Outgoing::Delete { status } => {
                let author = tx.account_by_id(status.account_id).await?.ok_or_else(Error::not_found)?;
                let mentioned = tx.accounts_by_ids(&status.mentioned).await?;
                drop(tx);
                let doc = deletion(&author, status);
                let mut extra = mentioned;
                if let Some((_, original_author)) = &status.reblog_of {
                    extra.extend(self.account_or_gone(*original_author).await.ok());
                }
                (author.id, doc, followers_and(author.id, extra).await?)
            }
            Outgoing::Like { account_id, status_id } | Outgoing::UndoLike { account_id, status_id } => {
                let actor = tx.account_by_id(*account_id).await?.ok_or_else(Error::not_found)?;
                let Some(s) = tx.status_by_id(*status_id).await? else { return Ok(None) };
                let author = tx.account_by_id(s.account_id).await?.ok_or_else(Error::not_found)?;
                let like_id = format!("{}#likes/{}", actor.uri, s.id);
                let like = json!({"id": like_id, "type": "Like", "actor": actor.uri, "object": s.uri});
                let doc = match out {
                    Outgoing::Like { .. } => with_context(like),
                    _ => activity("Undo", &format!("{like_id}/undo"), &actor.uri, like, &[], &[]),
                };
                (actor.id, doc, Self::inbox_of(&author).into_iter().collect())
            }
            Outgoing::Follow { account_id, target_id } => {
                let actor = tx.account_by_id(*account_id).await?.ok_or_else(Error::not_found)?;
                let target = tx.account_by_id(*target_id).await?.ok_or_else(Error::not_found)?;
                let uri = match tx.relation_uri("follow_request", actor.id, target.id).await? {
                    Some(u) => u,
                    None => return Ok(None), // withdrawn before it went out
                };
                let doc = with_context(json!({"id": uri, "type": "Follow", "actor": actor.uri, "object": target.uri}));
                (actor.id, doc, direct_inbox(&target))
            }
            Outgoing::UndoFollow { account_id, target_id, follow_uri } => {
                let actor = tx.account_by_id(*account_id).await?.ok_or_else(Error::not_found)?;
                let target = tx.account_by_id(*target_id).await?.ok_or_else(Error::not_found)?;
                let follow = json!({"id": follow_uri, "type": "Follow", "actor": actor.uri, "object": target.uri});
                let doc = activity("Undo", &format!("{follow_uri}/undo"), &actor.uri, follow, &[], &[]);
                (actor.id, doc, direct_inbox(&target))
            }
            Outgoing::AcceptFollow { account_id, follower_id, follow_uri }
            | Outgoing::RejectFollow { account_id, follower_id, follow_uri } => {
                let actor = tx.account_by_id(*account_id).await?.ok_or_else(Error::not_found)?;
                let follower = tx.account_by_id(*follower_id).await?.ok_or_else(Error::not_found)?;
                let follow = json!({"id": follow_uri, "type": "Follow", "actor": follower.uri, "object": actor.uri});
                let kind = if matches!(out, Outgoing::AcceptFollow { .. }) { "Accept" } else { "Reject" };
                let id = format!("{}#{}s/follows/{}", actor.uri, kind.to_lowercase(), Id::generate());
                (actor.id, activity(kind, &id, &actor.uri, follow, &[], &[]), direct_inbox(&follower))
            }
            Outgoing::Block { account_id, target_id } | Outgoing::UndoBlock { account_id, target_id } => {
                let actor = tx.account_by_id(*account_id).await?.ok_or_else(Error::not_found)?;
                let target = tx.account_by_id(*target_id).await?.ok_or_else(Error::not_found)?;
                let block_id = format!("{}#blocks/{}", actor.uri, target.id);
                let block = json!({"id": block_id, "type": "Block", "actor": actor.uri, "object": target.uri});
                let doc = match out {
                    Outgoing::Block { .. } => with_context(block),
                    _ => activity("Undo", &format!("{block_id}/undo"), &actor.uri, block, &[], &[]),
                };
                (actor.id, doc, direct_inbox(&target))
            }
            Outgoing::Pin { account_id, status_id } | Outgoing::Unpin { account_id, status_id } => {
                // Mastodon's Add / Remove with the featured collection as target, to followers.
                let actor = tx.account_by_id(*account_id).await?.ok_or_else(Error::not_found)?;
                let Some(s) = tx.status_by_id(*status_id).await? else { return Ok(None) };
                drop(tx);
                let (kind, suffix) =
                    if matches!(out, Outgoing::Pin { .. }) { ("Add", "") } else { ("Remove", "/undo") };
                let doc = with_context(json!({
                    "id": format!("{}#pins/{}/{}{suffix}", actor.uri, s.id, now_ms()),
                    "type": kind,
                    "actor": actor.uri,
                    "target": format!("{}/collections/featured", actor.uri),
                    "object": s.uri,
                }));
                (actor.id, doc, followers_and(actor.id, Vec::new()).await?)
            }
            Outgoing::Flag { report_id } => {
                // Sent by the instance actor, as Mastodon does: the reporter stays anonymous.
                let Some(report) = tx.report_by_id(*report_id).await? else { return Ok(None) };
                let target = tx.account_by_id(report.target_account_id).await?.ok_or_else(Error::not_found)?;
                let statuses = tx.statuses_by_ids(&report.status_ids()).await?;
                let mut object = vec![json!(target.uri)];
                object.extend(statuses.iter().map(|s| json!(s.uri)));
                let actor = self.instance_actor_uri();
                let doc = with_context(json!({
                    "id": format!("{base}/reports/{}", report.id),
                    "type": "Flag",
                    "actor": actor,
                    "content": report.comment,
                    "object": object,
                }));
                let inbox = if target.shared_inbox_url.is_empty() {
                    target.inbox_url.clone()
                } else {
                    target.shared_inbox_url.clone()
                };
                (INSTANCE_SIGNER, doc, if target.is_local() || inbox.is_empty() { Vec::new() } else { vec![inbox] })
            }
            Outgoing::UpdateActor { account_id } => {
                let actor = tx.account_by_id(*account_id).await?.ok_or_else(Error::not_found)?;
                drop(tx);
                self.key_of(&actor).await?;
                let actor = self.account_or_gone(*account_id).await?;
                let person = render::actor(&base, &actor, &actor.public_key_pem);
                let id = format!("{}#updates/{}", actor.uri, now_ms());
                let doc = activity("Update", &id, &actor.uri, person, &[PUBLIC.to_string()], &[]);
                (actor.id, doc, followers_and(actor.id, Vec::new()).await?)
            }
            Outgoing::Vote { account_id, status_id, choices } => {
                let actor = tx.account_by_id(*account_id).await?.ok_or_else(Error::not_found)?;
                let Some(s) = tx.status_by_id(*status_id).await? else { return Ok(None) };
                let author = tx.account_by_id(s.account_id).await?.ok_or_else(Error::not_found)?;
                let Some(poll) = tx.polls_of(&[s.id]).await?.pop() else { return Ok(None) };
                let options = poll.options();
                // One Create(Note) per choice, as Mastodon sends votes; delivered in one job each.
                let mut docs = Vec::new();
                for c in choices {
                    let Some(name) = options.get(*c as usize) else { continue };
                    let id = format!("{}#votes/{}/{c}", actor.uri, poll.id);
                    let note = json!({"id": id, "type": "Note", "name": name, "attributedTo": actor.uri,
                        "to": [author.uri], "inReplyTo": s.uri});
                    docs.push(activity(
                        "Create",
                        &format!("{id}/activity"),
                        &actor.uri,
                        note,
                        std::slice::from_ref(&author.uri),
                        &[],
                    ));
                }
                let inboxes = direct_inbox(&author);
                drop(tx);
                for doc in docs.iter().skip(1) {
                    self.enqueue_deliveries(actor.id, doc, &inboxes).await?;
                }
                match docs.into_iter().next() {
                    Some(first) => (actor.id, first, inboxes),
                    None => return Ok(None),
                }
            }
        }))
    }

    /// One delivery job per inbox (unavailable domains left out), enqueued together.
    async fn enqueue_deliveries(&self, signer: Id, doc: &Value, inboxes: &[String]) -> Result<usize> {
        let mut inboxes: Vec<&String> = inboxes.iter().collect();
        inboxes.sort();
        inboxes.dedup();
        let body = doc.to_string();
        let now = now_ms();
        let mut open = Vec::with_capacity(inboxes.len());
        for inbox in inboxes {
            if !self.refuses(inbox).await? {
                open.push(inbox);
            }
        }
        let jobs: Vec<NewJob> = open
            .into_iter()
            .filter(|i| !authority(i).is_some_and(|d| self.is_unavailable(&d)))
            .map(|inbox| NewJob {
                id: Id::generate(),
                queue: Queue::Push,
                kind: DeliverActivity::KIND.to_string(),
                payload: json!({"inbox": inbox, "signer": signer, "body": body}).to_string(),
                priority: 0,
                run_at: now,
                max_attempts: DeliverActivity::POLICY.max_attempts,
                unique_key: None,
                created_at: now,
            })
            .collect();
        if jobs.is_empty() {
            return Ok(0);
        }
        let mut tx = self.svc.db.write().await?;
        tx.enqueue_many(&jobs).await?;
        tx.commit().await?;
        Ok(jobs.len())
    }

    /// Records a delivery failure; marks the domain unavailable on the seventh failing day.
    async fn delivery_failed(&self, domain: &str) -> Result<()> {
        lock(&self.failing).insert(domain.to_string());
        let mut tx = self.svc.db.write().await?;
        let day = now_ms().div_euclid(86_400_000);
        let unavailable = tx.record_delivery_failure(domain, day, FAILURE_DAYS, now_ms()).await?;
        tx.commit().await?;
        if unavailable && lock(&self.unavailable).insert(domain.to_string()) {
            tracing::warn!(domain, "marked unavailable after failing on {FAILURE_DAYS} days");
        }
        Ok(())
    }

    /// A domain answered (a delivery went through, or it sent us a signed activity).
    pub(crate) async fn domain_answered(&self, domain: &str) {
        if !lock(&self.failing).contains(domain) {
            return;
        }
        let forgotten = async {
            let mut tx = self.svc.db.write().await?;
            tx.record_delivery_success(domain).await?;
            tx.commit().await
        };
        if forgotten.await.is_ok() {
            lock(&self.failing).remove(domain);
            if lock(&self.unavailable).remove(domain) {
                tracing::info!(domain, "available again");
            }
        }
    }
}

fn with_context(mut doc: Value) -> Value {
    if let Some(o) = doc.as_object_mut() {
        o.insert("@context".into(), json!("https://www.w3.org/ns/activitystreams"));
    }
    doc
}

fn direct_inbox(a: &Account) -> Vec<String> {
    if a.is_local() || a.inbox_url.is_empty() { Vec::new() } else { vec![a.inbox_url.clone()] }
}

/// A reblog as `Announce`, addressed as Mastodon addresses it.
fn announce(actor: &Account, reblog: &Status, original: &Status, original_author: &Account) -> Value {
    let (to, mut cc) = render::audience(reblog.visibility, actor, &[]);
    cc.push(original_author.uri.clone());
    let mut doc = activity("Announce", &reblog.uri, &actor.uri, json!(original.uri), &to, &cc);
    doc["published"] = json!(rfc3339(reblog.created_at));
    doc
}

/// `Delete` of a status (`Tombstone`), or `Undo(Announce)` of a reblog.
fn deletion(actor: &Account, s: &DeletedStatus) -> Value {
    if let Some((original_uri, _)) = &s.reblog_of {
        let announce = json!({"id": s.uri, "type": "Announce", "actor": actor.uri, "object": original_uri});
        return activity("Undo", &format!("{}#undo", s.uri), &actor.uri, announce, &[PUBLIC.to_string()], &[]);
    }
    let tombstone = json!({"id": s.uri, "type": "Tombstone", "atomUri": s.uri});
    activity("Delete", &format!("{}#delete", s.uri), &actor.uri, tombstone, &[PUBLIC.to_string()], &[])
}

/// Builds a local change's activity and fans it out to inboxes (Mastodon's
/// `ActivityPub::DistributionWorker` and friends).
pub struct Federate {
    pub(crate) fed: Fed,
}

#[async_trait]
impl JobHandler for Federate {
    async fn run(&self, _ctx: &JobContext, job: &Job) -> Result<()> {
        let out: Outgoing =
            serde_json::from_str(&job.payload).map_err(|e| Error::internal(format!("bad payload: {e}")))?;
        match self.fed.build(&out).await {
            Ok(Some((signer, doc, inboxes))) => self.fed.enqueue_deliveries(signer, &doc, &inboxes).await.map(|_| ()),
            Ok(None) => Ok(()),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Delivery {
    inbox: String,
    signer: Id,
    body: String,
}

/// POSTs one activity to one inbox, signed by its actor (Mastodon's `ActivityPub::DeliveryWorker`).
pub struct DeliverActivity {
    pub(crate) fed: Fed,
}

impl DeliverActivity {
    pub const KIND: &'static str = "DeliverActivity";
    /// Mastodon retries a delivery 16 times over about three days.
    pub const POLICY: RetryPolicy = RetryPolicy { max_attempts: 16, keep_dead: true };
}

#[async_trait]
impl JobHandler for DeliverActivity {
    async fn run(&self, _ctx: &JobContext, job: &Job) -> Result<()> {
        let d: Delivery =
            serde_json::from_str(&job.payload).map_err(|e| Error::internal(format!("bad payload: {e}")))?;
        let fed = &self.fed;
        let domain = authority(&d.inbox).unwrap_or_default();
        if fed.is_unavailable(&domain) {
            return Ok(()); // Mastodon drops deliveries to unavailable domains
        }
        let (key, key_id) = if d.signer == INSTANCE_SIGNER {
            (fed.instance_key().await?, format!("{}#main-key", fed.instance_actor_uri()))
        } else {
            let signer = match fed.account_or_gone(d.signer).await {
                Ok(a) => a,
                Err(e) if e.kind == ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            };
            (fed.key_of(&signer).await?, render::key_id(&signer))
        };
        let sent =
            fed.signed(http::Method::POST, &d.inbox, (&key, &key_id), Some(d.body.into_bytes()), ACTIVITY_JSON).await;
        match sent {
            Ok(r) if r.status().is_success() => {
                fed.domain_answered(&domain).await;
                Ok(())
            }
            // The server understood and refused: retrying would not change its mind (429 aside).
            Ok(r) if r.status().is_client_error() && r.status() != 429 && r.status() != 408 => {
                fed.domain_answered(&domain).await;
                tracing::info!(inbox = %d.inbox, status = %r.status(), "delivery refused");
                Ok(())
            }
            Ok(r) => {
                fed.delivery_failed(&domain).await?;
                Err(Error::unavailable(format!("{}: HTTP {}", d.inbox, r.status())))
            }
            Err(e) if e.kind == ErrorKind::Validation => Ok(()), // a URL we may never fetch
            Err(e) => {
                fed.delivery_failed(&domain).await?;
                Err(e)
            }
        }
    }
}
