//! `POST /inbox` and `POST /users/:name/inbox`: the signature is checked while the request
//! waits (401 when it is missing or wrong, and nothing is kept), then the activity is queued on
//! `ingress` and answered with 202. [`ProcessActivity`] applies it through the service layer.

use std::time::SystemTime;

use async_trait::async_trait;
use ferrodon_domain::model::{Account, Job, NewJob, Queue, Visibility};
use ferrodon_domain::ports::{JobContext, JobHandler, RetryPolicy};
use ferrodon_kernel::time::now_ms;
use ferrodon_kernel::{Error, Id, Result};
use ferrodon_service::Services;
use ferrodon_service::inbox as apply;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::protocol::{has_type, id_of, ids_of, same_origin};
use crate::signatures::{self, Incoming, PublicKey};
use crate::{CachedKey, Fed, Federation, SIGNER_TTL, Signer, lock};

/// The largest activity accepted.
pub const MAX_ACTIVITY: usize = 1024 * 1024;

/// Why an inbox request was refused.
#[derive(Debug)]
pub enum Refused {
    /// 401: no signature, a bad one, or a key we could not get.
    Unauthorized(String),
    /// 400: not an activity.
    BadRequest(String),
    /// 403: a blocked domain, or a signer speaking for another actor.
    Forbidden(String),
    /// 503: the activity could not be queued (the database is unavailable); the sender retries.
    Unavailable(String),
}

impl Federation {
    /// Verifies an inbox request and queues its activity. `Ok` means 202.
    pub async fn receive(&self, req: Incoming<'_>) -> std::result::Result<(), Refused> {
        let now = SystemTime::now();
        let sig = signatures::parse(&req, now).map_err(|e| Refused::Unauthorized(e.to_string()))?;
        if self.refuses(&sig.key_id).await.unwrap_or(false) {
            return Err(Refused::Forbidden("this domain may not federate with this server".into()));
        }
        let body = req.body.unwrap_or_default();
        let activity: Value =
            serde_json::from_slice(body).map_err(|_| Refused::BadRequest("the body is not JSON".into()))?;
        let actor_uri = activity
            .get("actor")
            .and_then(id_of)
            .ok_or_else(|| Refused::BadRequest("an activity needs an actor".into()))?
            .to_string();
        // An actor deleting itself can no longer be fetched: accept and forget (Mastodon does).
        let self_delete =
            has_type(&activity, &["Delete"]) && activity.get("object").and_then(id_of) == Some(&actor_uri);
        let signer = match self.verify(&sig).await {
            Ok(a) => a,
            Err(_) if self_delete => return Ok(()),
            Err(e) => return Err(Refused::Unauthorized(e)),
        };
        if signer.uri != actor_uri {
            return Err(Refused::Forbidden(format!("{} may not speak for {actor_uri}", signer.uri)));
        }
        if signer.suspended {
            return Err(Refused::Forbidden("this account is suspended here".into()));
        }
        let job = Processing { actor_id: signer.id, activity };
        let payload = serde_json::to_string(&job).map_err(|e| Refused::BadRequest(e.to_string()))?;
        self.intake.submit(payload).await.map_err(|e| Refused::Unavailable(e.message))?;
        // The domain answered us: deliveries to it resume.
        if let Some(domain) = crate::protocol::authority(&signer.uri) {
            self.domain_answered(&domain).await;
        }
        Ok(())
    }

    /// The account whose key made `sig`, fetching (or refetching: keys rotate) it when needed.
    /// A key verified recently needs no database read.
    pub async fn verify(&self, sig: &signatures::Signature) -> std::result::Result<Signer, String> {
        let cached = lock(&self.remote_keys).get(&sig.key_id).cloned();
        if let Some(c) = &cached
            && c.loaded.elapsed() < SIGNER_TTL
            && sig.verify(&c.key).is_ok()
        {
            return Ok(c.signer.clone());
        }
        let known = match self.svc.db.read().await {
            Ok(mut tx) => tx.account_by_key_id(&sig.key_id).await.ok().flatten(),
            Err(_) => None,
        };
        if let Some(a) = known.filter(|a| !a.is_local())
            && let Ok(key) = PublicKey::from_pem(&a.public_key_pem)
            && sig.verify(&key).is_ok()
        {
            return Ok(self.remember_key(&sig.key_id, &a, key));
        }
        // Unknown, or the key changed: fetch the actor again.
        let account = self.refresh_account(&sig.key_id).await.map_err(|e| format!("could not get the key: {e}"))?;
        let key = PublicKey::from_pem(&account.public_key_pem).map_err(|e| format!("the actor's key: {e}"))?;
        sig.verify(&key).map_err(|e| e.to_string())?;
        Ok(self.remember_key(&sig.key_id, &account, key))
    }

