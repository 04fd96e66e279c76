//! Creates that survive an ambiguous outcome.
//!
//! A `POST` whose answer was lost (timeout or dropped connection after sending, a 502/504 from a
//! gateway) may or may not have created the record. Sending it again may create it twice, so a
//! create that can recognise its record by a **natural key** (a client's name, a user's email)
//! looks for it instead, with [`create_or_find`]. Keys like a client's name are not unique in a
//! tenant, so a record with the key after the loss may be one that was there before: the create
//! first lists the records that have the key (one `GET`), and after a loss only a record that is
//! not among them can be the one it made:
//!
//! | records with the key that were not there before the create | result |
//! |---|---|
//! | exactly one | that record, as the create's success (the host marks the attempt recovered) |
//! | none | a system error (StatusCode 500) saying nothing was created: safe to try again |
//! | several | the unknown outcome (StatusCode 500) naming their ids: a person must look |
//! | the lookup failed too | the unknown outcome, with how to check by hand |
//!
//! A create resumed after its process stopped in the middle of it (the host withholds its
//! `POST`, see [`WITHHELD_FOR_RESUME`]) cannot tell: the earlier attempt's record, if it made
//! one, was there before this attempt's listing. Then any one record with the key is taken for
//! it, so a record with the same key made before the run can be mistaken for it; nodes whose
//! key is unique in the PSA (a ConnectWise member's identifier) do not have that doubt.
//!
//! A create with no natural key (a ticket) uses [`create_once`]: an unknown outcome fails with a
//! message saying the record may or may not exist and how to check; the host does not retry it
//! unless the workflow opts in with `retry_on: [unknown_outcome]`.

use crate::prelude::*;
use serde_json::{Map, Value};

use crate::errors::{self, Failure, OUTCOME_UNKNOWN};
use crate::http::{self, Query};
use crate::ids;
use crate::paging::{self, Mode, Resource};

/// What a create is and how to name its record in messages.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The record kind in words: "client", "site", "user".
    pub what: &'a str,
    /// The natural key in words, e.g. `named "Acme"` or `with email ada@example.com`.
    pub key: &'a str,
}

/// What the host says when it withholds a create's `POST` because an earlier attempt of the
/// same call was sent by a process that stopped before recording the answer (psaflow's
/// `look_first.rs` starts its message with these words): the create then looks its record up
/// without knowing what existed before that attempt.
pub const WITHHELD_FOR_RESUME: &str = "not sent again:";

/// `find()` the records that have the natural key, `POST path [body]`, and on an unknown
/// outcome `find()` again and decide as the module documentation says. Returns
/// `(OriginalStatusCode, record)`.
pub fn create_or_find<F>(
    path: &str,
    body: &Map<String, Value>,
    subject: Subject<'_>,
    find: F,
) -> Result<(u16, Value), Failure>
where
    F: Fn() -> Result<(u16, Vec<Value>), Failure>,
{
    let (_, before) = find()?;
    create_known_new(path, body, subject, &ids_of(&before), find)
}

/// [`create_or_find`] for a node that has listed the records with the natural key itself just
/// before (a duplicate check): `existing` are their ids.
pub fn create_known_new<F>(
    path: &str,
    body: &Map<String, Value>,
    subject: Subject<'_>,
    existing: &[i64],
    find: F,
) -> Result<(u16, Value), Failure>
where
    F: Fn() -> Result<(u16, Vec<Value>), Failure>,
{
    match http::post_array(path, body, None) {
        Err(lost) if lost.is_unknown_outcome() => {
            let existing = if lost.message().contains(WITHHELD_FOR_RESUME) {
                &[][..]
            } else {
                existing
            };
            recover_in("HaloPSA", &lost, subject, existing, find())
        }
        other => other,
    }
}

/// The ids of `records` (those without one are left out).
pub fn ids_of(records: &[Value]) -> Vec<i64> {
    records
        .iter()
        .filter_map(|r| ids::field_id(r, "id"))
        .collect()
}

/// Decides what a lookup after an unknown outcome means when nothing had the key before
/// (pure, so it is unit-tested).
pub fn recover(
    lost: &Failure,
    subject: Subject<'_>,
    found: Result<(u16, Vec<Value>), Failure>,
) -> Result<(u16, Value), Failure> {
    recover_in("HaloPSA", lost, subject, &[], found)
}

