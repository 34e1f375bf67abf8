use ferrodon_kernel::{Id, time::Millis};

use super::string_enum;

string_enum!(
    /// Mastodon's Sidekiq queues, most important first.
    Queue {
        Default = "default",
        Push = "push",
        Ingress = "ingress",
        Mailers = "mailers",
        Pull = "pull",
        Scheduler = "scheduler",
    }
);

impl Queue {
    /// Mastodon's weights (`config/sidekiq.yml`); unweighted queues count 1.
    pub fn default_weight(self) -> u32 {
        match self {
            Queue::Default => 8,
            Queue::Push => 6,
            Queue::Ingress => 4,
            Queue::Mailers => 2,
            Queue::Pull | Queue::Scheduler => 1,
        }
    }
}

/// A job to enqueue.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub id: Id,
    pub queue: Queue,
    /// The job type's name (`DeliverActivity`, `PruneExpiredData`, …).
    pub kind: String,
    /// JSON arguments.
    pub payload: String,
    /// Higher runs first within a queue.
    pub priority: i64,
    /// Not before this time (scheduled jobs and retries).
    pub run_at: Millis,
    pub max_attempts: i64,
    /// At most one pending or running job per key.
    pub unique_key: Option<String>,
    pub created_at: Millis,
}

impl NewJob {
    /// A job of `kind` on `queue`, due at `now`, tried at most `max_attempts` times (set the
    /// other fields with struct update syntax).
    pub fn new(queue: Queue, kind: &str, payload: String, max_attempts: i64, now: Millis) -> NewJob {
        NewJob {
            id: Id::generate(),
            queue,
            kind: kind.to_string(),
            payload,
            priority: 0,
            run_at: now,
            max_attempts,
            unique_key: None,
            created_at: now,
        }
    }
}

/// A stored job.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Job {
    pub id: Id,
    #[cfg_attr(feature = "sqlx", sqlx(try_from = "String"))]
    pub queue: Queue,
    pub kind: String,
    pub payload: String,
    pub priority: i64,
    /// `pending`, `running` or `dead`.
    pub status: String,
    pub run_at: Millis,
    /// Attempts started so far (the current one included while running).
    pub attempts: i64,
    pub max_attempts: i64,
    pub locked_by: Option<String>,
    pub locked_until: Option<Millis>,
    pub unique_key: Option<String>,
    pub last_error: Option<String>,
    pub created_at: Millis,
}

/// Per-queue figures for `ferrodon jobs stats` and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub queue: String,
    /// Ready to run now.
    pub pending: i64,
    pub running: i64,
    /// Waiting for a future time, first attempt.
    pub scheduled: i64,
    /// Waiting for a future time after a failure.
    pub retrying: i64,
    pub dead: i64,
    /// Age of the oldest ready job, in milliseconds.
    pub oldest_pending_age_ms: Option<i64>,
}

/// A job that runs every `every`, once per time slot, however many schedulers run.
#[derive(Clone, Debug)]
pub struct RecurringJob {
    /// The slot key (and log name).
    pub name: &'static str,
    pub every: std::time::Duration,
    pub queue: Queue,
    pub kind: &'static str,
    pub max_attempts: i64,
}
