//! `/service/tickets`: listing and PATCH. An owner must be an active member; a status carries
//! its `closedStatus` into `closedFlag`.
//!
//! References are resolved as the real API returns them (connectwise-api.md §3: `{id, name,
//! _info}`, with `identifier` for companies and members): a PATCH that sends `{"id": 1}` for
//! `board`, `company` or `owner` stores the whole reference, and one that names no existing
//! record is a 400 naming the field. `closedFlag` follows the status (§7: statuses carry
//! `closedStatus`, and a ticket is closed by moving it to such a status): a `closedFlag` that
//! disagrees with the ticket's status is a 400 naming `closedFlag`, so the sandbox can never hold a
//! closed ticket in an open status.

use serde_json::{Value, json};

use crate::errors::{ApiError, FieldError};
use crate::patch;
use crate::store::{Entity, Record, Store, reference_id};

pub(crate) const FIELDS: &[&str] = &[
    "id",
    "summary",
    "board",
    "status",
    "owner",
    "company",
    "priority",
    "resources",
    "closedFlag",
    "closedDate",
    "closedBy",
    "_info",
];

const READ_ONLY: &[&str] = &["id", "closedDate", "closedBy", "_info"];

/// The service boards: (id, name).
const BOARDS: &[(i64, &str)] = &[(1, "Service Desk"), (2, "Projects")];

/// The companies tickets belong to: (id, identifier, name).
const COMPANIES: &[(i64, &str, &str)] = &[(1, "Contoso", "Contoso Ltd")];

fn board_reference(id: i64, name: &str) -> Value {
    json!({"id": id, "name": name, "_info": {"href": format!("service/boards/{id}")}})
}

fn company_reference(id: i64, identifier: &str, name: &str) -> Value {
    json!({"id": id, "identifier": identifier, "name": name,
           "_info": {"href": format!("company/companies/{id}")}})
}

/// What a reference field's errors call it: the field, the key beside `id` that can name a
/// record (`{"name": "x"}`), and the record's noun ("Board {value} was not found.").
struct ReferenceWords {
    field: &'static str,
    key: &'static str,
    noun: &'static str,
}

/// Finds the row of `table` a reference names: by id (`{"id": n}` or a bare id), else by its
/// key field (`id_and_key` gives a row's both), compared trimmed and ignoring ASCII case. A
/// value naming neither is a `NullValue` error, one naming no row an `InvalidObject` error.
fn find_reference<'t, T>(
    value: &Value,
    table: &'t [T],
    id_and_key: impl Fn(&'t T) -> (i64, &'t str),
    words: &ReferenceWords,
    problems: &mut Vec<FieldError>,
) -> Option<&'t T> {
    let key = value.get(words.key).and_then(Value::as_str);
    let found = match (reference_id(value), key) {
        (Some(id), _) => table.iter().find(|row| id_and_key(row).0 == id),
        (None, Some(key)) => table
            .iter()
            .find(|row| id_and_key(row).1.eq_ignore_ascii_case(key.trim())),
        (None, None) => {
            problems.push(FieldError::new(
                "NullValue",
                words.field,
                format!(
                    "The field {} is required and must be a reference such as {{\"id\": 1}}.",
                    words.field
                ),
            ));
            return None;
        }
    };
    if found.is_none() {
        problems.push(FieldError::new(
            "InvalidObject",
            words.field,
            format!("{} {value} was not found.", words.noun),
        ));
    }
    found
}

/// Resolves a board given as `{"id": n}`, `{"name": "x"}` or a bare id; a ticket always has one.
fn board(value: &Value, problems: &mut Vec<FieldError>) -> Value {
    let words = ReferenceWords {
        field: "board",
        key: "name",
        noun: "Board",
    };
    find_reference(value, BOARDS, |(id, name)| (*id, *name), &words, problems)
        .map_or_else(|| value.clone(), |(id, name)| board_reference(*id, name))
}

/// Resolves a company given as `{"id": n}`, `{"identifier": "x"}` or a bare id.
fn company(value: &Value, problems: &mut Vec<FieldError>) -> Value {
    let words = ReferenceWords {
        field: "company",
        key: "identifier",
        noun: "Company",
    };
    let key = |(id, identifier, _): &_| (*id, *identifier);
    find_reference(value, COMPANIES, key, &words, problems).map_or_else(
        || value.clone(),
        |(id, identifier, name)| company_reference(*id, identifier, name),
    )
}

