//! Verified activities from other servers, applied with the same rules and side effects as the
//! local actions: a remote favourite notifies like a local one, a remote post reaches home
//! timelines and streams through the same jobs. The federation layer has already parsed the
//! activity, checked who sent it, and resolved the accounts and statuses it names.

use ferrodon_domain::model::{
    Account, Follow, MentionedAccount, NewPoll, NewStatus, NotificationType, RelationKind, RemoteEmoji, RemoteMedia,
    Status, StatusEdit, Visibility,
};
use ferrodon_domain::ports::{StatusMark, Tx};
use ferrodon_kernel::{Error, Id, PageRequest, Result};

use crate::auth::now;
use crate::{Services, effects};

/// A status received from another server, its references resolved.
#[derive(Clone, Debug)]
pub struct RemoteStatus {
    pub uri: String,
    pub url: String,
    /// Sanitised HTML.
    pub content: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub visibility: Visibility,
    pub language: Option<String>,
    pub in_reply_to: Option<Status>,
    /// Mentioned accounts known here (local ones get a notification).
    pub mentions: Vec<Account>,
    pub tags: Vec<String>,
    pub created_at: i64,
    pub edited_at: Option<i64>,
    pub poll: Option<NewPoll>,
    /// A poll's counts as its server reports them.
    pub poll_counts: Option<PollCounts>,
    pub media: Vec<RemoteMedia>,
    pub emojis: Vec<RemoteEmoji>,
}

/// Votes per option and voters of a remote poll (a `Question`'s `replies.totalItems` and
/// `votersCount`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollCounts {
    pub votes: Vec<i64>,
    pub voters_count: i64,
}

fn mentioned(a: &Account) -> MentionedAccount {
    MentionedAccount { id: a.id, username: a.username.clone(), acct: a.acct(), url: a.url.clone() }
}

/// `Follow` of local `target` by remote `actor` with activity id `uri`: a follow (and an Accept)
/// for an open account, a follow request for a locked one, a Reject when either blocks the other.
pub async fn follow(svc: &Services, actor: &Account, target: &Account, uri: &str) -> Result<()> {
    let mut tx = svc.db.write().await?;
    if tx.blocked_either_way(actor.id, target.id).await? || target.suspended_at.is_some() {
        effects::follow_rejected(&mut tx, actor, target, uri).await?;
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
        tx.set_relation_uri("follow", actor.id, target.id, uri).await?;
        if created {
            effects::followed(svc, &mut tx, actor, target).await?;
        }
        effects::follow_accepted(&mut tx, actor, target, uri).await?;
    } else {
        let (_, created) = tx.upsert_follow(RelationKind::FollowRequest, &follow).await?;
        tx.set_relation_uri("follow_request", actor.id, target.id, uri).await?;
        if created {
            effects::follow_requested(svc, &mut tx, actor, target).await?;
        }
    }
    tx.commit().await
}

/// `Undo(Follow)`: remote `actor` stops following (or asking to follow) local `target`.
pub async fn unfollow(svc: &Services, actor: &Account, target: &Account) -> Result<()> {
    let mut tx = svc.db.write().await?;
    for kind in [RelationKind::Follow, RelationKind::FollowRequest] {
        if tx.delete_relation(kind, actor.id, target.id).await? {
            let n =
                if kind == RelationKind::Follow { NotificationType::Follow } else { NotificationType::FollowRequest };
            tx.delete_notifications_for(target.id, actor.id, None, n.as_str()).await?;
        }
    }
    tx.commit().await
}

/// `Accept(Follow)`: the local `follower`'s request to remote `actor` becomes a follow.
pub async fn follow_accepted(svc: &Services, actor: &Account, follower: &Account) -> Result<()> {
    let mut tx = svc.db.write().await?;
    let Some(request) = tx.get_follow(RelationKind::FollowRequest, follower.id, actor.id).await? else {
        return Ok(()); // already accepted, or withdrawn
    };
    let uri = tx.relation_uri("follow_request", follower.id, actor.id).await?;
    tx.delete_relation(RelationKind::FollowRequest, follower.id, actor.id).await?;
    tx.upsert_follow(RelationKind::Follow, &Follow { created_at: now(), ..request }).await?;
    if let Some(uri) = uri {
        tx.set_relation_uri("follow", follower.id, actor.id, &uri).await?;
    }
    effects::followed(svc, &mut tx, follower, actor).await?;
    tx.commit().await
}

/// `Reject(Follow)`: the local `follower` does not (or no longer) follow remote `actor`.
pub async fn follow_rejected(svc: &Services, actor: &Account, follower: &Account) -> Result<()> {
    let mut tx = svc.db.write().await?;
    tx.delete_relation(RelationKind::FollowRequest, follower.id, actor.id).await?;
    tx.delete_relation(RelationKind::Follow, follower.id, actor.id).await?;
    tx.commit().await
}

