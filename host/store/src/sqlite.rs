//! The default backend: one SQLite file in WAL mode (readers never wait for the writer),
//! `synchronous = FULL` (a committed intent survives a power cut, not only a killed process),
//! and a busy timeout so two psaflow processes sharing the file wait for each other instead
//! of failing.
mod api;
mod holds;

use crate::api::{NewToken, Submission, TokenRecord};
use crate::migrations::{MIGRATIONS, latest};
use crate::model::*;
use crate::sqlite_queue as queue;
use crate::store::{RunStore, StoreError, StoreResult, refuse_if_over};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// How long a writer waits for another process holding the write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The run store in one SQLite file: the default, for one machine (several processes may
/// share the file; SQLite's lock serialises writers).
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

impl SqliteStore {
    /// Opens (creating when needed) `<dir>/psaflow.db` and brings its schema up to date.
    pub fn open_dir(dir: &Path) -> StoreResult<SqliteStore> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Backend(format!(
                "cannot create the state directory {}: {e}",
                dir.display()
            ))
        })?;
        Self::open_file(&dir.join(crate::DEFAULT_FILE))
    }

    /// Opens (creating when needed) the database file at `path` and brings its schema up to date.
    pub fn open_file(path: &Path) -> StoreResult<SqliteStore> {
        let conn = Connection::open(path).map_err(|e| {
            StoreError::Backend(format!("cannot open the run store {}: {e}", path.display()))
        })?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let store = SqliteStore {
            conn: Mutex::new(conn),
            path: Some(path.to_path_buf()),
        };
        store.migrate()?;
        Ok(store)
    }

    /// A private database that disappears when dropped (tests).
    pub fn open_in_memory() -> StoreResult<SqliteStore> {
        let store = SqliteStore {
            conn: Mutex::new(Connection::open_in_memory()?),
            path: None,
        };
        store.migrate()?;
        Ok(store)
    }

    /// The file, when there is one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no half-done transaction behind (rusqlite
        // rolls back on drop), so the connection is still usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn migrate(&self) -> StoreResult<()> {
        let mut conn = self.lock();
        // IMMEDIATE: two processes opening a new file at once must not both migrate it.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )?;
        let current: i64 = tx.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )?;
        if current > latest() {
            return Err(StoreError::NewerSchema {
                path: self.location(),
                found: current,
                known: latest(),
            });
        }
        // Each version not yet applied, in order: branches that add migrations land in any
        // order, so a file that got a later number first still gets an earlier one afterwards.
        let applied: Vec<i64> = {
            let mut stmt = tx.prepare("SELECT version FROM schema_migrations")?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| !applied.contains(v)) {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                params![version, crate::now_ms()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

fn json_text(v: &Value) -> String {
    v.to_string()
}

pub(crate) fn parse_json(text: Option<String>) -> StoreResult<Option<Value>> {
    text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("JSON: {e}"))))
        .transpose()
}

pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

pub(crate) const RUN_COLUMNS: &str = "id, workflow, workflow_file, workflow_hash, workflow_source, inputs, \
    redacted_inputs, status, started_by, backend, created_at, updated_at, finished_at, report, error";

fn run_from_row(r: &Row) -> rusqlite::Result<(RunRecord, String, String, String, Option<String>)> {
    Ok((
        RunRecord {
            id: r.get(0)?,
            workflow: r.get(1)?,
            workflow_file: r.get(2)?,
            workflow_hash: r.get(3)?,
            workflow_source: r.get(4)?,
            inputs: Value::Null,
            redacted_inputs: Vec::new(),
            status: RunState::Running,
            started_by: r.get(8)?,
            backend: r.get(9)?,
            created_at: r.get(10)?,
            updated_at: r.get(11)?,
            finished_at: r.get(12)?,
            report: None,
            error: r.get(14)?,
        },
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(13)?,
    ))
}

pub(crate) fn finish_run(
    raw: (RunRecord, String, String, String, Option<String>),
) -> StoreResult<RunRecord> {
    let (mut run, inputs, redacted, status, report) = raw;
    run.inputs = parse_json(Some(inputs))?.unwrap_or(Value::Null);
    run.redacted_inputs = serde_json::from_str(&redacted)
        .map_err(|e| StoreError::Corrupt(format!("redacted_inputs: {e}")))?;
    run.status = RunState::parse(&status).ok_or_else(|| corrupt("run status", &status))?;
    run.report = parse_json(report)?;
    Ok(run)
}

