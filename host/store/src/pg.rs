//! The PostgreSQL backend, for several workers (on several machines) sharing one store:
//! the same trait, tables and migration files as SQLite (`migrations/`).
//!
//! - Connections come from a small pool (idle ones kept, one opened when none is idle).
//! - The `postgres` client is synchronous and runs its own small runtime, which tokio does
//!   not allow inside a runtime thread; so when called from inside one (an async command
//!   calling the store directly), the call is made on a short-lived plain thread.
//! - Migrations take an advisory lock: workers starting together migrate once.
//! - Queue changes that make work claimable send `NOTIFY psaflow_run_queue`, which
//!   [`RunStore::wait_for_work`] listens for (see `postgres_queue.rs`).
use crate::api::{NewToken, Submission, TokenRecord};
use crate::migrations::{MIGRATIONS, latest};
use crate::model::*;
use crate::sqlite::{AUDIT_COLUMNS, RUN_COLUMNS, corrupt, finish_run, glob_to_like, parse_json};
use crate::store::{RunStore, StoreError, StoreResult, refuse_if_over};
use postgres::{Client, GenericClient, NoTls, Row};
use serde_json::Value;
use std::sync::Mutex;
use std::time::Duration;

/// Idle connections kept for reuse.
const MAX_IDLE: usize = 16;
/// Lock id for migrations (any constant shared by every psaflow).
const MIGRATION_LOCK: i64 = 0x0070_7361_666c_6f77;
/// The channel queue changes are announced on.
pub(crate) const QUEUE_CHANNEL: &str = "psaflow_run_queue";

/// The run store in a PostgreSQL database: for several workers on several machines sharing
/// one queue. Keeps a small pool of idle connections.
pub struct PostgresStore {
    config: postgres::Config,
    idle: Mutex<Vec<Client>>,
    /// The connection that LISTENs for queue announcements, opened on first wait.
    pub(crate) listener: Mutex<Option<Client>>,
    location: String,
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        // The database's own message ("db error: ERROR: ...") says what is wrong.
        let detail = e
            .as_db_error()
            .map(|db| format!("{}: {}", db.severity(), db.message()))
            .unwrap_or_else(|| e.to_string());
        StoreError::Backend(format!("PostgreSQL: {detail}"))
    }
}

/// Runs `f` where the synchronous client may block: here, or on a plain thread when the
/// caller is a tokio runtime thread.
pub(crate) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(f)
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    } else {
        f()
    }
}

/// `postgres://user@host:port/db` without the password, for people.
fn describe(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or(""),
        config.get_dbname().unwrap_or("")
    )
}

/// Why a connection failed, in the server's words when it answered (`database "x" does not
/// exist`, `password authentication failed for user "u"`), else the underlying cause
/// (`Connection refused`): the error's own text is only its kind ("db error"). Neither
/// carries the password, which the server never echoes.
fn connect_reason(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !reason.contains(&text) {
            reason.push_str(": ");
            reason.push_str(&text);
        }
        source = cause.source();
    }
    reason
}

