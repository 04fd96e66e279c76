//! The PostgreSQL backend against the shared conformance checks (each on a fresh database of
//! one throw-away cluster, see `psaflow_store::test_cluster`), plus what only a server shows:
//! reconnecting, the schema version, concurrent migrations, claims from many connections and
//! the LISTEN/NOTIFY wake-up.
use psaflow_store::conformance::{ALL, new_run};
use psaflow_store::conformance_api::API;
use psaflow_store::test_cluster::TestCluster;
use psaflow_store::{PostgresStore, QueuedWork, RunState, RunStore, StoreError};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn postgres_backend() {
    let Some(cluster) = TestCluster::start_or_skip("postgres_backend") else {
        return;
    };
    for (name, check) in ALL.iter().chain(API) {
        let store = PostgresStore::connect(&cluster.fresh_database()).expect("connect");
        eprintln!("check {name}");
        check(&store);
    }

    // Reopening keeps the data; migrations run once; the password never shows.
    let url = cluster.fresh_database();
    PostgresStore::connect(&url)
        .unwrap()
        .create_run(&new_run("R1", 1))
        .unwrap();
    let store = PostgresStore::connect(&url).unwrap();
    assert_eq!(store.run("R1").unwrap().unwrap().status, RunState::Running);
    assert_eq!(store.kind(), "postgres");
    assert!(
        store
            .location()
            .starts_with("postgres://postgres@127.0.0.1:")
    );

    // Workers starting at once migrate one new database once.
    let url = cluster.fresh_database();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| PostgresStore::connect(&url).expect("concurrent migrate"));
        }
    });

    // A newer schema is refused with its version.
    let url = cluster.fresh_database();
    drop(PostgresStore::connect(&url).unwrap());
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)",
            &[],
        )
        .unwrap();
    let err = PostgresStore::connect(&url)
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("schema version 99"), "{err}");

    // A wrong URL says so without the password.
    let err = PostgresStore::connect("postgres://ada:s3cret@127.0.0.1:1/none")
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("cannot connect"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    assert!(matches!(
        PostgresStore::connect("postgres://:::"),
        Err(StoreError::Backend(_))
    ));

    claims_from_many_stores_never_overlap(&cluster);
    an_enqueue_wakes_a_waiting_worker(&cluster);
}

fn work(id: &str, at: i64) -> QueuedWork {
    QueuedWork {
        run_id: id.into(),
        inputs: serde_json::json!({"n": at}),
        connection: None,
        dry_run: false,
        lost_leases: 0,
        enqueued_at: at,
    }
}

/// Eight workers, each with its own store (its own connections), claim 200 runs at once.
fn claims_from_many_stores_never_overlap(cluster: &TestCluster) {
    let url = cluster.fresh_database();
    let first = PostgresStore::connect(&url).unwrap();
    for i in 0..200 {
        let id = format!("Q{i:03}");
        first.enqueue(&new_run(&id, i), &work(&id, i)).unwrap();
    }
    let claimed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for w in 0..8 {
            let (url, claimed) = (&url, &claimed);
            s.spawn(move || {
                let store = PostgresStore::connect(url).unwrap();
                while let Some(work) = store.claim(&format!("w{w}"), 60_000, 100).unwrap() {
                    claimed.lock().unwrap().push(work.run_id);
                }
            });
        }
    });
    let mut claimed = claimed.into_inner().unwrap();
    claimed.sort();
    let total = claimed.len();
    claimed.dedup();
    assert_eq!(total, claimed.len(), "a run was claimed twice");
    assert_eq!(total, 200);
}

/// A worker waiting for work wakes when a run is enqueued, long before its poll interval.
fn an_enqueue_wakes_a_waiting_worker(cluster: &TestCluster) {
    let url = cluster.fresh_database();
    let waiter = Arc::new(PostgresStore::connect(&url).unwrap());
    // The first wait opens the LISTEN connection; nothing is announced yet.
    waiter.wait_for_work(Duration::from_millis(50)).unwrap();
    let handle = {
        let waiter = waiter.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            waiter.wait_for_work(Duration::from_secs(60)).unwrap();
            started.elapsed()
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let other = PostgresStore::connect(&url).unwrap();
    other.enqueue(&new_run("Q1", 1), &work("Q1", 1)).unwrap();
    let waited = handle.join().unwrap();
    // Not a speed check: without the notification the wait would last its full minute.
    assert!(waited < Duration::from_secs(50), "woke after {waited:?}");
}
