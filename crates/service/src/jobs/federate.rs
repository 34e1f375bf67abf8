//! What local actions tell the fediverse. A change that other servers must hear about enqueues a
//! [`Federate`] job on `push` in the change's own transaction; the federation layer's handler
//! turns it into an ActivityPub activity, works out the inboxes, and enqueues one delivery per
//! inbox. What a job needs once the rows are gone (a deletion) travels in its payload.

use ferrodon_domain::model::{NewJob, Queue, Status};
use ferrodon_domain::ports::{RetryPolicy, Tx};
use ferrodon_kernel::{Error, Id, Result};
use serde::{Deserialize, Serialize};

use crate::jobs::enqueue;

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
        tx.enqueue(&NewJob {
            id: Id::generate(),
            queue: Queue::Push,
            kind: Self::KIND.to_string(),
            unique_key: Some(format!("{}:{body}", Self::KIND)),
            payload: body,
            priority: 0,
            run_at: now + DEBOUNCE_MS,
            max_attempts: POLICY.max_attempts,
            created_at: now,
        })
        .await
        .map(|_| ())
    }
}
