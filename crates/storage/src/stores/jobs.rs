//! The durable job queue on SQL. Claiming is one statement: on PostgreSQL an `UPDATE … WHERE id
//! IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`, which is one transaction and so safe behind
//! pgBouncer in transaction mode (no LISTEN/NOTIFY, no advisory locks, no session state); on
//! SQLite the same statement without `SKIP LOCKED`, serialised by the single writer.

use std::time::Duration;

use async_trait::async_trait;
use ferrodon_domain::model::{Job, NewJob, Queue, QueueStats};
use ferrodon_domain::ports::{JobQueue, JobStore};
use ferrodon_kernel::{Id, Result, time::Millis};

use crate::SqlDatabase;
use crate::sql::{Arg, Conn, SqlTx, args};

const JOB_COLS: &str = "id, queue, kind, payload, priority, status, run_at, attempts, max_attempts, locked_by, \
    locked_until, unique_key, last_error, created_at";

#[async_trait]
impl JobStore for SqlTx {
    async fn enqueue(&mut self, j: &NewJob) -> Result<bool> {
        let n = self
            .exec(
                "INSERT INTO jobs (id, queue, kind, payload, priority, status, run_at, max_attempts, unique_key, created_at) \
                 VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                args![
                    j.id,
                    j.queue.as_str(),
                    &j.kind,
                    &j.payload,
                    j.priority,
                    j.run_at,
                    j.max_attempts,
                    &j.unique_key,
                    j.created_at
                ],
            )
            .await?;
        if n == 1 {
            self.enqueued = true;
        }
        Ok(n == 1)
    }

    async fn enqueue_many(&mut self, jobs: &[NewJob]) -> Result<u64> {
        if jobs.is_empty() {
            return Ok(0);
        }
        let (sql, args): (&'static str, Vec<Arg>) = if let Conn::Sqlite(_) = self.conn {
            // One statement over a JSON array of rows: each statement is a trip to the SQLite
            // worker thread. (`WHERE true` keeps `ON CONFLICT` from reading as a join's `ON`.)
            let rows: Vec<serde_json::Value> = jobs
                .iter()
                .map(|j| {
                    serde_json::json!([
                        j.id.0,
                        j.queue.as_str(),
                        j.kind,
                        j.payload,
                        j.priority,
                        j.run_at,
                        j.max_attempts,
                        j.unique_key,
                        j.created_at
                    ])
                })
                .collect();
            (
                "INSERT INTO jobs (id, queue, kind, payload, priority, status, run_at, max_attempts, unique_key, created_at) \
                 SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, 'pending', value ->> 5, \
                 value ->> 6, value ->> 7, value ->> 8 FROM json_each($1) WHERE true ON CONFLICT DO NOTHING",
                args![serde_json::Value::Array(rows).to_string()],
            )
        } else {
            // PostgreSQL: the columns as arrays.
            let ints = |f: fn(&NewJob) -> i64| Arg::Ids(jobs.iter().map(f).collect());
            let texts = |f: fn(&NewJob) -> Option<String>| Arg::Texts(jobs.iter().map(f).collect());
            (
                "INSERT INTO jobs (id, queue, kind, payload, priority, status, run_at, max_attempts, unique_key, created_at) \
                 SELECT id, queue, kind, payload, priority, 'pending', run_at, max_attempts, unique_key, created_at \
                 FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], \
                 $8::text[], $9::bigint[]) AS t(id, queue, kind, payload, priority, run_at, max_attempts, unique_key, created_at) \
                 ON CONFLICT DO NOTHING",
                vec![
                    ints(|j| j.id.0),
                    texts(|j| Some(j.queue.as_str().to_string())),
                    texts(|j| Some(j.kind.clone())),
                    texts(|j| Some(j.payload.clone())),
                    ints(|j| j.priority),
                    ints(|j| j.run_at),
                    ints(|j| j.max_attempts),
                    texts(|j| j.unique_key.clone()),
                    ints(|j| j.created_at),
                ],
            )
        };
        // One statement, one round trip, whatever the number of jobs.
        let n = self.exec(sql, args).await?;
        if n > 0 {
            self.enqueued = true;
        }
        Ok(n)
    }

    async fn claim_slot(&mut self, name: &str, slot: Millis) -> Result<bool> {
        let n = self
            .exec("INSERT INTO recurring_slots (name, slot) VALUES ($1, $2) ON CONFLICT DO NOTHING", args![name, slot])
            .await?;
        Ok(n == 1)
    }

    async fn complete_job(&mut self, worker: &str, job: &Job) -> Result<bool> {
        let n = self
            .exec(
                "DELETE FROM jobs WHERE id = $1 AND status = 'running' AND locked_by = $2 AND attempts = $3",
                args![job.id, worker, job.attempts],
            )
            .await?;
        Ok(n == 1)
    }

    async fn record_ping(&mut self, token: &str, job: &Job, now: Millis) -> Result<()> {
        self.exec(
            "INSERT INTO job_pings (token, job_id, attempt, completed_at) VALUES ($1, $2, $3, $4)",
            args![token, job.id, job.attempts, now],
        )
        .await?;
        Ok(())
    }

    async fn pings(&mut self, token: &str) -> Result<Vec<i64>> {
        let rows: Vec<(i64,)> =
            self.all("SELECT attempt FROM job_pings WHERE token = $1 ORDER BY attempt", args![token]).await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    async fn prune_expired(&mut self, now: Millis) -> Result<u64> {
        let mut n = self
            .exec(
                "DELETE FROM oauth_access_grants WHERE used_at IS NOT NULL OR expires_at < $1",
                args![now - 86_400_000],
            )
            .await?;
        n += self.exec("DELETE FROM idempotency_keys WHERE created_at < $1", args![now - 3_600_000]).await?;
        n += self
            .exec(
                "DELETE FROM relations WHERE kind = 'mute' AND expires_at IS NOT NULL AND expires_at < $1",
                args![now],
            )
            .await?;
        Ok(n)
    }
}

