-- Claims order by (priority DESC, run_at, id): with `id` in the index the database reads the
-- first rows in order instead of sorting every pending job of the queue on each claim.
DROP INDEX jobs_ready;
CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at, id) WHERE status = 'pending';
