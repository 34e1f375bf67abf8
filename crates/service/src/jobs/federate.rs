//! What local actions tell the fediverse, on `push`. A change that other servers must hear
//! about enqueues an [`Outgoing`] intent in its own transaction (see [`crate::effects`]); the
//! [`Federate`] job turns it into activities and their inboxes ([`crate::outbox::prepare`]),
//! has the federation port render them, and enqueues one [`DeliverActivity`] per inbox, which
//! signs and POSTs through the port. What a job needs once the rows are gone (a deletion)
//! travels in its payload.

use async_trait::async_trait;
use ferrodon_domain::model::{Job, NewJob, Queue, Signer, Status};
use ferrodon_domain::ports::{Delivery, JobContext, JobHandler, RetryPolicy, Tx};
use ferrodon_domain::rules::uri::authority;
use ferrodon_kernel::{Error, ErrorKind, Id, Result};
use serde::{Deserialize, Serialize};

use crate::jobs::{enqueue, payload};
use crate::{Services, keys, outbox};

/// Building an activity is cheap and local; a failure is a bug or a database outage: retry a
/// few times and keep it for an admin to see.
pub const POLICY: RetryPolicy = RetryPolicy { max_attempts: 5, keep_dead: true };

/// How long a debounced activity waits for others like it.
pub const DEBOUNCE_MS: i64 = 3_000;

/// A deleted status, as the Delete activity and its audience need it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeletedStatus {
    pub id: Id,
    pub uri: String,
    pub account_id: Id,
    pub visibility: String,
    pub mentioned: Vec<Id>,
    /// For a reblog: the original's URI and author (an Undo(Announce) goes out instead).
    pub reblog_of: Option<(String, Id)>,
}

impl DeletedStatus {
    pub fn of(s: &Status, reblog_of: Option<&Status>) -> DeletedStatus {
        DeletedStatus {
            id: s.id,
            uri: s.uri.clone(),
            account_id: s.account_id,
            visibility: s.visibility.as_str().to_string(),
            mentioned: s.mentions().into_iter().map(|m| m.id).collect(),
            reblog_of: reblog_of.map(|o| (o.uri.clone(), o.account_id)),
        }
    }
}

/// An activity to send. Ids are of local rows unless named otherwise.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Outgoing {
    /// A new status (Create), or a reblog (Announce).
    Create {
        status_id: Id,
    },
    /// An edited status (Update).
    Update {
        status_id: Id,
    },
    /// A report sent on to the reported account's server (from the instance actor).
    Flag {
        report_id: Id,
    },
    /// A local poll's new counts (an Update of the Question), to the author's followers and
    /// the poll's remote voters.
    PollUpdate {
        status_id: Id,
    },
    Delete {
        status: DeletedStatus,
    },
    Like {
        account_id: Id,
        status_id: Id,
    },
    UndoLike {
        account_id: Id,
        status_id: Id,
    },
    Follow {
        account_id: Id,
        target_id: Id,
    },
    /// `follow_uri` as the follow had it.
    UndoFollow {
        account_id: Id,
        target_id: Id,
        follow_uri: String,
    },
    /// The local `account_id` accepts (or rejects) remote `follower_id`'s Follow `follow_uri`.
    AcceptFollow {
        account_id: Id,
        follower_id: Id,
        follow_uri: String,
    },
    RejectFollow {
        account_id: Id,
        follower_id: Id,
        follow_uri: String,
    },
    Block {
        account_id: Id,
        target_id: Id,
    },
    UndoBlock {
        account_id: Id,
        target_id: Id,
    },
    /// A status pinned (an Add to the account's featured collection), to the followers.
    Pin {
        account_id: Id,
        status_id: Id,
    },
    /// A status unpinned (a Remove from the featured collection).
    Unpin {
        account_id: Id,
        status_id: Id,
    },
    /// The profile changed (Update of the actor).
    UpdateActor {
        account_id: Id,
    },
    /// A vote on a remote poll: one Note per choice, to the poll's author.
    Vote {
        account_id: Id,
        status_id: Id,
        choices: Vec<i64>,
    },
}

impl Outgoing {
    pub const KIND: &'static str = "Federate";

    pub(crate) async fn enqueue(self, tx: &mut Box<dyn Tx>) -> Result<()> {
        let body = serde_json::to_value(&self).map_err(Error::internal)?;
        enqueue(tx, Queue::Push, Self::KIND, &body, POLICY).await.map(|_| ())
    }

