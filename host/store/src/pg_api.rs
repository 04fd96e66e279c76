//! The PostgreSQL side of [`crate::api`]: tokens, idempotent submissions, and cancelling a run
//! (status and queue row in one transaction), as the SQLite side does them.
use crate::api::{NewToken, Submission, TokenRecord};
use crate::pg::PostgresStore;
use crate::store::{StoreError, StoreResult};
use postgres::GenericClient;

impl PostgresStore {
    pub(crate) fn insert_token(&self, t: &NewToken) -> StoreResult<()> {
        let scopes = serde_json::to_string(&t.scopes).expect("list of text");
        // A revoked token's name can be given to a new token; an active one cannot.
        let changed = self.with(|c| {
            Ok(c.execute(
                "INSERT INTO api_tokens (name, token_sha256, scopes, created_at, revoked_at, last_used_at) \
                 VALUES ($1, $2, $3, $4, NULL, NULL) \
                 ON CONFLICT (name) DO UPDATE SET token_sha256 = excluded.token_sha256, \
                 scopes = excluded.scopes, created_at = excluded.created_at, revoked_at = NULL, \
                 last_used_at = NULL WHERE api_tokens.revoked_at IS NOT NULL",
                &[&t.name, &t.token_sha256, &scopes, &t.created_at],
            )?)
        })?;
        if changed == 0 {
            return Err(StoreError::Duplicate(format!("a token named '{}'", t.name)));
        }
        Ok(())
    }

    pub(crate) fn select_tokens(&self) -> StoreResult<Vec<TokenRecord>> {
        let rows = self.with(|c| {
            Ok(c.query(
                "SELECT name, token_sha256, scopes, created_at, revoked_at, last_used_at \
                 FROM api_tokens ORDER BY name",
                &[],
            )?)
        })?;
        rows.iter()
            .map(|r| {
                let name: String = r.get(0);
                let scopes: String = r.get(2);
                Ok(TokenRecord {
                    scopes: serde_json::from_str(&scopes)
                        .map_err(|e| StoreError::Corrupt(format!("scopes of token {name}: {e}")))?,
                    name,
                    token_sha256: r.get(1),
                    created_at: r.get(3),
                    revoked_at: r.get(4),
                    last_used_at: r.get(5),
                })
            })
            .collect()
    }

    pub(crate) fn set_token_revoked(&self, name: &str, at: i64) -> StoreResult<bool> {
        let changed = self.with(|c| {
            Ok(c.execute(
                "UPDATE api_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
                &[&name, &at],
            )?)
        })?;
        Ok(changed > 0)
    }

    pub(crate) fn set_token_used(&self, name: &str, at: i64) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "UPDATE api_tokens SET last_used_at = $2 WHERE name = $1",
                &[&name, &at],
            )?;
            Ok(())
        })
    }

    pub(crate) fn cancel(&self, run_id: &str, error: &str, at: i64) -> StoreResult<bool> {
        self.tx(|tx| {
            let status: Option<String> = tx
                .query_opt("SELECT status FROM runs WHERE id = $1 FOR UPDATE", &[&run_id])?
                .map(|r| r.get(0));
            let status = status.ok_or_else(|| StoreError::RunNotFound(run_id.to_string()))?;
            if matches!(status.as_str(), "succeeded" | "failed") {
                return Ok(false);
            }
            tx.execute(
                "UPDATE runs SET status = 'failed', updated_at = $2, finished_at = $2, error = $3 WHERE id = $1",
                &[&run_id, &at, &error],
            )?;
            tx.execute("DELETE FROM run_queue WHERE run_id = $1", &[&run_id])?;
            Ok(true)
        })
    }

    pub(crate) fn select_submission(&self, key: &str) -> StoreResult<Option<Submission>> {
        self.with(|c| select_submission(c, key))
    }

    pub(crate) fn insert_submission(&self, s: &Submission) -> StoreResult<Submission> {
        self.tx(|tx| {
            tx.execute(
                "INSERT INTO api_submissions (key, run_id, body_sha256, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING",
                &[&s.key, &s.run_id, &s.body_sha256, &s.created_at],
            )?;
            select_submission(tx, &s.key)?
                .ok_or_else(|| StoreError::Backend(format!("submission {} vanished", s.key)))
        })
    }
}

fn select_submission(c: &mut impl GenericClient, key: &str) -> StoreResult<Option<Submission>> {
    Ok(c
        .query_opt(
            "SELECT key, run_id, body_sha256, created_at FROM api_submissions WHERE key = $1",
            &[&key],
        )?
        .map(|r| Submission {
            key: r.get(0),
            run_id: r.get(1),
            body_sha256: r.get(2),
            created_at: r.get(3),
        }))
}
