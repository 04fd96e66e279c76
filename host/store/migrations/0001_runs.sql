-- psaflow run store, version 1.
--
-- Portable SQL: the same file runs on SQLite and PostgreSQL. Only TEXT, BIGINT and INTEGER
-- columns; ids are time-ordered text made by the application (no AUTOINCREMENT/SERIAL);
-- times are milliseconds since the Unix epoch; JSON is stored as TEXT. No foreign keys with
-- cascades: pruning deletes run data explicitly and must never reach the audit table.

CREATE TABLE runs (
    id              TEXT PRIMARY KEY,
    workflow        TEXT NOT NULL,   -- the workflow's `name`
    workflow_file   TEXT NOT NULL,   -- the path it was run from, for people
    workflow_hash   TEXT NOT NULL,   -- sha256 of workflow_source
    workflow_source TEXT NOT NULL,   -- the exact YAML run; a resume runs this, not the file
    inputs          TEXT NOT NULL,   -- JSON object, secret values replaced by "***"
    redacted_inputs TEXT NOT NULL,   -- JSON list of input names whose values were masked
    status          TEXT NOT NULL,   -- running | succeeded | failed | waiting_approval
    started_by      TEXT NOT NULL,   -- OS user, or an API token name
    backend         TEXT NOT NULL,   -- where requests went, e.g. "sandbox", "https://acme.halopsa.com/api"
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    finished_at     BIGINT,
    report          TEXT,            -- the last run report (run --json), redacted
    error           TEXT
);
CREATE INDEX runs_by_status ON runs (status, created_at);
CREATE INDEX runs_by_created ON runs (created_at);

-- One row per step that started.
CREATE TABLE steps (
    run_id      TEXT NOT NULL,
    step_id     TEXT NOT NULL,
    node        TEXT NOT NULL,
    status      TEXT NOT NULL,       -- running | succeeded | failed | skipped | waiting_approval
    item_count  BIGINT,              -- list length of a for_each step
    error       TEXT,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    PRIMARY KEY (run_id, step_id)
);

-- One row per finished call: a step without for_each (item_index = -1) or one for_each item.
-- A resume takes these instead of calling the node again.
CREATE TABLE items (
    run_id      TEXT NOT NULL,
    step_id     TEXT NOT NULL,
    item_index  BIGINT NOT NULL,     -- -1 for a step without for_each
    status      TEXT NOT NULL,       -- succeeded | failed
    envelope    TEXT,                -- JSON, redacted
    params      TEXT,                -- JSON parameters sent, redacted
    error       TEXT,
    attempts    INTEGER NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    PRIMARY KEY (run_id, step_id, item_index)
);

-- The journal: one row per attempt. For a node that changes something, the row is committed
-- (outcome NULL: the intent) before the request is sent, and completed after.
CREATE TABLE attempts (
    run_id      TEXT NOT NULL,
    step_id     TEXT NOT NULL,
    item_index  BIGINT NOT NULL,
    attempt     INTEGER NOT NULL,
    node        TEXT NOT NULL,
    effect      TEXT NOT NULL,       -- read | create | update | deactivate | delete
    params      TEXT NOT NULL,       -- JSON, redacted
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    outcome     TEXT,                -- NULL while in flight; succeeded | failed | unknown
    status_code INTEGER,
    envelope    TEXT,
    error       TEXT,
    target      TEXT,                -- id of the record changed, when known
    recovered   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, step_id, item_index, attempt)
);

CREATE TABLE approvals (
    run_id       TEXT NOT NULL,
    step_id      TEXT NOT NULL,
    message      TEXT NOT NULL,
    approvers    TEXT NOT NULL,      -- JSON list of names; empty = anyone
    on_timeout   TEXT NOT NULL,      -- approved | rejected: the decision taken at expires_at
    requested_at BIGINT NOT NULL,
    expires_at   BIGINT,
    decision     TEXT,               -- NULL while waiting; approved | rejected
    decided_by   TEXT,
    comment      TEXT,
    decided_at   BIGINT,
    PRIMARY KEY (run_id, step_id)
);

-- Every change psaflow made, and every approval decision. Append-only: nothing updates or
-- deletes these rows (runs prune leaves them alone).
CREATE TABLE audit (
    id          TEXT PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    step_id     TEXT NOT NULL,
    item_index  BIGINT NOT NULL,
    node        TEXT NOT NULL,
    effect      TEXT NOT NULL,       -- create | update | deactivate | delete | approve | reject
    target      TEXT,
    outcome     TEXT NOT NULL,
    approved_by TEXT,
    detail      TEXT
);
CREATE INDEX audit_by_time ON audit (at);
CREATE INDEX audit_by_target ON audit (target);