/// True for URLs this backend opens.
pub fn is_postgres_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and brings the
    /// schema up to date. The password never appears in errors or in [`RunStore::location`].
    pub fn connect(url: &str) -> StoreResult<PostgresStore> {
        let mut config: postgres::Config = url.parse().map_err(|e| {
            StoreError::Backend(format!(
                "the PostgreSQL URL is not valid ({e}); write postgres://user:password@host:port/database"
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("psaflow");
        }
        let location = describe(&config);
        let store = PostgresStore {
            config,
            idle: Mutex::new(Vec::new()),
            listener: Mutex::new(None),
            location,
        };
        store.migrate()?;
        Ok(store)
    }

    pub(crate) fn open_client(&self) -> StoreResult<Client> {
        self.config.connect(NoTls).map_err(|e| {
            StoreError::Backend(format!(
                "cannot connect to the run store at {}: {}",
                self.location,
                connect_reason(&e)
            ))
        })
    }

    /// Runs `f` with a pooled connection (see the module documentation).
    pub(crate) fn with<T: Send>(
        &self,
        f: impl FnOnce(&mut Client) -> StoreResult<T> + Send,
    ) -> StoreResult<T> {
        off_runtime(|| {
            let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let mut client = match pooled {
                Some(c) if !c.is_closed() => c,
                _ => self.open_client()?,
            };
            let result = f(&mut client);
            if !client.is_closed() {
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                if idle.len() < MAX_IDLE {
                    idle.push(client);
                }
            }
            result
        })
    }

    /// Runs `f` in a transaction, committed when it returns `Ok`.
    pub(crate) fn tx<T: Send>(
        &self,
        f: impl FnOnce(&mut postgres::Transaction<'_>) -> StoreResult<T> + Send,
    ) -> StoreResult<T> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let out = f(&mut tx)?;
            tx.commit()?;
            Ok(out)
        })
    }

    fn migrate(&self) -> StoreResult<()> {
        let location = self.location.clone();
        self.tx(|tx| {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
            )?;
            let current: i64 = tx
                .query_one("SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations", &[])?
                .get(0);
            if current > latest() {
                return Err(StoreError::NewerSchema {
                    path: location,
                    found: current,
                    known: latest(),
                });
            }
            // Each version not yet applied, in order (as SQLite: numbers may land out of order).
            let applied: Vec<i64> = tx
                .query("SELECT version FROM schema_migrations", &[])?
                .iter()
                .map(|r| r.get(0))
                .collect();
            for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| !applied.contains(v)) {
                tx.batch_execute(sql)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                    &[version, &crate::now_ms()],
                )?;
            }
            Ok(())
        })
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // Closing a connection blocks on the client's own runtime: not on a tokio thread.
        let idle = std::mem::take(self.idle.get_mut().unwrap_or_else(|e| e.into_inner()));
        let listener = self
            .listener
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        off_runtime(move || drop((idle, listener)));
    }
}