/// Decides what `found` (the records with the key after the loss) means, the records whose
/// ids are in `existing` having had the key before the create; `psa` names the PSA in the
/// messages ("ConnectWise").
pub fn recover_in(
    psa: &str,
    lost: &Failure,
    subject: Subject<'_>,
    existing: &[i64],
    found: Result<(u16, Vec<Value>), Failure>,
) -> Result<(u16, Value), Failure> {
    let Subject { what, key } = subject;
    let cause = cause_of(lost, psa);
    let found = found.map(|(status, records)| {
        let new = records
            .into_iter()
            .filter(|r| ids::field_id(r, "id").is_none_or(|id| !existing.contains(&id)))
            .collect::<Vec<_>>();
        (status, new)
    });
    let before = if existing.is_empty() {
        String::new()
    } else {
        format!(
            " other than the {} that existed before the create ({})",
            existing.len(),
            id_list(existing)
        )
    };
    match found {
        Ok((status, mut records)) if records.len() == 1 => Ok((status, records.remove(0))),
        Ok((_, records)) if records.is_empty() => Err(Failure::Transport(format!(
            "{OUTCOME_UNKNOWN} at first: the answer to creating the {what} was lost ({cause}); no {what} {key} exists{before}, so it was not created and trying again is safe"
        ))),
        Ok((_, records)) => Err(Failure::UnknownOutcome {
            status: status_of(lost),
            message: format!(
                "{OUTCOME_UNKNOWN}: the answer to creating the {what} was lost ({cause}) and {} {}{what}s {key} exist ({}); psaflow cannot tell whether one of them was just created, so it does not create another: check them in {psa}",
                records.len(),
                if existing.is_empty() { "" } else { "new " },
                id_list(&ids_of(&records))
            ),
        }),
        Err(lookup) => Err(Failure::UnknownOutcome {
            status: status_of(lost),
            message: format!(
                "{OUTCOME_UNKNOWN}: the {what} may or may not have been created ({cause}), and looking for a {what} {key} failed too ({}); check {psa} for a {what} {key} before running this again",
                lookup.message()
            ),
        }),
    }
}

/// `id 7`, `ids 7, 9`.
fn id_list(ids: &[i64]) -> String {
    let listed: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    let label = if ids.len() == 1 { "id" } else { "ids" };
    format!("{label} {}", listed.join(", "))
}

/// `POST path [body]` for a create that has no natural key: an unknown outcome fails with a
/// message saying the record may or may not exist and `how_to_check`.
pub fn create_once(
    path: &str,
    body: &Map<String, Value>,
    what: &str,
    how_to_check: &str,
) -> Result<(u16, Value), Failure> {
    http::post_array(path, body, None).map_err(|f| once_failure(f, what, how_to_check))
}

/// The failure [`create_once`] reports (pure, so it is unit-tested).
pub fn once_failure(failure: Failure, what: &str, how_to_check: &str) -> Failure {
    if !failure.is_unknown_outcome() {
        return failure;
    }
    Failure::UnknownOutcome {
        status: status_of(&failure),
        message: format!(
            "{OUTCOME_UNKNOWN}: the {what} may or may not have been created ({}); {how_to_check}. It is not created again automatically; a step that may create it twice can say `retry_on: [unknown_outcome]`",
            cause_of(&failure, "HaloPSA")
        ),
    }
}

/// Lists `resource` (active and inactive records, every page) with `filter` plus `search` and
/// keeps the records `keep` accepts: the lookup [`create_or_find`] needs. `search` narrows
/// the listing on the server (a contains match); `keep` does the exact comparison.
pub fn list_matching(
    resource: &Resource,
    mut filter: Query,
    search: &str,
    keep: impl Fn(&Value) -> bool,
) -> Result<(u16, Vec<Value>), Failure> {
    filter.push("search", search.trim());
    filter.push("includeactive", true);
    filter.push("includeinactive", true);
    let listed = paging::fetch(resource, &Mode::All { count: None }, &filter)?;
    let status = listed.last_status;
    Ok((
        status,
        listed.items.into_iter().filter(|r| keep(r)).collect(),
    ))
}

/// Records whose `field` equals `expected`, compared as HaloPSA compares names: trimmed and
/// ignoring letter case.
pub fn text_matches(record: &Value, field: &str, expected: &str) -> bool {
    record
        .get(field)
        .and_then(Value::as_str)
        .is_some_and(|v| v.trim().to_lowercase() == expected.trim().to_lowercase())
}

/// Whether `record`'s id field `field` is `expected` (ids as numbers: `21.0` and `"21"` are 21).
pub fn id_matches(record: &Value, field: &str, expected: i64) -> bool {
    ids::field_id(record, field) == Some(expected)
}

fn status_of(failure: &Failure) -> u16 {
    u16::try_from(failure.original_status_code()).unwrap_or(0)
}

