//! Follows, follow requests, blocks and mutes.

use ferrodon_domain::model::{Follow, Mute, NotificationType, RelationKind, Relationship};
use ferrodon_domain::ports::Tx;
use ferrodon_kernel::{Error, Id, Result};

use crate::auth::{Viewer, now};
use crate::{Services, effects};

fn account_id(raw: &str) -> Result<Id> {
    Id::parse(raw).ok_or_else(Error::not_found)
}

async fn relationship_of(tx: &mut Box<dyn Tx>, me: Id, target: Id) -> Result<Relationship> {
    let rel = tx.relationships(me, &[target], now()).await?.pop();
    Ok(rel.unwrap_or(Relationship { target_id: target, ..Default::default() }))
}

/// Removes a follow or follow request of `account` to `target`, with the notification it caused.
async fn end_follow(tx: &mut Box<dyn Tx>, account: Id, target: Id) -> Result<()> {
    if tx.delete_relation(RelationKind::Follow, account, target).await? {
        tx.delete_notifications_for(target, account, None, NotificationType::Follow.as_str()).await?;
    }
    if tx.delete_relation(RelationKind::FollowRequest, account, target).await? {
        tx.delete_notifications_for(target, account, None, NotificationType::FollowRequest.as_str()).await?;
    }
    Ok(())
}

/// Options of `POST /api/v1/accounts/:id/follow`; `None` keeps the current value.
#[derive(Default, Debug)]
pub struct FollowOptions {
    pub reblogs: Option<bool>,
    pub notify: Option<bool>,
    pub languages: Option<Vec<String>>,
}

/// Follows `target`, or asks to when the account is locked. Following again updates the options.
pub async fn follow(svc: &Services, me: &Viewer, raw_id: &str, o: FollowOptions) -> Result<Relationship> {
    let target = account_id(raw_id)?;
    let mut tx = svc.db.write().await?;
    let account = tx.account_by_id(target).await?.ok_or_else(Error::not_found)?;
    if target == me.account.id {
        return Err(Error::forbidden("This action is not allowed"));
    }
    if tx.blocked_either_way(me.account.id, target).await? || account.suspended_at.is_some() {
        return Err(Error::forbidden("This action is not allowed"));
    }
    let existing = match tx.get_follow(RelationKind::Follow, me.account.id, target).await? {
        Some(f) => Some(f),
        None => tx.get_follow(RelationKind::FollowRequest, me.account.id, target).await?,
    };
    let follow = Follow {
        id: Id::generate(),
        account_id: me.account.id,
        target_account_id: target,
        show_reblogs: o.reblogs.or(existing.as_ref().map(|f| f.show_reblogs)).unwrap_or(true),
        notify: o.notify.or(existing.as_ref().map(|f| f.notify)).unwrap_or(false),
        languages: match o.languages {
            Some(l) => {
                let codes: Vec<String> =
                    l.iter().map(|c| c.trim().to_lowercase()).filter(|c| !c.is_empty() && !c.contains(',')).collect();
                (!codes.is_empty()).then(|| codes.join(","))
            }
            None => existing.as_ref().and_then(|f| f.languages.clone()),
        },
        created_at: now(),
    };
    let already_following = tx.get_follow(RelationKind::Follow, me.account.id, target).await?.is_some();
    if !account.is_local() && !already_following {
        // A remote follow stays a request until the other server accepts it.
        let (_, created) = tx.upsert_follow(RelationKind::FollowRequest, &follow).await?;
        if created {
            let uri = format!("{}#follows/{}", me.account.uri, follow.id);
            tx.set_relation_uri("follow_request", me.account.id, target, &uri).await?;
            effects::follow_requested(svc, &mut tx, &me.account, &account).await?;
        }
    } else if already_following || !account.locked {
        let (_, created) = tx.upsert_follow(RelationKind::Follow, &follow).await?;
        if created {
            effects::followed(svc, &mut tx, &me.account, &account).await?;
        }
    } else {
        let (_, created) = tx.upsert_follow(RelationKind::FollowRequest, &follow).await?;
        if created {
            effects::follow_requested(svc, &mut tx, &me.account, &account).await?;
        }
    }
    let out = relationship_of(&mut tx, me.account.id, target).await?;
    tx.commit().await?;
    Ok(out)
}

pub async fn unfollow(svc: &Services, me: &Viewer, raw_id: &str) -> Result<Relationship> {
    let target = account_id(raw_id)?;
    let mut tx = svc.db.write().await?;
    let account = tx.account_by_id(target).await?.ok_or_else(Error::not_found)?;
    let follow_uri = match tx.relation_uri("follow", me.account.id, target).await? {
        Some(uri) => Some(uri),
        None => tx.relation_uri("follow_request", me.account.id, target).await?,
    };
    end_follow(&mut tx, me.account.id, target).await?;
    effects::unfollowed(&mut tx, &me.account, &account, follow_uri).await?;
    let out = relationship_of(&mut tx, me.account.id, target).await?;
    tx.commit().await?;
    Ok(out)
}