/// Resolves an owner given as `{"id": n}`, `{"identifier": "x"}`, a bare id or null.
fn owner(store: &Store, value: &Value, problems: &mut Vec<FieldError>) -> Value {
    if value.is_null() {
        return Value::Null;
    }
    let member = match (
        reference_id(value),
        value.get("identifier").and_then(Value::as_str),
    ) {
        (Some(id), _) => store.get(Entity::Member, id),
        (None, Some(identifier)) => store.rows(Entity::Member).find(|m| {
            m["identifier"]
                .as_str()
                .is_some_and(|i| i.eq_ignore_ascii_case(identifier))
        }),
        (None, None) => {
            problems.push(FieldError::new(
                "InvalidField",
                "owner",
                "The field owner must be a member reference such as {\"id\": 1}.",
            ));
            return Value::Null;
        }
    };
    match member {
        None => {
            problems.push(FieldError::new(
                "InvalidObject",
                "owner",
                format!("Member {value} was not found."),
            ));
            Value::Null
        }
        Some(m) if m["inactiveFlag"] == json!(true) => {
            problems.push(FieldError::new(
                "InvalidField",
                "owner",
                format!(
                    "Member '{}' is inactive and cannot own tickets.",
                    m["identifier"].as_str().unwrap_or_default()
                ),
            ));
            Value::Null
        }
        Some(m) => {
            let id = m["id"].as_i64().unwrap_or_default();
            store.reference(Entity::Member, id).unwrap_or(Value::Null)
        }
    }
}

pub(crate) fn update(
    store: &mut Store,
    id: &str,
    body: &[u8],
    now: &str,
) -> Result<Value, ApiError> {
    let (id, previous) = id
        .parse::<i64>()
        .ok()
        .and_then(|n| store.get(Entity::Ticket, n).map(|r| (n, r.clone())))
        .ok_or_else(|| ApiError::not_found("Ticket", id))?;
    let operations = patch::parse(Entity::Ticket, body)?;
    let mut problems = Vec::new();
    for op in &operations {
        if READ_ONLY.contains(&op.field()) {
            problems.push(FieldError::new(
                "InvalidField",
                op.field(),
                format!("The field {} is read-only.", op.field()),
            ));
        }
    }
    let mut record: Record = patch::apply(&previous, &operations);
    let touched = |field: &str| operations.iter().any(|op| op.field() == field);

    if touched("owner") {
        let resolved = owner(store, &record["owner"].clone(), &mut problems);
        record.insert("owner".into(), resolved);
    }
    if touched("board") {
        let resolved = board(
            &record.get("board").cloned().unwrap_or(Value::Null),
            &mut problems,
        );
        record.insert("board".into(), resolved);
    }
    if touched("company") {
        let resolved = company(
            &record.get("company").cloned().unwrap_or(Value::Null),
            &mut problems,
        );
        record.insert("company".into(), resolved);
    }
    // The closedFlag the request asked for, before the status sets it.
    let asked_closed = touched("closedFlag").then(|| record.get("closedFlag").cloned());
    if touched("status") {
        match record.get("status").and_then(reference_id) {
            Some(status_id) => match store.get(Entity::TicketStatus, status_id) {
                Some(status) => {
                    let closed = status["closedStatus"].as_bool().unwrap_or(false);
                    record.insert("closedFlag".into(), json!(closed));
                    record.insert(
                        "status".into(),
                        json!({"id": status_id, "name": status["name"]}),
                    );
                }
                None => problems.push(FieldError::new(
                    "InvalidObject",
                    "status",
                    format!("Status with id {status_id} was not found."),
                )),
            },
            None => problems.push(FieldError::new(
                "NullValue",
                "status",
                "The field status is required and must be a reference such as {\"id\": 1}.",
            )),
        }
    }
    match record.get("summary") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 100 => {}
        Some(Value::String(s)) if !s.trim().is_empty() => problems.push(FieldError::new(
            "InvalidField",
            "summary",
            "The field summary must be at most 100 characters long.",
        )),
        _ => problems.push(FieldError::new(
            "NullValue",
            "summary",
            "The field summary is required.",
        )),
    }
    match asked_closed
        .as_ref()
        .unwrap_or(&record.get("closedFlag").cloned())
    {
        Some(Value::Bool(asked)) => {
            // closedFlag follows the status: it cannot close a ticket in an open status (or
            // reopen one in a closed status) by itself.
            let status_closed = record
                .get("status")
                .and_then(reference_id)
                .and_then(|id| store.get(Entity::TicketStatus, id))
                .map(|s| s["closedStatus"].as_bool().unwrap_or(false));
            if let Some(status_closed) = status_closed
                && *asked != status_closed
            {
                let status = record["status"]["name"].as_str().unwrap_or_default();
                problems.push(FieldError::new(
                    "InvalidField",
                    "closedFlag",
                    format!(
                        "The field closedFlag must match the status: '{status}' is {} (to close or reopen a ticket, change its status).",
                        if status_closed { "a closed status" } else { "an open status" }
                    ),
                ));
            }
        }
        _ => problems.push(FieldError::new(
            "InvalidField",
            "closedFlag",
            "The field closedFlag must be true or false.",
        )),
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid("ticket", problems));
    }
    let closed = record["closedFlag"] == json!(true);
    let was_closed = previous.get("closedFlag") == Some(&json!(true));
    if closed && !was_closed {
        record.insert("closedDate".into(), json!(now));
        record.insert("closedBy".into(), json!("psaflow-sandbox"));
    } else if !closed {
        record.insert("closedDate".into(), Value::Null);
        record.insert("closedBy".into(), Value::Null);
    }
    if let Some(Value::Object(info)) = record.get_mut("_info") {
        info.insert("lastUpdated".into(), json!(now));
    }
    store.put(Entity::Ticket, record);
    Ok(Value::Object(
        store.get(Entity::Ticket, id).cloned().unwrap_or_default(),
    ))
}