impl SqlDatabase {
    async fn write_tx(&self) -> Result<SqlTx> {
        self.begin(true).await
    }

    /// True at most once a second per queue (per process): time to look for expired leases.
    fn reap_due(&self, queue: Queue, now: Millis) -> bool {
        use std::sync::atomic::Ordering;
        let index = Queue::ALL.iter().position(|q| *q == queue).unwrap_or(0);
        let last = &self.last_reap[index];
        let previous = last.load(Ordering::Relaxed);
        // A caller with an explicit `now` far from the clock (tests) is never throttled.
        if (now - previous).abs() < 1000 && (now - ferrodon_kernel::time::now_ms()).abs() < 1000 {
            return false;
        }
        last.compare_exchange(previous, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }
}

#[async_trait]
impl JobQueue for SqlDatabase {
    async fn claim(
        &self,
        queue: Queue,
        worker: &str,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> Result<Vec<Job>> {
        self.claim_from(&[queue], worker, now, lease_until, limit).await
    }

    /// One write transaction for all the queues (on SQLite a claim takes the write lock: one
    /// per queue was most of the cost of a worker polling several queues).
    async fn claim_from(
        &self,
        queues: &[Queue],
        worker: &str,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> Result<Vec<Job>> {
        let mut tx = self.write_tx().await?;
        let skip_locked = match tx.conn {
            Conn::Postgres(_) => " FOR UPDATE SKIP LOCKED",
            Conn::Sqlite(_) => "",
        };
        let sql = format!(
            "UPDATE jobs SET status = 'running', locked_by = $2, locked_until = $4, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM jobs WHERE queue = $1 AND status = 'pending' AND run_at <= $3 \
             ORDER BY priority DESC, run_at, id LIMIT $5{skip_locked}) RETURNING {JOB_COLS}"
        );
        // Which of the queues have a job to run: one cheap statement (each EXISTS stops at the
        // first row of the index), so that empty queues cost no claim.
        let mut ready: Vec<Queue> = queues.to_vec();
        if queues.len() > 1 {
            let probe: Vec<String> = (0..queues.len())
                .map(|i| {
                    format!(
                        "SELECT {i} AS q WHERE EXISTS (SELECT 1 FROM jobs WHERE queue = ${} AND status = 'pending' AND run_at <= $1)",
                        i + 2
                    )
                })
                .collect();
            let mut probe_args = args![now];
            probe_args.extend(queues.iter().map(|q| q.as_str().into()));
            let found: Vec<(i32,)> = tx.all(probe.join(" UNION ALL "), probe_args).await?;
            let found: std::collections::HashSet<usize> = found.into_iter().map(|(i,)| i as usize).collect();
            ready = queues.iter().enumerate().filter(|(i, _)| found.contains(i)).map(|(_, q)| *q).collect();
        }
        let mut claimed: Vec<Job> = Vec::new();
        for &queue in queues {
            if claimed.len() >= limit as usize {
                break;
            }
            // Crash recovery first: a running job whose lease ran out lost its worker. It goes
            // back to pending (its attempt counted), or to the dead set when that was its last
            // attempt. Leases are long (a minute by default): looking once a second per queue
            // is plenty.
            if self.reap_due(queue, now) {
                tx.exec(
                    "UPDATE jobs SET status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'pending' END, \
                     locked_by = NULL, locked_until = NULL, run_at = $2, last_error = 'worker lost (lease expired)' \
                     WHERE queue = $1 AND status = 'running' AND locked_until < $2",
                    args![queue.as_str(), now],
                )
                .await?;
            }
            if !ready.contains(&queue) {
                continue;
            }
            let want = (limit as usize - claimed.len()) as i64;
            let mut jobs: Vec<Job> = tx.all(sql.clone(), args![queue.as_str(), worker, now, lease_until, want]).await?;
            jobs.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.run_at.cmp(&b.run_at)).then(a.id.cmp(&b.id)));
            claimed.extend(jobs);
        }
        tx.commit_inner().await?;
        Ok(claimed)
    }

