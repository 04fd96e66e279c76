//! The PostgreSQL side of run holds (`RunStore::hold_run`), as the SQLite side does them: the
//! row is made if missing, then locked (`FOR UPDATE`) and decided on in one transaction, so
//! two processes cannot both hold a run.
use crate::holds::may_hold;
use crate::model::RunHold;
use crate::pg::PostgresStore;
use crate::store::StoreResult;

impl PostgresStore {
    pub(crate) fn hold(
        &self,
        run_id: &str,
        holder: &str,
        until: i64,
        now: i64,
        take_over: Option<&str>,
    ) -> StoreResult<Option<RunHold>> {
        self.tx(|tx| {
            let made = tx.execute(
                "INSERT INTO run_holds (run_id, holder, held_until) VALUES ($1, $2, $3) \
                 ON CONFLICT (run_id) DO NOTHING",
                &[&run_id, &holder, &until],
            )?;
            if made == 1 {
                return Ok(None);
            }
            let row = tx.query_one(
                "SELECT holder, held_until FROM run_holds WHERE run_id = $1 FOR UPDATE",
                &[&run_id],
            )?;
            let current = RunHold {
                holder: row.get(0),
                until: row.get(1),
            };
            if !may_hold(Some(&current), holder, now, take_over) {
                return Ok(Some(current));
            }
            tx.execute(
                "UPDATE run_holds SET holder = $2, held_until = $3 WHERE run_id = $1",
                &[&run_id, &holder, &until],
            )?;
            Ok(None)
        })
    }

    pub(crate) fn let_go(&self, run_id: &str, holder: &str) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "DELETE FROM run_holds WHERE run_id = $1 AND holder = $2",
                &[&run_id, &holder],
            )?;
            Ok(())
        })
    }
}