/// A u32 count as PostgreSQL's INTEGER (signed); saturates, never wraps.
pub(crate) fn i32_of(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A stored INTEGER count back as a u32; a negative value (never written) reads as 0.
fn u32_of(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

fn run_from_row(r: &Row) -> (RunRecord, String, String, String, Option<String>) {
    (
        RunRecord {
            id: r.get(0),
            workflow: r.get(1),
            workflow_file: r.get(2),
            workflow_hash: r.get(3),
            workflow_source: r.get(4),
            inputs: Value::Null,
            redacted_inputs: Vec::new(),
            status: RunState::Running,
            started_by: r.get(8),
            backend: r.get(9),
            created_at: r.get(10),
            updated_at: r.get(11),
            finished_at: r.get(12),
            report: None,
            error: r.get(14),
        },
        r.get(5),
        r.get(6),
        r.get(7),
        r.get(13),
    )
}

pub(crate) fn insert_run(
    c: &mut impl GenericClient,
    run: &NewRun,
    status: RunState,
) -> StoreResult<()> {
    let redacted = serde_json::to_string(&run.redacted_inputs).expect("list of text");
    let inserted = c.execute(
        &format!("INSERT INTO runs ({RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, NULL, NULL, NULL) ON CONFLICT (id) DO NOTHING"),
        &[
            &run.id,
            &run.workflow,
            &run.workflow_file,
            &run.workflow_hash,
            &run.workflow_source,
            &run.inputs.to_string(),
            &redacted,
            &status.as_str(),
            &run.started_by,
            &run.backend,
            &run.created_at,
        ],
    )?;
    if inserted == 0 {
        return Err(StoreError::Duplicate(format!("run {}", run.id)));
    }
    Ok(())
}

fn insert_audit(c: &mut impl GenericClient, e: &AuditEntry) -> StoreResult<()> {
    c.execute(
        &format!("INSERT INTO audit ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"),
        &[
            &e.id,
            &e.at,
            &e.actor,
            &e.run_id,
            &e.step_id,
            &e.item.map_or(-1, i64::from),
            &e.node,
            &e.effect,
            &e.target,
            &e.outcome,
            &e.approved_by,
            &e.detail.as_ref().map(Value::to_string),
        ],
    )?;
    Ok(())
}

fn insert_intent(c: &mut impl GenericClient, i: &Intent) -> StoreResult<()> {
    let inserted = c.execute(
        "INSERT INTO attempts (run_id, step_id, item_index, attempt, node, effect, params, started_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (run_id, step_id, item_index, attempt) DO NOTHING",
        &[
            &i.key.run_id,
            &i.key.step_id,
            &i.key.item_column(),
            &i32_of(i.attempt),
            &i.node,
            &i.effect.as_str(),
            &i.params.to_string(),
            &i.at,
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
    c: &mut impl GenericClient,
    key: &CallKey,
    attempt: u32,
    res: &AttemptResult,
) -> StoreResult<()> {
    let changed = c.execute(
        "UPDATE attempts SET finished_at = $5, outcome = $6, status_code = $7, envelope = $8, \
         error = $9, target = $10, recovered = $11 \
         WHERE run_id = $1 AND step_id = $2 AND item_index = $3 AND attempt = $4",
        &[
            &key.run_id,
            &key.step_id,
            &key.item_column(),
            &i32_of(attempt),
            &res.at,
            &res.outcome.as_str(),
            &i32::try_from(res.status_code)
                .unwrap_or(if res.status_code < 0 { i32::MIN } else { i32::MAX }),
            &res.envelope.to_string(),
            &res.error,
            &res.target,
            &i32::from(res.recovered),
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
    c: &mut impl GenericClient,
    run_id: &str,
    step_id: Option<&str>,
    lock: bool,
) -> StoreResult<Vec<ApprovalRecord>> {
    let rows = c.query(
        &format!(
            "SELECT run_id, step_id, message, approvers, on_timeout, requested_at, expires_at, \
             decision, decided_by, comment, decided_at FROM approvals \
             WHERE run_id = $1 AND ($2::TEXT IS NULL OR step_id = $2) ORDER BY requested_at, step_id{}",
            if lock { " FOR UPDATE" } else { "" }
        ),
        &[&run_id, &step_id],
    )?;
    rows.iter()
        .map(|r| {
            let requested_at: i64 = r.get(5);
            let decision: Option<String> = r.get(7);
            let decided = match decision {
                None => None,
                Some(d) => Some(DecisionRecord {
                    decision: Decision::parse(&d).ok_or_else(|| corrupt("decision", &d))?,
                    by: r.get::<_, Option<String>>(8).unwrap_or_default(),
                    comment: r.get(9),
                    at: r.get::<_, Option<i64>>(10).unwrap_or(requested_at),
                }),
            };
            let approvers: String = r.get(3);
            let on_timeout: String = r.get(4);
            Ok(ApprovalRecord {
                request: ApprovalRequest {
                    run_id: r.get(0),
                    step_id: r.get(1),
                    message: r.get(2),
                    approvers: serde_json::from_str(&approvers)
                        .map_err(|e| StoreError::Corrupt(format!("approvers: {e}")))?,
                    on_timeout: Decision::parse(&on_timeout)
                        .ok_or_else(|| corrupt("on_timeout", &on_timeout))?,
                    requested_at,
                    expires_at: r.get(6),
                },
                decided,
            })
        })
        .collect()
}

impl RunStore for PostgresStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    fn create_run(&self, run: &NewRun) -> StoreResult<()> {
        self.with(|c| insert_run(c, run, RunState::Running))
    }

    fn run(&self, id: &str) -> StoreResult<Option<RunRecord>> {
        let row = self.with(|c| {
            Ok(c.query_opt(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"),
                &[&id],
            )?)
        })?;
        row.map(|r| finish_run(run_from_row(&r))).transpose()
    }

    fn list_runs(&self, filter: &RunFilter) -> StoreResult<Vec<RunRecord>> {
        let limit = i64::from(filter.limit.unwrap_or(u32::MAX));
        let status = filter.status.map(RunState::as_str);
        let rows = self.with(|c| {
            Ok(c.query(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE ($1::TEXT IS NULL OR status = $1) \
                     AND ($3::TEXT IS NULL OR workflow = $3) AND ($4::BIGINT IS NULL OR created_at >= $4) \
                     AND ($5::TEXT IS NULL OR created_at < (SELECT created_at FROM runs WHERE id = $5) \
                          OR (created_at = (SELECT created_at FROM runs WHERE id = $5) AND id < $5)) \
                     ORDER BY created_at DESC, id DESC LIMIT $2"
                ),
                &[
                    &status,
                    &limit,
                    &filter.workflow,
                    &filter.created_since,
                    &filter.before_id,
                ],
            )?)
        })?;
        rows.iter().map(|r| finish_run(run_from_row(r))).collect()
    }

    fn update_run(
        &self,
        id: &str,
        status: RunState,
        report: Option<&Value>,
        error: Option<&str>,
        at: i64,
    ) -> StoreResult<()> {
        let finished = status.is_finished().then_some(at);
        let report = report.map(Value::to_string);
        let changed = self.with(|c| {
            Ok(c.execute(
                "UPDATE runs SET status = $2, updated_at = $3, finished_at = $4, \
                 report = COALESCE($5, report), error = $6 WHERE id = $1",
                &[&id, &status.as_str(), &at, &finished, &report, &error],
            )?)
        })?;
        if changed == 0 {
            return Err(StoreError::RunNotFound(id.to_string()));
        }
        Ok(())
    }

    fn record_step(&self, s: &StepRecord) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO steps (run_id, step_id, node, status, item_count, error, started_at, finished_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (run_id, step_id) DO UPDATE SET node = excluded.node, status = excluded.status, \
                 item_count = excluded.item_count, error = excluded.error, finished_at = excluded.finished_at",
                &[
                    &s.run_id,
                    &s.step_id,
                    &s.node,
                    &s.status.as_str(),
                    &s.item_count.map(crate::count_to_db),
                    &s.error,
                    &s.started_at,
                    &s.finished_at,
                ],
            )?;
            Ok(())
        })
    }

    fn steps(&self, run_id: &str) -> StoreResult<Vec<StepRecord>> {
        let rows = self.with(|c| {
            Ok(c.query(
                "SELECT run_id, step_id, node, status, item_count, error, started_at, finished_at \
                 FROM steps WHERE run_id = $1 ORDER BY started_at, step_id",
                &[&run_id],
            )?)
        })?;
        rows.iter()
            .map(|r| {
                let status: String = r.get(3);
                Ok(StepRecord {
                    run_id: r.get(0),
                    step_id: r.get(1),
                    node: r.get(2),
                    status: StepState::parse(&status)
                        .ok_or_else(|| corrupt("step status", &status))?,
                    item_count: r.get::<_, Option<i64>>(4).map(crate::count_from_db),
                    error: r.get(5),
                    started_at: r.get(6),
                    finished_at: r.get(7),
                })
            })
            .collect()
    }

    fn record_call(&self, call: &CallRecord) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO items (run_id, step_id, item_index, status, envelope, params, error, attempts, started_at, finished_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (run_id, step_id, item_index) DO UPDATE SET status = excluded.status, \
                 envelope = excluded.envelope, params = excluded.params, error = excluded.error, \
                 attempts = excluded.attempts, finished_at = excluded.finished_at",
                &[
                    &call.key.run_id,
                    &call.key.step_id,
                    &call.key.item_column(),
                    &if call.succeeded { "succeeded" } else { "failed" },
                    &call.envelope.as_ref().map(Value::to_string),
                    &call.params.as_ref().map(Value::to_string),
                    &call.error,
                    &i32_of(call.attempts),
                    &call.started_at,
                    &call.finished_at,
                ],
            )?;
            Ok(())
        })
    }

    fn calls(&self, run_id: &str) -> StoreResult<Vec<CallRecord>> {
        let rows = self.with(|c| {
            Ok(c.query(
                "SELECT run_id, step_id, item_index, status, envelope, params, error, attempts, started_at, finished_at \
                 FROM items WHERE run_id = $1 ORDER BY step_id, item_index",
                &[&run_id],
            )?)
        })?;
        rows.iter()
            .map(|r| {
                Ok(CallRecord {
                    key: CallKey {
                        run_id: r.get(0),
                        step_id: r.get(1),
                        item: CallKey::item_from_column(r.get(2)),
                    },
                    succeeded: r.get::<_, String>(3) == "succeeded",
                    envelope: parse_json(r.get(4))?,
                    params: parse_json(r.get(5))?,
                    error: r.get(6),
                    attempts: u32_of(r.get(7)),
                    started_at: r.get(8),
                    finished_at: r.get(9),
                })
            })
            .collect()
    }

    fn record_intent(&self, intent: &Intent) -> StoreResult<()> {
        self.with(|c| insert_intent(c, intent))
    }

    fn record_result(
        &self,
        key: &CallKey,
        attempt: u32,
        result: &AttemptResult,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        self.tx(|tx| {
            update_result(tx, key, attempt, result)?;
            if let Some(entry) = audit {
                insert_audit(tx, entry)?;
            }
            Ok(())
        })
    }

    fn record_attempt(
        &self,
        intent: &Intent,
        result: &AttemptResult,
        audit: Option<&AuditEntry>,
    ) -> StoreResult<()> {
        self.tx(|tx| {
            insert_intent(tx, intent)?;
            update_result(tx, &intent.key, intent.attempt, result)?;
            if let Some(entry) = audit {
                insert_audit(tx, entry)?;
            }
            Ok(())
        })
    }

    fn attempts(&self, run_id: &str) -> StoreResult<Vec<AttemptRecord>> {
        let rows = self.with(|c| {
            Ok(c.query(
                "SELECT run_id, step_id, item_index, attempt, node, effect, params, started_at, finished_at, \
                 outcome, status_code, envelope, error, target, recovered \
                 FROM attempts WHERE run_id = $1 ORDER BY step_id, item_index, attempt",
                &[&run_id],
            )?)
        })?;
        rows.iter()
            .map(|r| {
                let effect: String = r.get(5);
                let started_at: i64 = r.get(7);
                let intent = Intent {
                    key: CallKey {
                        run_id: r.get(0),
                        step_id: r.get(1),
                        item: CallKey::item_from_column(r.get(2)),
                    },
                    attempt: u32_of(r.get(3)),
                    node: r.get(4),
                    effect: Effect::parse(&effect).ok_or_else(|| corrupt("effect", &effect))?,
                    params: parse_json(r.get(6))?.unwrap_or(Value::Null),
                    at: started_at,
                };
                let outcome: Option<String> = r.get(9);
                let result = match outcome {
                    None => None,
                    Some(outcome) => Some(AttemptResult {
                        outcome: Outcome::parse(&outcome)
                            .ok_or_else(|| corrupt("outcome", &outcome))?,
                        status_code: i64::from(r.get::<_, Option<i32>>(10).unwrap_or_default()),
                        envelope: parse_json(r.get(11))?.unwrap_or(Value::Null),
                        error: r.get(12),
                        target: r.get(13),
                        recovered: r.get::<_, i32>(14) != 0,
                        at: r.get::<_, Option<i64>>(8).unwrap_or(started_at),
                    }),
                };
                Ok(AttemptRecord { intent, result })
            })
            .collect()
    }

    fn request_approval(&self, a: &ApprovalRequest) -> StoreResult<()> {
        let approvers = serde_json::to_string(&a.approvers).expect("list of text");
        self.with(|c| {
            c.execute(
                "INSERT INTO approvals (run_id, step_id, message, approvers, on_timeout, requested_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_id, step_id) DO NOTHING",
                &[
                    &a.run_id,
                    &a.step_id,
                    &a.message,
                    &approvers,
                    &a.on_timeout.as_str(),
                    &a.requested_at,
                    &a.expires_at,
                ],
            )?;
            Ok(())
        })
    }

    fn approvals(&self, run_id: &str) -> StoreResult<Vec<ApprovalRecord>> {
        self.with(|c| approvals_of(c, run_id, None, false))
    }

    fn decide(
        &self,
        run_id: &str,
        step_id: &str,
        d: &DecisionRecord,
        audit: &AuditEntry,
    ) -> StoreResult<DecideOutcome> {
        self.tx(|tx| {
            // FOR SHARE on the run first (parent before child, as every other transaction
            // takes them): a cancel, which updates the run, waits for this decision or this
            // decision sees the run cancelled.
            let run = tx.query_opt(
                "SELECT status, error FROM runs WHERE id = $1 FOR SHARE",
                &[&run_id],
            )?;
            // FOR UPDATE: two deciders cannot both see "undecided".
            let existing = approvals_of(tx, run_id, Some(step_id), true)?;
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
            if let Some(run) = run {
                refuse_if_over(run_id, step_id, run.get(0), run.get(1))?;
            }
            tx.execute(
                "UPDATE approvals SET decision = $3, decided_by = $4, comment = $5, decided_at = $6 \
                 WHERE run_id = $1 AND step_id = $2",
                &[&run_id, &step_id, &d.decision.as_str(), &d.by, &d.comment, &d.at],
            )?;
            insert_audit(tx, audit)?;
            Ok(DecideOutcome::Recorded)
        })
    }

    fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        self.with(|c| insert_audit(c, entry))
    }

    fn audit(&self, f: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let glob = f.node_glob.as_deref().map(glob_to_like);
        let rows = self.with(|c| {
            Ok(c.query(
                &format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit WHERE ($1::BIGINT IS NULL OR at >= $1) \
                     AND ($2::TEXT IS NULL OR node LIKE $2 ESCAPE '\\') AND ($3::TEXT IS NULL OR target = $3) \
                     AND ($4::TEXT IS NULL OR run_id = $4) ORDER BY at, id"
                ),
                &[&f.since, &glob, &f.target, &f.run_id],
            )?)
        })?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.get(0),
                    at: r.get(1),
                    actor: r.get(2),
                    run_id: r.get(3),
                    step_id: r.get(4),
                    item: CallKey::item_from_column(r.get(5)),
                    node: r.get(6),
                    effect: r.get(7),
                    target: r.get(8),
                    outcome: r.get(9),
                    approved_by: r.get(10),
                    detail: parse_json(r.get(11))?,
                })
            })
            .collect()
    }

    fn enqueue(&self, run: &NewRun, work: &QueuedWork) -> StoreResult<()> {
        crate::pg_queue::enqueue(self, run, work)
    }

    fn requeue(&self, run_id: &str, work: Option<&QueuedWork>, at: i64) -> StoreResult<()> {
        crate::pg_queue::requeue(self, run_id, work, at)
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

    fn claim(&self, worker: &str, lease_ms: i64, now: i64) -> StoreResult<Option<QueuedWork>> {
        crate::pg_queue::claim(self, worker, lease_ms, now)
    }

    fn renew_lease(&self, run_id: &str, worker: &str, until: i64) -> StoreResult<bool> {
        crate::pg_queue::renew_lease(self, run_id, worker, until)
    }

    fn finish(&self, run_id: &str, worker: &str, end: &RunEnd) -> StoreResult<bool> {
        crate::pg_queue::finish(self, run_id, worker, end)
    }

    fn release(&self, run_id: &str, worker: &str, at: i64) -> StoreResult<bool> {
        crate::pg_queue::release(self, run_id, worker, at)
    }

    fn sweep_expired(&self, now: i64, max_lost_leases: u32) -> StoreResult<Sweep> {
        crate::pg_queue::sweep_expired(self, now, max_lost_leases)
    }

    fn queue_entries(&self) -> StoreResult<Vec<QueueEntry>> {
        crate::pg_queue::queue_entries(self)
    }

    fn parked_runs_with_expired_approvals(&self, now: i64) -> StoreResult<Vec<String>> {
        crate::pg_queue::parked_runs_with_expired_approvals(self, now)
    }

    fn wait_for_work(&self, timeout: Duration) -> StoreResult<()> {
        crate::pg_queue::wait_for_work(self, timeout)
    }

    fn take_request_slot(&self, connection: &str, limit: SharedLimit) -> StoreResult<SlotAnswer> {
        crate::pg_queue::with_budget(self, connection, limit, |row, now| {
            crate::budget::take(row, limit, now)
        })
    }

    fn budget_throttled(
        &self,
        connection: &str,
        limit: SharedLimit,
        pause_ms: i64,
    ) -> StoreResult<()> {
        crate::pg_queue::with_budget(self, connection, limit, |row, now| {
            crate::budget::throttled(row, pause_ms, now)
        })
    }

    fn budget_succeeded(&self, connection: &str, limit: SharedLimit) -> StoreResult<()> {
        crate::pg_queue::with_budget(self, connection, limit, |row, _| {
            crate::budget::succeeded(row, limit)
        })
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

    fn prune(&self, before: i64) -> StoreResult<PruneCounts> {
        self.tx(|tx| {
            let old =
                "SELECT id FROM runs WHERE created_at < $1 AND status IN ('succeeded', 'failed')";
            let mut counts = PruneCounts::default();
            for (table, slot) in [
                ("steps", &mut counts.steps),
                ("items", &mut counts.items),
                ("attempts", &mut counts.attempts),
                ("approvals", &mut counts.approvals),
            ] {
                *slot = tx.execute(
                    &format!("DELETE FROM {table} WHERE run_id IN ({old})"),
                    &[&before],
                )?;
            }
            // A finished run's hold is a leftover of a process that died before letting go.
            tx.execute(
                &format!("DELETE FROM run_holds WHERE run_id IN ({old})"),
                &[&before],
            )?;
            counts.runs = tx.execute(
                "DELETE FROM runs WHERE created_at < $1 AND status IN ('succeeded', 'failed')",
                &[&before],
            )?;
            Ok(counts)
        })
    }
}
