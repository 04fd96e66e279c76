-- psaflow run store, version 2: the run queue that `psaflow worker` and `psaflow serve` share,
-- and request budgets shared by every worker. Portable SQL, as 0001.

-- One row per run that waits for a worker, is being executed, or waits for an approval.
-- `inputs` holds the run's inputs UNMASKED (a worker must be able to run a workflow with a
-- password input); the row is deleted when the run finishes, so secrets do not stay.
CREATE TABLE run_queue (
    run_id      TEXT PRIMARY KEY,
    inputs      TEXT NOT NULL,        -- JSON object, resolved, not masked
    connection  TEXT,                 -- connection name; NULL: the worker's default
    dry_run     INTEGER NOT NULL DEFAULT 0,
    parked      INTEGER NOT NULL DEFAULT 0, -- 1: waiting for approval, claimable once requeued
    lease_owner TEXT,                 -- the worker executing it; NULL: claimable
    lease_until BIGINT,               -- ms since the epoch; past it, the sweeper takes the run back
    lost_leases INTEGER NOT NULL DEFAULT 0,
    enqueued_at BIGINT NOT NULL
);
CREATE INDEX run_queue_claimable ON run_queue (enqueued_at) WHERE lease_owner IS NULL AND parked = 0;
CREATE INDEX run_queue_leases ON run_queue (lease_until) WHERE lease_owner IS NOT NULL;

-- One row per connection whose request budget is shared through the store: a sliding window
-- of send times, sized by AIMD like the in-process budget.
CREATE TABLE request_budgets (
    connection   TEXT PRIMARY KEY,
    allowed      INTEGER NOT NULL,    -- requests allowed per span now (halved on a 429)
    paused_until BIGINT NOT NULL,     -- no request before this (a 429's Retry-After)
    sent         TEXT NOT NULL        -- JSON list of send times (ms) within the last span
);
