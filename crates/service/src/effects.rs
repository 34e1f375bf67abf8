//! The side-effects surface: one function per domain event, and the only place where a change's
//! consequences start. Each function is called inside the transaction of the change it reports
//! and enqueues everything that change causes beyond itself: distribution to timelines and
//! streams, notifications, activities for other servers, mail (and, as they arrive, push and
//! search indexing). A crash therefore keeps a change with all of its consequences, or neither.
//!
//! A local action and the same action received from another server call the same function. They
//! differ only in federation: what a local account does is told to the servers concerned; what
//! a remote account did, its own server has told already.
//!
//! The change itself (rows written, and rows that depend on them removed, such as the
//! notification of a follow that ends) is the caller's; only what follows from it is here. So
//! are jobs that are a request's own work rather than a change's consequence: an inbox keeping
//! an activity ([`crate::inbox::accept`]), a fetch a view asks for ([`crate::remote`]), a
//! delivery job fanning out to inboxes ([`crate::outbox::deliver_later`]), a video or audio
//! upload's processing ([`crate::media::upload`]).

use ferrodon_domain::model::{Account, Mail, Media, Notification, NotificationType, Report, Status, User};
use ferrodon_domain::ports::{RelatedAccounts, Tx};
use ferrodon_kernel::{Id, PageRequest, Result};

use crate::Services;
use crate::auth::now;
use crate::jobs::federate::{DeletedStatus, Outgoing};
use crate::jobs::mail::DeliverMail;
use crate::jobs::media::{CacheRemoteImages, CacheRemoteMedia, FetchLinkCard, RemoveFiles};
use crate::jobs::streams::{
    AccountEvent, AnnouncementEvent, DistributeDeletion, DistributeStatus, PublishAccountEvent, PublishNotification,
};

/// A status was posted: it goes to the timelines and streams it belongs on, the accounts it
/// mentions are notified (those that block the author excepted), a local one is sent to the
/// followers' and the mentioned accounts' servers, and the page its first link leads to is
/// read for its card.
pub(crate) async fn status_created(
    svc: &Services,
    tx: &mut Box<dyn Tx>,
    author: &Account,
    status: &Status,
    mentioned: &[Account],
) -> Result<()> {
    DistributeStatus::enqueue(svc, tx, status.id, false).await?;
    for m in mentioned.iter().filter(|m| m.is_local()) {
        notify_local(svc, tx, m.id, author.id, NotificationType::Mention, Some(status.id)).await?;
    }
    if author.is_local() {
        Outgoing::Create { status_id: status.id }.enqueue(tx).await?;
    } else if status.has_media() {
        CacheRemoteMedia::enqueue(tx, status.id).await?;
    }
    if crate::cards::link_of(svc, status).is_some() {
        FetchLinkCard::enqueue(tx, status.id).await?;
    }
    Ok(())
}

/// `actor` reblogged `original` as `reblog`: the reblog is distributed like a post, the
/// original's author is notified, and a local reblog goes out as an Announce.
pub(crate) async fn reblogged(
    svc: &Services,
    tx: &mut Box<dyn Tx>,
    actor: &Account,
    reblog: &Status,
    original: &Status,
) -> Result<()> {
    DistributeStatus::enqueue(svc, tx, reblog.id, false).await?;
    notify(svc, tx, original.account_id, actor.id, NotificationType::Reblog, Some(original.id)).await?;
    if actor.is_local() {
        Outgoing::Create { status_id: reblog.id }.enqueue(tx).await?;
    }
    Ok(())
}

/// A status was edited: streams get `status.update`, the accounts that reblogged it are
/// notified (as in Mastodon), a local edit goes out as an Update, a remote one's new
/// attachments are kept here, and the card follows the first link.
pub(crate) async fn status_edited(
    svc: &Services,
    tx: &mut Box<dyn Tx>,
    author: &Account,
    status: &Status,
) -> Result<()> {
    DistributeStatus::enqueue(svc, tx, status.id, true).await?;
    let page = PageRequest { limit: 1000, ..Default::default() };
    for reblogger in tx.list_related_accounts(RelatedAccounts::RebloggedBy(status.id), &page).await? {
        notify(svc, tx, reblogger.item.id, author.id, NotificationType::Update, Some(status.id)).await?;
    }
    if author.is_local() {
        Outgoing::Update { status_id: status.id }.enqueue(tx).await?;
    } else {
        CacheRemoteMedia::enqueue(tx, status.id).await?;
    }
    // The card follows the first link: a new one, or none.
    if crate::cards::link_of(svc, status).is_some() || !tx.cards_of(&[status.id]).await?.is_empty() {
        FetchLinkCard::enqueue(tx, status.id).await?;
    }
    Ok(())
}

