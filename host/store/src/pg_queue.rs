//! The run queue on PostgreSQL. A claim is one statement: the oldest claimable row is
//! locked with `FOR UPDATE SKIP LOCKED` (workers claiming at the same moment skip each
//! other's row instead of waiting for it), leased, and its run marked running, atomically.
//! Every change that makes work claimable announces it with `NOTIFY`, so idle workers wake
//! at once instead of at their next poll.
use crate::model::*;
use crate::pg::{PostgresStore, QUEUE_CHANNEL, i32_of, insert_run};
use crate::sqlite_queue::lost_leases_reason;
use crate::store::{StoreError, StoreResult};
use postgres::fallible_iterator::FallibleIterator;
use postgres::{GenericClient, Row};
use serde_json::Value;
use std::time::Duration;

const QUEUE_COLUMNS: &str = "run_id, inputs, connection, dry_run, lost_leases, enqueued_at, lease_owner, lease_until, parked";

fn entry_from_row(r: &Row) -> StoreResult<QueueEntry> {
    let run_id: String = r.get(0);
    let inputs: String = r.get(1);
    Ok(QueueEntry {
        work: QueuedWork {
            inputs: serde_json::from_str(&inputs)
                .map_err(|e| StoreError::Corrupt(format!("queued inputs of {run_id}: {e}")))?,
            run_id,
            connection: r.get(2),
            dry_run: r.get::<_, i32>(3) != 0,
            lost_leases: u32::try_from(r.get::<_, i32>(4)).unwrap_or(0),
            enqueued_at: r.get(5),
        },
        lease_owner: r.get(6),
        lease_until: r.get(7),
        parked: r.get::<_, i32>(8) != 0,
    })
}

fn announce(c: &mut impl GenericClient) -> StoreResult<()> {
    // Delivered when the transaction commits, and only then.
    c.execute("SELECT pg_notify($1, '')", &[&QUEUE_CHANNEL])?;
    Ok(())
}

fn set_status(
    c: &mut impl GenericClient,
    run_id: &str,
    status: RunState,
    at: i64,
) -> StoreResult<()> {
    c.execute(
        "UPDATE runs SET status = $2, updated_at = $3 WHERE id = $1",
        &[&run_id, &status.as_str(), &at],
    )?;
    Ok(())
}

fn upsert_work(c: &mut impl GenericClient, work: &QueuedWork) -> StoreResult<()> {
    c.execute(
        "INSERT INTO run_queue (run_id, inputs, connection, dry_run, parked, lease_owner, lease_until, lost_leases, enqueued_at) \
         VALUES ($1, $2, $3, $4, 0, NULL, NULL, $5, $6) \
         ON CONFLICT (run_id) DO UPDATE SET inputs = excluded.inputs, connection = excluded.connection, \
         dry_run = excluded.dry_run, parked = 0, lease_owner = NULL, lease_until = NULL, \
         enqueued_at = excluded.enqueued_at",
        &[
            &work.run_id,
            &work.inputs.to_string(),
            &work.connection,
            &i32::from(work.dry_run),
            &i32_of(work.lost_leases),
            &work.enqueued_at,
        ],
    )?;
    Ok(())
}

pub(crate) fn enqueue(s: &PostgresStore, run: &NewRun, work: &QueuedWork) -> StoreResult<()> {
    if run.id != work.run_id {
        return Err(StoreError::Backend(format!(
            "queued work for run {} cannot be enqueued with run {}",
            work.run_id, run.id
        )));
    }
    s.tx(|tx| {
        insert_run(tx, run, RunState::Queued)?;
        upsert_work(
            tx,
            &QueuedWork {
                lost_leases: 0,
                ..work.clone()
            },
        )?;
        announce(tx)
    })
}

pub(crate) fn requeue(
    s: &PostgresStore,
    run_id: &str,
    work: Option<&QueuedWork>,
    at: i64,
) -> StoreResult<()> {
    s.tx(|tx| {
        let status: Option<String> = tx
            .query_opt("SELECT status FROM runs WHERE id = $1 FOR UPDATE", &[&run_id])?
            .map(|r| r.get(0));
        let status = status.ok_or_else(|| StoreError::RunNotFound(run_id.to_string()))?;
        let status = RunState::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("run status {status:?}")))?;
        if status.is_finished() {
            return Err(StoreError::RunFinished {
                run_id: run_id.to_string(),
                status,
            });
        }
        match work {
            Some(work) => upsert_work(
                tx,
                &QueuedWork {
                    run_id: run_id.to_string(),
                    ..work.clone()
                },
            )?,
            None => {
                let changed = tx.execute(
                    "UPDATE run_queue SET parked = 0, lease_owner = NULL, lease_until = NULL WHERE run_id = $1",
                    &[&run_id],
                )?;
                if changed == 0 {
                    return Err(StoreError::NotQueued(run_id.to_string()));
                }
            }
        }
        set_status(tx, run_id, RunState::Queued, at)?;
        announce(tx)
    })
}

