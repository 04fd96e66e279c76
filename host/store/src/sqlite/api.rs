//! The SQLite side of [`crate::api`]: tokens and idempotent submissions.
use super::SqliteStore;
use crate::api::{NewToken, Submission, TokenRecord};
use crate::store::{StoreError, StoreResult};
use rusqlite::{OptionalExtension, params};

impl SqliteStore {
    pub(super) fn insert_token(&self, t: &NewToken) -> StoreResult<()> {
        let conn = self.lock();
        let scopes = serde_json::to_string(&t.scopes).expect("list of text");
        // A revoked token's name can be given to a new token; an active one cannot.
        let changed = conn.execute(
            "INSERT INTO api_tokens (name, token_sha256, scopes, created_at, revoked_at, last_used_at) \
             VALUES (?1, ?2, ?3, ?4, NULL, NULL) \
             ON CONFLICT (name) DO UPDATE SET token_sha256 = excluded.token_sha256, \
             scopes = excluded.scopes, created_at = excluded.created_at, revoked_at = NULL, \
             last_used_at = NULL WHERE api_tokens.revoked_at IS NOT NULL",
            params![t.name, t.token_sha256, scopes, t.created_at],
        )?;
        if changed == 0 {
            return Err(StoreError::Duplicate(format!("a token named '{}'", t.name)));
        }
        Ok(())
    }

    pub(super) fn select_tokens(&self) -> StoreResult<Vec<TokenRecord>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT name, token_sha256, scopes, created_at, revoked_at, last_used_at \
             FROM api_tokens ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                TokenRecord {
                    name: r.get(0)?,
                    token_sha256: r.get(1)?,
                    scopes: Vec::new(),
                    created_at: r.get(3)?,
                    revoked_at: r.get(4)?,
                    last_used_at: r.get(5)?,
                },
                r.get::<_, String>(2)?,
            ))
        })?;
        rows.map(|r| {
            let (mut token, scopes) = r?;
            token.scopes = serde_json::from_str(&scopes)
                .map_err(|e| StoreError::Corrupt(format!("scopes of token {}: {e}", token.name)))?;
            Ok(token)
        })
        .collect()
    }

    pub(super) fn set_token_revoked(&self, name: &str, at: i64) -> StoreResult<bool> {
        let conn = self.lock();
        let changed = conn.execute(
            "UPDATE api_tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
            params![name, at],
        )?;
        Ok(changed > 0)
    }

    pub(super) fn set_token_used(&self, name: &str, at: i64) -> StoreResult<()> {
        let conn = self.lock();
        conn.execute(
            "UPDATE api_tokens SET last_used_at = ?2 WHERE name = ?1",
            params![name, at],
        )?;
        Ok(())
    }

    pub(super) fn cancel(&self, run_id: &str, error: &str, at: i64) -> StoreResult<bool> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let status: Option<String> = tx
            .query_row(
                "SELECT status FROM runs WHERE id = ?1",
                params![run_id],
                |r| r.get(0),
            )
            .optional()?;
        let status = status.ok_or_else(|| StoreError::RunNotFound(run_id.to_string()))?;
        if matches!(status.as_str(), "succeeded" | "failed") {
            return Ok(false);
        }
        tx.execute(
            "UPDATE runs SET status = 'failed', updated_at = ?2, finished_at = ?2, error = ?3 WHERE id = ?1",
            params![run_id, at, error],
        )?;
        tx.execute("DELETE FROM run_queue WHERE run_id = ?1", params![run_id])?;
        tx.commit()?;
        Ok(true)
    }

    pub(super) fn select_submission(&self, key: &str) -> StoreResult<Option<Submission>> {
        let conn = self.lock();
        Ok(select_submission(&conn, key)?)
    }

    pub(super) fn insert_submission(&self, s: &Submission) -> StoreResult<Submission> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO api_submissions (key, run_id, body_sha256, created_at) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (key) DO NOTHING",
            params![s.key, s.run_id, s.body_sha256, s.created_at],
        )?;
        let stored = select_submission(&tx, &s.key)?
            .ok_or_else(|| StoreError::Backend(format!("submission {} vanished", s.key)))?;
        tx.commit()?;
        Ok(stored)
    }
}

fn select_submission(
    conn: &rusqlite::Connection,
    key: &str,
) -> rusqlite::Result<Option<Submission>> {
    conn.query_row(
        "SELECT key, run_id, body_sha256, created_at FROM api_submissions WHERE key = ?1",
        params![key],
        |r| {
            Ok(Submission {
                key: r.get(0)?,
                run_id: r.get(1)?,
                body_sha256: r.get(2)?,
                created_at: r.get(3)?,
            })
        },
    )
    .optional()
}