/// `Create(Note)`: stores the status (once per URI) and does what a local post does: home
/// feeds and streams, notifications to the mentioned local accounts. Returns once committed.
///
/// Statuses received together share one write transaction (a group commit, as the inbox
/// intake and the job completions do): on SQLite a transaction per status was the ingest's
/// limit. A group that fails is retried one status per transaction, so one bad status fails
/// alone.
pub async fn create_status(svc: &Services, actor: &Account, s: RemoteStatus) -> Result<Status> {
    let received = svc.received.get_or_init(|| Received::start(svc));
    let (reply, answer) = tokio::sync::oneshot::channel();
    received.0.send((actor.clone(), s, reply)).map_err(|_| Error::unavailable("the status intake has stopped"))?;
    answer.await.map_err(|_| Error::unavailable("the status intake has stopped"))?
}

type ReceivedStatus = (Account, RemoteStatus, tokio::sync::oneshot::Sender<Result<Status>>);

/// The task behind [`create_status`]'s group commit.
pub(crate) struct Received(tokio::sync::mpsc::UnboundedSender<ReceivedStatus>);

/// At most this many statuses per transaction.
const MAX_RECEIVED_GROUP: usize = 64;

impl Received {
    fn start(svc: &Services) -> Received {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<ReceivedStatus>();
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
async fn store_together(svc: &Services, received: &[(Account, RemoteStatus)]) -> Result<Vec<Status>> {
    let mut tx = svc.db.write().await?;
    let mut stored = Vec::with_capacity(received.len());
    for (actor, s) in received {
        stored.push(store_status(svc, &mut tx, actor, s.clone()).await?);
    }
    tx.commit().await?;
    Ok(stored)
}

/// [`create_status`]'s writes, in the caller's transaction.
async fn store_status(svc: &Services, tx: &mut Box<dyn Tx>, actor: &Account, s: RemoteStatus) -> Result<Status> {
    let id = Id::generate();
    let created_at = s.created_at.min(now());
    let new = NewStatus {
        id,
        account_id: actor.id,
        uri: s.uri,
        url: s.url,
        text: String::new(),
        content: s.content,
        spoiler_text: s.spoiler_text,
        sensitive: s.sensitive,
        visibility: s.visibility,
        language: s.language,
        in_reply_to_id: s.in_reply_to.as_ref().map(|p| p.id),
        in_reply_to_account_id: s.in_reply_to.as_ref().map(|p| p.account_id),
        reblog_of_id: None,
        conversation_id: s.in_reply_to.as_ref().map(|p| p.conversation_id).unwrap_or(id),
        application_id: None,
        created_at,
        mentions: s.mentions.iter().map(mentioned).collect(),
        tags: s.tags,
        poll: s.poll,
        local: false,
        media: s.media,
        emojis: s.emojis,
    };
    // Received twice (or fetched meanwhile): the stored one, unchanged.
    let Some(status) = tx.insert_status_unless_known(&new).await? else {
        return tx.status_by_uri(&new.uri).await?.ok_or_else(Error::not_found);
    };
    if let Some(c) = s.poll_counts.as_ref().filter(|_| status.has_poll) {
        tx.set_poll_counts(status.id, &c.votes, c.voters_count).await?;
    }
    effects::status_created(svc, tx, actor, &status, &s.mentions).await?;
    Ok(status)
}

/// `Update(Note)`: a new revision of `status` by its author.
pub async fn update_status(svc: &Services, actor: &Account, status: &Status, s: RemoteStatus) -> Result<()> {
    if status.account_id != actor.id {
        return Err(Error::forbidden("only the author may update a status"));
    }
    let mut tx = svc.db.write().await?;
    let current_poll = if status.has_poll { tx.polls_of(&[status.id]).await?.pop() } else { None };
    // Only the poll's counts changed (Mastodon sends such an Update as votes come in): they
    // are refreshed, and it is no edit (no revision, no notification).
    let same_poll = match (&current_poll, &s.poll) {
        (Some(old), Some(new)) => old.options() == new.options && old.multiple == new.multiple,
        _ => false,
    };
    if same_poll
        && s.content == status.content
        && s.spoiler_text == status.spoiler_text
        && s.sensitive == status.sensitive
    {
        if let Some(c) = &s.poll_counts {
            tx.set_poll_counts(status.id, &c.votes, c.voters_count).await?;
        }
        return tx.commit().await;
    }
    let counts = s.poll_counts.clone();
    let edit = StatusEdit {
        text: String::new(),
        content: s.content,
        spoiler_text: s.spoiler_text,
        sensitive: s.sensitive,
        language: s.language,
        mentions: s.mentions.iter().map(mentioned).collect(),
        tags: s.tags,
        poll: s.poll,
        edited_at: s.edited_at.unwrap_or_else(now),
        media: Some((s.media, s.emojis)),
    };
    tx.edit_status(status.id, &edit).await?;
    if let Some(c) = counts {
        tx.set_poll_counts(status.id, &c.votes, c.voters_count).await?;
    }
    effects::status_edited(svc, &mut tx, actor, status).await?;
    tx.commit().await
}

/// `Delete` of a status (or `Undo(Announce)` of a reblog) by its author.
pub async fn delete_status(svc: &Services, actor: &Account, status: &Status) -> Result<()> {
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

/// `Like`: a favourite by a remote account.
pub async fn favourite(svc: &Services, actor: &Account, status: &Status) -> Result<()> {
    let mut tx = svc.db.write().await?;
    if tx.blocked_either_way(actor.id, status.account_id).await? {
        return Ok(());
    }
    if tx.add_mark(StatusMark::Favourite, Id::generate(), actor.id, status.id, now()).await? {
        effects::favourited(svc, &mut tx, actor, status).await?;
    }
    tx.commit().await
}

/// `Add` / `Remove` on `actor`'s featured collection: its status pinned or unpinned.
pub async fn pin(svc: &Services, actor: &Account, status: &Status, pinned: bool) -> Result<()> {
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
        effects::pinned(&mut tx, actor, status, pinned).await?;
    }
    tx.commit().await
}

/// A remote account's `featured` collection as read: exactly `statuses` (its own) pinned.
pub async fn set_pins(svc: &Services, account: &Account, statuses: &[Id]) -> Result<()> {
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

/// `Undo(Like)`.
pub async fn unfavourite(svc: &Services, actor: &Account, status: &Status) -> Result<()> {
    let mut tx = svc.db.write().await?;
    if tx.remove_mark(StatusMark::Favourite, actor.id, status.id).await? {
        tx.delete_notifications_for(status.account_id, actor.id, Some(status.id), "favourite").await?;
        effects::unfavourited(&mut tx, actor, status).await?;
    }
    tx.commit().await
}

/// `Announce`: a reblog of `original` by a remote account, as the status `uri`.
pub async fn reblog(
    svc: &Services,
    actor: &Account,
    original: &Status,
    uri: &str,
    visibility: Visibility,
    created_at: i64,
) -> Result<()> {
    let mut tx = svc.db.write().await?;
    if tx.status_by_uri(uri).await?.is_some() || tx.reblog_of(actor.id, original.id).await?.is_some() {
        return Ok(());
    }
    if tx.blocked_either_way(actor.id, original.account_id).await?
        || !matches!(original.visibility, Visibility::Public | Visibility::Unlisted)
    {
        return Ok(());
    }
    let id = Id::generate();
    let new = NewStatus::reblog(
        id,
        actor.id,
        original.id,
        visibility,
        uri.to_string(),
        uri.to_string(),
        created_at.min(now()),
    );
    let created = tx.insert_status(&new).await?;
    effects::reblogged(svc, &mut tx, actor, &created, original).await?;
    tx.commit().await
}

/// `Block`: remote `actor` blocks local `target`; follows both ways end, as with a local block.
pub async fn block(svc: &Services, actor: &Account, target: &Account) -> Result<()> {
    let mut tx = svc.db.write().await?;
    for (a, b) in [(actor.id, target.id), (target.id, actor.id)] {
        tx.delete_relation(RelationKind::Follow, a, b).await?;
        tx.delete_relation(RelationKind::FollowRequest, a, b).await?;
    }
    tx.delete_notifications_from(target.id, actor.id).await?;
    tx.create_block(Id::generate(), actor.id, target.id, now()).await?;
    effects::blocked(svc, &mut tx, actor, target, None).await?;
    tx.commit().await
}

/// `Undo(Block)`.
pub async fn unblock(svc: &Services, actor: &Account, target: &Account) -> Result<()> {
    let mut tx = svc.db.write().await?;
    if tx.delete_relation(RelationKind::Block, actor.id, target.id).await? {
        effects::unblocked(svc, &mut tx, actor, target).await?;
    }
    tx.commit().await
}

/// `Delete` of an actor: the account and everything it made here go.
pub async fn delete_account(svc: &Services, actor: &Account) -> Result<()> {
    let mut tx = svc.db.write().await?;
    tx.delete_account(actor.id).await?;
    tx.commit().await
}

/// A vote from a remote account on a local poll (a `Create(Note)` with `name` = option).
pub async fn vote(svc: &Services, actor: &Account, status: &Status, choices: &[i64]) -> Result<()> {
    let mut tx = svc.db.write().await?;
    let Some(poll) = tx.polls_of(&[status.id]).await?.pop() else { return Ok(()) };
    if poll.expired(now()) || status.account_id == actor.id {
        return Ok(());
    }
    tx.vote(poll.id, actor.id, choices, now()).await?;
    effects::voted(&mut tx, actor, status, choices).await?;
    tx.commit().await
}

/// `Move`: the account moved to `target` (which names it in `alsoKnownAs`, checked by the
/// caller). As Mastodon's MoveWorker: local followers stop following the old account and follow
/// the new one (a request until its server accepts), keeping their options.
pub async fn moved(svc: &Services, actor: &Account, target: &Account) -> Result<usize> {
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