/// `POST /api/v1/accounts/:id/remove_from_followers`.
pub async fn remove_from_followers(svc: &Services, me: &Viewer, raw_id: &str) -> Result<Relationship> {
    let target = account_id(raw_id)?;
    let mut tx = svc.db.write().await?;
    let account = tx.account_by_id(target).await?.ok_or_else(Error::not_found)?;
    // As Mastodon: the follower's server hears a Reject of its Follow.
    if let Some(follow_uri) = tx.relation_uri("follow", target, me.account.id).await? {
        effects::follow_answered(&mut tx, &account, &me.account, &follow_uri, false).await?;
    }
    if tx.delete_relation(RelationKind::Follow, target, me.account.id).await? {
        tx.delete_notifications_for(me.account.id, target, None, NotificationType::Follow.as_str()).await?;
    }
    let out = relationship_of(&mut tx, me.account.id, target).await?;
    tx.commit().await?;
    Ok(out)
}

/// Blocking removes follows both ways and pending requests, as in Mastodon.
pub async fn block(svc: &Services, me: &Viewer, raw_id: &str) -> Result<Relationship> {
    let target = account_id(raw_id)?;
    if target == me.account.id {
        return Err(Error::forbidden("This action is not allowed"));
    }
    let mut tx = svc.db.write().await?;
    let account = tx.account_by_id(target).await?.ok_or_else(Error::not_found)?;
    let me_id = me.account.id;
    let follow_uri = tx.relation_uri("follow", me_id, target).await?;
    end_follow(&mut tx, me_id, target).await?;
    end_follow(&mut tx, target, me_id).await?;
    // As Mastodon's AfterBlockService: nothing the blocked account did stays in my notifications.
    tx.delete_notifications_from(me_id, target).await?;
    tx.create_block(Id::generate(), me_id, target, now()).await?;
    effects::blocked(svc, &mut tx, &me.account, &account, follow_uri).await?;
    let out = relationship_of(&mut tx, me_id, target).await?;
    tx.commit().await?;
    Ok(out)
}

pub async fn unblock(svc: &Services, me: &Viewer, raw_id: &str) -> Result<Relationship> {
    let target = account_id(raw_id)?;
    let mut tx = svc.db.write().await?;
    let account = tx.account_by_id(target).await?.ok_or_else(Error::not_found)?;
    if tx.delete_relation(RelationKind::Block, me.account.id, target).await? {
        effects::unblocked(svc, &mut tx, &me.account, &account).await?;
    }
    let out = relationship_of(&mut tx, me.account.id, target).await?;
    tx.commit().await?;
    Ok(out)
}

/// `POST /api/v1/accounts/:id/mute` (`notifications` defaults to true; `duration` in seconds, 0 = forever).
pub async fn mute(
    svc: &Services,
    me: &Viewer,
    raw_id: &str,
    notifications: Option<bool>,
    duration: Option<i64>,
) -> Result<Relationship> {
    let target = account_id(raw_id)?;
    if target == me.account.id {
        return Err(Error::forbidden("This action is not allowed"));
    }
    if duration.is_some_and(|d| d < 0) {
        return Err(Error::validation("Validation failed: Duration must be positive"));
    }
    let mut tx = svc.db.write().await?;
    tx.account_by_id(target).await?.ok_or_else(Error::not_found)?;
    let mute = Mute {
        id: Id::generate(),
        account_id: me.account.id,
        target_account_id: target,
        hide_notifications: notifications.unwrap_or(true),
        expires_at: duration.filter(|d| *d > 0).map(|d| now() + d * 1000),
    };
    tx.upsert_mute(&mute, now()).await?;
    effects::relations_changed(svc, &mut tx, &[me.account.id]).await?;
    let out = relationship_of(&mut tx, me.account.id, target).await?;
    tx.commit().await?;
    Ok(out)
}

pub async fn unmute(svc: &Services, me: &Viewer, raw_id: &str) -> Result<Relationship> {
    let target = account_id(raw_id)?;
    let mut tx = svc.db.write().await?;
    tx.account_by_id(target).await?.ok_or_else(Error::not_found)?;
    if tx.delete_relation(RelationKind::Mute, me.account.id, target).await? {
        effects::relations_changed(svc, &mut tx, &[me.account.id]).await?;
    }
    let out = relationship_of(&mut tx, me.account.id, target).await?;
    tx.commit().await?;
    Ok(out)
}

/// `GET /api/v1/accounts/relationships?id[]=`; unknown ids are left out.
pub async fn relationships(svc: &Services, me: &Viewer, raw_ids: &[String]) -> Result<Vec<Relationship>> {
    let ids: Vec<Id> = raw_ids.iter().filter_map(|r| Id::parse(r)).collect();
    let mut tx = svc.db.read().await?;
    let known: Vec<Id> = tx.accounts_by_ids(&ids).await?.iter().map(|a| a.id).collect();
    let ordered: Vec<Id> = ids.into_iter().filter(|i| known.contains(i)).collect();
    tx.relationships(me.account.id, &ordered, now()).await
}