    fn remember_key(&self, key_id: &str, a: &Account, key: PublicKey) -> Signer {
        let signer = Signer { id: a.id, uri: a.uri.clone(), suspended: a.suspended_at.is_some() };
        let entry = CachedKey { signer: signer.clone(), key, loaded: std::time::Instant::now() };
        lock(&self.remote_keys).insert(key_id.to_string(), entry);
        signer
    }
}

/// Group commit of the activities inboxes accept: requests arriving while a group is being
/// written wait and go together in the next transaction (one write for many, as the job
/// completions do). A request is answered 202 only once its job is committed.
pub(crate) struct Intake(mpsc::UnboundedSender<(String, oneshot::Sender<Result<()>>)>);

/// At most this many activities per transaction.
const MAX_INTAKE_GROUP: usize = 256;

impl Intake {
    pub(crate) fn start(svc: Services) -> Intake {
        let (tx, mut rx) = mpsc::unbounded_channel::<(String, oneshot::Sender<Result<()>>)>();
        tokio::spawn(async move {
            let mut group = Vec::with_capacity(MAX_INTAKE_GROUP);
            while rx.recv_many(&mut group, MAX_INTAKE_GROUP).await > 0 {
                let now = now_ms();
                let (payloads, replies): (Vec<String>, Vec<_>) = group.drain(..).unzip();
                let jobs: Vec<NewJob> = payloads
                    .into_iter()
                    .map(|payload| NewJob {
                        id: Id::generate(),
                        queue: Queue::Ingress,
                        kind: ProcessActivity::KIND.to_string(),
                        payload,
                        priority: 0,
                        run_at: now,
                        max_attempts: ProcessActivity::POLICY.max_attempts,
                        unique_key: None,
                        created_at: now,
                    })
                    .collect();
                let written = async {
                    let mut tx = svc.db.write().await?;
                    tx.enqueue_many(&jobs).await?;
                    tx.commit().await
                }
                .await;
                for reply in replies {
                    let _ = reply.send(written.clone());
                }
            }
        });
        Intake(tx)
    }

    /// Queues a `ProcessActivity` job with this payload; returns once it is committed.
    async fn submit(&self, payload: String) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.0.send((payload, reply)).map_err(|_| Error::unavailable("the inbox intake has stopped"))?;
        answer.await.map_err(|_| Error::unavailable("the inbox intake has stopped"))?
    }
}

#[derive(Serialize, Deserialize)]
struct Processing {
    actor_id: Id,
    activity: Value,
}

/// Applies a verified activity (Mastodon's `ActivityPub::ProcessingWorker`, on `ingress`).
pub struct ProcessActivity {
    pub(crate) fed: Fed,
}

impl ProcessActivity {
    pub const KIND: &'static str = "ProcessActivity";
    /// Remote servers may be slow to answer the fetches processing needs: retry for a while.
    pub const POLICY: RetryPolicy = RetryPolicy { max_attempts: 8, keep_dead: true };
}

#[async_trait]
impl JobHandler for ProcessActivity {
    async fn run(&self, _ctx: &JobContext, job: &Job) -> Result<()> {
        let p: Processing =
            serde_json::from_str(&job.payload).map_err(|e| Error::internal(format!("bad payload: {e}")))?;
        let actor = match self.fed.accounts.get(p.actor_id) {
            Some(a) => Some(a),
            None => {
                let a = self.fed.svc.db.read().await?.account_by_id(p.actor_id).await?;
                if let Some(a) = &a {
                    self.fed.accounts.put(a);
                }
                a
            }
        };
        // Gone, or suspended since the inbox took the activity (its check may be a minute old).
        let Some(actor) = actor.filter(|a| a.suspended_at.is_none()) else { return Ok(()) };
        match self.fed.process(&actor, &p.activity).await {
            // Something it names does not exist (any more): nothing to do.
            Err(e) if e.kind == ferrodon_kernel::ErrorKind::NotFound => Ok(()),
            Err(e) if e.kind == ferrodon_kernel::ErrorKind::Validation => {
                tracing::info!(error = %e, actor = %actor.uri, "ignored an activity");
                Ok(())
            }
            other => other,
        }
    }
}

impl Federation {
    /// The local account at `uri` (an activity's target), or NotFound.
    async fn local_account(&self, uri: Option<&str>) -> Result<Account> {
        let uri = uri.ok_or_else(Error::not_found)?;
        let a = self.svc.db.read().await?.account_by_uri(uri).await?;
        a.filter(Account::is_local).ok_or_else(Error::not_found)
    }

    async fn known_status(&self, uri: Option<&str>) -> Result<ferrodon_domain::model::Status> {
        let uri = uri.ok_or_else(Error::not_found)?;
        self.svc.db.read().await?.status_by_uri(uri).await?.ok_or_else(Error::not_found)
    }

