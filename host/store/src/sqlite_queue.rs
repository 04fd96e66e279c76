//! The run queue on SQLite. One process at a time holds SQLite's write lock, so an
//! IMMEDIATE transaction (which takes it first) makes every queue change atomic across
//! processes sharing the file: two workers never claim the same run.
use crate::model::*;
use crate::store::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use serde_json::Value;

const QUEUE_COLUMNS: &str = "run_id, inputs, connection, dry_run, lost_leases, enqueued_at, lease_owner, lease_until, parked";

fn entry_from_row(r: &Row) -> rusqlite::Result<(QueueEntry, String)> {
    Ok((
        QueueEntry {
            work: QueuedWork {
                run_id: r.get(0)?,
                inputs: Value::Null,
                connection: r.get(2)?,
                dry_run: r.get::<_, i64>(3)? != 0,
                lost_leases: r.get(4)?,
                enqueued_at: r.get(5)?,
            },
            lease_owner: r.get(6)?,
            lease_until: r.get(7)?,
            parked: r.get::<_, i64>(8)? != 0,
        },
        r.get(1)?,
    ))
}

fn with_inputs(raw: (QueueEntry, String)) -> StoreResult<QueueEntry> {
    let (mut entry, inputs) = raw;
    entry.work.inputs = serde_json::from_str(&inputs)
        .map_err(|e| StoreError::Corrupt(format!("queued inputs of {}: {e}", entry.work.run_id)))?;
    Ok(entry)
}

fn run_status(conn: &Connection, run_id: &str) -> StoreResult<RunState> {
    let status: Option<String> = conn
        .query_row(
            "SELECT status FROM runs WHERE id = ?1",
            params![run_id],
            |r| r.get(0),
        )
        .optional()?;
    let status = status.ok_or_else(|| StoreError::RunNotFound(run_id.to_string()))?;
    RunState::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("run status {status:?}")))
}

fn set_status(conn: &Connection, run_id: &str, status: RunState, at: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE runs SET status = ?2, updated_at = ?3 WHERE id = ?1",
        params![run_id, status.as_str(), at],
    )?;
    Ok(())
}

fn upsert_work(conn: &Connection, work: &QueuedWork) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO run_queue (run_id, inputs, connection, dry_run, parked, lease_owner, lease_until, lost_leases, enqueued_at) \
         VALUES (?1, ?2, ?3, ?4, 0, NULL, NULL, ?5, ?6) \
         ON CONFLICT (run_id) DO UPDATE SET inputs = excluded.inputs, connection = excluded.connection, \
         dry_run = excluded.dry_run, parked = 0, lease_owner = NULL, lease_until = NULL, \
         enqueued_at = excluded.enqueued_at",
        params![
            work.run_id,
            work.inputs.to_string(),
            work.connection,
            i64::from(work.dry_run),
            work.lost_leases,
            work.enqueued_at
        ],
    )?;
    Ok(())
}

pub(crate) fn enqueue(conn: &mut Connection, run: &NewRun, work: &QueuedWork) -> StoreResult<()> {
    if run.id != work.run_id {
        return Err(StoreError::Backend(format!(
            "queued work for run {} cannot be enqueued with run {}",
            work.run_id, run.id
        )));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    crate::sqlite::insert_run(&tx, run, RunState::Queued)?;
    upsert_work(
        &tx,
        &QueuedWork {
            lost_leases: 0,
            ..work.clone()
        },
    )?;
    tx.commit()?;
    Ok(())
}

pub(crate) fn requeue(
    conn: &mut Connection,
    run_id: &str,
    work: Option<&QueuedWork>,
    at: i64,
) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let status = run_status(&tx, run_id)?;
    if status.is_finished() {
        return Err(StoreError::RunFinished {
            run_id: run_id.to_string(),
            status,
        });
    }
    match work {
        Some(work) => upsert_work(
            &tx,
            &QueuedWork {
                run_id: run_id.to_string(),
                ..work.clone()
            },
        )?,
        None => {
            let changed = tx.execute(
                "UPDATE run_queue SET parked = 0, lease_owner = NULL, lease_until = NULL WHERE run_id = ?1",
                params![run_id],
            )?;
            if changed == 0 {
                return Err(StoreError::NotQueued(run_id.to_string()));
            }
        }
    }
    set_status(&tx, run_id, RunState::Queued, at)?;
    tx.commit()?;
    Ok(())
}

pub(crate) fn claim(
    conn: &mut Connection,
    worker: &str,
    lease_ms: i64,
    now: i64,
) -> StoreResult<Option<QueuedWork>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let raw = tx
        .query_row(
            &format!(
                "UPDATE run_queue SET lease_owner = ?1, lease_until = ?2 WHERE run_id = \
                 (SELECT run_id FROM run_queue WHERE lease_owner IS NULL AND parked = 0 \
                  ORDER BY enqueued_at, run_id LIMIT 1) RETURNING {QUEUE_COLUMNS}"
            ),
            params![worker, now + lease_ms],
            entry_from_row,
        )
        .optional()?;
    let Some(raw) = raw else {
        return Ok(None);
    };
    let entry = with_inputs(raw)?;
    set_status(&tx, &entry.work.run_id, RunState::Running, now)?;
    tx.commit()?;
    Ok(Some(entry.work))
}

pub(crate) fn renew_lease(
    conn: &Connection,
    run_id: &str,
    worker: &str,
    until: i64,
) -> StoreResult<bool> {
    let changed = conn.execute(
        "UPDATE run_queue SET lease_until = ?3 WHERE run_id = ?1 AND lease_owner = ?2",
        params![run_id, worker, until],
    )?;
    Ok(changed == 1)
}