pub(crate) const AUDIT_COLUMNS: &str = "id, at, actor, run_id, step_id, item_index, node, effect, target, outcome, approved_by, detail";

fn insert_audit(conn: &Connection, e: &AuditEntry) -> StoreResult<()> {
    conn.execute(
        &format!("INSERT INTO audit ({AUDIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
        params![
            e.id,
            e.at,
            e.actor,
            e.run_id,
            e.step_id,
            e.item.map_or(-1, i64::from),
            e.node,
            e.effect,
            e.target,
            e.outcome,
            e.approved_by,
            e.detail.as_ref().map(json_text),
        ],
    )?;
    Ok(())
}

/// `*` and `?` to LIKE's `%` and `_`, with LIKE's own wildcards escaped by `\`.
pub(crate) fn glob_to_like(glob: &str) -> String {
    let mut out = String::new();
    for c in glob.chars() {
        match c {
            '*' => out.push('%'),
            '?' => out.push('_'),
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

impl RunStore for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn location(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| "memory".to_string(), |p| p.display().to_string())
    }

    fn create_run(&self, run: &NewRun) -> StoreResult<()> {
        let conn = self.lock();
        insert_run(&conn, run, RunState::Running)
    }

    fn run(&self, id: &str) -> StoreResult<Option<RunRecord>> {
        let conn = self.lock();
        let raw = conn
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                params![id],
                run_from_row,
            )
            .optional()?;
        raw.map(finish_run).transpose()
    }

    fn list_runs(&self, filter: &RunFilter) -> StoreResult<Vec<RunRecord>> {
        let conn = self.lock();
        let limit = i64::from(filter.limit.unwrap_or(u32::MAX));
        let mut stmt = conn.prepare(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE (?1 IS NULL OR status = ?1) \
             AND (?3 IS NULL OR workflow = ?3) AND (?4 IS NULL OR created_at >= ?4) \
             AND (?5 IS NULL OR created_at < (SELECT created_at FROM runs WHERE id = ?5) \
                  OR (created_at = (SELECT created_at FROM runs WHERE id = ?5) AND id < ?5)) \
             ORDER BY created_at DESC, id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(
            params![
                filter.status.map(RunState::as_str),
                limit,
                filter.workflow,
                filter.created_since,
                filter.before_id
            ],
            run_from_row,
        )?;
        rows.map(|r| finish_run(r?)).collect()
    }

    fn update_run(
        &self,
        id: &str,
        status: RunState,
        report: Option<&Value>,
        error: Option<&str>,
        at: i64,
    ) -> StoreResult<()> {
        let conn = self.lock();
        let finished = status.is_finished().then_some(at);
        let changed = conn.execute(
            "UPDATE runs SET status = ?2, updated_at = ?3, finished_at = ?4, \
             report = COALESCE(?5, report), error = ?6 WHERE id = ?1",
            params![
                id,
                status.as_str(),
                at,
                finished,
                report.map(json_text),
                error
            ],
        )?;
        if changed == 0 {
            return Err(StoreError::RunNotFound(id.to_string()));
        }
        Ok(())
    }

    fn record_step(&self, s: &StepRecord) -> StoreResult<()> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO steps (run_id, step_id, node, status, item_count, error, started_at, finished_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (run_id, step_id) DO UPDATE SET node = excluded.node, status = excluded.status, \
             item_count = excluded.item_count, error = excluded.error, finished_at = excluded.finished_at",
            params![
                s.run_id,
                s.step_id,
                s.node,
                s.status.as_str(),
                s.item_count.map(crate::count_to_db),
                s.error,
                s.started_at,
                s.finished_at
            ],
        )?;
        Ok(())
    }

    fn steps(&self, run_id: &str) -> StoreResult<Vec<StepRecord>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT run_id, step_id, node, status, item_count, error, started_at, finished_at \
             FROM steps WHERE run_id = ?1 ORDER BY started_at, step_id",
        )?;
        let rows = stmt.query_map(params![run_id], |r| {
            Ok((
                StepRecord {
                    run_id: r.get(0)?,
                    step_id: r.get(1)?,
                    node: r.get(2)?,
                    status: StepState::Running,
                    item_count: r.get::<_, Option<i64>>(4)?.map(crate::count_from_db),
                    error: r.get(5)?,
                    started_at: r.get(6)?,
                    finished_at: r.get(7)?,
                },
                r.get::<_, String>(3)?,
            ))
        })?;
        rows.map(|r| {
            let (mut step, status) = r?;
            step.status =
                StepState::parse(&status).ok_or_else(|| corrupt("step status", &status))?;
            Ok(step)
        })
        .collect()
    }

    fn record_call(&self, c: &CallRecord) -> StoreResult<()> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO items (run_id, step_id, item_index, status, envelope, params, error, attempts, started_at, finished_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
             ON CONFLICT (run_id, step_id, item_index) DO UPDATE SET status = excluded.status, \
             envelope = excluded.envelope, params = excluded.params, error = excluded.error, \
             attempts = excluded.attempts, finished_at = excluded.finished_at",
            params![
                c.key.run_id,
                c.key.step_id,
                c.key.item_column(),
                if c.succeeded { "succeeded" } else { "failed" },
                c.envelope.as_ref().map(json_text),
                c.params.as_ref().map(json_text),
                c.error,
                c.attempts,
                c.started_at,
                c.finished_at
            ],
        )?;
        Ok(())
    }

    fn calls(&self, run_id: &str) -> StoreResult<Vec<CallRecord>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT run_id, step_id, item_index, status, envelope, params, error, attempts, started_at, finished_at \
             FROM items WHERE run_id = ?1 ORDER BY step_id, item_index",
        )?;
        let rows = stmt.query_map(params![run_id], |r| {
            Ok((
                CallKey {
                    run_id: r.get(0)?,
                    step_id: r.get(1)?,
                    item: CallKey::item_from_column(r.get(2)?),
                },
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, u32>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, i64>(9)?,
            ))
        })?;
        rows.map(|r| {
            let (key, status, envelope, params, error, attempts, started_at, finished_at) = r?;
            Ok(CallRecord {
                key,
                succeeded: status == "succeeded",
                envelope: parse_json(envelope)?,
                params: parse_json(params)?,
                error,
                attempts,
                started_at,
                finished_at,
            })
        })
        .collect()
    }

    fn record_intent(&self, i: &Intent) -> StoreResult<()> {
        let conn = self.lock();
        insert_intent(&conn, i)
    }

    fn record_attempt(
        &self,
        intent: &Intent,
        result: &AttemptResult,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        insert_intent(&tx, intent)?;
        update_result(&tx, &intent.key, intent.attempt, result)?;
        if let Some(entry) = audit {
            insert_audit(&tx, entry)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn record_result(
        &self,
        key: &CallKey,
        attempt: u32,
        res: &AttemptResult,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        update_result(&tx, key, attempt, res)?;
        if let Some(entry) = audit {
            insert_audit(&tx, entry)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn attempts(&self, run_id: &str) -> StoreResult<Vec<AttemptRecord>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT run_id, step_id, item_index, attempt, node, effect, params, started_at, finished_at, \
             outcome, status_code, envelope, error, target, recovered \
             FROM attempts WHERE run_id = ?1 ORDER BY step_id, item_index, attempt",
        )?;
        type Raw = (
            CallKey,
            u32,
            String,
            String,
            String,
            i64,
            Option<i64>,
            Option<String>,
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<String>,
            i64,
        );
        let rows = stmt.query_map(params![run_id], |r| -> rusqlite::Result<Raw> {
            Ok((
                CallKey {
                    run_id: r.get(0)?,
                    step_id: r.get(1)?,
                    item: CallKey::item_from_column(r.get(2)?),
                },
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
                r.get(10)?,
                r.get(11)?,
                r.get(12)?,
                r.get(13)?,
                r.get(14)?,
            ))
        })?;
        rows.map(|r| {
            let (
                key,
                attempt,
                node,
                effect,
                params,
                started_at,
                finished_at,
                outcome,
                status_code,
                envelope,
                error,
                target,
                recovered,
            ) = r?;
            let intent = Intent {
                key,
                attempt,
                node,
                effect: Effect::parse(&effect).ok_or_else(|| corrupt("effect", &effect))?,
                params: parse_json(Some(params))?.unwrap_or(Value::Null),
                at: started_at,
            };
            let result = match outcome {
                None => None,
                Some(outcome) => Some(AttemptResult {
                    outcome: Outcome::parse(&outcome)
                        .ok_or_else(|| corrupt("outcome", &outcome))?,
                    status_code: status_code.unwrap_or_default(),
                    envelope: parse_json(envelope)?.unwrap_or(Value::Null),
                    error,
                    target,
                    recovered: recovered != 0,
                    at: finished_at.unwrap_or(started_at),
                }),
            };
            Ok(AttemptRecord { intent, result })
        })
        .collect()
    }

    fn request_approval(&self, a: &ApprovalRequest) -> StoreResult<()> {
        let conn = self.lock();
        conn.execute(
            "INSERT INTO approvals (run_id, step_id, message, approvers, on_timeout, requested_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (run_id, step_id) DO NOTHING",
            params![
                a.run_id,
                a.step_id,
                a.message,
                serde_json::to_string(&a.approvers).expect("list of text"),
                a.on_timeout.as_str(),
                a.requested_at,
                a.expires_at
            ],
        )?;
        Ok(())
    }

    fn approvals(&self, run_id: &str) -> StoreResult<Vec<ApprovalRecord>> {
        let conn = self.lock();
        approvals_of(&conn, run_id, None)
    }

    fn decide(
        &self,
        run_id: &str,
        step_id: &str,
        d: &DecisionRecord,
        audit: &AuditEntry,
    ) -> StoreResult<DecideOutcome> {
        let mut conn = self.lock();
        // IMMEDIATE takes the write lock first, so two deciders cannot both see "undecided".
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let existing = approvals_of(&tx, run_id, Some(step_id))?;
        let Some(current) = existing.into_iter().next() else {
            return Err(StoreError::ApprovalNotFound {
                run_id: run_id.to_string(),
                step_id: step_id.to_string(),
            });
        };
        if let Some(done) = current.decided {
            return if done.decision == d.decision {
                Ok(DecideOutcome::AlreadyDecided(done))
            } else {
                Err(StoreError::ConflictingDecision {
                    run_id: run_id.to_string(),
                    step_id: step_id.to_string(),
                    existing: done,
                })
            };
        }
        let (status, reason): (String, Option<String>) = tx.query_row(
            "SELECT status, error FROM runs WHERE id = ?1",
            params![run_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        refuse_if_over(run_id, step_id, &status, reason)?;
        tx.execute(
            "UPDATE approvals SET decision = ?3, decided_by = ?4, comment = ?5, decided_at = ?6 \
             WHERE run_id = ?1 AND step_id = ?2",
            params![run_id, step_id, d.decision.as_str(), d.by, d.comment, d.at],
        )?;
        insert_audit(&tx, audit)?;
        tx.commit()?;
        Ok(DecideOutcome::Recorded)
    }

    fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let conn = self.lock();
        insert_audit(&conn, entry)
    }

    fn audit(&self, f: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit WHERE (?1 IS NULL OR at >= ?1) \
             AND (?2 IS NULL OR node LIKE ?2 ESCAPE '\\') AND (?3 IS NULL OR target = ?3) \
             AND (?4 IS NULL OR run_id = ?4) ORDER BY at, id"
        ))?;
        let rows = stmt.query_map(
            params![
                f.since,
                f.node_glob.as_deref().map(glob_to_like),
                f.target,
                f.run_id
            ],
            |r| {
                Ok((
                    AuditEntry {
                        id: r.get(0)?,
                        at: r.get(1)?,
                        actor: r.get(2)?,
                        run_id: r.get(3)?,
                        step_id: r.get(4)?,
                        item: CallKey::item_from_column(r.get(5)?),
                        node: r.get(6)?,
                        effect: r.get(7)?,
                        target: r.get(8)?,
                        outcome: r.get(9)?,
                        approved_by: r.get(10)?,
                        detail: None,
                    },
                    r.get::<_, Option<String>>(11)?,
                ))
            },
        )?;
        rows.map(|r| {
            let (mut entry, detail) = r?;
            entry.detail = parse_json(detail)?;
            Ok(entry)
        })
        .collect()
    }

    fn hold_run(
        &self,
        run_id: &str,
        holder: &str,
        until: i64,
        now: i64,
        take_over: Option<&str>,
    ) -> StoreResult<Option<RunHold>> {
        self.hold(run_id, holder, until, now, take_over)
    }

    fn let_go_of_run(&self, run_id: &str, holder: &str) -> StoreResult<()> {
        self.let_go(run_id, holder)
    }

    fn enqueue(&self, run: &NewRun, work: &QueuedWork) -> StoreResult<()> {
        queue::enqueue(&mut self.lock(), run, work)
    }

    fn requeue(&self, run_id: &str, work: Option<&QueuedWork>, at: i64) -> StoreResult<()> {
        queue::requeue(&mut self.lock(), run_id, work, at)
    }

    fn claim(&self, worker: &str, lease_ms: i64, now: i64) -> StoreResult<Option<QueuedWork>> {
        queue::claim(&mut self.lock(), worker, lease_ms, now)
    }

    fn renew_lease(&self, run_id: &str, worker: &str, until: i64) -> StoreResult<bool> {
        queue::renew_lease(&self.lock(), run_id, worker, until)
    }

    fn finish(&self, run_id: &str, worker: &str, end: &RunEnd) -> StoreResult<bool> {
        queue::finish(&mut self.lock(), run_id, worker, end)
    }

    fn release(&self, run_id: &str, worker: &str, at: i64) -> StoreResult<bool> {
        queue::release(&mut self.lock(), run_id, worker, at)
    }

    fn sweep_expired(&self, now: i64, max_lost_leases: u32) -> StoreResult<Sweep> {
        queue::sweep_expired(&mut self.lock(), now, max_lost_leases)
    }

    fn queue_entries(&self) -> StoreResult<Vec<QueueEntry>> {
        queue::queue_entries(&self.lock())
    }

    fn parked_runs_with_expired_approvals(&self, now: i64) -> StoreResult<Vec<String>> {
        queue::parked_runs_with_expired_approvals(&self.lock(), now)
    }

    fn create_token(&self, token: &NewToken) -> StoreResult<()> {
        self.insert_token(token)
    }

    fn tokens(&self) -> StoreResult<Vec<TokenRecord>> {
        self.select_tokens()
    }

    fn revoke_token(&self, name: &str, at: i64) -> StoreResult<bool> {
        self.set_token_revoked(name, at)
    }

    fn token_used(&self, name: &str, at: i64) -> StoreResult<()> {
        self.set_token_used(name, at)
    }

    fn remember_submission(&self, submission: &Submission) -> StoreResult<Submission> {
        self.insert_submission(submission)
    }

    fn submission(&self, key: &str) -> StoreResult<Option<Submission>> {
        self.select_submission(key)
    }

    fn cancel_run(&self, run_id: &str, error: &str, at: i64) -> StoreResult<bool> {
        self.cancel(run_id, error, at)
    }

    fn take_request_slot(&self, connection: &str, limit: SharedLimit) -> StoreResult<SlotAnswer> {
        queue::with_budget(&mut self.lock(), connection, limit, |row, now| {
            crate::budget::take(row, limit, now)
        })
    }

    fn budget_throttled(
        &self,
        connection: &str,
        limit: SharedLimit,
        pause_ms: i64,
    ) -> StoreResult<()> {
        queue::with_budget(&mut self.lock(), connection, limit, |row, now| {
            crate::budget::throttled(row, pause_ms, now)
        })
    }

    fn budget_succeeded(&self, connection: &str, limit: SharedLimit) -> StoreResult<()> {
        queue::with_budget(&mut self.lock(), connection, limit, |row, _| {
            crate::budget::succeeded(row, limit)
        })
    }

    fn prune(&self, before: i64) -> StoreResult<PruneCounts> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let old = "SELECT id FROM runs WHERE created_at < ?1 AND status IN ('succeeded', 'failed')";
        let mut counts = PruneCounts::default();
        for (table, slot) in [
            ("steps", &mut counts.steps),
            ("items", &mut counts.items),
            ("attempts", &mut counts.attempts),
            ("approvals", &mut counts.approvals),
        ] {
            *slot = tx.execute(
                &format!("DELETE FROM {table} WHERE run_id IN ({old})"),
                params![before],
            )? as u64;
        }
        // A finished run's hold is a leftover of a process that died before letting go.
        tx.execute(
            &format!("DELETE FROM run_holds WHERE run_id IN ({old})"),
            params![before],
        )?;
        counts.runs = tx.execute(
            "DELETE FROM runs WHERE created_at < ?1 AND status IN ('succeeded', 'failed')",
            params![before],
        )? as u64;
        tx.commit()?;
        Ok(counts)
    }
}