    /// The local follower named by a Follow we sent (embedded, or by its id).
    async fn follower_of(&self, follow: &Value) -> Result<Account> {
        if let Some(actor) = follow.get("actor").and_then(id_of) {
            return self.local_account(Some(actor)).await;
        }
        // Our follow ids are `<actor>#follows/<id>`.
        let id = id_of(follow).ok_or_else(Error::not_found)?;
        self.local_account(id.split('#').next()).await
    }

    /// Applies one activity from `actor`.
    pub async fn process(&self, actor: &Account, activity: &Value) -> Result<()> {
        let svc = &self.svc;
        let object = activity.get("object").unwrap_or(&Value::Null);
        let object_id = id_of(object);
        let kind = crate::protocol::types(activity).first().copied().unwrap_or("");
        match kind {
            "Follow" => {
                let target = self.local_account(object_id).await?;
                let uri = id_of(activity).ok_or_else(|| Error::validation("a Follow without id"))?;
                apply::follow(svc, actor, &target, uri).await
            }
            "Accept" | "Reject" => {
                let follow = match object {
                    Value::String(_) => serde_json::json!({ "id": object_id }),
                    other => other.clone(),
                };
                let follower = self.follower_of(&follow).await?;
                if kind == "Accept" {
                    apply::follow_accepted(svc, actor, &follower).await
                } else {
                    apply::follow_rejected(svc, actor, &follower).await
                }
            }
            "Undo" => self.undo(actor, object).await,
            "Create" => {
                if !has_type(object, &["Note", "Question", "Article", "Page"]) {
                    return Ok(());
                }
                let author = object.get("attributedTo").and_then(id_of);
                if author != Some(actor.uri.as_str()) || object_id.is_none_or(|id| !same_origin(id, &actor.uri)) {
                    return Err(Error::validation("a Create of someone else's object"));
                }
                if let Some(vote) = self.vote(actor, object).await? {
                    return vote;
                }
                // As Mastodon: a post is kept only when it concerns someone here (a local
                // follower of its author, a local account mentioned, or a reply to a local post).
                let remote = self.remote_status(object, actor, 0).await?;
                let concerns_us = remote.mentions.iter().any(Account::is_local)
                    || remote.in_reply_to.as_ref().is_some_and(|p| p.local)
                    || svc.db.read().await?.has_local_followers(actor.id).await?;
                if !concerns_us {
                    return Ok(());
                }
                apply::create_status(svc, actor, remote).await.map(|_| ())
            }
            "Update" => {
                if has_type(object, &["Person", "Service", "Group", "Application", "Organization"]) {
                    if object_id != Some(actor.uri.as_str()) {
                        return Err(Error::validation("an actor may only update itself"));
                    }
                    let remote = crate::resolve::actor_to_remote(object)?;
                    let mut tx = svc.db.write().await?;
                    let updated = tx.upsert_remote_account(&remote, now_ms()).await?;
                    tx.commit().await?;
                    self.accounts.put(&updated);
                    return Ok(());
                }
                let status = self.known_status(object_id).await?;
                let remote = self.remote_status(object, actor, 0).await?;
                apply::update_status(svc, actor, &status, remote).await
            }
            "Delete" => {
                if object_id == Some(actor.uri.as_str()) {
                    self.accounts.forget(actor.id);
                    return apply::delete_account(svc, actor).await;
                }
                let status = self.known_status(object_id).await?;
                apply::delete_status(svc, actor, &status).await
            }
            "Like" => {
                let status = self.known_status(object_id).await?;
                apply::favourite(svc, actor, &status).await
            }
            "Announce" => {
                let uri = id_of(activity).ok_or_else(|| Error::validation("an Announce without id"))?;
                let object_id = object_id.ok_or_else(Error::not_found)?;
                // Kept when someone here follows the booster, or the boosted post is ours.
                let followed = svc.db.read().await?.has_local_followers(actor.id).await?;
                if !followed && !object_id.starts_with(&format!("{}/", self.base())) {
                    return Ok(());
                }
                let original = self.status(object_id).await?;
                let to = ids_of(activity.get("to"));
                let cc = ids_of(activity.get("cc"));
                let visibility = if to.iter().any(|t| crate::protocol::is_public(t)) {
                    Visibility::Public
                } else if cc.iter().any(|t| crate::protocol::is_public(t)) {
                    Visibility::Unlisted
                } else {
                    Visibility::Private
                };
                let published = crate::protocol::time(activity, "published").unwrap_or_else(now_ms);
                apply::reblog(svc, actor, &original, uri, visibility, published).await
            }
            "Block" => {
                let target = self.local_account(object_id).await?;
                apply::block(svc, actor, &target).await
            }
            "Move" => {
                // The old account moves itself; the new one must name it in alsoKnownAs.
                if object_id != Some(actor.uri.as_str()) {
                    return Err(Error::validation("an account may only move itself"));
                }
                let target_uri = activity.get("target").and_then(id_of).ok_or_else(Error::not_found)?;
                let doc = self.fetch(target_uri).await?;
                if !crate::protocol::ids_of(doc.get("alsoKnownAs")).contains(&actor.uri) {
                    return Err(Error::validation("the new account does not name the old one in alsoKnownAs"));
                }
                let target = self.refresh_account(target_uri).await?;
                apply::moved(svc, actor, &target).await.map(|_| ())
            }
            "Flag" => {
                // A report on a local account (the first local actor named), with the statuses
                // of it that are named too; anything else named is ignored.
                let uri = id_of(activity).ok_or_else(|| Error::validation("a Flag without id"))?;
                if self.rejects_reports(&actor.uri).await? {
                    return Ok(());
                }
                let mut target: Option<Account> = None;
                let mut statuses = Vec::new();
                {
                    let mut tx = svc.db.read().await?;
                    for named in ids_of(activity.get("object")) {
                        if let Some(a) = tx.account_by_uri(&named).await? {
                            if a.is_local() && target.is_none() {
                                target = Some(a);
                            }
                        } else if let Some(s) = tx.status_by_uri(&named).await?
                            && s.local
                        {
                            statuses.push(s);
                        }
                    }
                }
                let target = target.ok_or_else(Error::not_found)?;
                let ids: Vec<Id> = statuses.iter().filter(|s| s.account_id == target.id).map(|s| s.id).collect();
                let comment = crate::protocol::text(activity, "content").unwrap_or("");
                let comment = crate::sanitize::plain(comment);
                ferrodon_service::reports::remote_report(svc, actor, &target, &ids, &comment, uri).await
            }
            "Add" | "Remove" => {
                // A status of the actor's added to (removed from) its featured collection:
                // pinned (unpinned), as Mastodon reads them. Featured hashtags are not kept.
                let target = activity.get("target").and_then(id_of);
                if actor.featured_url.is_empty() || target != Some(actor.featured_url.as_str()) {
                    return Ok(());
                }
                let status = if kind == "Add" {
                    let Some(uri) = object_id else { return Ok(()) };
                    if !same_origin(uri, &actor.uri) {
                        return Ok(());
                    }
                    self.status(uri).await?
                } else {
                    match self.known_status(object_id).await {
                        Ok(s) => s,
                        Err(_) => return Ok(()),
                    }
                };
                apply::pin(svc, actor, &status, kind == "Add").await
            }
            _ => Ok(()), // EmojiReact, QuoteRequest …: not handled yet.
        }
    }

