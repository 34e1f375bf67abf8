//! Received activities, on `ingress`: each verified activity an inbox accepted is applied by
//! [`crate::inbox::apply`] (Mastodon's `ActivityPub::ProcessingWorker`).

use std::sync::Arc;

use async_trait::async_trait;
use ferrodon_domain::model::{Activity, Job, NewJob, Queue};
use ferrodon_domain::ports::{JobContext, JobHandler, RetryPolicy};
use ferrodon_kernel::time::Millis;
use ferrodon_kernel::{Error, Id, Result};
use serde::{Deserialize, Serialize};

use crate::{Services, inbox};

#[derive(Serialize, Deserialize)]
struct Received {
    actor_id: Id,
    activity: Activity,
}

/// Applies one received activity.
pub struct ProcessActivity {
    pub(crate) svc: Services,
}

impl ProcessActivity {
    pub const KIND: &'static str = "ProcessActivity";
    /// Remote servers may be slow to answer the fetches processing needs: retry for a while.
    pub const POLICY: RetryPolicy = RetryPolicy { max_attempts: 8, keep_dead: true };

    /// The payload of the job applying `activity` of `actor_id`.
    pub(crate) fn payload(actor_id: Id, activity: Activity) -> Result<String> {
        serde_json::to_string(&Received { actor_id, activity }).map_err(Error::internal)
    }

    pub(crate) fn job(payload: String, now: Millis) -> NewJob {
        NewJob::new(Queue::Ingress, Self::KIND, payload, Self::POLICY.max_attempts, now)
    }
}

#[async_trait]
impl JobHandler for ProcessActivity {
    async fn run(&self, _ctx: &JobContext, job: &Job) -> Result<()> {
        let p: Received = crate::jobs::payload(job)?;
        // Gone, or suspended since the inbox took the activity: nothing to do.
        let Some(actor) = inbox::sender(&self.svc, p.actor_id).await? else { return Ok(()) };
        inbox::apply(&self.svc, &actor, p.activity).await
    }
}

/// The handlers of this module, for [`crate::jobs::handlers`].
pub(crate) fn handlers(svc: &Services) -> Vec<(&'static str, RetryPolicy, Arc<dyn JobHandler>)> {
    vec![(ProcessActivity::KIND, ProcessActivity::POLICY, Arc::new(ProcessActivity { svc: svc.clone() }))]
}
