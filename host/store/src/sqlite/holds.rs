//! The SQLite side of run holds (`RunStore::hold_run`): read and write in one IMMEDIATE
//! transaction, which takes SQLite's write lock first, so two processes cannot both hold.
use super::SqliteStore;
use crate::holds::may_hold;
use crate::model::RunHold;
use crate::store::StoreResult;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

impl SqliteStore {
    pub(super) fn hold(
        &self,
        run_id: &str,
        holder: &str,
        until: i64,
        now: i64,
        take_over: Option<&str>,
    ) -> StoreResult<Option<RunHold>> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = tx
            .query_row(
                "SELECT holder, held_until FROM run_holds WHERE run_id = ?1",
                params![run_id],
                |r| {
                    Ok(RunHold {
                        holder: r.get(0)?,
                        until: r.get(1)?,
                    })
                },
            )
            .optional()?;
        if !may_hold(current.as_ref(), holder, now, take_over) {
            return Ok(current);
        }
        tx.execute(
            "INSERT INTO run_holds (run_id, holder, held_until) VALUES (?1, ?2, ?3) \
             ON CONFLICT (run_id) DO UPDATE SET holder = excluded.holder, held_until = excluded.held_until",
            params![run_id, holder, until],
        )?;
        tx.commit()?;
        Ok(None)
    }

    pub(super) fn let_go(&self, run_id: &str, holder: &str) -> StoreResult<()> {
        self.lock().execute(
            "DELETE FROM run_holds WHERE run_id = ?1 AND holder = ?2",
            params![run_id, holder],
        )?;
        Ok(())
    }
}