pub(crate) fn finish(
    conn: &mut Connection,
    run_id: &str,
    worker: &str,
    end: &RunEnd,
) -> StoreResult<bool> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let held: Option<i64> = tx
        .query_row(
            "SELECT 1 FROM run_queue WHERE run_id = ?1 AND lease_owner = ?2",
            params![run_id, worker],
            |r| r.get(0),
        )
        .optional()?;
    if held.is_none() {
        return Ok(false);
    }
    let finished = end.status.is_finished().then_some(end.at);
    tx.execute(
        "UPDATE runs SET status = ?2, updated_at = ?3, finished_at = ?4, \
         report = COALESCE(?5, report), error = ?6 WHERE id = ?1",
        params![
            run_id,
            end.status.as_str(),
            end.at,
            finished,
            end.report.as_ref().map(Value::to_string),
            end.error
        ],
    )?;
    if end.status == RunState::WaitingApproval {
        tx.execute(
            "UPDATE run_queue SET parked = 1, lease_owner = NULL, lease_until = NULL WHERE run_id = ?1",
            params![run_id],
        )?;
    } else {
        tx.execute("DELETE FROM run_queue WHERE run_id = ?1", params![run_id])?;
    }
    tx.commit()?;
    Ok(true)
}

pub(crate) fn release(
    conn: &mut Connection,
    run_id: &str,
    worker: &str,
    at: i64,
) -> StoreResult<bool> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed = tx.execute(
        "UPDATE run_queue SET lease_owner = NULL, lease_until = NULL WHERE run_id = ?1 AND lease_owner = ?2",
        params![run_id, worker],
    )?;
    if changed == 1 {
        set_status(&tx, run_id, RunState::Queued, at)?;
    }
    tx.commit()?;
    Ok(changed == 1)
}

pub(crate) fn sweep_expired(
    conn: &mut Connection,
    now: i64,
    max_lost_leases: u32,
) -> StoreResult<Sweep> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let expired: Vec<(String, u32, String)> = {
        let mut stmt = tx.prepare(
            "SELECT run_id, lost_leases, lease_owner FROM run_queue \
             WHERE lease_owner IS NOT NULL AND lease_until < ?1 ORDER BY enqueued_at, run_id",
        )?;
        let rows = stmt.query_map(params![now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut sweep = Sweep::default();
    for (run_id, lost, owner) in expired {
        let lost = lost + 1;
        if lost >= max_lost_leases {
            tx.execute("DELETE FROM run_queue WHERE run_id = ?1", params![run_id])?;
            tx.execute(
                "UPDATE runs SET status = 'failed', updated_at = ?2, finished_at = ?2, error = ?3 WHERE id = ?1",
                params![run_id, now, lost_leases_reason(lost, &owner)],
            )?;
            sweep.failed.push(run_id);
        } else {
            tx.execute(
                "UPDATE run_queue SET lease_owner = NULL, lease_until = NULL, lost_leases = ?2 WHERE run_id = ?1",
                params![run_id, lost],
            )?;
            set_status(&tx, &run_id, RunState::Queued, now)?;
            sweep.requeued.push(run_id);
        }
    }
    tx.commit()?;
    Ok(sweep)
}

/// The error of a run failed by the sweeper (shared with the other backends).
pub(crate) fn lost_leases_reason(lost: u32, last_owner: &str) -> String {
    format!(
        "the run was abandoned: {lost} workers in turn lost their lease on it (they died or stalled \
         without renewing it; the last was {last_owner}), so psaflow stopped retrying it. \
         Check the workers' logs, then resume the run with `psaflow run --resume`"
    )
}

pub(crate) fn queue_entries(conn: &Connection) -> StoreResult<Vec<QueueEntry>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {QUEUE_COLUMNS} FROM run_queue ORDER BY enqueued_at, run_id"
    ))?;
    let rows = stmt.query_map([], entry_from_row)?;
    rows.map(|r| with_inputs(r?)).collect()
}

pub(crate) fn parked_runs_with_expired_approvals(
    conn: &Connection,
    now: i64,
) -> StoreResult<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT q.run_id FROM run_queue q WHERE q.parked = 1 AND EXISTS ( \
           SELECT 1 FROM approvals a WHERE a.run_id = q.run_id \
           AND a.decision IS NULL AND a.expires_at <= ?1) \
         ORDER BY q.enqueued_at, q.run_id",
    )?;
    let rows = stmt.query_map(params![now], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Loads (creating) the connection's budget row, lets `f` change it at the process clock's
/// now, and saves it, all under SQLite's write lock.
pub(crate) fn with_budget<T>(
    conn: &mut Connection,
    connection: &str,
    limit: SharedLimit,
    f: impl FnOnce(&mut crate::budget::BudgetRow, i64) -> T,
) -> StoreResult<T> {
    use crate::budget::BudgetRow;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let fresh = BudgetRow::new(limit);
    tx.execute(
        "INSERT INTO request_budgets (connection, allowed, paused_until, sent) VALUES (?1, ?2, 0, '[]') \
         ON CONFLICT (connection) DO NOTHING",
        params![connection, fresh.allowed],
    )?;
    let (allowed, paused_until, sent): (u32, i64, String) = tx.query_row(
        "SELECT allowed, paused_until, sent FROM request_budgets WHERE connection = ?1",
        params![connection],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let mut row = BudgetRow {
        allowed,
        paused_until,
        sent: BudgetRow::parse_sent(&sent)?,
    };
    let before = row.clone();
    let out = f(&mut row, crate::now_ms());
    if row != before {
        tx.execute(
            "UPDATE request_budgets SET allowed = ?2, paused_until = ?3, sent = ?4 WHERE connection = ?1",
            params![connection, row.allowed, row.paused_until, row.sent_json()],
        )?;
    }
    tx.commit()?;
    Ok(out)
}
