//! Pinned posts of remote accounts: their `featured` collection, read on `pull` when someone
//! here looks at the account's posts (at most every 15 minutes; Mastodon reads it when it meets
//! the account). Later changes arrive as `Add` / `Remove` (see [`crate::inbox`]), and local
//! pins go out the same way (see [`crate::deliver`]).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use ferrodon_domain::model::{Job, NewJob, Queue};
use ferrodon_domain::ports::{JobContext, JobHandler, RetryPolicy};
use ferrodon_kernel::time::now_ms;
use ferrodon_kernel::{Error, Id, Result};
use ferrodon_service::limits::MAX_PINNED_STATUSES;
use serde::{Deserialize, Serialize};

use crate::protocol::same_origin;
use crate::{Fed, Federation, lock};

/// An account's collection is read at most this often.
const REFETCH_AFTER: Duration = Duration::from_secs(15 * 60);

#[derive(Serialize, Deserialize)]
struct Payload {
    account_id: Id,
}

/// Reads one remote account's `featured` collection and pins what it lists (on `pull`).
pub struct FetchFeatured {
    pub(crate) fed: Fed,
}

impl FetchFeatured {
    pub const KIND: &'static str = "FetchFeatured";
    /// The other server may be down: a few tries, then the next look asks again.
    pub const POLICY: RetryPolicy = RetryPolicy { max_attempts: 3, keep_dead: false };
}

impl Federation {
    /// Queues a read of the pinned posts of account `account_id` when it is remote and was not
    /// read recently.
    pub async fn fetch_featured_of(&self, account_id: Id) -> Result<()> {
        {
            let mut fetched = lock(&self.featured_fetched);
            if fetched.get(&account_id).is_some_and(|t| t.elapsed() < REFETCH_AFTER) {
                return Ok(());
            }
            if fetched.len() > 10_000 {
                fetched.retain(|_, t| t.elapsed() < REFETCH_AFTER);
            }
            fetched.insert(account_id, Instant::now());
        }
        let account = self.svc.db.read().await?.account_by_id(account_id).await?;
        if account.is_none_or(|a| a.is_local() || a.featured_url.is_empty()) {
            return Ok(());
        }
        let payload = serde_json::to_string(&Payload { account_id }).map_err(Error::internal)?;
        let now = now_ms();
        let mut tx = self.svc.db.write().await?;
        tx.enqueue(&NewJob {
            id: Id::generate(),
            queue: Queue::Pull,
            kind: FetchFeatured::KIND.to_string(),
            unique_key: Some(format!("{}:{account_id}", FetchFeatured::KIND)),
            payload,
            priority: 0,
            run_at: now,
            max_attempts: FetchFeatured::POLICY.max_attempts,
            created_at: now,
        })
        .await?;
        tx.commit().await
    }
}

#[async_trait]
impl JobHandler for FetchFeatured {
    async fn run(&self, _ctx: &JobContext, job: &Job) -> Result<()> {
        let p: Payload =
            serde_json::from_str(&job.payload).map_err(|e| Error::internal(format!("bad payload: {e}")))?;
        let fed = &self.fed;
        let Some(account) = fed.svc.db.read().await?.account_by_id(p.account_id).await? else { return Ok(()) };
        if account.is_local() || !same_origin(&account.featured_url, &account.uri) {
            return Ok(());
        }
        let collection = serde_json::Value::String(account.featured_url.clone());
        let uris = match fed.collection_uris(&collection, MAX_PINNED_STATUSES as usize).await {
            Ok(u) => u,
            Err(e) if e.kind == ferrodon_kernel::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut pinned = Vec::new();
        for uri in uris.iter().filter(|u| same_origin(u, &account.uri)) {
            match fed.status(uri).await {
                Ok(s) if s.account_id == account.id && s.reblog_of_id.is_none() => pinned.push(s.id),
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, uri, "a pinned post could not be fetched"),
            }
        }
        ferrodon_service::inbox::set_pins(&fed.svc, &account, &pinned).await
    }
}
