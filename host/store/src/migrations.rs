//! The schema, as numbered SQL files shared by every backend. A backend applies, in one
//! transaction each, the files whose number is above the version it recorded.

/// (version, SQL), in order.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_runs.sql")),
    (2, include_str!("../migrations/0002_queue.sql")),
    (3, include_str!("../migrations/0003_tokens.sql")),
    (4, include_str!("../migrations/0004_run_holds.sql")),
];

/// The newest schema version this build knows.
pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}