/// What a deletion removed, read before the rows went: the status and its reblogs, and the
/// accounts that reblogged it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Removed {
    pub reblog_ids: Vec<Id>,
    pub rebloggers: Vec<Id>,
}

/// `status` (as it was) was deleted with its reblogs: streams get `delete`; a local deletion
/// goes out as a Delete, or as an Undo(Announce) for a reblog (`original`).
pub(crate) async fn status_deleted(
    svc: &Services,
    tx: &mut Box<dyn Tx>,
    author: &Account,
    status: &Status,
    original: Option<&Status>,
    removed: Removed,
) -> Result<()> {
    DistributeDeletion::enqueue(svc, tx, status, removed.reblog_ids, removed.rebloggers).await?;
    if author.is_local() {
        Outgoing::Delete { status: DeletedStatus::of(status, original) }.enqueue(tx).await?;
    } else {
        // The copies kept of a remote post's attachments.
        let cached = status.media().into_iter().flat_map(|m| [m.cached_key, m.cached_small_key]).flatten().collect();
        files_dropped(tx, cached).await?;
    }
    Ok(())
}

/// `actor` favourited `status`: its author is notified; a local account's favourite of a
/// remote status goes out as a Like.
pub(crate) async fn favourited(svc: &Services, tx: &mut Box<dyn Tx>, actor: &Account, status: &Status) -> Result<()> {
    notify(svc, tx, status.account_id, actor.id, NotificationType::Favourite, Some(status.id)).await?;
    if actor.is_local() && !status.local {
        Outgoing::Like { account_id: actor.id, status_id: status.id }.enqueue(tx).await?;
    }
    Ok(())
}

/// `actor` took back a favourite of `status`.
pub(crate) async fn unfavourited(tx: &mut Box<dyn Tx>, actor: &Account, status: &Status) -> Result<()> {
    if actor.is_local() && !status.local {
        Outgoing::UndoLike { account_id: actor.id, status_id: status.id }.enqueue(tx).await?;
    }
    Ok(())
}

/// `follower` asked to follow `target`: a local target is notified; a local follower's
/// request to a remote account goes out as a Follow (its server answers).
pub(crate) async fn follow_requested(
    svc: &Services,
    tx: &mut Box<dyn Tx>,
    follower: &Account,
    target: &Account,
) -> Result<()> {
    if target.is_local() {
        notify_local(svc, tx, target.id, follower.id, NotificationType::FollowRequest, None).await?;
    } else if follower.is_local() {
        Outgoing::Follow { account_id: follower.id, target_id: target.id }.enqueue(tx).await?;
    }
    Ok(())
}

/// `follower` now follows `target`: a local target is notified.
pub(crate) async fn followed(svc: &Services, tx: &mut Box<dyn Tx>, follower: &Account, target: &Account) -> Result<()> {
    if target.is_local() {
        notify_local(svc, tx, target.id, follower.id, NotificationType::Follow, None).await?;
    }
    Ok(())
}

/// Local `target` answered remote `follower`'s Follow `follow_uri`: accepted (by hand, or at
/// once for an unlocked account), or refused or ended (a rejected request, a follower removed,
/// a domain blocked). Its server hears an Accept or a Reject.
pub(crate) async fn follow_answered(
    tx: &mut Box<dyn Tx>,
    follower: &Account,
    target: &Account,
    follow_uri: &str,
    accepted: bool,
) -> Result<()> {
    if target.is_local() && !follower.is_local() {
        let (account_id, follower_id, follow_uri) = (target.id, follower.id, follow_uri.to_string());
        let answer = if accepted {
            Outgoing::AcceptFollow { account_id, follower_id, follow_uri }
        } else {
            Outgoing::RejectFollow { account_id, follower_id, follow_uri }
        };
        answer.enqueue(tx).await?;
    }
    Ok(())
}

/// `follower` no longer follows (or asks to follow) `target`: a local follower's Follow of a
/// remote account (`follow_uri`) is undone there.
pub(crate) async fn unfollowed(
    tx: &mut Box<dyn Tx>,
    follower: &Account,
    target: &Account,
    follow_uri: Option<String>,
) -> Result<()> {
    if let Some(follow_uri) = follow_uri.filter(|_| follower.is_local() && !target.is_local()) {
        Outgoing::UndoFollow { account_id: follower.id, target_id: target.id, follow_uri }.enqueue(tx).await?;
    }
    Ok(())
}

