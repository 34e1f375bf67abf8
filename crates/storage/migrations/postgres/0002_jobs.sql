-- The durable job queue (Mastodon's Sidekiq queues) and the slots of recurring jobs.

CREATE TABLE jobs (
    id BIGINT PRIMARY KEY,
    queue TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    priority BIGINT NOT NULL DEFAULT 0,
    -- pending | running | dead
    status TEXT NOT NULL,
    run_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    locked_by TEXT,
    locked_until BIGINT,
    unique_key TEXT,
    last_error TEXT,
    created_at BIGINT NOT NULL
);
-- Claiming: the ready jobs of a queue, highest priority then oldest first.
CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at) WHERE status = 'pending';
-- Crash recovery: running jobs whose lease ran out.
CREATE INDEX jobs_leases ON jobs (queue, locked_until) WHERE status = 'running';
-- Unique jobs: one pending or running job per key.
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key) WHERE unique_key IS NOT NULL AND status <> 'dead';

CREATE TABLE recurring_slots (
    name TEXT NOT NULL,
    slot BIGINT NOT NULL,
    PRIMARY KEY (name, slot)
);

-- The diagnostic `Ping` job writes here, in the transaction that completes it.
CREATE TABLE job_pings (
    token TEXT NOT NULL,
    job_id BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    completed_at BIGINT NOT NULL
);
CREATE INDEX job_pings_token ON job_pings (token);
