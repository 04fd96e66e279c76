//! `/service/tickets`: listing and PATCH. An owner must be an active member; a status carries
//! its `closedStatus` into `closedFlag`.

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
    match record.get("closedFlag") {
        Some(Value::Bool(_)) => {}
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
    record.entry("owner").or_insert(Value::Null);
    record.entry("resources").or_insert(Value::Null);
    record
        .entry("board")
        .or_insert(json!({"id": 1, "name": "Service Desk"}));
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