/// `account` blocked `target` (their follows both ways already ended): both accounts' streams
/// reload their filters; a local block of a remote account goes out as a Block, after an Undo
/// of the follow it ended (`follow_uri`).
pub(crate) async fn blocked(
    svc: &Services,
    tx: &mut Box<dyn Tx>,
    account: &Account,
    target: &Account,
    follow_uri: Option<String>,
) -> Result<()> {
    relations_changed(svc, tx, &local_ids(&[account, target])).await?;
    if account.is_local() && !target.is_local() {
        unfollowed(tx, account, target, follow_uri).await?;
        Outgoing::Block { account_id: account.id, target_id: target.id }.enqueue(tx).await?;
    }
    Ok(())
}

/// `account` unblocked `target`.
pub(crate) async fn unblocked(svc: &Services, tx: &mut Box<dyn Tx>, account: &Account, target: &Account) -> Result<()> {
    relations_changed(svc, tx, &local_ids(&[account, target])).await?;
    if account.is_local() && !target.is_local() {
        Outgoing::UndoBlock { account_id: account.id, target_id: target.id }.enqueue(tx).await?;
    }
    Ok(())
}

/// The ids of the local ones of `accounts` (remote accounts have no streams here).
fn local_ids(accounts: &[&Account]) -> Vec<Id> {
    accounts.iter().filter(|a| a.is_local()).map(|a| a.id).collect()
}

/// What the accounts filter their streams with changed (a mute, a domain block of theirs):
/// their streaming connections reload it.
pub(crate) async fn relations_changed(svc: &Services, tx: &mut Box<dyn Tx>, accounts: &[Id]) -> Result<()> {
    for id in accounts {
        PublishAccountEvent::enqueue(svc, tx, *id, AccountEvent::RelationsChanged).await?;
    }
    Ok(())
}

/// The account's custom filters changed: its connections reload them, and clients hear
/// `filters_changed`.
pub(crate) async fn filters_changed(svc: &Services, tx: &mut Box<dyn Tx>, account: Id) -> Result<()> {
    PublishAccountEvent::enqueue(svc, tx, account, AccountEvent::FiltersChanged).await
}

/// A user is told something by mail (an address to confirm, a reset link, a change to their
/// account): the mail goes out from `mailers` once the change commits.
pub(crate) async fn mail_sent(tx: &mut Box<dyn Tx>, mail: Mail) -> Result<()> {
    DeliverMail::enqueue(tx, &mail).await
}

/// A token was revoked: the streaming connections that use it close.
pub(crate) async fn token_revoked(svc: &Services, tx: &mut Box<dyn Tx>, account: Id, token: Id) -> Result<()> {
    PublishAccountEvent::enqueue(svc, tx, account, AccountEvent::TokenRevoked { token_id: token }).await
}

/// Every token of the account was revoked (disabled, password reset): all its streaming
/// connections close, whichever process holds them.
pub(crate) async fn signed_out_everywhere(svc: &Services, tx: &mut Box<dyn Tx>, account: Id) -> Result<()> {
    PublishAccountEvent::enqueue(svc, tx, account, AccountEvent::Disconnect).await
}

/// A local account's profile changed: its followers' servers hear an Update of the actor.
pub(crate) async fn profile_updated(tx: &mut Box<dyn Tx>, account: &Account) -> Result<()> {
    if account.is_local() {
        Outgoing::UpdateActor { account_id: account.id }.enqueue(tx).await?;
    }
    Ok(())
}

/// A remote account was stored (`before`, when it was known): its avatar and header are kept
/// here when they are new.
pub(crate) async fn remote_account_stored(
    tx: &mut Box<dyn Tx>,
    before: Option<&Account>,
    account: &Account,
) -> Result<()> {
    let changed = match before {
        None => !account.avatar_remote_url.is_empty() || !account.header_remote_url.is_empty(),
        Some(b) => b.avatar_remote_url != account.avatar_remote_url || b.header_remote_url != account.header_remote_url,
    };
    if changed {
        CacheRemoteImages::enqueue(tx, account.id).await?;
    }
    Ok(())
}

/// Attachments' rows were removed: their files go once the change commits.
pub(crate) async fn media_removed(tx: &mut Box<dyn Tx>, media: &[Media]) -> Result<()> {
    files_dropped(tx, media.iter().flat_map(Media::file_keys).collect()).await
}

/// Stored files no row names any more (a replaced avatar, say) are removed once the change
/// commits.
pub(crate) async fn files_dropped(tx: &mut Box<dyn Tx>, keys: Vec<String>) -> Result<()> {
    RemoveFiles::enqueue(tx, keys).await
}

