//! Fetches on `pull`, made when someone here looks at remote things: a remote thread's replies
//! (Mastodon's `FetchRepliesWorker`: the post's `replies` collection, so the thread shows what
//! was said on other servers, not only what reached this one) and a remote account's pinned
//! posts (its `featured` collection). Queued by [`crate::remote`] at most every 15 minutes per
//! thread or account.

use std::sync::Arc;

use async_trait::async_trait;
use ferrodon_domain::model::{Job, NewJob, Queue};
use ferrodon_domain::ports::{JobContext, JobHandler, RetryPolicy, Tx};
use ferrodon_domain::rules::uri::same_origin;
use ferrodon_kernel::time::now_ms;
use ferrodon_kernel::{Error, ErrorKind, Id, Result};
use serde::{Deserialize, Serialize};

use crate::jobs::payload;
use crate::limits::MAX_PINNED_STATUSES;
use crate::{Services, inbox, keys, remote};

/// At most this many replies per fetch.
const MAX_REPLIES: usize = 40;

/// The other server may be down: a few tries, then the next look asks again.
pub const POLICY: RetryPolicy = RetryPolicy { max_attempts: 3, keep_dead: false };

#[derive(Serialize, Deserialize)]
struct RepliesOf {
    status_id: Id,
}

#[derive(Serialize, Deserialize)]
struct PinsOf {
    account_id: Id,
}

/// A `pull` job, once per subject while one waits.
fn unique_job(kind: &str, subject: Id, payload: String) -> NewJob {
    let unique_key = Some(format!("{kind}:{subject}"));
    NewJob { unique_key, ..NewJob::new(Queue::Pull, kind, payload, POLICY.max_attempts, now_ms()) }
}

/// Fetches the replies of one remote status.
pub struct FetchReplies {
    pub(crate) svc: Services,
}

impl FetchReplies {
    pub const KIND: &'static str = "FetchReplies";

    pub(crate) async fn enqueue(tx: &mut Box<dyn Tx>, status_id: Id) -> Result<()> {
        let body = serde_json::to_string(&RepliesOf { status_id }).map_err(Error::internal)?;
        tx.enqueue(&unique_job(Self::KIND, status_id, body)).await.map(|_| ())
    }
}

#[async_trait]
impl JobHandler for FetchReplies {
    async fn run(&self, _ctx: &JobContext, job: &Job) -> Result<()> {
        let p: RepliesOf = payload(job)?;
        let svc = &self.svc;
        let Some(status) = svc.db.read().await?.status_by_id(p.status_id).await? else { return Ok(()) };
        let key = keys::instance(svc).await?;
        let uris = match svc.fediverse()?.replies(&status.uri, &key, MAX_REPLIES).await {
            Ok(u) => u,
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut fetched = 0;
        for uri in uris {
            match remote::status(svc, &uri).await {
                Ok(reply) if reply.in_reply_to_id == Some(status.id) => fetched += 1,
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, uri, "a reply could not be fetched"),
            }
        }
        tracing::debug!(status = %status.uri, fetched, "fetched replies");
        Ok(())
    }
}

/// Reads one remote account's `featured` collection and pins what it lists.
pub struct FetchFeatured {
    pub(crate) svc: Services,
}

impl FetchFeatured {
    pub const KIND: &'static str = "FetchFeatured";

    pub(crate) async fn enqueue(tx: &mut Box<dyn Tx>, account_id: Id) -> Result<()> {
        let body = serde_json::to_string(&PinsOf { account_id }).map_err(Error::internal)?;
        tx.enqueue(&unique_job(Self::KIND, account_id, body)).await.map(|_| ())
    }
}

#[async_trait]
impl JobHandler for FetchFeatured {
    async fn run(&self, _ctx: &JobContext, job: &Job) -> Result<()> {
        let p: PinsOf = payload(job)?;
        let svc = &self.svc;
        let Some(account) = svc.db.read().await?.account_by_id(p.account_id).await? else { return Ok(()) };
        if account.is_local() || !same_origin(&account.featured_url, &account.uri) {
            return Ok(());
        }
        let key = keys::instance(svc).await?;
        let uris = match svc.fediverse()?.collection(&account.featured_url, &key, MAX_PINNED_STATUSES as usize).await {
            Ok(u) => u,
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut pinned = Vec::new();
        for uri in uris.iter().filter(|u| same_origin(u, &account.uri)) {
            match remote::status(svc, uri).await {
                Ok(s) if s.account_id == account.id && s.reblog_of_id.is_none() => pinned.push(s.id),
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, uri, "a pinned post could not be fetched"),
            }
        }
        inbox::set_pins(svc, &account, &pinned).await
    }
}

/// The handlers of this module, for [`crate::jobs::handlers`].
pub(crate) fn handlers(svc: &Services) -> Vec<(&'static str, RetryPolicy, Arc<dyn JobHandler>)> {
    vec![
        (FetchReplies::KIND, POLICY, Arc::new(FetchReplies { svc: svc.clone() })),
        (FetchFeatured::KIND, POLICY, Arc::new(FetchFeatured { svc: svc.clone() })),
    ]
}
