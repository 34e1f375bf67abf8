-- The durable job queue (Mastodon's Sidekiq queues) and the slots of recurring jobs.

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    -- pending | running | dead
    status TEXT NOT NULL,
    run_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    locked_by TEXT,
    locked_until INTEGER,
    unique_key TEXT,
    last_error TEXT,
    created_at INTEGER NOT NULL
);
-- Claiming: the ready jobs of a queue, highest priority then oldest first.
CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at) WHERE status = 'pending';
-- Crash recovery: running jobs whose lease ran out.
CREATE INDEX jobs_leases ON jobs (queue, locked_until) WHERE status = 'running';
-- Unique jobs: one pending or running job per key.
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key) WHERE unique_key IS NOT NULL AND status <> 'dead';

CREATE TABLE recurring_slots (
    name TEXT NOT NULL,
    slot INTEGER NOT NULL,
    PRIMARY KEY (name, slot)
);

-- The diagnostic `Ping` job writes here, in the transaction that completes it.
CREATE TABLE job_pings (
    token TEXT NOT NULL,
    job_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    completed_at INTEGER NOT NULL
);
CREATE INDEX job_pings_token ON job_pings (token);
