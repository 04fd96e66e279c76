//! `/system/members`: the rules a member must satisfy on create, PUT and PATCH.
//!
//! Required on create (the fields an administrator must fill in, per the lifecycle guide):
//! identifier, firstName, lastName, licenseClass, securityRole, defaultLocation,
//! defaultDepartment, and the email that `defaultEmail` points at (`Office` by default, so
//! `officeEmail`). The identifier is unique (case-insensitively), at most 15 characters, and
//! cannot be changed afterwards. Members are never deleted; `inactiveFlag` deactivates.

use serde_json::{Value, json};

use crate::errors::{ApiError, FieldError};
use crate::patch::{self, Operation};
use crate::store::{Entity, Record, Store, reference_id};

pub(crate) const FIELDS: &[&str] = &[
    "id",
    "identifier",
    "password",
    "disableOnlineFlag",
    "licenseClass",
    "firstName",
    "middleInitial",
    "lastName",
    "title",
    "officeEmail",
    "mobileEmail",
    "homeEmail",
    "defaultEmail",
    "primaryEmail",
    "officePhone",
    "mobilePhone",
    "homePhone",
    "defaultPhone",
    "inactiveFlag",
    "inactiveDate",
    "hireDate",
    "securityRole",
    "defaultLocation",
    "securityLocation",
    "defaultDepartment",
    "timeZone",
    "adminFlag",
    "notes",
    "employeeIdentifer",
    "_info",
];

/// Fields the server sets; a client's value is ignored.
const READ_ONLY: &[&str] = &["id", "primaryEmail", "inactiveDate", "_info"];

const MAX_LENGTHS: &[(&str, usize)] = &[
    ("identifier", 15),
    ("firstName", 30),
    ("lastName", 30),
    ("middleInitial", 1),
    ("title", 50),
    ("officeEmail", 250),
    ("mobileEmail", 250),
    ("homeEmail", 250),
    ("officePhone", 15),
    ("mobilePhone", 15),
    ("homePhone", 15),
    ("employeeIdentifer", 10),
    ("password", 60),
];

const LICENSE_CLASSES: &[&str] = &["F", "A", "C", "X"];

/// Date fields a client may write (`inactiveDate` is read-only): ConnectWise refuses a value
/// that is not a date with a 400 naming the field, so none is stored that conditions would miss.
const DATE_FIELDS: &[&str] = &["hireDate"];

/// Reference fields and the table each points into.
const REFERENCES: &[(&str, Entity)] = &[
    ("securityRole", Entity::SecurityRole),
    ("defaultLocation", Entity::Location),
    ("securityLocation", Entity::Location),
    ("defaultDepartment", Entity::Department),
    ("timeZone", Entity::TimeZone),
];

const REQUIRED: &[&str] = &[
    "identifier",
    "firstName",
    "lastName",
    "licenseClass",
    "securityRole",
    "defaultLocation",
    "defaultDepartment",
];

fn is_blank(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(_) => false,
    }
}

/// The known fields of a request body, case as ConnectWise spells them; unknown keys are
/// ignored, as ConnectWise ignores them.
fn known_fields(body: &Value) -> Result<Record, ApiError> {
    let Value::Object(object) = body else {
        return Err(crate::store::bad_body(
            "member",
            "The request body must be a member object.",
        ));
    };
    let mut record = Record::new();
    for (key, value) in object {
        if let Some(field) = FIELDS.iter().find(|f| f.eq_ignore_ascii_case(key))
            && !READ_ONLY.contains(field)
        {
            record.insert((*field).to_owned(), value.clone());
        }
    }
    Ok(record)
}

