//! Announcements by the admins (Mastodon's): `/api/v1/announcements` for users (read them,
//! dismiss them, react with emoji), `ferrodon announcements …` for admins, the scheduler that
//! publishes scheduled ones and takes down those whose `ends_at` passed, and their streaming
//! events on every local user's `user` stream: `announcement` (published or edited),
//! `announcement.reaction` (`{name, count, announcement_id}`) and `announcement.delete` (the id).
//!
//! The events go through a job, as Mastodon's workers do: the admin command runs in a process of
//! its own, and the job runs where the workers are.

use async_trait::async_trait;
use ferrodon_domain::model::{Announcement, Job, MAX_ANNOUNCEMENT_REACTIONS};
use ferrodon_domain::ports::{JobContext, JobHandler, Tx};
use ferrodon_domain::rules::text;
use ferrodon_kernel::error::FieldError;
use ferrodon_kernel::time::Millis;
use ferrodon_kernel::{Error, ErrorKind, Id, Result};

use crate::auth::{Viewer, now};
use crate::jobs::streams::AnnouncementEvent;
use crate::{Services, effects};

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

/// `GET /api/v1/announcements`: the published ones, oldest first.
pub async fn index(svc: &Services) -> Result<Vec<Announcement>> {
    svc.db.read().await?.announcements(true).await
}

/// `POST /api/v1/announcements/:id/dismiss`
pub async fn dismiss(svc: &Services, me: &Viewer, id: &str) -> Result<()> {
    let mut tx = svc.db.write().await?;
    let a = published(&mut tx, id).await?;
    tx.dismiss_announcement(me.account.id, a.id).await?;
    tx.commit().await
}

/// `PUT /api/v1/announcements/:id/reactions/:name`: a Unicode emoji, at most
/// [`MAX_ANNOUNCEMENT_REACTIONS`] different ones per announcement. Reacting again is harmless.
pub async fn react(svc: &Services, me: &Viewer, id: &str, name: &str) -> Result<()> {
    if !text::is_single_emoji(name) {
        return Err(Error::field("name", "ERR_INVALID", "is not a recognized emoji"));
    }
    let mut tx = svc.db.write().await?;
    let a = published(&mut tx, id).await?;
    let existing = tx.announcement_reactions(&[a.id], None).await?;
    if !existing.iter().any(|r| r.name == name) && existing.len() >= MAX_ANNOUNCEMENT_REACTIONS {
        return Err(Error {
            kind: ErrorKind::Validation,
            message: "Validation failed: Limit of different reactions reached".into(),
            details: vec![FieldError {
                field: "base".into(),
                code: "ERR_INVALID".into(),
                description: "Limit of different reactions reached".into(),
            }],
        });
    }
    if tx.add_announcement_reaction(me.account.id, a.id, name, now()).await? {
        effects::announcement(&mut tx, AnnouncementEvent::Reaction { id: a.id, name: name.to_string() }).await?;
    }
    tx.commit().await
}

/// `DELETE /api/v1/announcements/:id/reactions/:name`: 404 when the user has no such reaction.
pub async fn unreact(svc: &Services, me: &Viewer, id: &str, name: &str) -> Result<()> {
    let mut tx = svc.db.write().await?;
    let a = published(&mut tx, id).await?;
    if !tx.remove_announcement_reaction(me.account.id, a.id, name).await? {
        return Err(Error::not_found());
    }
    effects::announcement(&mut tx, AnnouncementEvent::Reaction { id: a.id, name: name.to_string() }).await?;
    tx.commit().await
}

async fn published(tx: &mut Box<dyn Tx>, id: &str) -> Result<Announcement> {
    let id = Id::parse(id).ok_or_else(Error::not_found)?;
    tx.announcement(id).await?.filter(|a| a.published).ok_or_else(Error::not_found)
}

// ---------------------------------------------------------------------------------------------
// Admins
// ---------------------------------------------------------------------------------------------

/// A new announcement (`ferrodon announcements create`).
#[derive(Debug, Default)]
pub struct NewAnnouncement {
    pub text: String,
    pub starts_at: Option<Millis>,
    pub ends_at: Option<Millis>,
    pub all_day: bool,
    /// Published then by the scheduler; without it (or in the past), published at once.
    pub scheduled_at: Option<Millis>,
}

/// Every announcement, published or not, oldest first.
pub async fn list(svc: &Services) -> Result<Vec<Announcement>> {
    svc.db.read().await?.announcements(false).await
}

