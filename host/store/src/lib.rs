//! psaflow's run store: every run, step, for_each item and attempt, the journal that makes
//! runs resumable, approval decisions, and the append-only audit trail.
//!
//! - `model.rs` the records; `store.rs` the [`RunStore`] trait every backend implements;
//! - `sqlite.rs` the default backend (one file, WAL), `sqlite_queue.rs` its run queue;
//! - `pg.rs` the PostgreSQL backend several workers share, `pg_queue.rs` its run queue
//!   (`FOR UPDATE SKIP LOCKED` claims, LISTEN/NOTIFY wake-ups); `test_cluster.rs` a
//!   throw-away PostgreSQL cluster for tests; `migrations/` the schema, written in
//!   SQL that PostgreSQL runs unchanged, so a second backend reuses the same files;
//! - `budget.rs` the rules of request budgets shared through the store;
//! - `ids.rs` time-ordered ids; `location.rs` where the state directory is;
//! - `conformance.rs` the behaviour every backend must show, as tests any backend runs.
//!
//! The store never redacts: callers hand it values already masked.
mod api;
mod budget;
mod holds;
pub mod conformance;
pub mod conformance_api;
mod ids;
mod location;
mod migrations;
mod model;
mod pg;
mod pg_api;
mod pg_holds;
mod pg_queue;
mod sqlite;
mod sqlite_queue;
mod store;
pub mod test_cluster;

pub use api::{NewToken, Submission, TokenRecord};
pub use ids::new_id;
pub use location::{DEFAULT_FILE, ENV_STATE_DIR, state_dir};
pub use migrations::MIGRATIONS;
pub use model::*;
pub use pg::{PostgresStore, is_postgres_url};
pub use sqlite::SqliteStore;
pub use store::{RunStore, StoreError, StoreResult};

/// Now, in the store's unit (milliseconds since the Unix epoch).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, duration_ms)
}

/// A duration in the store's unit (milliseconds), saturating at `i64::MAX` (292 million years).
pub fn duration_ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A count (a for_each list length) as the database's BIGINT; saturates, never wraps.
pub(crate) fn count_to_db(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored BIGINT count back as a count; a negative value (never written) reads as 0.
pub(crate) fn count_from_db(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
