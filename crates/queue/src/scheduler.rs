use std::sync::Arc;
use std::time::Duration;

use ferrodon_domain::model::{NewJob, RecurringJob as Recurring};
use ferrodon_domain::ports::{Database, JobQueue};
use ferrodon_kernel::time::{Millis, now_ms};
use ferrodon_kernel::{Id, Result};
use tokio::sync::watch;

/// Enqueues recurring jobs when their slots start.
pub struct Scheduler {
    db: Arc<dyn Database>,
    queue: Arc<dyn JobQueue>,
    recurring: Vec<Recurring>,
}

impl Scheduler {
    pub fn new(db: Arc<dyn Database>, queue: Arc<dyn JobQueue>, recurring: Vec<Recurring>) -> Self {
        Scheduler { db, queue, recurring }
    }

    /// The slot `now` falls in: its start time.
    fn slot(every: Duration, now: Millis) -> Millis {
        let every = every.as_millis().max(1) as i64;
        now - now.rem_euclid(every)
    }

    /// Enqueues every recurring job whose current slot nobody claimed yet. Returns how many this
    /// call enqueued. Claiming the slot and enqueuing are one transaction.
    pub async fn tick(&self, now: Millis) -> Result<usize> {
        let mut fired = 0;
        for r in &self.recurring {
            let slot = Self::slot(r.every, now);
            let mut tx = self.db.write().await?;
            if tx.claim_slot(r.name, slot).await? {
                let enqueued = tx
                    .enqueue(&NewJob {
                        id: Id::generate(),
                        queue: r.queue,
                        kind: r.kind.to_string(),
                        payload: format!("{{\"slot\":{slot}}}"),
                        priority: 0,
                        run_at: slot,
                        max_attempts: r.max_attempts,
                        unique_key: Some(format!("recurring:{}", r.name)),
                        created_at: now,
                    })
                    .await?;
                tx.commit().await?;
                if enqueued {
                    tracing::debug!(job = r.name, slot, "recurring job enqueued");
                    fired += 1;
                } else {
                    tracing::info!(job = r.name, slot, "recurring job skipped: the previous one has not run yet");
                }
            }
        }
        Ok(fired)
    }

    /// Ticks at every slot boundary until shutdown; forgets slots older than a day.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> Result<()> {
        tracing::info!(jobs = self.recurring.len(), "scheduler started");
        loop {
            let now = now_ms();
            if let Err(e) = self.tick(now).await {
                tracing::warn!(error = %e, "scheduling recurring jobs failed");
            }
            if let Err(e) = self.queue.prune_slots(now - 86_400_000).await {
                tracing::warn!(error = %e, "pruning recurring slots failed");
            }
            let next = self
                .recurring
                .iter()
                .map(|r| Self::slot(r.every, now) + r.every.as_millis() as i64)
                .min()
                .unwrap_or(now + 60_000);
            let wait = Duration::from_millis((next - now_ms()).clamp(10, 60_000) as u64);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                return Ok(());
            }
        }
    }
}
