-- psaflow run store, version 3: what `psaflow serve` keeps besides runs.
-- (Version 2 is the run queue; versions are applied by number, each once.)

-- API tokens. Only the SHA-256 of a token is kept (hex); the token itself is shown once, when
-- it is created. The name is the identity in runs (started_by), approvals and audit rows.
CREATE TABLE api_tokens (
    name          TEXT PRIMARY KEY,
    token_sha256  TEXT NOT NULL,
    scopes        TEXT NOT NULL,     -- JSON list: run, invoke, approve, read, admin
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT,            -- set by `tokens revoke`; a revoked token is refused
    last_used_at  BIGINT
);

-- Idempotent submissions: `PUT /v1/runs/{id}` and `POST /v1/runs` with an Idempotency-Key.
-- The same key with the same body answers the run made the first time; another body is a 409.
CREATE TABLE api_submissions (
    key          TEXT PRIMARY KEY,   -- "put:<run id>" or "idempotency:<token name>:<key>"
    run_id       TEXT NOT NULL,
    body_sha256  TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
