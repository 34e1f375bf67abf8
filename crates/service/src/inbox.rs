//! Activities from other servers. The federation crate verifies an inbox request's signature and
//! reads its activity into a typed [`Activity`]; [`accept`] keeps it as an `ingress` job (in
//! groups: one transaction for the activities that arrive together), and the job applies it
//! ([`apply`]): one function per activity type, with the same rules and the same side effects
//! ([`crate::effects`]) as the local actions. A remote favourite notifies like a local one; a
//! remote post reaches home timelines and streams through the same jobs.
//!
//! The rules of what is kept are here too: a post is kept when it concerns someone here, a
//! reblog when someone here follows the booster or the post is ours, a report when it names a
//! local account.

use ferrodon_domain::model::{
    Account, Activity, Follow, FollowRef, MentionedAccount, NewJob, NewPoll, NewStatus, ReceivedPost, RelationKind,
    Status, StatusEdit, Undone, Updated, Visibility, visibility_of,
};
use ferrodon_domain::ports::{StatusMark, Tx};
use ferrodon_domain::rules::uri::same_origin;
use ferrodon_kernel::time::Millis;
use ferrodon_kernel::{Error, ErrorKind, Id, PageRequest, Result};
use tokio::sync::{mpsc, oneshot};

use crate::auth::now;
use crate::jobs::ingress::ProcessActivity;
use crate::remote::{self, Resolved};
use crate::{Services, domains, effects, reports};

// ---------------------------------------------------------------------------------------------
// Accepting: the inbox's group commit
// ---------------------------------------------------------------------------------------------

/// Keeps `activity`, sent by the remote account `actor_id` (its signature checked), as an
/// `ingress` job; returns once it is committed (the inbox then answers 202).
pub async fn accept(svc: &Services, actor_id: Id, activity: Activity) -> Result<()> {
    let payload = ProcessActivity::payload(actor_id, activity)?;
    let intake = svc.state.intake.get_or_init(|| Intake::start(svc));
    let (reply, answer) = oneshot::channel();
    intake.0.send((payload, reply)).map_err(|_| Error::unavailable("the inbox intake has stopped"))?;
    answer.await.map_err(|_| Error::unavailable("the inbox intake has stopped"))?
}

/// Group commit of accepted activities: requests arriving while a group is being written wait
/// and go together in the next transaction (one write for many).
pub(crate) struct Intake(mpsc::UnboundedSender<(String, oneshot::Sender<Result<()>>)>);

/// At most this many activities per transaction.
const MAX_INTAKE_GROUP: usize = 256;

