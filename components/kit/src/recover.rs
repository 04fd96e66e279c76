//! Creates that survive an ambiguous outcome.
//!
//! A `POST` whose answer was lost (timeout or dropped connection after sending, a 502/504 from a
//! gateway) may or may not have created the record. Sending it again may create it twice, so a
//! create that can recognise its record by a **natural key** (a client's name, a user's email)
//! looks for it instead, with [`create_or_find`]:
//!
//! | records matching the key | result |
//! |---|---|
//! | exactly one | that record, as the create's success (the host marks the attempt recovered) |
//! | none | a system error (StatusCode 500) saying nothing was created: safe to try again |
//! | several | a business error (StatusCode 200, OriginalStatusCode 409) naming their ids: a person must look |
//! | the lookup failed too | the unknown outcome, with how to check by hand |
//!
//! A create with no natural key (a ticket) uses [`create_once`]: an unknown outcome fails with a
//! message saying the record may or may not exist and how to check; the host does not retry it
//! unless the workflow opts in with `retry_on: [unknown_outcome]`.
//!
//! The match only proves *a* record with that key exists. When keys are not unique in the tenant
//! (two clients may share a name), a record that existed before the create can be taken for the
//! one just made; nodes whose natural key is weak check for duplicates before creating.

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

/// `POST path [body]`, and on an unknown outcome, `find()` the records matching the natural key
/// and decide as the module documentation says. Returns `(OriginalStatusCode, record)`.
pub fn create_or_find<F>(
    path: &str,
    body: &Map<String, Value>,
    subject: Subject<'_>,
    find: F,
) -> Result<(u16, Value), Failure>
where
    F: FnOnce() -> Result<(u16, Vec<Value>), Failure>,
{
    match http::post_array(path, body, None) {
        Err(lost) if lost.is_unknown_outcome() => recover(&lost, subject, find()),
        other => other,
    }
}

/// Decides what a lookup after an unknown outcome means (pure, so it is unit-tested).
pub fn recover(
    lost: &Failure,
    subject: Subject<'_>,
    found: Result<(u16, Vec<Value>), Failure>,
) -> Result<(u16, Value), Failure> {
    recover_in("HaloPSA", lost, subject, found)
}

/// [`recover`] for a node of another PSA: `psa` names it in the messages ("ConnectWise").
pub fn recover_in(
    psa: &str,
    lost: &Failure,
    subject: Subject<'_>,
    found: Result<(u16, Vec<Value>), Failure>,
) -> Result<(u16, Value), Failure> {
    let Subject { what, key } = subject;
    let cause = cause_of(lost, psa);
    match found {
        Ok((status, mut records)) if records.len() == 1 => Ok((status, records.remove(0))),
        Ok((_, records)) if records.is_empty() => Err(Failure::Transport(format!(
            "{OUTCOME_UNKNOWN} at first: the answer to creating the {what} was lost ({cause}); no {what} {key} exists, so it was not created and trying again is safe"
        ))),
        Ok((_, records)) => {
            let listed: Vec<String> = records
                .iter()
                .map(|r| {
                    ids::field_id(r, "id").map_or_else(|| "?".to_string(), |id| id.to_string())
                })
                .collect();
            Err(Failure::Api {
                status: 409,
                message: format!(
                    "{OUTCOME_UNKNOWN}: the answer to creating the {what} was lost ({cause}) and {} {what}s {key} exist (ids {}); psaflow cannot tell whether one of them was just created, so it does not create another: check them in {psa}",
                    records.len(),
                    listed.join(", ")
                ),
            })
        }
        Err(lookup) => Err(Failure::UnknownOutcome {
            status: status_of(lost),
            message: format!(
                "{OUTCOME_UNKNOWN}: the {what} may or may not have been created ({cause}), and looking for a {what} {key} failed too ({}); check {psa} for a {what} {key} before running this again",
                lookup.message()
            ),
        }),
    }
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
        assert_eq!((f.status_code(), f.original_status_code()), (200, 409));
        assert!(
            f.message()
                .contains("2 clients named \"Acme\" exist (ids 7, 9)"),
            "{f}"
        );
        assert!(f.message().contains("check them in HaloPSA"), "{f}");
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
