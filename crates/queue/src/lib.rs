//! The job runner and the recurring-job scheduler: Mastodon's Sidekiq, on the durable
//! [`JobQueue`](ferrodon_domain::ports::JobQueue) port (SQL backends live in the storage crate).
//!
//! - [`Runner`] works named queues by strict priority or by Sidekiq-style weights, with a fixed
//!   number of jobs in flight. A job waiting on a slow remote server holds a task, not a
//!   database connection; each queue operation is its own short transaction.
//! - Failed attempts are retried with Sidekiq's backoff curve ([`backoff`]) until the job type's
//!   [`RetryPolicy`](ferrodon_domain::ports::RetryPolicy) gives up; then the job goes to the dead
//!   set (or is dropped).
//! - Leases: a claimed job is held until `now + lease` and its worker extends the lease while it
//!   runs. A worker that dies stops extending it; after it runs out the job is claimed again.
//! - [`Scheduler`] fires each recurring job once per time slot, however many schedulers run: the
//!   slot is claimed in the database in the same transaction that enqueues the job.

mod runner;
mod scheduler;

pub use runner::{Registry, Runner, RunnerConfig, WeightedQueues, backoff};
pub use scheduler::Scheduler;