pub async fn create(svc: &Services, new: NewAnnouncement) -> Result<Announcement> {
    let at = now();
    let publish_now = new.scheduled_at.is_none_or(|s| s <= at);
    let a = Announcement {
        id: Id::generate(),
        text: new.text.trim().to_string(),
        published: publish_now,
        all_day: new.all_day && new.starts_at.is_some(),
        scheduled_at: new.scheduled_at,
        starts_at: new.starts_at,
        ends_at: new.ends_at,
        published_at: publish_now.then_some(at),
        created_at: at,
        updated_at: at,
    };
    validate(&a)?;
    let mut tx = svc.db.write().await?;
    tx.insert_announcement(&a).await?;
    if a.published {
        effects::announcement(&mut tx, AnnouncementEvent::Published { id: a.id }).await?;
    }
    tx.commit().await?;
    Ok(a)
}

/// Changes the text; a published one is sent to the streams again.
pub async fn update_text(svc: &Services, id: Id, text: &str) -> Result<Announcement> {
    let mut tx = svc.db.write().await?;
    let mut a = tx.announcement(id).await?.ok_or_else(Error::not_found)?;
    a.text = text.trim().to_string();
    a.updated_at = now();
    validate(&a)?;
    tx.update_announcement(&a).await?;
    if a.published {
        effects::announcement(&mut tx, AnnouncementEvent::Published { id: a.id }).await?;
    }
    tx.commit().await?;
    Ok(a)
}

/// Publishes now (already published: no change).
pub async fn publish(svc: &Services, id: Id) -> Result<Announcement> {
    let mut tx = svc.db.write().await?;
    let a = tx.announcement(id).await?.ok_or_else(Error::not_found)?;
    let a = publish_in(&mut tx, a).await?;
    tx.commit().await?;
    Ok(a)
}

async fn publish_in(tx: &mut Box<dyn Tx>, mut a: Announcement) -> Result<Announcement> {
    if a.published {
        return Ok(a);
    }
    let at = now();
    a.published = true;
    a.published_at = Some(at);
    a.updated_at = at;
    tx.update_announcement(&a).await?;
    effects::announcement(tx, AnnouncementEvent::Published { id: a.id }).await?;
    Ok(a)
}

/// Takes it down (users no longer see it; streams get `announcement.delete`).
pub async fn unpublish(svc: &Services, id: Id) -> Result<Announcement> {
    let mut tx = svc.db.write().await?;
    let mut a = tx.announcement(id).await?.ok_or_else(Error::not_found)?;
    let was_published = a.published;
    if was_published || a.scheduled_at.is_some() {
        a.published = false;
        a.scheduled_at = None; // nor later
        a.updated_at = now();
        tx.update_announcement(&a).await?;
    }
    if was_published {
        effects::announcement(&mut tx, AnnouncementEvent::Deleted { id: a.id }).await?;
    }
    tx.commit().await?;
    Ok(a)
}

pub async fn delete(svc: &Services, id: Id) -> Result<()> {
    let mut tx = svc.db.write().await?;
    let a = tx.announcement(id).await?.ok_or_else(Error::not_found)?;
    tx.delete_announcement(a.id).await?;
    if a.published {
        effects::announcement(&mut tx, AnnouncementEvent::Deleted { id: a.id }).await?;
    }
    tx.commit().await
}

fn validate(a: &Announcement) -> Result<()> {
    if a.text.is_empty() {
        return Err(Error::field("text", "ERR_BLANK", "can't be blank"));
    }
    match (a.starts_at, a.ends_at) {
        (Some(_), None) => Err(Error::field("ends_at", "ERR_BLANK", "can't be blank")),
        (None, Some(_)) => Err(Error::field("starts_at", "ERR_BLANK", "can't be blank")),
        (Some(s), Some(e)) if e < s => Err(Error::field("ends_at", "ERR_INVALID", "must be after the start")),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Jobs: the streaming events, and the scheduler
// ---------------------------------------------------------------------------------------------

/// Every minute: publishes the announcements whose time has come, and takes down those whose
/// `ends_at` has passed (Mastodon's `ScheduledStatusesScheduler` does both).
pub struct ScheduleAnnouncements {
    pub(crate) svc: Services,
}

impl ScheduleAnnouncements {
    pub const KIND: &'static str = "ScheduleAnnouncements";
}

#[async_trait]
impl JobHandler for ScheduleAnnouncements {
    async fn run(&self, ctx: &JobContext, _job: &Job) -> Result<()> {
        let mut tx = self.svc.db.write().await?;
        let at = now();
        for a in tx.due_announcements(at).await? {
            publish_in(&mut tx, a).await?;
        }
        for id in tx.expire_announcements(at).await? {
            effects::announcement(&mut tx, AnnouncementEvent::Deleted { id }).await?;
        }
        if ctx.complete_in(&mut tx).await? {
            tx.commit().await?;
        }
        Ok(())
    }
}
