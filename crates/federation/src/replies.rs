//! Replies of remote posts, fetched on `pull` (Mastodon's `FetchRepliesWorker`): when someone
//! here looks at a remote thread (its context, or the post found by a search), the post's
//! `replies` collection is read and the replies not known yet are fetched, so the thread shows
//! what was said on other servers, not only what reached this one.
//!
//! The other way round, `GET /users/:name/statuses/:id/replies` serves the collection of a
//! local post's public and unlisted replies (see [`crate::render::replies`]).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use ferrodon_domain::model::{Job, NewJob, Queue, Status};
use ferrodon_domain::ports::{JobContext, JobHandler, RetryPolicy};
use ferrodon_kernel::time::now_ms;
use ferrodon_kernel::{Error, Id, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::protocol::{id_of, items, same_origin};
use crate::{Fed, Federation, lock};

/// A thread's replies are fetched at most this often.
const REFETCH_AFTER: Duration = Duration::from_secs(15 * 60);
/// At most this many replies per fetch, from at most this many pages.
const MAX_REPLIES: usize = 40;
const MAX_PAGES: usize = 3;

#[derive(Serialize, Deserialize)]
struct Payload {
    status_id: Id,
}

/// Fetches the replies of one remote status (on `pull`).
pub struct FetchReplies {
    pub(crate) fed: Fed,
}

impl FetchReplies {
    pub const KIND: &'static str = "FetchReplies";
    /// The other server may be down: a few tries, then the next view asks again.
    pub const POLICY: RetryPolicy = RetryPolicy { max_attempts: 3, keep_dead: false };
}

impl Federation {
    /// Queues a fetch of `status`'s replies when it is remote and was not fetched recently.
    /// (Local statuses are remembered too, so a thread viewed again costs no read.)
    pub async fn fetch_replies_later(&self, status: &Status) -> Result<()> {
        {
            let mut fetched = lock(&self.replies_fetched);
            if fetched.get(&status.id).is_some_and(|t| t.elapsed() < REFETCH_AFTER) {
                return Ok(());
            }
            if fetched.len() > 10_000 {
                fetched.retain(|_, t| t.elapsed() < REFETCH_AFTER);
            }
            fetched.insert(status.id, Instant::now());
        }
        if status.local || status.reblog_of_id.is_some() {
            return Ok(());
        }
        let payload = serde_json::to_string(&Payload { status_id: status.id }).map_err(Error::internal)?;
        let now = now_ms();
        let mut tx = self.svc.db.write().await?;
        tx.enqueue(&NewJob {
            id: Id::generate(),
            queue: Queue::Pull,
            kind: FetchReplies::KIND.to_string(),
            unique_key: Some(format!("{}:{}", FetchReplies::KIND, status.id)),
            payload,
            priority: 0,
            run_at: now,
            max_attempts: FetchReplies::POLICY.max_attempts,
            created_at: now,
        })
        .await?;
        tx.commit().await
    }

    /// The same, for a status named by its id (a thread being viewed).
    pub async fn fetch_replies_of(&self, status_id: Id) -> Result<()> {
        if lock(&self.replies_fetched).get(&status_id).is_some_and(|t| t.elapsed() < REFETCH_AFTER) {
            return Ok(());
        }
        let status = self.svc.db.read().await?.status_by_id(status_id).await?;
        match status {
            Some(s) => self.fetch_replies_later(&s).await,
            None => Ok(()),
        }
    }

    /// A collection member (embedded or by reference) as a document.
    pub(crate) async fn page(&self, value: &Value) -> Result<Value> {
        match value {
            Value::String(url) => self.fetch(url).await,
            other => Ok(other.clone()),
        }
    }

    /// The URIs a collection (`replies`, `featured`) lists, following `first` and `next`
    /// pages: at most `max`.
    pub(crate) async fn collection_uris(&self, collection: &Value, max: usize) -> Result<Vec<String>> {
        let collection = self.page(collection).await?;
        let mut page = match collection.get("first") {
            Some(first) => Some(self.page(first).await?),
            None => Some(collection.clone()), // items right in the collection
        };
        let mut uris = Vec::new();
        for _ in 0..MAX_PAGES {
            let Some(current) = page.take() else { break };
            let listed = current.get("orderedItems").or_else(|| current.get("items"));
            for item in items(listed) {
                if let Some(uri) = id_of(item)
                    && !uris.iter().any(|u| u == uri)
                {
                    uris.push(uri.to_string());
                }
            }
            if uris.len() >= max {
                break;
            }
            if let Some(next) = current.get("next") {
                page = Some(self.page(next).await?);
            }
        }
        uris.truncate(max);
        Ok(uris)
    }
}

#[async_trait]
impl JobHandler for FetchReplies {
    async fn run(&self, _ctx: &JobContext, job: &Job) -> Result<()> {
        let p: Payload =
            serde_json::from_str(&job.payload).map_err(|e| Error::internal(format!("bad payload: {e}")))?;
        let fed = &self.fed;
        let Some(status) = fed.svc.db.read().await?.status_by_id(p.status_id).await? else { return Ok(()) };
        let doc = match fed.fetch(&status.uri).await {
            Ok(d) => d,
            Err(e) if e.kind == ferrodon_kernel::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let Some(collection) = doc.get("replies") else { return Ok(()) };
        // A collection must come from the post's own server.
        if id_of(collection).is_some_and(|id| !same_origin(id, &status.uri)) {
            return Ok(());
        }
        let mut fetched = 0;
        for uri in fed.collection_uris(collection, MAX_REPLIES).await? {
            match fed.status(&uri).await {
                Ok(reply) if reply.in_reply_to_id == Some(status.id) => fetched += 1,
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, uri, "a reply could not be fetched"),
            }
        }
        tracing::debug!(status = %status.uri, fetched, "fetched replies");
        Ok(())
    }
}
