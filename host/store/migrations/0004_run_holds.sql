-- psaflow run store, version 4: which process is executing a run started or resumed outside
-- the run queue (`psaflow run`, `run --resume`, `approve`). A second process that finds a
-- live hold refuses to resume the run: two executors of one journal would send its changes
-- twice. Queued runs are held by their queue lease instead (run_queue.lease_owner).
CREATE TABLE run_holds (
    run_id      TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,        -- the process: "host:pid:start", see psaflow's run_hold.rs
    held_until  BIGINT NOT NULL       -- ms since the epoch; renewed while the process runs
);