/// A report was filed; one to be forwarded goes to the target's server as a Flag.
pub(crate) async fn report_filed(
    svc: &Services,
    tx: &mut Box<dyn Tx>,
    report: &Report,
    reporter: &Account,
    target: &Account,
) -> Result<()> {
    if report.forwarded {
        Outgoing::Flag { report_id: report.id }.enqueue(tx).await?;
    }
    let acct = |a: &Account| if a.is_local() { a.username.clone() } else { format!("{}@{}", a.username, a.domain) };
    let message = ferrodon_domain::model::MailMessage::NewReport {
        reporter: acct(reporter),
        target: acct(target),
        category: report.category.clone(),
        comment: report.comment.clone(),
    };
    crate::mail::tell_staff(svc, tx, message).await
}

/// Someone signed up: the link to confirm their address goes to them, and when sign-ups wait
/// for approval, the moderators are told.
pub(crate) async fn signed_up(
    svc: &Services,
    tx: &mut Box<dyn Tx>,
    user: &User,
    account: &Account,
    reason: &str,
) -> Result<()> {
    crate::mail::send_confirmation(svc, tx, user, account, &user.email).await?;
    if !user.approved {
        let message = ferrodon_domain::model::MailMessage::NewPendingAccount {
            username: account.username.clone(),
            email: user.email.clone(),
            reason: reason.trim().to_string(),
        };
        crate::mail::tell_staff(svc, tx, message).await?;
    }
    Ok(())
}

/// `voter` voted `choices` in the poll of `status`: a local voter's vote on a remote poll goes
/// to its author's server; a local poll's new counts go to the servers that have a copy
/// (debounced: votes coming in together go out as one Update).
pub(crate) async fn voted(tx: &mut Box<dyn Tx>, voter: &Account, status: &Status, choices: &[i64]) -> Result<()> {
    if status.local {
        Outgoing::PollUpdate { status_id: status.id }.enqueue_debounced(tx).await?;
    } else if voter.is_local() {
        let choices = choices.to_vec();
        Outgoing::Vote { account_id: voter.id, status_id: status.id, choices }.enqueue(tx).await?;
    }
    Ok(())
}

/// `account` pinned `status` (or unpinned it): a local account's followers' servers hear an
/// Add to (Remove from) its featured collection.
pub(crate) async fn pinned(tx: &mut Box<dyn Tx>, account: &Account, status: &Status, pinned: bool) -> Result<()> {
    if account.is_local() {
        let (account_id, status_id) = (account.id, status.id);
        let out =
            if pinned { Outgoing::Pin { account_id, status_id } } else { Outgoing::Unpin { account_id, status_id } };
        out.enqueue(tx).await?;
    }
    Ok(())
}

/// An announcement was published, edited, reacted to or taken down: every local user's stream
/// hears it.
pub(crate) async fn announcement(tx: &mut Box<dyn Tx>, event: AnnouncementEvent) -> Result<()> {
    event.enqueue(tx).await
}

/// Notifies `to` of what `from` did, unless it is themself or `to` is remote (their server
/// notifies them). The recipient's blocks and mutes are checked as it is stored.
async fn notify(
    svc: &Services,
    tx: &mut Box<dyn Tx>,
    to: Id,
    from: Id,
    kind: NotificationType,
    status_id: Option<Id>,
) -> Result<()> {
    if to == from || !tx.account_by_id(to).await?.is_some_and(|a| a.is_local()) {
        return Ok(());
    }
    notify_local(svc, tx, to, from, kind, status_id).await
}

/// [`notify`] for a recipient known to be a local account: stores the notification (not for a
/// sender the recipient blocks, or whose domain it blocks, or mutes with notifications hidden,
/// nor for a limited (silenced) sender it does not follow: checked in the insert itself) and
/// publishes it to the recipient's streams.
async fn notify_local(
    svc: &Services,
    tx: &mut Box<dyn Tx>,
    to: Id,
    from: Id,
    kind: NotificationType,
    status_id: Option<Id>,
) -> Result<()> {
    if to == from {
        return Ok(());
    }
    let id = Id::generate();
    // Grouped types share a key per status (or per hour for follows), like Mastodon's.
    let group_key = match (kind.groupable(), status_id) {
        (true, Some(s)) => format!("{}-{s}", kind.as_str()),
        (true, None) => format!("{}-{}", kind.as_str(), now() / 3_600_000),
        (false, _) => format!("ungrouped-{id}"),
    };
    let at = now();
    let n = Notification { id, account_id: to, from_account_id: from, kind, status_id, group_key, created_at: at };
    if !tx.create_notification_unless_hidden(&n, at).await? {
        return Ok(());
    }
    PublishNotification::enqueue(svc, tx, to, id).await
}
