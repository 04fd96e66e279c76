//! What every backend must do for `psaflow serve`'s tables (tokens, idempotent submissions),
//! run like [`crate::conformance::ALL`].
use crate::api::{NewToken, Submission};
use crate::conformance::Check;
use crate::store::{RunStore, StoreError};

pub const API: &[Check] = &[
    ("tokens_round_trip_and_revoke", tokens_round_trip_and_revoke),
    ("submissions_keep_the_first", submissions_keep_the_first),
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