/// Accepts (`authorize`) or rejects a follow request.
pub async fn answer_follow_request(svc: &Services, me: &Viewer, raw_id: &str, accept: bool) -> Result<Relationship> {
    let requester = account_id(raw_id)?;
    let mut tx = svc.db.write().await?;
    let request =
        tx.get_follow(RelationKind::FollowRequest, requester, me.account.id).await?.ok_or_else(Error::not_found)?;
    let follower = tx.account_by_id(requester).await?.ok_or_else(Error::not_found)?;
    // A remote request carries its Follow's id: its server hears the answer naming it.
    let follow_uri = tx.relation_uri("follow_request", requester, me.account.id).await?;
    tx.delete_relation(RelationKind::FollowRequest, requester, me.account.id).await?;
    tx.delete_notifications_for(me.account.id, requester, None, NotificationType::FollowRequest.as_str()).await?;
    if accept {
        let follow = Follow { id: Id::generate(), created_at: now(), ..request };
        tx.upsert_follow(RelationKind::Follow, &follow).await?;
        if let Some(uri) = &follow_uri {
            tx.set_relation_uri("follow", requester, me.account.id, uri).await?;
            effects::follow_answered(&mut tx, &follower, &me.account, uri, true).await?;
        }
        effects::followed(svc, &mut tx, &follower, &me.account).await?;
    } else if let Some(uri) = &follow_uri {
        effects::follow_answered(&mut tx, &follower, &me.account, uri, false).await?;
    }
    let out = relationship_of(&mut tx, me.account.id, requester).await?;
    tx.commit().await?;
    Ok(out)
}

/// A domain as `POST /api/v1/domain_blocks` takes it: trimmed, lowercased, without a scheme or
/// path (`https://Example.org/` is `example.org`).
fn normalize_domain(raw: Option<&str>) -> Result<String> {
    let raw = raw.unwrap_or("").trim().to_lowercase();
    let host = raw.split("://").last().unwrap_or("").split('/').next().unwrap_or("").trim_start_matches('@');
    if host.is_empty() {
        return Err(Error::validation("Validation failed: Domain can't be blank"));
    }
    if host.chars().any(|c| c.is_whitespace() || matches!(c, '@' | '?' | '#' | '\\')) {
        return Err(Error::validation("Validation failed: Domain is invalid"));
    }
    Ok(host.to_string())
}

/// `POST /api/v1/domain_blocks`: as Mastodon's BlockDomainFromAccountService, the domain's
/// posts leave the viewer's public timelines and streams, its accounts stop notifying, and the
/// viewer's followers there are removed (their servers hear a Reject). Follows the viewer made
/// stay.
pub async fn block_domain(svc: &Services, me: &Viewer, domain: Option<&str>) -> Result<()> {
    let domain = normalize_domain(domain)?;
    let me_id = me.account.id;
    let mut tx = svc.db.write().await?;
    if tx.block_domain(Id::generate(), me_id, &domain, now()).await? {
        let ids = tx.followers_on_domain(me_id, &domain).await?;
        for follower in tx.accounts_by_ids(&ids).await? {
            if let Some(follow_uri) = tx.relation_uri("follow", follower.id, me_id).await? {
                effects::follow_answered(&mut tx, &follower, &me.account, &follow_uri, false).await?;
            }
            end_follow(&mut tx, follower.id, me_id).await?;
        }
        effects::relations_changed(svc, &mut tx, &[me_id]).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// `DELETE /api/v1/domain_blocks`
pub async fn unblock_domain(svc: &Services, me: &Viewer, domain: Option<&str>) -> Result<()> {
    let domain = normalize_domain(domain)?;
    let mut tx = svc.db.write().await?;
    if tx.unblock_domain(me.account.id, &domain).await? {
        effects::relations_changed(svc, &mut tx, &[me.account.id]).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// `GET /api/v1/domain_blocks`: the blocked domains, newest first, paged by block.
pub async fn blocked_domains(
    svc: &Services,
    me: &Viewer,
    page: &ferrodon_kernel::PageRequest,
) -> Result<ferrodon_kernel::Page<String>> {
    let mut tx = svc.db.read().await?;
    let rows = tx.blocked_domains(me.account.id, page).await?;
    let cursor = ferrodon_kernel::Page::from_rows(rows.clone(), |r| r.key, page.limit);
    Ok(ferrodon_kernel::Page {
        items: rows.into_iter().map(|r| r.item).collect(),
        next_max_id: cursor.next_max_id,
        prev_min_id: cursor.prev_min_id,
    })
}

#[cfg(test)]
mod tests {
    use super::normalize_domain;

    #[test]
    fn domains_are_normalised_as_mastodon_takes_them() {
        assert_eq!(normalize_domain(Some(" Example.ORG ")).unwrap(), "example.org");
        assert_eq!(normalize_domain(Some("https://example.org/path")).unwrap(), "example.org");
        assert_eq!(normalize_domain(Some("127.0.0.3:3000")).unwrap(), "127.0.0.3:3000");
        assert!(normalize_domain(Some("  ")).is_err());
        assert!(normalize_domain(None).is_err());
        assert!(normalize_domain(Some("bad domain")).is_err());
    }
}