pub(crate) fn insert_run(conn: &Connection, run: &NewRun, status: RunState) -> StoreResult<()> {
    let redacted = serde_json::to_string(&run.redacted_inputs).expect("list of text");
    let inserted = conn.execute(
        &format!("INSERT INTO runs ({RUN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, NULL, NULL, NULL) ON CONFLICT (id) DO NOTHING"),
        params![
            run.id,
            run.workflow,
            run.workflow_file,
            run.workflow_hash,
            run.workflow_source,
            json_text(&run.inputs),
            redacted,
            status.as_str(),
            run.started_by,
            run.backend,
            run.created_at,
        ],
    )?;
    if inserted == 0 {
        return Err(StoreError::Duplicate(format!("run {}", run.id)));
    }
    Ok(())
}

fn insert_intent(conn: &Connection, i: &Intent) -> StoreResult<()> {
    let inserted = conn.execute(
        "INSERT INTO attempts (run_id, step_id, item_index, attempt, node, effect, params, started_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (run_id, step_id, item_index, attempt) DO NOTHING",
        params![
            i.key.run_id,
            i.key.step_id,
            i.key.item_column(),
            i.attempt,
            i.node,
            i.effect.as_str(),
            json_text(&i.params),
            i.at
        ],
    )?;
    if inserted == 0 {
        return Err(StoreError::Duplicate(format!(
            "attempt {} of {} in run {}",
            i.attempt, i.key, i.key.run_id
        )));
    }
    Ok(())
}