pub(crate) fn claim(
    s: &PostgresStore,
    worker: &str,
    lease_ms: i64,
    now: i64,
) -> StoreResult<Option<QueuedWork>> {
    let until = now + lease_ms;
    let row = s.with(|c| {
        Ok(c.query_opt(
            &format!(
                "WITH next AS ( \
                   SELECT run_id FROM run_queue WHERE lease_owner IS NULL AND parked = 0 \
                   ORDER BY enqueued_at, run_id LIMIT 1 FOR UPDATE SKIP LOCKED), \
                 claimed AS ( \
                   UPDATE run_queue q SET lease_owner = $1, lease_until = $2 FROM next \
                   WHERE q.run_id = next.run_id RETURNING q.*), \
                 marked AS ( \
                   UPDATE runs SET status = 'running', updated_at = $3 FROM claimed \
                   WHERE runs.id = claimed.run_id) \
                 SELECT {QUEUE_COLUMNS} FROM claimed"
            ),
            &[&worker, &until, &now],
        )?)
    })?;
    row.map(|r| entry_from_row(&r).map(|e| e.work)).transpose()
}

pub(crate) fn renew_lease(
    s: &PostgresStore,
    run_id: &str,
    worker: &str,
    until: i64,
) -> StoreResult<bool> {
    let changed = s.with(|c| {
        Ok(c.execute(
            "UPDATE run_queue SET lease_until = $3 WHERE run_id = $1 AND lease_owner = $2",
            &[&run_id, &worker, &until],
        )?)
    })?;
    Ok(changed == 1)
}

pub(crate) fn finish(
    s: &PostgresStore,
    run_id: &str,
    worker: &str,
    end: &RunEnd,
) -> StoreResult<bool> {
    s.tx(|tx| {
        let held = tx.query_opt(
            "SELECT 1 FROM run_queue WHERE run_id = $1 AND lease_owner = $2 FOR UPDATE",
            &[&run_id, &worker],
        )?;
        if held.is_none() {
            return Ok(false);
        }
        let finished = end.status.is_finished().then_some(end.at);
        let report = end.report.as_ref().map(Value::to_string);
        tx.execute(
            "UPDATE runs SET status = $2, updated_at = $3, finished_at = $4, \
             report = COALESCE($5, report), error = $6 WHERE id = $1",
            &[
                &run_id,
                &end.status.as_str(),
                &end.at,
                &finished,
                &report,
                &end.error,
            ],
        )?;
        if end.status == RunState::WaitingApproval {
            tx.execute(
                "UPDATE run_queue SET parked = 1, lease_owner = NULL, lease_until = NULL WHERE run_id = $1",
                &[&run_id],
            )?;
        } else {
            tx.execute("DELETE FROM run_queue WHERE run_id = $1", &[&run_id])?;
        }
        Ok(true)
    })
}

pub(crate) fn release(s: &PostgresStore, run_id: &str, worker: &str, at: i64) -> StoreResult<bool> {
    s.tx(|tx| {
        let changed = tx.execute(
            "UPDATE run_queue SET lease_owner = NULL, lease_until = NULL WHERE run_id = $1 AND lease_owner = $2",
            &[&run_id, &worker],
        )?;
        if changed == 1 {
            set_status(tx, run_id, RunState::Queued, at)?;
            announce(tx)?;
        }
        Ok(changed == 1)
    })
}

pub(crate) fn sweep_expired(
    s: &PostgresStore,
    now: i64,
    max_lost_leases: u32,
) -> StoreResult<Sweep> {
    s.tx(|tx| {
        // SKIP LOCKED: two sweepers share the work; a row being finished is left alone, and a
        // row renewed meanwhile no longer matches when it is re-read under the lock.
        let expired = tx.query(
            "SELECT run_id, lost_leases, lease_owner FROM run_queue \
             WHERE lease_owner IS NOT NULL AND lease_until < $1 \
             ORDER BY enqueued_at, run_id FOR UPDATE SKIP LOCKED",
            &[&now],
        )?;
        let mut sweep = Sweep::default();
        for row in expired {
            let run_id: String = row.get(0);
            let lost = u32::try_from(row.get::<_, i32>(1)).unwrap_or(0) + 1;
            let owner: String = row.get(2);
            if lost >= max_lost_leases {
                tx.execute("DELETE FROM run_queue WHERE run_id = $1", &[&run_id])?;
                tx.execute(
                    "UPDATE runs SET status = 'failed', updated_at = $2, finished_at = $2, error = $3 WHERE id = $1",
                    &[&run_id, &now, &lost_leases_reason(lost, &owner)],
                )?;
                sweep.failed.push(run_id);
            } else {
                tx.execute(
                    "UPDATE run_queue SET lease_owner = NULL, lease_until = NULL, lost_leases = $2 WHERE run_id = $1",
                    &[&run_id, &i32_of(lost)],
                )?;
                set_status(tx, &run_id, RunState::Queued, now)?;
                sweep.requeued.push(run_id);
            }
        }
        if !sweep.requeued.is_empty() {
            announce(tx)?;
        }
        Ok(sweep)
    })
}