/// A ticket stored directly by a test or the seed: references expanded, flags defaulted.
pub(crate) fn fixture(store: &Store, mut record: Record, now: &str) -> Record {
    if let Some(owner_id) = record.get("owner").and_then(reference_id)
        && let Some(reference) = store.reference(Entity::Member, owner_id)
    {
        record.insert("owner".into(), reference);
    }
    let status_id = record.get("status").and_then(reference_id).unwrap_or(1);
    if let Some(status) = store.get(Entity::TicketStatus, status_id) {
        record
            .entry("closedFlag")
            .or_insert(json!(status["closedStatus"].as_bool().unwrap_or(false)));
        record.insert(
            "status".into(),
            json!({"id": status_id, "name": status["name"]}),
        );
    }
    record.entry("closedFlag").or_insert(json!(false));
    // A closed ticket says when and by whom, as a PATCH to a closed status stamps them; an
    // open one has neither (else `closedDate = null` would find closed tickets).
    if record.get("closedFlag") == Some(&json!(true)) {
        let by = record
            .get("owner")
            .and_then(|o| o.get("identifier"))
            .cloned()
            .unwrap_or_else(|| json!("psaflow-sandbox"));
        record.entry("closedDate").or_insert(json!(now));
        record.entry("closedBy").or_insert(by);
    } else {
        record.insert("closedDate".into(), Value::Null);
        record.insert("closedBy".into(), Value::Null);
    }
    record.entry("owner").or_insert(Value::Null);
    record.entry("resources").or_insert(Value::Null);
    let (board_id, board_name) = BOARDS[0];
    record
        .entry("board")
        .or_insert(board_reference(board_id, board_name));
    if let Some(c) = record.get("company").and_then(reference_id)
        && let Some((id, identifier, name)) = COMPANIES.iter().find(|(i, _, _)| *i == c)
    {
        record.insert("company".into(), company_reference(*id, identifier, name));
    }
    record
        .entry("_info")
        .or_insert(json!({"dateEntered": now, "lastUpdated": now}));
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        let mut store = Store::default();
        crate::seed::load(&mut store, true);
        store
    }

    #[test]
    fn an_inserted_closed_ticket_says_when_and_by_whom() {
        let store = store();
        let record = |value: Value| value.as_object().cloned().expect("object");
        // Status 4 is a closed status in the seed.
        let closed = fixture(
            &store,
            record(json!({"id": 50, "summary": "s", "owner": {"id": 2}, "status": {"id": 4}})),
            "2026-01-02T03:04:05Z",
        );
        assert_eq!(closed["closedFlag"], true, "{closed:?}");
        assert_eq!(closed["closedDate"], "2026-01-02T03:04:05Z");
        assert_eq!(closed["closedBy"], closed["owner"]["identifier"]);
        let given = fixture(
            &store,
            record(json!({"id": 51, "summary": "s", "closedFlag": true, "closedDate": "2025-05-05T00:00:00Z"})),
            "2026-01-02T03:04:05Z",
        );
        assert_eq!(given["closedDate"], "2025-05-05T00:00:00Z");
        assert_eq!(given["closedBy"], "psaflow-sandbox");
        let open = fixture(&store, record(json!({"id": 52, "summary": "s", "status": {"id": 1}})), "now");
        assert_eq!((open["closedDate"].clone(), open["closedBy"].clone()), (Value::Null, Value::Null));
    }

    #[test]
    fn reassigning_resolves_the_owner_by_id_or_identifier() {
        let mut store = store();
        let ticket = update(
            &mut store,
            "1",
            br#"[{"op":"replace","path":"owner","value":{"id":3}}]"#,
            "now",
        )
        .unwrap();
        assert_eq!(ticket["owner"]["identifier"], "asmith");
        let ticket = update(
            &mut store,
            "1",
            br#"[{"op":"replace","path":"owner","value":{"identifier":"JDOE"}}]"#,
            "now",
        )
        .unwrap();
        assert_eq!(ticket["owner"]["id"], 2);
    }

    #[test]
    fn an_inactive_or_missing_owner_is_refused_naming_owner() {
        let mut store = store();
        for value in [r#"{"id":999}"#, r#"{"identifier":"former"}"#, r#""x""#] {
            let body = format!(r#"[{{"op":"replace","path":"owner","value":{value}}}]"#);
            let err = update(&mut store, "1", body.as_bytes(), "now").unwrap_err();
            assert_eq!(err.errors[0].field, "owner", "{value}: {err:?}");
        }
    }

    #[test]
    fn references_are_resolved_as_the_api_returns_them() {
        let mut store = store();
        let ticket = update(
            &mut store,
            "1",
            br#"[{"op":"replace","path":"board","value":{"id":2}},
                 {"op":"replace","path":"company","value":{"id":1}}]"#,
            "now",
        )
        .unwrap();
        assert_eq!(ticket["board"]["id"], 2);
        assert_eq!(ticket["board"]["name"], "Projects", "the name is not lost");
        assert_eq!(ticket["company"]["identifier"], "Contoso");
        assert_eq!(ticket["company"]["name"], "Contoso Ltd");
        let ticket = update(
            &mut store,
            "1",
            br#"[{"op":"replace","path":"board","value":{"id":1}}]"#,
            "now",
        )
        .unwrap();
        assert_eq!(ticket["board"]["name"], "Service Desk");
        for (field, value, code, message) in [
            (
                "board",
                r#"{"id":99}"#,
                "InvalidObject",
                r#"Board {"id":99} was not found."#,
            ),
            (
                "board",
                "null",
                "NullValue",
                r#"The field board is required and must be a reference such as {"id": 1}."#,
            ),
            (
                "company",
                r#"{"identifier":"Nope"}"#,
                "InvalidObject",
                r#"Company {"identifier":"Nope"} was not found."#,
            ),
            (
                "company",
                "null",
                "NullValue",
                r#"The field company is required and must be a reference such as {"id": 1}."#,
            ),
        ] {
            let body = format!(r#"[{{"op":"replace","path":"{field}","value":{value}}}]"#);
            let err = update(&mut store, "1", body.as_bytes(), "now").unwrap_err();
            assert_eq!(
                err.errors,
                [FieldError::new(code, field, message)],
                "{value}"
            );
        }
        assert_eq!(
            store.get(Entity::Ticket, 1).unwrap()["board"]["name"],
            "Service Desk"
        );
    }

    #[test]
    fn closed_flag_follows_the_status() {
        let mut store = store();
        // Ticket 1 is New (open): closedFlag alone cannot close it.
        let err = update(
            &mut store,
            "1",
            br#"[{"op":"replace","path":"closedFlag","value":true}]"#,
            "T",
        )
        .unwrap_err();
        assert_eq!(err.errors[0].field, "closedFlag", "{err:?}");
        assert_eq!(store.get(Entity::Ticket, 1).unwrap()["closedFlag"], false);
        // Nor can it contradict the status it is sent with.
        let err = update(
            &mut store,
            "1",
            br#"[{"op":"replace","path":"status","value":{"id":2}},
                 {"op":"replace","path":"closedFlag","value":true}]"#,
            "T",
        )
        .unwrap_err();
        assert_eq!(err.errors[0].field, "closedFlag", "{err:?}");
        // Agreeing with the status is fine, and a closed status closes the ticket.
        let ticket = update(
            &mut store,
            "1",
            br#"[{"op":"replace","path":"status","value":{"id":4}},
                 {"op":"replace","path":"closedFlag","value":true}]"#,
            "T",
        )
        .unwrap();
        assert_eq!(ticket["closedFlag"], true);
        let ticket = update(
            &mut store,
            "2",
            br#"[{"op":"replace","path":"closedFlag","value":false}]"#,
            "T",
        )
        .unwrap();
        assert_eq!(ticket["closedFlag"], false);
    }

    #[test]
    fn a_closed_status_closes_the_ticket() {
        let mut store = store();
        let ticket = update(
            &mut store,
            "1",
            br#"[{"op":"replace","path":"status","value":{"id":4}}]"#,
            "T",
        )
        .unwrap();
        assert_eq!(
            (ticket["closedFlag"].clone(), ticket["closedDate"].clone()),
            (json!(true), json!("T"))
        );
        let err = update(
            &mut store,
            "1",
            br#"[{"op":"replace","path":"status","value":{"id":77}}]"#,
            "T",
        )
        .unwrap_err();
        assert_eq!(err.errors[0].field, "status");
    }
}