    async fn heartbeat(&self, worker: &str, ids: &[Id], lease_until: Millis) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        let sql = format!(
            "UPDATE jobs SET locked_until = $2 WHERE status = 'running' AND locked_by = $1 AND {}",
            tx.in_ids("id", 3)
        );
        tx.exec(sql, vec![worker.into(), lease_until.into(), ids.into()]).await?;
        tx.commit_inner().await
    }

    async fn complete_many(&self, worker: &str, jobs: &[Job]) -> Result<Vec<bool>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.write_tx().await?;
        // One statement for the whole group; an attempt is matched by (id, attempts) so a stale
        // completion never removes a newer attempt of the same job.
        let sql = format!(
            "DELETE FROM jobs WHERE status = 'running' AND locked_by = $1 AND {} RETURNING id",
            tx.in_pairs("id", "attempts", 2)
        );
        let ids = Arg::Ids(jobs.iter().map(|j| j.id.0).collect());
        let attempts = Arg::Ids(jobs.iter().map(|j| j.attempts).collect());
        let removed: Vec<(Id,)> = tx.all(sql, vec![worker.into(), ids, attempts]).await?;
        tx.commit_inner().await?;
        let removed: std::collections::HashSet<Id> = removed.into_iter().map(|(id,)| id).collect();
        Ok(jobs.iter().map(|j| removed.contains(&j.id)).collect())
    }

    async fn fail(&self, worker: &str, job: &Job, error: &str, retry_at: Option<Millis>) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let error: String = error.chars().take(4000).collect();
        let n = match retry_at {
            Some(at) => {
                tx.exec(
                    "UPDATE jobs SET status = 'pending', run_at = $4, locked_by = NULL, locked_until = NULL, last_error = $5 \
                     WHERE id = $1 AND status = 'running' AND locked_by = $2 AND attempts = $3",
                    args![job.id, worker, job.attempts, at, error],
                )
                .await?
            }
            None => {
                tx.exec(
                    "UPDATE jobs SET status = 'dead', locked_by = NULL, locked_until = NULL, last_error = $4 \
                     WHERE id = $1 AND status = 'running' AND locked_by = $2 AND attempts = $3",
                    args![job.id, worker, job.attempts, error],
                )
                .await?
            }
        };
        tx.commit_inner().await?;
        Ok(n == 1)
    }

    async fn release(&self, worker: &str, ids: &[Id], now: Millis) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        let sql = format!(
            "UPDATE jobs SET status = 'pending', attempts = attempts - 1, locked_by = NULL, locked_until = NULL, run_at = $2 \
             WHERE status = 'running' AND locked_by = $1 AND {}",
            tx.in_ids("id", 3)
        );
        tx.exec(sql, vec![worker.into(), now.into(), ids.into()]).await?;
        tx.enqueued = true;
        tx.commit_inner().await
    }

    async fn stats(&self, now: Millis) -> Result<Vec<QueueStats>> {
        let mut tx = self.begin(false).await?;
        let rows: Vec<(String, i64, i64, i64, i64, i64, Option<i64>)> = tx
            .all(
                "SELECT queue, \
                 CAST(SUM(CASE WHEN status = 'pending' AND run_at <= $1 THEN 1 ELSE 0 END) AS BIGINT), \
                 CAST(SUM(CASE WHEN status = 'running' THEN 1 ELSE 0 END) AS BIGINT), \
                 CAST(SUM(CASE WHEN status = 'pending' AND run_at > $1 AND attempts = 0 THEN 1 ELSE 0 END) AS BIGINT), \
                 CAST(SUM(CASE WHEN status = 'pending' AND run_at > $1 AND attempts > 0 THEN 1 ELSE 0 END) AS BIGINT), \
                 CAST(SUM(CASE WHEN status = 'dead' THEN 1 ELSE 0 END) AS BIGINT), \
                 MIN(CASE WHEN status = 'pending' AND run_at <= $1 THEN run_at END) \
                 FROM jobs GROUP BY queue",
                args![now],
            )
            .await?;
        Ok(Queue::ALL
            .iter()
            .map(|q| {
                let row = rows.iter().find(|r| r.0 == q.as_str());
                match row {
                    None => QueueStats { queue: q.as_str().into(), ..Default::default() },
                    Some(r) => QueueStats {
                        queue: r.0.clone(),
                        pending: r.1,
                        running: r.2,
                        scheduled: r.3,
                        retrying: r.4,
                        dead: r.5,
                        oldest_pending_age_ms: r.6.map(|t| (now - t).max(0)),
                    },
                }
            })
            .collect())
    }

    async fn dead(&self, limit: u32) -> Result<Vec<Job>> {
        let mut tx = self.begin(false).await?;
        tx.all(
            format!("SELECT {JOB_COLS} FROM jobs WHERE status = 'dead' ORDER BY id DESC LIMIT $1"),
            args![limit as i64],
        )
        .await
    }

    async fn retry_dead(&self, ids: Option<&[Id]>, now: Millis) -> Result<u64> {
        let mut tx = self.write_tx().await?;
        // A dead job whose unique key was taken again in the meantime stays dead, and of several
        // dead jobs sharing a key only the newest comes back.
        let base = "UPDATE jobs SET status = 'pending', run_at = $1, attempts = 0, locked_by = NULL, locked_until = NULL \
                    WHERE status = 'dead' AND (unique_key IS NULL OR (NOT EXISTS \
                    (SELECT 1 FROM jobs other WHERE other.unique_key = jobs.unique_key AND other.status <> 'dead') \
                    AND NOT EXISTS (SELECT 1 FROM jobs newer WHERE newer.unique_key = jobs.unique_key \
                    AND newer.status = 'dead' AND newer.id > jobs.id)))";
        let n = match ids {
            None => tx.exec(base, args![now]).await?,
            Some(ids) => {
                let sql = format!("{base} AND {}", tx.in_ids("id", 2));
                tx.exec(sql, vec![now.into(), ids.into()]).await?
            }
        };
        if n > 0 {
            tx.enqueued = true;
        }
        tx.commit_inner().await?;
        Ok(n)
    }

    async fn discard_dead(&self, ids: Option<&[Id]>) -> Result<u64> {
        let mut tx = self.write_tx().await?;
        let n = match ids {
            None => tx.exec("DELETE FROM jobs WHERE status = 'dead'", args![]).await?,
            Some(ids) => {
                let sql = format!("DELETE FROM jobs WHERE status = 'dead' AND {}", tx.in_ids("id", 1));
                tx.exec(sql, vec![ids.into()]).await?
            }
        };
        tx.commit_inner().await?;
        Ok(n)
    }

    async fn prune_slots(&self, before: Millis) -> Result<u64> {
        let mut tx = self.write_tx().await?;
        let n = tx.exec("DELETE FROM recurring_slots WHERE slot < $1", args![before]).await?;
        tx.commit_inner().await?;
        Ok(n)
    }

    async fn wait_for_jobs(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.jobs_signal.notified()).await;
    }
}