    /// Enqueues it to run in [`DEBOUNCE_MS`], unless the same activity is already waiting:
    /// votes coming in together go out as one Update (Mastodon waits three minutes).
    pub(crate) async fn enqueue_debounced(self, tx: &mut Box<dyn Tx>) -> Result<()> {
        let body = serde_json::to_string(&self).map_err(Error::internal)?;
        let now = crate::auth::now();
        let unique_key = Some(format!("{}:{body}", Self::KIND));
        let job = NewJob::new(Queue::Push, Self::KIND, body, POLICY.max_attempts, now);
        tx.enqueue(&NewJob { unique_key, run_at: now + DEBOUNCE_MS, ..job }).await.map(|_| ())
    }
}

/// Builds a local change's activities and fans them out to inboxes (Mastodon's
/// `ActivityPub::DistributionWorker` and friends).
pub struct Federate {
    pub(crate) svc: Services,
}

#[async_trait]
impl JobHandler for Federate {
    async fn run(&self, _ctx: &JobContext, job: &Job) -> Result<()> {
        let out: Outgoing = payload(job)?;
        let svc = &self.svc;
        let prepared = match outbox::prepare(svc, &out).await {
            Ok(Some(p)) => p,
            Ok(None) => return Ok(()),
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let fediverse = svc.fediverse()?;
        for activity in &prepared.activities {
            let body = fediverse.render(activity)?;
            outbox::deliver_later(svc, prepared.signer, &body, &prepared.inboxes).await?;
        }
        Ok(())
    }
}

/// One activity for one inbox.
#[derive(Serialize, Deserialize)]
struct Delivered {
    inbox: String,
    /// The account that signs it; 0 for the instance actor.
    signer: Id,
    body: String,
}

/// POSTs one activity to one inbox, signed by its actor (Mastodon's `ActivityPub::DeliveryWorker`).
pub struct DeliverActivity {
    pub(crate) svc: Services,
}

impl DeliverActivity {
    pub const KIND: &'static str = "DeliverActivity";
    /// Mastodon retries a delivery 16 times over about three days.
    pub const POLICY: RetryPolicy = RetryPolicy { max_attempts: 16, keep_dead: true };

    /// The job delivering `body` to `inbox`.
    pub(crate) fn job(inbox: &str, signer: Signer, body: &str, now: i64) -> NewJob {
        let signer = match signer {
            Signer::Account(id) => id,
            Signer::Instance => Id(0),
        };
        let payload = Delivered { inbox: inbox.to_string(), signer, body: body.to_string() };
        let payload = serde_json::to_string(&payload).unwrap_or_default();
        NewJob::new(Queue::Push, Self::KIND, payload, Self::POLICY.max_attempts, now)
    }
}

#[async_trait]
impl JobHandler for DeliverActivity {
    async fn run(&self, _ctx: &JobContext, job: &Job) -> Result<()> {
        let d: Delivered = payload(job)?;
        let svc = &self.svc;
        if outbox::is_unavailable(svc, &d.inbox).await? {
            return Ok(()); // Mastodon drops deliveries to unavailable domains
        }
        let key = if d.signer == Id(0) {
            keys::instance(svc).await?
        } else {
            let Some(signer) = svc.db.read().await?.account_by_id(d.signer).await? else {
                return Ok(()); // the account is gone
            };
            keys::of_account(svc, &signer).await?
        };
        let domain = authority(&d.inbox).unwrap_or_default();
        match svc.fediverse()?.deliver(&d.inbox, &key, &d.body).await {
            Delivery::Delivered => {
                outbox::domain_answered(svc, &domain).await;
                Ok(())
            }
            // The server understood and refused: retrying would not change its mind.
            Delivery::Refused(status) => {
                outbox::domain_answered(svc, &domain).await;
                tracing::info!(inbox = %d.inbox, status, "delivery refused");
                Ok(())
            }
            Delivery::Unreachable(why) => {
                tracing::info!(inbox = %d.inbox, why, "an inbox that may not be reached");
                Ok(())
            }
            Delivery::Failed(why) => {
                outbox::delivery_failed(svc, &domain).await?;
                Err(Error::unavailable(format!("{}: {why}", d.inbox)))
            }
        }
    }
}

/// The handlers of this module, for [`crate::jobs::handlers`].
pub(crate) fn handlers(svc: &Services) -> Vec<(&'static str, RetryPolicy, std::sync::Arc<dyn JobHandler>)> {
    vec![
        (Outgoing::KIND, POLICY, std::sync::Arc::new(Federate { svc: svc.clone() })),
        (DeliverActivity::KIND, DeliverActivity::POLICY, std::sync::Arc::new(DeliverActivity { svc: svc.clone() })),
    ]
}