/// Checks `record` (the full member as it would be stored) and expands its references.
/// `own_id` is the member's id on update, so it does not collide with itself.
fn check(store: &Store, mut record: Record, own_id: Option<i64>) -> Result<Record, ApiError> {
    let mut problems = Vec::new();
    for field in REQUIRED {
        if is_blank(record.get(*field)) {
            problems.push(FieldError::new(
                "NullValue",
                field,
                format!("The field {field} is required."),
            ));
        }
    }
    for (field, max) in MAX_LENGTHS {
        match record.get(*field) {
            Some(Value::String(s)) if s.chars().count() > *max => problems.push(FieldError::new(
                "InvalidField",
                field,
                format!("The field {field} must be at most {max} characters long."),
            )),
            None | Some(Value::Null | Value::String(_)) => {}
            Some(_) => problems.push(FieldError::new(
                "InvalidField",
                field,
                format!("The field {field} must be a string."),
            )),
        }
    }
    if let Some(Value::String(class)) = record.get("licenseClass")
        && !LICENSE_CLASSES.contains(&class.as_str())
    {
        problems.push(FieldError::new(
            "InvalidField",
            "licenseClass",
            format!("licenseClass must be one of F, A, C, X, not '{class}'."),
        ));
    }
    for flag in ["inactiveFlag", "adminFlag", "disableOnlineFlag"] {
        if let Some(value) = record.get(flag)
            && !value.is_boolean()
            && !value.is_null()
        {
            problems.push(FieldError::new(
                "InvalidField",
                flag,
                format!("The field {flag} must be true or false."),
            ));
        }
    }
    for field in DATE_FIELDS {
        match record.get(*field) {
            None | Some(Value::Null) => {}
            Some(Value::String(text)) if crate::clock::is_datetime(text) => {}
            Some(other) => problems.push(FieldError::new(
                "InvalidField",
                field,
                format!(
                    "The field {field} must be a date and time such as 2024-03-01T00:00:00Z, not {other}."
                ),
            )),
        }
    }
    // defaultEmail points at officeEmail / mobileEmail / homeEmail, which must then be set.
    let default_email = match record.get("defaultEmail") {
        None | Some(Value::Null) => "Office".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let email_field = match default_email.as_str() {
        "Office" => Some("officeEmail"),
        "Mobile" => Some("mobileEmail"),
        "Home" => Some("homeEmail"),
        _ => {
            problems.push(FieldError::new(
                "InvalidField",
                "defaultEmail",
                format!("defaultEmail must be Office, Mobile or Home, not '{default_email}'."),
            ));
            None
        }
    };
    record.insert("defaultEmail".into(), json!(default_email));
    if let Some(email_field) = email_field {
        match record.get(email_field).and_then(Value::as_str) {
            Some(email) if !email.trim().is_empty() => {
                if !email.contains('@') {
                    problems.push(FieldError::new(
                        "InvalidField",
                        email_field,
                        format!("The field {email_field} is not a valid email address."),
                    ));
                }
                record.insert("primaryEmail".into(), json!(email));
            }
            _ => problems.push(FieldError::new(
                "NullValue",
                email_field,
                format!("The field {email_field} is required: defaultEmail is {default_email}."),
            )),
        }
    }
    if is_blank(record.get("securityLocation"))
        && let Some(location) = record.get("defaultLocation").cloned()
    {
        record.insert("securityLocation".into(), location);
    }
    for (field, entity) in REFERENCES {
        let Some(value) = record.get(*field).filter(|v| !v.is_null()) else {
            continue;
        };
        match reference_id(value) {
            Some(id) => match store.reference(*entity, id) {
                Some(reference) => {
                    record.insert((*field).to_owned(), reference);
                }
                None => problems.push(FieldError::new(
                    "InvalidObject",
                    field,
                    format!("{} with id {id} was not found.", entity.label()),
                )),
            },
            None => problems.push(FieldError::new(
                "InvalidField",
                field,
                format!("The field {field} must be a reference such as {{\"id\": 1}}."),
            )),
        }
    }
    if let Some(identifier) = record.get("identifier").and_then(Value::as_str) {
        let taken = store.rows(Entity::Member).any(|other| {
            other["identifier"]
                .as_str()
                .is_some_and(|i| i.eq_ignore_ascii_case(identifier))
                && other["id"].as_i64() != own_id
        });
        if taken {
            problems.push(FieldError::new(
                "ObjectExists",
                "identifier",
                format!("The identifier '{identifier}' is already in use by another member."),
            ));
        }
    }
    if problems.is_empty() {
        Ok(record)
    } else {
        Err(ApiError::invalid("member", problems))
    }
}

/// The stored form: the password is never kept, and `inactiveDate` follows `inactiveFlag`.
fn finish(mut record: Record, previous: Option<&Record>, now: &str) -> Record {
    record.remove("password");
    let inactive = record
        .get("inactiveFlag")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    record.insert("inactiveFlag".into(), json!(inactive));
    let was_inactive = previous
        .and_then(|p| p.get("inactiveFlag"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let inactive_date = match (inactive, was_inactive) {
        (true, true) => previous
            .and_then(|p| p.get("inactiveDate").cloned())
            .unwrap_or(Value::Null),
        (true, false) => json!(now),
        (false, _) => Value::Null,
    };
    record.insert("inactiveDate".into(), inactive_date);
    for (key, default) in [
        ("adminFlag", json!(false)),
        ("disableOnlineFlag", json!(false)),
        ("defaultPhone", json!("Office")),
        ("hireDate", json!(now)),
    ] {
        if record.get(key).is_none_or(Value::is_null) {
            record.insert(key.into(), default);
        }
    }
    let entered = previous
        .and_then(|p| p.get("_info"))
        .and_then(|i| i.get("dateEntered"))
        .cloned()
        .unwrap_or_else(|| json!(now));
    record.insert(
        "_info".into(),
        json!({"dateEntered": entered, "lastUpdated": now, "updatedBy": "psaflow-sandbox"}),
    );
    record
}

pub(crate) fn create(store: &mut Store, body: &[u8], now: &str) -> Result<Value, ApiError> {
    let body: Value = serde_json::from_slice(body).map_err(|e| {
        crate::store::bad_body(
            "member",
            format!("The request body is not valid JSON: {e}."),
        )
    })?;
    let record = check(store, known_fields(&body)?, None)?;
    let id = store.put(Entity::Member, finish(record, None, now));
    Ok(Value::Object(
        store.get(Entity::Member, id).cloned().unwrap_or_default(),
    ))
}

fn existing(store: &Store, id: &str) -> Result<(i64, Record), ApiError> {
    id.parse::<i64>()
        .ok()
        .and_then(|n| store.get(Entity::Member, n).map(|r| (n, r.clone())))
        .ok_or_else(|| ApiError::not_found("Member", id))
}

fn identifier_unchanged(previous: &Record, next: &Record) -> Result<(), ApiError> {
    let before = previous["identifier"].as_str().unwrap_or_default();
    let after = next
        .get("identifier")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if before != after {
        return Err(ApiError::invalid(
            "member",
            vec![FieldError::new(
                "InvalidField",
                "identifier",
                format!("The identifier of a member cannot be changed (it is '{before}')."),
            )],
        ));
    }
    Ok(())
}

pub(crate) fn update(
    store: &mut Store,
    id: &str,
    body: &[u8],
    now: &str,
) -> Result<Value, ApiError> {
    let (id, previous) = existing(store, id)?;
    let operations = patch::parse(Entity::Member, body)?;
    if let Some(op) = operations.iter().find(|op| READ_ONLY.contains(&op.field())) {
        return Err(ApiError::invalid(
            "member",
            vec![FieldError::new(
                "InvalidField",
                op.field(),
                format!("The field {} is read-only.", op.field()),
            )],
        ));
    }
    let mut patched = patch::apply(&previous, &operations);
    // Removing securityLocation falls back to the default location again.
    if operations.contains(&Operation::Remove("securityLocation")) {
        patched.remove("securityLocation");
    }
    identifier_unchanged(&previous, &patched)?;
    let record = check(store, patched, Some(id))?;
    store.put(Entity::Member, finish(record, Some(&previous), now));
    Ok(Value::Object(
        store.get(Entity::Member, id).cloned().unwrap_or_default(),
    ))
}

pub(crate) fn replace(
    store: &mut Store,
    id: &str,
    body: &[u8],
    now: &str,
) -> Result<Value, ApiError> {
    let (id, previous) = existing(store, id)?;
    let body: Value = serde_json::from_slice(body).map_err(|e| {
        crate::store::bad_body(
            "member",
            format!("The request body is not valid JSON: {e}."),
        )
    })?;
    let mut record = known_fields(&body)?;
    record.insert("id".into(), json!(id));
    identifier_unchanged(&previous, &record)?;
    let record = check(store, record, Some(id))?;
    store.put(Entity::Member, finish(record, Some(&previous), now));
    Ok(Value::Object(
        store.get(Entity::Member, id).cloned().unwrap_or_default(),
    ))
}

/// `POST /system/members/{id}/deactivate` (connectwise-api.md §3): the body is a
/// `MemberDeactivation` (what to reassign the member's roles and records to), answered with 200
/// and that body. The member becomes inactive as `PATCH inactiveFlag=true` makes it: `inactiveDate`
/// stamped on the first deactivation and kept after. The sandbox holds none of the records the
/// body reassigns, so it only checks that the body is an object.
pub(crate) fn deactivate(
    store: &mut Store,
    id: &str,
    body: &[u8],
    now: &str,
) -> Result<Value, ApiError> {
    let (_, previous) = existing(store, id)?;
    let deactivation: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| {
            crate::store::bad_body(
                "memberDeactivation",
                format!("The request body is not valid JSON: {e}."),
            )
        })?
    };
    if !deactivation.is_object() {
        return Err(crate::store::bad_body(
            "memberDeactivation",
            "The request body must be a member deactivation object.",
        ));
    }
    let mut record = previous.clone();
    record.insert("inactiveFlag".into(), json!(true));
    store.put(Entity::Member, finish(record, Some(&previous), now));
    Ok(deactivation)
}

/// A member stored directly by a test or the seed, with references expanded where they resolve.
pub(crate) fn fixture(store: &Store, mut record: Record, now: &str) -> Record {
    for (field, entity) in REFERENCES {
        if let Some(reference) = record
            .get(*field)
            .and_then(reference_id)
            .and_then(|id| store.reference(*entity, id))
        {
            record.insert((*field).to_owned(), reference);
        }
    }
    if let Some(email) = record.get("officeEmail").cloned() {
        record.entry("primaryEmail").or_insert(email);
    }
    record.entry("defaultEmail").or_insert(json!("Office"));
    finish(record, None, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        let mut store = Store::default();
        crate::seed::load(&mut store, true);
        store
    }

    fn valid() -> Value {
        json!({
            "identifier": "newbie",
            "firstName": "New",
            "lastName": "Person",
            "licenseClass": "F",
            "officeEmail": "new@example.com",
            "securityRole": {"id": 2},
            "defaultLocation": {"id": 1},
            "defaultDepartment": {"id": 1}
        })
    }

    fn fields(err: &ApiError) -> Vec<&str> {
        err.errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn create_expands_references_and_never_keeps_the_password() {
        let mut store = store();
        let mut body = valid();
        body["password"] = json!("Sup3r-secret!");
        let member = create(
            &mut store,
            body.to_string().as_bytes(),
            "2025-01-01T00:00:00Z",
        )
        .unwrap();
        assert_eq!(member["securityRole"]["name"], "Technician");
        assert_eq!(member["securityLocation"]["id"], 1);
        assert_eq!(member["primaryEmail"], "new@example.com");
        assert_eq!(member["inactiveFlag"], false);
        assert!(member.get("password").is_none());
    }

    #[test]
    fn create_lists_every_missing_required_field() {
        let mut store = store();
        let err = create(&mut store, b"{}", "now").unwrap_err();
        assert_eq!(
            fields(&err),
            [
                "identifier",
                "firstName",
                "lastName",
                "licenseClass",
                "securityRole",
                "defaultLocation",
                "defaultDepartment",
                "officeEmail"
            ]
        );
    }

    #[test]
    fn identifier_rules() {
        let mut store = store();
        let mut body = valid();
        body["identifier"] = json!("a-very-long-identifier");
        let err = create(&mut store, body.to_string().as_bytes(), "now").unwrap_err();
        assert_eq!(fields(&err), ["identifier"]);
        body["identifier"] = json!("JDOE");
        let err = create(&mut store, body.to_string().as_bytes(), "now").unwrap_err();
        assert_eq!(err.errors[0].code, "ObjectExists");
        let patch = json!([{"op": "replace", "path": "identifier", "value": "other"}]);
        let err = update(&mut store, "2", patch.to_string().as_bytes(), "now").unwrap_err();
        assert!(
            err.errors[0].message.contains("cannot be changed"),
            "{err:?}"
        );
    }

    #[test]
    fn deactivation_stamps_and_clears_inactive_date() {
        let mut store = store();
        let off = json!([{"op": "replace", "path": "inactiveFlag", "value": true}]);
        let member = update(&mut store, "2", off.to_string().as_bytes(), "T1").unwrap();
        assert_eq!(
            (
                member["inactiveFlag"].clone(),
                member["inactiveDate"].clone()
            ),
            (json!(true), json!("T1"))
        );
        let member = update(&mut store, "2", off.to_string().as_bytes(), "T2").unwrap();
        assert_eq!(
            member["inactiveDate"], "T1",
            "a second deactivation keeps the first date"
        );
        let on = json!([{"op": "replace", "path": "/inactiveFlag", "value": false}]);
        let member = update(&mut store, "2", on.to_string().as_bytes(), "T3").unwrap();
        assert_eq!(member["inactiveDate"], Value::Null);
    }

    #[test]
    fn a_hire_date_that_is_not_a_date_is_refused_naming_the_field() {
        let mut store = store();
        for bad in [
            json!("notadate"),
            json!("2024-02-30T00:00:00Z"),
            json!(20240301),
        ] {
            let mut body = valid();
            body["hireDate"] = bad.clone();
            let err = create(&mut store, body.to_string().as_bytes(), "now").unwrap_err();
            assert_eq!((err.status.as_u16(), fields(&err)), (400, vec!["hireDate"]));
            assert!(
                err.errors[0].message.contains("2024-03-01T00:00:00Z"),
                "{err:?}"
            );
            let patch = json!([{"op": "replace", "path": "hireDate", "value": bad}]);
            let err = update(&mut store, "2", patch.to_string().as_bytes(), "now").unwrap_err();
            assert_eq!(fields(&err), ["hireDate"], "{bad}");
            let mut whole = store
                .get(Entity::Member, 2)
                .cloned()
                .map(Value::Object)
                .unwrap();
            whole["hireDate"] = bad.clone();
            let err = replace(&mut store, "2", whole.to_string().as_bytes(), "now").unwrap_err();
            assert_eq!(fields(&err), ["hireDate"], "{bad}");
        }
        assert_eq!(
            store.get(Entity::Member, 2).unwrap()["hireDate"],
            "2023-04-03T00:00:00Z",
            "nothing was stored"
        );
        let mut body = valid();
        body["hireDate"] = json!("2024-03-01T00:00:00Z");
        let member = create(&mut store, body.to_string().as_bytes(), "now").unwrap();
        assert_eq!(member["hireDate"], "2024-03-01T00:00:00Z");
        let patch = json!([{"op": "replace", "path": "hireDate", "value": "2024-02-29T08:00:00Z"}]);
        let member = update(&mut store, "2", patch.to_string().as_bytes(), "now").unwrap();
        assert_eq!(member["hireDate"], "2024-02-29T08:00:00Z");
    }

    #[test]
    fn deactivate_endpoint_deactivates_as_patch_does_and_echoes_the_body() {
        let mut store = store();
        let body = json!({"activity": {"count": 0, "reAssignToMember": {"id": 3}},
                          "deleteOpenTimeSheetsFlag": false});
        let answer = deactivate(&mut store, "2", body.to_string().as_bytes(), "T1").unwrap();
        assert_eq!(answer, body);
        let member = store.get(Entity::Member, 2).unwrap();
        assert_eq!(
            (
                member["inactiveFlag"].clone(),
                member["inactiveDate"].clone()
            ),
            (json!(true), json!("T1"))
        );
        assert_eq!(member["identifier"], "jdoe", "the rest is kept");
        deactivate(&mut store, "2", b"", "T2").unwrap();
        assert_eq!(
            store.get(Entity::Member, 2).unwrap()["inactiveDate"],
            "T1",
            "a second deactivation keeps the first date"
        );
        let err = deactivate(&mut store, "999", b"{}", "T").unwrap_err();
        assert_eq!(err.status.as_u16(), 404);
        assert!(err.message.contains("Member with id 999"), "{err:?}");
        let err = deactivate(&mut store, "3", b"[1]", "T").unwrap_err();
        assert_eq!(err.status.as_u16(), 400);
        assert_eq!(store.get(Entity::Member, 3).unwrap()["inactiveFlag"], false);
    }

    #[test]
    fn patch_checks_references_and_types() {
        let mut store = store();
        let patch = json!([
            {"op": "replace", "path": "securityRole", "value": {"id": 999}},
            {"op": "replace", "path": "inactiveFlag", "value": "yes"}
        ]);
        let err = update(&mut store, "2", patch.to_string().as_bytes(), "now").unwrap_err();
        assert_eq!(fields(&err), ["inactiveFlag", "securityRole"]);
        let err = update(&mut store, "2", br#"[{"op":"move","path":"title"}]"#, "now").unwrap_err();
        assert_eq!(fields(&err), ["op"]);
        let err = update(
            &mut store,
            "2",
            br#"[{"op":"replace","path":"shoeSize","value":1}]"#,
            "now",
        )
        .unwrap_err();
        assert_eq!(fields(&err), ["shoeSize"]);
    }
}