impl Intake {
    fn start(svc: &Services) -> Intake {
        let (tx, mut rx) = mpsc::unbounded_channel::<(String, oneshot::Sender<Result<()>>)>();
        // The task holds the database only, so that it ends with the last sender.
        let db = svc.db.clone();
        tokio::spawn(async move {
            let mut group = Vec::with_capacity(MAX_INTAKE_GROUP);
            while rx.recv_many(&mut group, MAX_INTAKE_GROUP).await > 0 {
                let now = now();
                let (payloads, replies): (Vec<String>, Vec<_>) = group.drain(..).unzip();
                let jobs: Vec<NewJob> =
                    payloads.into_iter().map(|payload| ProcessActivity::job(payload, now)).collect();
                let written = async {
                    let mut tx = db.write().await?;
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
}

// ---------------------------------------------------------------------------------------------
// Applying: one function per activity type
// ---------------------------------------------------------------------------------------------

/// The account that sent an activity, unless it is gone or suspended since (the inbox's check
/// may be a minute old). Read through the few seconds' cache of accounts.
pub(crate) async fn sender(svc: &Services, actor_id: Id) -> Result<Option<Account>> {
    let actor = match svc.state.accounts.get(actor_id) {
        Some(a) => Some(a),
        None => {
            let a = svc.db.read().await?.account_by_id(actor_id).await?;
            if let Some(a) = &a {
                svc.state.accounts.put(a);
            }
            a
        }
    };
    Ok(actor.filter(|a| a.suspended_at.is_none()))
}

/// Applies one activity of `actor` (Mastodon's `ActivityPub::ProcessingWorker`). Something it
/// names that does not exist (any more) makes it a no-op, as does an activity that breaks a
/// rule (it is logged).
pub async fn apply(svc: &Services, actor: &Account, activity: Activity) -> Result<()> {
    let result = match activity {
        Activity::Follow { id, object } => follow(svc, actor, &object, &id).await,
        Activity::Accept { object } => follow_answer(svc, actor, &object, true).await,
        Activity::Reject { object } => follow_answer(svc, actor, &object, false).await,
        Activity::Undo { object } => undo(svc, actor, object).await,
        Activity::Create { object } => create(svc, actor, object).await,
        Activity::Update { object: Updated::Actor(account) } => update_actor(svc, actor, account).await,
        Activity::Update { object: Updated::Post(post) } => update_post(svc, actor, post).await,
        Activity::Delete { object } => delete(svc, actor, &object).await,
        Activity::Like { object } => like(svc, actor, &object).await,
        Activity::Announce { id, object, to, cc, published } => {
            // A reblog is public, unlisted, or else for the booster's followers.
            let visibility = match visibility_of(&to, &cc, "") {
                Visibility::Direct => Visibility::Private,
                v => v,
            };
            announce(svc, actor, &id, &object, visibility, published).await
        }
        Activity::Block { object } => block(svc, actor, &object).await,
        Activity::Move { object, target } => moved(svc, actor, &object, &target).await.map(|_| ()),
        Activity::Flag { id, objects, content } => flag(svc, actor, &id, &objects, &content).await,
        Activity::Add { object, target } => featured(svc, actor, &object, &target, true).await,
        Activity::Remove { object, target } => featured(svc, actor, &object, &target, false).await,
        Activity::Unsupported { kind } => {
            tracing::debug!(kind, actor = %actor.uri, "an activity of a type not applied here");
            Ok(())
        }
    };
    match result {
        Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind == ErrorKind::Validation || e.kind == ErrorKind::Forbidden => {
            tracing::info!(error = %e, actor = %actor.uri, "ignored an activity");
            Ok(())
        }
        other => other,
    }
}

/// The local account at `uri` (an activity's target), or NotFound.
async fn local_account(svc: &Services, uri: &str) -> Result<Account> {
    let a = svc.db.read().await?.account_by_uri(uri).await?;
    a.filter(Account::is_local).ok_or_else(Error::not_found)
}

async fn known_status(svc: &Services, uri: &str) -> Result<Status> {
    svc.db.read().await?.status_by_uri(uri).await?.ok_or_else(Error::not_found)
}

fn mentioned(a: &Account) -> MentionedAccount {
    MentionedAccount { id: a.id, username: a.username.clone(), acct: a.acct(), url: a.url.clone() }
}

/// `Follow` of local `target_uri` with activity id `follow_uri`: a follow (and an Accept) for an
/// open account, a follow request for a locked one, a Reject when either blocks the other.
async fn follow(svc: &Services, actor: &Account, target_uri: &str, follow_uri: &str) -> Result<()> {
    let target = local_account(svc, target_uri).await?;
    let mut tx = svc.db.write().await?;
    if tx.blocked_either_way(actor.id, target.id).await? || target.suspended_at.is_some() {
        effects::follow_answered(&mut tx, actor, &target, follow_uri, false).await?;
        return tx.commit().await;
    }
    let follow = Follow {
        id: Id::generate(),
        account_id: actor.id,
        target_account_id: target.id,
        show_reblogs: true,
        notify: false,
        languages: None,
        created_at: now(),
    };
    let following = tx.get_follow(RelationKind::Follow, actor.id, target.id).await?.is_some();
    if following || !target.locked {
        // Already following: Mastodon accepts again (the other side may have lost its state).
        let (_, created) = tx.upsert_follow(RelationKind::Follow, &follow).await?;
        tx.set_relation_uri("follow", actor.id, target.id, follow_uri).await?;
        if created {
            effects::followed(svc, &mut tx, actor, &target).await?;
        }
        effects::follow_answered(&mut tx, actor, &target, follow_uri, true).await?;
    } else {
        let (_, created) = tx.upsert_follow(RelationKind::FollowRequest, &follow).await?;
        tx.set_relation_uri("follow_request", actor.id, target.id, follow_uri).await?;
        if created {
            effects::follow_requested(svc, &mut tx, actor, &target).await?;
        }
    }
    tx.commit().await
}

/// `Accept` or `Reject` of a Follow of ours: the local follower's request to `actor` becomes a
/// follow, or ends (a Reject also ends a follow).
async fn follow_answer(svc: &Services, actor: &Account, follow: &FollowRef, accepted: bool) -> Result<()> {
    // The follower is named by the Follow (embedded), or by its id (ours are `<actor>#follows/<id>`).
    let follower_uri = match (&follow.actor, &follow.id) {
        (Some(actor), _) => actor.as_str(),
        (None, Some(id)) => id.split('#').next().unwrap_or(id),
        (None, None) => return Err(Error::not_found()),
    };
    let follower = local_account(svc, follower_uri).await?;
    let mut tx = svc.db.write().await?;
    if accepted {
        let Some(request) = tx.get_follow(RelationKind::FollowRequest, follower.id, actor.id).await? else {
            return Ok(()); // already accepted, or withdrawn
        };
        let uri = tx.relation_uri("follow_request", follower.id, actor.id).await?;
        tx.delete_relation(RelationKind::FollowRequest, follower.id, actor.id).await?;
        tx.upsert_follow(RelationKind::Follow, &Follow { created_at: now(), ..request }).await?;
        if let Some(uri) = uri {
            tx.set_relation_uri("follow", follower.id, actor.id, &uri).await?;
        }
        effects::followed(svc, &mut tx, &follower, actor).await?;
    } else {
        tx.delete_relation(RelationKind::FollowRequest, follower.id, actor.id).await?;
        tx.delete_relation(RelationKind::Follow, follower.id, actor.id).await?;
    }
    tx.commit().await
}

/// `Undo` of a Follow, Like, Announce or Block; an Undo naming only an id takes back the reblog
/// it names, if that is what it names.
async fn undo(svc: &Services, actor: &Account, undone: Undone) -> Result<()> {
    match undone {
        Undone::Follow { object } => {
            let target = local_account(svc, &object).await?;
            let mut tx = svc.db.write().await?;
            for kind in [RelationKind::Follow, RelationKind::FollowRequest] {
                if tx.delete_relation(kind, actor.id, target.id).await? {
                    let n = if kind == RelationKind::Follow { "follow" } else { "follow_request" };
                    tx.delete_notifications_for(target.id, actor.id, None, n).await?;
                }
            }
            tx.commit().await
        }
        Undone::Like { object } => {
            let status = known_status(svc, &object).await?;
            let mut tx = svc.db.write().await?;
            if tx.remove_mark(StatusMark::Favourite, actor.id, status.id).await? {
                tx.delete_notifications_for(status.account_id, actor.id, Some(status.id), "favourite").await?;
                effects::unfavourited(&mut tx, actor, &status).await?;
            }
            tx.commit().await
        }
        Undone::Announce { id } => delete_status(svc, actor, &known_status(svc, &id).await?).await,
        Undone::Block { object } => {
            let target = local_account(svc, &object).await?;
            let mut tx = svc.db.write().await?;
            if tx.delete_relation(RelationKind::Block, actor.id, target.id).await? {
                effects::unblocked(svc, &mut tx, actor, &target).await?;
            }
            tx.commit().await
        }
        Undone::Other { id: Some(id) } => match known_status(svc, &id).await {
            Ok(reblog) if reblog.reblog_of_id.is_some() => delete_status(svc, actor, &reblog).await,
            _ => Ok(()),
        },
        Undone::Other { id: None } => Ok(()),
    }
}

/// `Create` of a post by `actor`: a vote on a local poll, or a post, kept (as Mastodon does)
/// only when it concerns someone here: a local follower of its author, a local account
/// mentioned or addressed, or a reply to a local post.
async fn create(svc: &Services, actor: &Account, post: ReceivedPost) -> Result<()> {
    if post.author != actor.uri || !same_origin(&post.uri, &actor.uri) {
        return Err(Error::validation("a Create of someone else's object"));
    }
    if vote(svc, actor, &post).await? {
        return Ok(());
    }
    if !concerns_us(svc, actor, &post).await? {
        return Ok(());
    }
    let resolved = remote::resolve(svc, actor, post, 0).await?;
    create_status(svc, actor, resolved).await.map(|_| ())
}

/// Whether a post concerns someone here (see [`create`]), from what is known here already.
async fn concerns_us(svc: &Services, actor: &Account, post: &ReceivedPost) -> Result<bool> {
    let base = format!("{}/", svc.base_url());
    // Accounts read here are remembered: resolving the post looks them up again.
    for uri in post.mentions.iter().map(String::as_str).chain(post.addressed()).filter(|u| u.starts_with(&base)) {
        let named = match svc.state.accounts.get_by_uri(uri) {
            Some(a) => Some(a),
            None => svc.db.read().await?.account_by_uri(uri).await?.inspect(|a| svc.state.accounts.put(a)),
        };
        if named.is_some_and(|a| a.is_local()) {
            return Ok(true);
        }
    }
    let mut tx = svc.db.read().await?;
    if let Some(parent) = post.in_reply_to.as_deref().filter(|p| p.starts_with(&base))
        && tx.status_by_uri(parent).await?.is_some_and(|p| p.local)
    {
        return Ok(true);
    }
    tx.has_local_followers(actor.id).await
}

/// A vote: a post with a `name` (the option) and no content, in reply to a local poll. Returns
/// whether `post` was one (a name that matches no option is dropped).
async fn vote(svc: &Services, actor: &Account, post: &ReceivedPost) -> Result<bool> {
    let (Some(name), Some(parent)) = (&post.name, &post.in_reply_to) else { return Ok(false) };
    let Ok(status) = known_status(svc, parent).await else { return Ok(false) };
    if !status.local || !status.has_poll {
        return Ok(false);
    }
    let mut tx = svc.db.write().await?;
    let Some(poll) = tx.polls_of(&[status.id]).await?.pop() else { return Ok(false) };
    let Some(choice) = poll.options().iter().position(|o| o == name) else { return Ok(true) };
    if poll.expired(now()) || status.account_id == actor.id {
        return Ok(true);
    }
    let choices = [choice as i64];
    tx.vote(poll.id, actor.id, &choices, now()).await?;
    effects::voted(&mut tx, actor, &status, &choices).await?;
    tx.commit().await?;
    Ok(true)
}

/// Stores a received (or fetched) post, its references resolved, once per URI, and does what a
/// local post does: home feeds and streams, notifications to the mentioned local accounts.
/// Returns once committed.
///
/// Posts received together share one write transaction (a group commit, as the inbox intake
/// and the job completions do): on SQLite a transaction per post was the ingest's limit. A
/// group that fails is retried one post per transaction, so one bad post fails alone.
pub(crate) async fn create_status(svc: &Services, author: &Account, post: Resolved) -> Result<Status> {
    let received = svc.state.received.get_or_init(|| Received::start(svc));
    let (reply, answer) = oneshot::channel();
    received.0.send((author.clone(), post, reply)).map_err(|_| Error::unavailable("the status intake has stopped"))?;
    answer.await.map_err(|_| Error::unavailable("the status intake has stopped"))?
}

type ReceivedStatus = (Account, Resolved, oneshot::Sender<Result<Status>>);

/// The task behind [`create_status`]'s group commit.
pub(crate) struct Received(mpsc::UnboundedSender<ReceivedStatus>);

/// At most this many statuses per transaction.
const MAX_RECEIVED_GROUP: usize = 64;

impl Received {
    fn start(svc: &Services) -> Received {
        let (tx, mut rx) = mpsc::unbounded_channel::<ReceivedStatus>();
        // Services of its own, without this intake: the task ends with the last sender.
        let svc = Services::new(svc.db.clone(), svc.events.clone(), svc.config.clone());
        tokio::spawn(async move {
            let mut group = Vec::with_capacity(MAX_RECEIVED_GROUP);
            while rx.recv_many(&mut group, MAX_RECEIVED_GROUP).await > 0 {
                let (received, replies): (Vec<_>, Vec<_>) = group.drain(..).map(|(a, s, r)| ((a, s), r)).unzip();
                match store_together(&svc, &received).await {
                    Ok(stored) => {
                        for (reply, status) in replies.into_iter().zip(stored) {
                            let _ = reply.send(Ok(status));
                        }
                    }
                    Err(_) => {
                        for (one, reply) in received.iter().zip(replies) {
                            let alone = store_together(&svc, std::slice::from_ref(one)).await;
                            let _ = reply.send(alone.map(|mut stored| stored.remove(0)));
                        }
                    }
                }
            }
        });
        Received(tx)
    }
}

/// Stores `received` in one write transaction.
async fn store_together(svc: &Services, received: &[(Account, Resolved)]) -> Result<Vec<Status>> {
    let mut tx = svc.db.write().await?;
    let mut stored = Vec::with_capacity(received.len());
    for (author, post) in received {
        stored.push(store_status(svc, &mut tx, author, post).await?);
    }
    tx.commit().await?;
    Ok(stored)
}

fn new_poll(post: &ReceivedPost) -> Option<NewPoll> {
    post.poll.as_ref().map(|p| NewPoll {
        id: Id::generate(),
        options: p.options.clone(),
        expires_at: p.expires_at,
        multiple: p.multiple,
        hide_totals: false,
    })
}

/// [`create_status`]'s writes, in the caller's transaction.
async fn store_status(svc: &Services, tx: &mut Box<dyn Tx>, author: &Account, r: &Resolved) -> Result<Status> {
    let id = Id::generate();
    let p = &r.post;
    let parent = r.in_reply_to.as_ref();
    let new = NewStatus {
        id,
        account_id: author.id,
        uri: p.uri.clone(),
        url: p.url.clone(),
        text: String::new(),
        content: p.content.clone(),
        spoiler_text: p.spoiler_text.clone(),
        sensitive: p.sensitive,
        visibility: r.visibility,
        language: p.language.clone(),
        in_reply_to_id: parent.map(|s| s.id),
        in_reply_to_account_id: parent.map(|s| s.account_id),
        reblog_of_id: None,
        conversation_id: parent.map(|s| s.conversation_id).unwrap_or(id),
        application_id: None,
        created_at: p.created_at.min(now()),
        mentions: r.mentions.iter().map(mentioned).collect(),
        tags: p.tags.clone(),
        poll: new_poll(p),
        local: false,
        media: p.media.clone(),
        emojis: p.emojis.clone(),
    };
    // Received twice (or fetched meanwhile): the stored one, unchanged.
    let Some(status) = tx.insert_status_unless_known(&new).await? else {
        return tx.status_by_uri(&new.uri).await?.ok_or_else(Error::not_found);
    };
    if let Some(poll) = p.poll.as_ref().filter(|_| status.has_poll) {
        tx.set_poll_counts(status.id, &poll.votes, poll.voters_count).await?;
    }
    effects::status_created(svc, tx, author, &status, &r.mentions).await?;
    Ok(status)
}

/// `Update` of an actor: its new profile (an actor may only update itself).
async fn update_actor(svc: &Services, actor: &Account, account: ferrodon_domain::model::RemoteAccount) -> Result<()> {
    if account.uri != actor.uri {
        return Err(Error::validation("an actor may only update itself"));
    }
    remote::store_account(svc, &account).await.map(|_| ())
}

/// `Update` of a post: a new revision by its author. An Update that changes only a poll's
/// counts (Mastodon sends one as votes come in) refreshes them and is no edit (no revision, no
/// notification).
async fn update_post(svc: &Services, actor: &Account, post: ReceivedPost) -> Result<()> {
    let status = known_status(svc, &post.uri).await?;
    if status.account_id != actor.id {
        return Err(Error::forbidden("only the author may update a status"));
    }
    let current_poll = if status.has_poll { svc.db.read().await?.polls_of(&[status.id]).await?.pop() } else { None };
    let same_poll = match (&current_poll, &post.poll) {
        (Some(old), Some(new)) => old.options() == new.options && old.multiple == new.multiple,
        _ => false,
    };
    if same_poll
        && post.content == status.content
        && post.spoiler_text == status.spoiler_text
        && post.sensitive == status.sensitive
    {
        let mut tx = svc.db.write().await?;
        if let Some(p) = &post.poll {
            tx.set_poll_counts(status.id, &p.votes, p.voters_count).await?;
        }
        return tx.commit().await;
    }
    let r = remote::resolve(svc, actor, post, 0).await?;
    let p = &r.post;
    let mut tx = svc.db.write().await?;
    // Attachments kept keep their copies here, the copies of those dropped go: read from the
    // status as it is now (a job may have kept copies since it was read above).
    let now_stored = tx.status_by_id(status.id).await?.ok_or_else(Error::not_found)?;
    let mut media = p.media.clone();
    let dropped = crate::media::carry_cached(&now_stored.media(), &mut media);
    let edit = StatusEdit {
        text: String::new(),
        content: p.content.clone(),
        spoiler_text: p.spoiler_text.clone(),
        sensitive: p.sensitive,
        language: p.language.clone(),
        mentions: r.mentions.iter().map(mentioned).collect(),
        tags: p.tags.clone(),
        poll: new_poll(p),
        edited_at: p.edited_at.unwrap_or_else(now),
        media: Some((media, p.emojis.clone())),
    };
    tx.edit_status(status.id, &edit).await?;
    if let Some(poll) = &p.poll {
        tx.set_poll_counts(status.id, &poll.votes, poll.voters_count).await?;
    }
    effects::status_edited(svc, &mut tx, actor, &status).await?;
    effects::files_dropped(&mut tx, dropped).await?;
    tx.commit().await
}

/// `Delete`: the actor itself (the account and everything it made here go), or one of its
/// posts.
async fn delete(svc: &Services, actor: &Account, object: &str) -> Result<()> {
    if object == actor.uri {
        svc.state.accounts.forget(actor.id);
        let mut tx = svc.db.write().await?;
        // The copies kept here of its media go with it.
        let mut kept = tx.cached_media_keys_of(actor.id).await?;
        kept.extend([actor.avatar_file.clone(), actor.header_file.clone()].into_iter().flatten());
        tx.delete_account(actor.id).await?;
        effects::files_dropped(&mut tx, kept).await?;
        return tx.commit().await;
    }
    delete_status(svc, actor, &known_status(svc, object).await?).await
}

/// A status (or a reblog) deleted by its author.
async fn delete_status(svc: &Services, actor: &Account, status: &Status) -> Result<()> {
    if status.account_id != actor.id {
        return Err(Error::forbidden("only the author may delete a status"));
    }
    let mut tx = svc.db.write().await?;
    let original = match status.reblog_of_id {
        Some(id) => tx.status_by_id(id).await?,
        None => None,
    };
    let removed = crate::statuses::remove(&mut tx, status, original.as_ref()).await?;
    effects::status_deleted(svc, &mut tx, actor, status, original.as_ref(), removed).await?;
    tx.commit().await
}

/// `Like`: a favourite (not from an account blocked by, or blocking, the author).
async fn like(svc: &Services, actor: &Account, object: &str) -> Result<()> {
    let status = known_status(svc, object).await?;
    let mut tx = svc.db.write().await?;
    if tx.blocked_either_way(actor.id, status.account_id).await? {
        return Ok(());
    }
    if tx.add_mark(StatusMark::Favourite, Id::generate(), actor.id, status.id, now()).await? {
        effects::favourited(svc, &mut tx, actor, &status).await?;
    }
    tx.commit().await
}

/// `Announce` of `object` as the reblog `uri`: kept when someone here follows the booster or the
/// boosted post is ours (fetched when unknown), and only of a public or unlisted post.
async fn announce(
    svc: &Services,
    actor: &Account,
    uri: &str,
    object: &str,
    visibility: Visibility,
    published: Option<Millis>,
) -> Result<()> {
    let followed = svc.db.read().await?.has_local_followers(actor.id).await?;
    if !followed && !object.starts_with(&format!("{}/", svc.base_url())) {
        return Ok(());
    }
    let original = remote::status(svc, object).await?;
    let mut tx = svc.db.write().await?;
    if tx.status_by_uri(uri).await?.is_some() || tx.reblog_of(actor.id, original.id).await?.is_some() {
        return Ok(());
    }
    if tx.blocked_either_way(actor.id, original.account_id).await?
        || !matches!(original.visibility, Visibility::Public | Visibility::Unlisted)
    {
        return Ok(());
    }
    let created_at = published.unwrap_or_else(now).min(now());
    let new = NewStatus::reblog(Id::generate(), actor.id, original.id, visibility, uri.into(), uri.into(), created_at);
    let created = tx.insert_status(&new).await?;
    effects::reblogged(svc, &mut tx, actor, &created, &original).await?;
    tx.commit().await
}

/// `Block` of a local account: follows both ways end, as with a local block.
async fn block(svc: &Services, actor: &Account, object: &str) -> Result<()> {
    let target = local_account(svc, object).await?;
    let mut tx = svc.db.write().await?;
    for (a, b) in [(actor.id, target.id), (target.id, actor.id)] {
        tx.delete_relation(RelationKind::Follow, a, b).await?;
        tx.delete_relation(RelationKind::FollowRequest, a, b).await?;
    }
    tx.delete_notifications_from(target.id, actor.id).await?;
    tx.create_block(Id::generate(), actor.id, target.id, now()).await?;
    effects::blocked(svc, &mut tx, actor, &target, None).await?;
    tx.commit().await
}

/// `Move` of the actor to `target`, which must name it in `alsoKnownAs` (fetched now). As
/// Mastodon's MoveWorker: local followers stop following the old account and follow the new
/// one (a request until its server accepts), keeping their options. Returns how many moved.
async fn moved(svc: &Services, actor: &Account, object: &str, target: &str) -> Result<usize> {
    if object != actor.uri {
        return Err(Error::validation("an account may only move itself"));
    }
    let fetched = remote::fetch_actor(svc, target).await?;
    if !fetched.also_known_as.contains(&actor.uri) {
        return Err(Error::validation("the new account does not name the old one in alsoKnownAs"));
    }
    let target = remote::store_account(svc, &fetched).await?;
    move_followers(svc, actor, &target).await
}

/// The local followers of `actor` move to `target`.
pub async fn move_followers(svc: &Services, actor: &Account, target: &Account) -> Result<usize> {
    let mut tx = svc.db.write().await?;
    let followers = tx.local_followers(actor.id).await?;
    let mut moved = 0;
    for follower in &followers {
        let Some(old) = tx.get_follow(RelationKind::Follow, *follower, actor.id).await? else { continue };
        tx.delete_relation(RelationKind::Follow, *follower, actor.id).await?;
        if *follower == target.id || tx.blocked_either_way(*follower, target.id).await? {
            continue;
        }
        let follow = Follow { id: Id::generate(), target_account_id: target.id, created_at: now(), ..old };
        if target.is_local() {
            tx.upsert_follow(RelationKind::Follow, &follow).await?;
        } else if tx.get_follow(RelationKind::Follow, *follower, target.id).await?.is_none() {
            let (_, created) = tx.upsert_follow(RelationKind::FollowRequest, &follow).await?;
            if created {
                let Some(me) = tx.account_by_id(*follower).await? else { continue };
                let uri = format!("{}#follows/{}", me.uri, follow.id);
                tx.set_relation_uri("follow_request", *follower, target.id, &uri).await?;
                effects::follow_requested(svc, &mut tx, &me, target).await?;
            }
        }
        moved += 1;
    }
    tx.commit().await?;
    Ok(moved)
}

/// `Flag`: a report on the first local account it names, with the statuses of that account
/// it names too (anything else named is ignored); none from a domain blocked with
/// `reject_reports`.
async fn flag(svc: &Services, actor: &Account, uri: &str, objects: &[String], comment: &str) -> Result<()> {
    if domains::rejects_reports(svc, &actor.uri).await? {
        return Ok(());
    }
    let mut target: Option<Account> = None;
    let mut statuses = Vec::new();
    {
        let mut tx = svc.db.read().await?;
        for named in objects {
            if let Some(a) = tx.account_by_uri(named).await? {
                if a.is_local() && target.is_none() {
                    target = Some(a);
                }
            } else if let Some(s) = tx.status_by_uri(named).await?
                && s.local
            {
                statuses.push(s);
            }
        }
    }
    let target = target.ok_or_else(Error::not_found)?;
    let ids: Vec<Id> = statuses.iter().filter(|s| s.account_id == target.id).map(|s| s.id).collect();
    reports::remote_report(svc, actor, &target, &ids, comment, uri).await
}

/// `Add` / `Remove` of one of the actor's posts to / from its featured collection: pinned or
/// unpinned, as Mastodon reads them (featured hashtags are not kept).
async fn featured(svc: &Services, actor: &Account, object: &str, target: &str, pinned: bool) -> Result<()> {
    if actor.featured_url.is_empty() || target != actor.featured_url {
        return Ok(());
    }
    let status = if pinned {
        if !same_origin(object, &actor.uri) {
            return Ok(());
        }
        remote::status(svc, object).await?
    } else {
        match known_status(svc, object).await {
            Ok(s) => s,
            Err(_) => return Ok(()),
        }
    };
    if status.account_id != actor.id || status.reblog_of_id.is_some() {
        return Ok(());
    }
    let mut tx = svc.db.write().await?;
    let changed = if pinned {
        tx.add_mark(StatusMark::Pin, Id::generate(), actor.id, status.id, now()).await?
    } else {
        tx.remove_mark(StatusMark::Pin, actor.id, status.id).await?
    };
    if changed {
        effects::pinned(&mut tx, actor, &status, pinned).await?;
    }
    tx.commit().await
}

/// A remote account's `featured` collection as read: exactly `statuses` (its own) pinned.
pub(crate) async fn set_pins(svc: &Services, account: &Account, statuses: &[Id]) -> Result<()> {
    let mut tx = svc.db.write().await?;
    let page = PageRequest { limit: 100, ..Default::default() };
    let current: Vec<Id> =
        tx.marked_statuses(StatusMark::Pin, account.id, &page).await?.into_iter().map(|k| k.item).collect();
    for id in current.iter().filter(|id| !statuses.contains(id)) {
        tx.remove_mark(StatusMark::Pin, account.id, *id).await?;
    }
    for id in statuses.iter().filter(|id| !current.contains(id)) {
        tx.add_mark(StatusMark::Pin, Id::generate(), account.id, *id, now()).await?;
    }
    tx.commit().await
}