    async fn undo(&self, actor: &Account, object: &Value) -> Result<()> {
        let svc = &self.svc;
        let inner = object.get("object").and_then(id_of);
        match crate::protocol::types(object).first().copied() {
            Some("Follow") => {
                let target = self.local_account(inner).await?;
                apply::unfollow(svc, actor, &target).await
            }
            Some("Like") => {
                let status = self.known_status(inner).await?;
                apply::unfavourite(svc, actor, &status).await
            }
            Some("Announce") => {
                let reblog = self.known_status(id_of(object)).await?;
                apply::delete_status(svc, actor, &reblog).await
            }
            Some("Block") => {
                let target = self.local_account(inner).await?;
                apply::unblock(svc, actor, &target).await
            }
            // Only the id: a reblog of theirs, if that is what it names.
            _ => match self.known_status(id_of(object)).await {
                Ok(reblog) if reblog.reblog_of_id.is_some() => apply::delete_status(svc, actor, &reblog).await,
                _ => Ok(()),
            },
        }
    }

    /// A vote: a `Note` with a `name`, no content, in reply to a local poll.
    async fn vote(&self, actor: &Account, note: &Value) -> Result<Option<Result<()>>> {
        let (Some(name), Some(parent)) =
            (note.get("name").and_then(Value::as_str), note.get("inReplyTo").and_then(id_of))
        else {
            return Ok(None);
        };
        let Ok(status) = self.known_status(Some(parent)).await else { return Ok(None) };
        if !status.local || !status.has_poll {
            return Ok(None);
        }
        let poll = self.svc.db.read().await?.polls_of(&[status.id]).await?.pop();
        let Some(poll) = poll else { return Ok(None) };
        let Some(choice) = poll.options().iter().position(|o| o == name) else {
            return Ok(Some(Ok(())));
        };
        Ok(Some(apply::vote(&self.svc, actor, &status, &[choice as i64]).await))
    }
}
