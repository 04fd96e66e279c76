//! The SQLite backend against the shared conformance checks, plus what only a file shows:
//! reopening, the schema version, and two handles on one file.
use psaflow_store::conformance::{ALL, new_run};
use psaflow_store::conformance_api::API;
use psaflow_store::{RunState, RunStore, SqliteStore};

#[test]
fn conformance_in_memory() {
    for (name, check) in ALL.iter().chain(API) {
        let store = SqliteStore::open_in_memory().expect("open");
        eprintln!("check {name}");
        check(&store);
    }
}

#[test]
fn conformance_on_a_file() {
    for (name, check) in ALL.iter().chain(API) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_dir(dir.path()).expect("open");
        eprintln!("check {name}");
        check(&store);
    }
}

#[test]
fn data_survives_reopening_and_migrations_run_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open_dir(&dir.path().join("nested/state")).unwrap();
        store.create_run(&new_run("R1", 1)).unwrap();
    }
    let store = SqliteStore::open_dir(&dir.path().join("nested/state")).unwrap();
    assert_eq!(store.run("R1").unwrap().unwrap().status, RunState::Running);
    assert!(store.location().ends_with("psaflow.db"));
    assert_eq!(store.kind(), "sqlite");
}

#[test]
fn two_handles_share_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = SqliteStore::open_dir(dir.path()).unwrap();
    let b = SqliteStore::open_dir(dir.path()).unwrap();
    a.create_run(&new_run("R1", 1)).unwrap();
    b.update_run("R1", RunState::Succeeded, None, None, 2)
        .unwrap();
    assert_eq!(a.run("R1").unwrap().unwrap().status, RunState::Succeeded);
}

#[test]
fn a_newer_schema_is_refused_with_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("psaflow.db");
    drop(SqliteStore::open_file(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)",
        [],
    )
    .unwrap();
    drop(conn);
    let err = SqliteStore::open_file(&path)
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("schema version 99"), "{err}");
}