fn update_result(
    conn: &Connection,
    key: &CallKey,
    attempt: u32,
    res: &AttemptResult,
) -> StoreResult<()> {
    let changed = conn.execute(
        "UPDATE attempts SET finished_at = ?5, outcome = ?6, status_code = ?7, envelope = ?8, \
         error = ?9, target = ?10, recovered = ?11 \
         WHERE run_id = ?1 AND step_id = ?2 AND item_index = ?3 AND attempt = ?4",
        params![
            key.run_id,
            key.step_id,
            key.item_column(),
            attempt,
            res.at,
            res.outcome.as_str(),
            res.status_code,
            json_text(&res.envelope),
            res.error,
            res.target,
            i64::from(res.recovered)
        ],
    )?;
    if changed == 0 {
        return Err(StoreError::Backend(format!(
            "no intent recorded for attempt {attempt} of {key} in run {}",
            key.run_id
        )));
    }
    Ok(())
}

fn approvals_of(
    conn: &Connection,
    run_id: &str,
    step_id: Option<&str>,
) -> StoreResult<Vec<ApprovalRecord>> {
    let mut stmt = conn.prepare(
        "SELECT run_id, step_id, message, approvers, on_timeout, requested_at, expires_at, \
         decision, decided_by, comment, decided_at FROM approvals \
         WHERE run_id = ?1 AND (?2 IS NULL OR step_id = ?2) ORDER BY requested_at, step_id",
    )?;
    let rows = stmt.query_map(params![run_id, step_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, Option<i64>>(6)?,
            r.get::<_, Option<String>>(7)?,
            r.get::<_, Option<String>>(8)?,
            r.get::<_, Option<String>>(9)?,
            r.get::<_, Option<i64>>(10)?,
        ))
    })?;
    rows.map(|r| {
        let (
            run_id,
            step_id,
            message,
            approvers,
            on_timeout,
            requested_at,
            expires_at,
            decision,
            by,
            comment,
            at,
        ) = r?;
        let decided = match decision {
            None => None,
            Some(d) => Some(DecisionRecord {
                decision: Decision::parse(&d).ok_or_else(|| corrupt("decision", &d))?,
                by: by.unwrap_or_default(),
                comment,
                at: at.unwrap_or(requested_at),
            }),
        };
        Ok(ApprovalRecord {
            request: ApprovalRequest {
                run_id,
                step_id,
                message,
                approvers: serde_json::from_str(&approvers)
                    .map_err(|e| StoreError::Corrupt(format!("approvers: {e}")))?,
                on_timeout: Decision::parse(&on_timeout)
                    .ok_or_else(|| corrupt("on_timeout", &on_timeout))?,
                requested_at,
                expires_at,
            },
            decided,
        })
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_become_like_patterns() {
        assert_eq!(glob_to_like("halopsa.*.create"), "halopsa.%.create");
        assert_eq!(glob_to_like("a_b?%"), "a\\_b_\\%");
    }
}
