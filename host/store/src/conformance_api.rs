//! What every backend must do for `psaflow serve`'s tables (tokens, idempotent submissions),
//! run like [`crate::conformance::ALL`].
use crate::api::{NewToken, Submission};
use crate::conformance::{Check, new_run};
use crate::model::{QueuedWork, RunEnd, RunState};
use crate::store::{RunStore, StoreError};

/// Every check of the serve tables, by name.
pub const API: &[Check] = &[
    ("tokens_round_trip_and_revoke", tokens_round_trip_and_revoke),
    ("submissions_keep_the_first", submissions_keep_the_first),
    (
        "cancel_stops_queued_and_leased_runs",
        cancel_stops_queued_and_leased_runs,
    ),
];

fn token(name: &str, hash: &str) -> NewToken {
    NewToken {
        name: name.into(),
        token_sha256: hash.into(),
        scopes: vec!["run".into(), "read".into()],
        created_at: 5,
    }
}

fn tokens_round_trip_and_revoke(s: &dyn RunStore) {
    s.create_token(&token("ci", "aa")).unwrap();
    s.create_token(&token("portal", "bb")).unwrap();
    assert!(matches!(
        s.create_token(&token("ci", "cc")),
        Err(StoreError::Duplicate(_))
    ));
    let all = s.tokens().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].name, "ci");
    assert_eq!(all[0].token_sha256, "aa");
    assert_eq!(all[0].scopes, vec!["run", "read"]);
    assert!(all[0].is_active());

    s.token_used("ci", 9).unwrap();
    assert_eq!(s.tokens().unwrap()[0].last_used_at, Some(9));

    assert!(s.revoke_token("ci", 10).unwrap());
    assert!(!s.revoke_token("ci", 11).unwrap(), "already revoked");
    assert!(!s.revoke_token("nobody", 11).unwrap());
    let ci = s.tokens().unwrap().remove(0);
    assert_eq!(ci.revoked_at, Some(10));

    // A revoked name can be reused by a new token, which starts afresh.
    s.create_token(&token("ci", "dd")).unwrap();
    let ci = s.tokens().unwrap().remove(0);
    assert_eq!((ci.token_sha256.as_str(), ci.revoked_at), ("dd", None));
    assert_eq!(ci.last_used_at, None);
}

fn submissions_keep_the_first(s: &dyn RunStore) {
    let first = Submission {
        key: "put:R1".into(),
        run_id: "R1".into(),
        body_sha256: "h1".into(),
        created_at: 1,
    };
    assert_eq!(s.submission("put:R1").unwrap(), None);
    assert_eq!(s.remember_submission(&first).unwrap(), first);
    assert_eq!(s.submission("put:R1").unwrap(), Some(first.clone()));
    let second = Submission {
        run_id: "R2".into(),
        body_sha256: "h2".into(),
        created_at: 2,
        ..first.clone()
    };
    assert_eq!(s.remember_submission(&second).unwrap(), first);
}

fn work(id: &str) -> QueuedWork {
    QueuedWork {
        run_id: id.into(),
        inputs: serde_json::json!({"password": "not masked in the queue"}),
        connection: None,
        dry_run: false,
        lost_leases: 0,
        enqueued_at: 1,
    }
}

fn cancel_stops_queued_and_leased_runs(s: &dyn RunStore) {
    // Queued, never claimed: cancelled, and no worker can claim it any more.
    s.enqueue(&new_run("Q", 1), &work("Q")).unwrap();
    assert!(s.cancel_run("Q", "cancelled by ops", 5).unwrap());
    let q = s.run("Q").unwrap().unwrap();
    assert_eq!(q.status, RunState::Failed);
    assert_eq!(q.error.as_deref(), Some("cancelled by ops"));
    assert_eq!(q.finished_at, Some(5));
    assert!(s.claim("w1", 1000, 6).unwrap().is_none());
    assert!(!s.cancel_run("Q", "again", 7).unwrap(), "already finished");

    // Claimed by a worker: its lease is gone, so it stops and cannot write its end.
    s.enqueue(&new_run("L", 2), &work("L")).unwrap();
    let claimed = s.claim("w1", 1000, 10).unwrap().unwrap();
    assert_eq!(claimed.run_id, "L");
    assert!(s.cancel_run("L", "cancelled by ops", 11).unwrap());
    assert!(!s.renew_lease("L", "w1", 2000).unwrap());
    let end = RunEnd {
        status: RunState::Succeeded,
        report: None,
        error: None,
        at: 12,
    };
    assert!(!s.finish("L", "w1", &end).unwrap());
    assert_eq!(s.run("L").unwrap().unwrap().status, RunState::Failed);
    assert!(s.queue_entries().unwrap().is_empty());
    assert!(matches!(
        s.cancel_run("nope", "x", 1),
        Err(StoreError::RunNotFound(_))
    ));
}