pub(crate) fn queue_entries(s: &PostgresStore) -> StoreResult<Vec<QueueEntry>> {
    let rows = s.with(|c| {
        Ok(c.query(
            &format!("SELECT {QUEUE_COLUMNS} FROM run_queue ORDER BY enqueued_at, run_id"),
            &[],
        )?)
    })?;
    rows.iter().map(entry_from_row).collect()
}

pub(crate) fn parked_runs_with_expired_approvals(
    s: &PostgresStore,
    now: i64,
) -> StoreResult<Vec<String>> {
    let rows = s.with(|c| {
        Ok(c.query(
            "SELECT q.run_id FROM run_queue q WHERE q.parked = 1 AND EXISTS ( \
               SELECT 1 FROM approvals a WHERE a.run_id = q.run_id \
               AND a.decision IS NULL AND a.expires_at <= $1) \
             ORDER BY q.enqueued_at, q.run_id",
            &[&now],
        )?)
    })?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Waits on the LISTEN connection for an announcement, at most `timeout`. A listener that
/// fails is dropped (and the wait becomes a plain poll interval); the next wait reconnects.
pub(crate) fn wait_for_work(s: &PostgresStore, timeout: Duration) -> StoreResult<()> {
    crate::pg::off_runtime(|| {
        let mut guard = s.listener.lock().unwrap_or_else(|e| e.into_inner());
        if guard.as_ref().is_none_or(|c| c.is_closed()) {
            let mut client = match s.open_client() {
                Ok(c) => c,
                Err(_) => {
                    drop(guard);
                    std::thread::sleep(timeout);
                    return Ok(());
                }
            };
            client.batch_execute(&format!("LISTEN {QUEUE_CHANNEL}"))?;
            *guard = Some(client);
        }
        let result = {
            let client = guard.as_mut().expect("set above");
            let mut notifications = client.notifications();
            let first = notifications
                .timeout_iter(timeout)
                .next()
                .map(|n| n.is_some());
            if first.is_ok() {
                // Take whatever else arrived meanwhile: one wake-up is enough.
                let mut pending = notifications.iter();
                while let Ok(Some(_)) = pending.next() {}
            }
            first
        };
        if let Err(e) = result {
            *guard = None;
            return Err(e.into());
        }
        Ok(())
    })
}

/// Loads (creating) the connection's budget row under `FOR UPDATE`, lets `f` change it at the
/// server's now, and saves it, in one transaction: workers on every machine take turns on it.
pub(crate) fn with_budget<T: Send>(
    s: &PostgresStore,
    connection: &str,
    limit: SharedLimit,
    f: impl FnOnce(&mut crate::budget::BudgetRow, i64) -> T + Send,
) -> StoreResult<T> {
    use crate::budget::BudgetRow;
    s.tx(|tx| {
        let fresh = BudgetRow::new(limit);
        tx.execute(
            "INSERT INTO request_budgets (connection, allowed, paused_until, sent) VALUES ($1, $2, 0, '[]') \
             ON CONFLICT (connection) DO NOTHING",
            &[&connection, &i32_of(fresh.allowed)],
        )?;
        let r = tx.query_one(
            "SELECT allowed, paused_until, sent, \
             (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT \
             FROM request_budgets WHERE connection = $1 FOR UPDATE",
            &[&connection],
        )?;
        let mut row = BudgetRow {
            allowed: u32::try_from(r.get::<_, i32>(0)).unwrap_or(1),
            paused_until: r.get(1),
            sent: BudgetRow::parse_sent(r.get(2))?,
        };
        let now: i64 = r.get(3);
        let before = row.clone();
        let out = f(&mut row, now);
        if row != before {
            tx.execute(
                "UPDATE request_budgets SET allowed = $2, paused_until = $3, sent = $4 WHERE connection = $1",
                &[
                    &connection,
                    &i32_of(row.allowed),
                    &row.paused_until,
                    &row.sent_json(),
                ],
            )?;
        }
        Ok(out)
    })
}