/// The failure's own explanation, without the generic unknown-outcome lead.
fn cause_of(failure: &Failure, psa: &str) -> String {
    let message = failure.message();
    match message.find(" (") {
        Some(at) if message.starts_with(OUTCOME_UNKNOWN) && message.ends_with(')') => {
            message[at + 2..message.len() - 1].to_string()
        }
        _ if message.starts_with(OUTCOME_UNKNOWN) => {
            format!("{psa} answered {}", errors::status_text(status_of(failure)))
        }
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lost() -> Failure {
        errors::unknown_outcome(0, "the connection broke after the request was sent")
    }

    const ACME: Subject<'static> = Subject {
        what: "client",
        key: "named \"Acme\"",
    };

    #[test]
    fn one_match_is_the_created_record() {
        let got = recover(
            &lost(),
            ACME,
            Ok((200, vec![json!({"id": 7, "name": "Acme"})])),
        );
        assert_eq!(got, Ok((200, json!({"id": 7, "name": "Acme"}))));
    }

    #[test]
    fn no_match_means_nothing_was_created() {
        let f = recover(&lost(), ACME, Ok((200, vec![]))).unwrap_err();
        assert_eq!((f.status_code(), f.original_status_code()), (500, 0));
        assert!(!f.is_unknown_outcome());
        assert_eq!(
            f.message(),
            "outcome unknown at first: the answer to creating the client was lost (the connection broke after the request was sent); no client named \"Acme\" exists, so it was not created and trying again is safe"
        );
    }

    #[test]
    fn several_matches_stop_for_a_person() {
        let records = vec![json!({"id": 7}), json!({"id": "9"})];
        let f = recover(&lost(), ACME, Ok((200, records))).unwrap_err();
        // The API answered nothing: no status is made up (it was a 409 once).
        assert!(f.is_unknown_outcome());
        assert_eq!((f.status_code(), f.original_status_code()), (500, 0));
        assert!(
            f.message()
                .contains("2 clients named \"Acme\" exist (ids 7, 9)"),
            "{f}"
        );
        assert!(f.message().contains("check them in HaloPSA"), "{f}");
    }

    #[test]
    fn a_record_that_had_the_key_before_the_create_is_not_taken_for_it() {
        let acme = |id: i64| json!({"id": id, "name": "Acme"});
        // The create did not land: only the old record has the key.
        let f = recover_in("HaloPSA", &lost(), ACME, &[3], Ok((200, vec![acme(3)]))).unwrap_err();
        assert_eq!((f.status_code(), f.original_status_code()), (500, 0));
        assert!(
            !f.is_unknown_outcome(),
            "nothing was created: safe to try again"
        );
        assert!(
            f.message().contains(
                "no client named \"Acme\" exists other than the 1 that existed before the create (id 3), so it was not created"
            ),
            "{f}"
        );
        // It landed: the new one is its record, the old one is not.
        let got = recover_in(
            "HaloPSA",
            &lost(),
            ACME,
            &[3],
            Ok((200, vec![acme(3), acme(8)])),
        );
        assert_eq!(got, Ok((200, acme(8))));
        // Two new ones: a person must look.
        let f = recover_in(
            "HaloPSA",
            &lost(),
            ACME,
            &[3],
            Ok((200, vec![acme(3), acme(8), acme(9)])),
        )
        .unwrap_err();
        assert!(f.is_unknown_outcome());
        assert!(
            f.message()
                .contains("2 new clients named \"Acme\" exist (ids 8, 9)"),
            "{f}"
        );
    }

    #[test]
    fn a_failed_lookup_keeps_the_outcome_unknown() {
        let lookup = errors::from_response(503, "", None);
        let f = recover(&errors::unknown_outcome(504, ""), ACME, Err(lookup)).unwrap_err();
        assert!(f.is_unknown_outcome());
        assert_eq!((f.status_code(), f.original_status_code()), (500, 504));
        assert!(
            f.message().contains("HaloPSA answered 504 Gateway Timeout"),
            "{f}"
        );
        assert!(f.message().contains("503 Service Unavailable"), "{f}");
        assert!(
            f.message()
                .contains("check HaloPSA for a client named \"Acme\""),
            "{f}"
        );
    }

    #[test]
    fn creates_without_a_key_say_how_to_check() {
        let f = once_failure(lost(), "ticket", "look for it in HaloPSA by its summary");
        assert!(f.is_unknown_outcome());
        assert!(
            f.message()
                .contains("the ticket may or may not have been created"),
            "{f}"
        );
        assert!(
            f.message()
                .contains("look for it in HaloPSA by its summary"),
            "{f}"
        );
        assert!(f.message().contains("retry_on: [unknown_outcome]"), "{f}");
        let other = errors::from_response(400, "", None);
        assert_eq!(once_failure(other.clone(), "ticket", "x"), other);
    }

    #[test]
    fn matching_ignores_case_spaces_and_id_spelling() {
        let r = json!({"name": " ACME ", "client_id": "21", "site_id": 3.0});
        assert!(text_matches(&r, "name", "acme"));
        assert!(!text_matches(&r, "name", "acme ltd"));
        assert!(!text_matches(&r, "missing", "acme"));
        assert!(id_matches(&r, "client_id", 21));
        assert!(id_matches(&r, "site_id", 3));
        assert!(!id_matches(&r, "site_id", 4));
    }
}
