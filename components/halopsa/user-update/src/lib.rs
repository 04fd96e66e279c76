//! halopsa.user.update: changes the given fields of an existing user.
//!
//! Rules (seed "Update a User"):
//! - Id must be a positive integer.
//! - Name, Surname, Emailaddress, Notes are sent (trimmed) only when not blank; empty keeps the
//!   current value. Emailaddress, when given, must be an email address (the agents' rule,
//!   [`psaflow_kit::agents::email`]).
//! - SiteId is sent (as `site_id`) only when positive; 0 or absent keeps the current site; a
//!   negative value is a validation error.
//! - Password: empty keeps the current password; otherwise the rules of Create a User apply
//!   (8+ characters, upper case, lower case, a digit or one of !@#$%^&* (the seed's set)), checked before any request. It
//!   never appears in any ErrorMessage or output.
//! - Inactive is sent only when given (true disables the user, false enables).
//! - Nothing to update: StatusCode -1 (nothing sent).
//! - `POST /Users` with `[{"id": Id, <changed fields>}]`; a 404 is worded
//!   "User with ID {Id} not found".
//! - Output `User`: the updated record with ids as integers and without password fields; `{}` on
//!   any failure.

#![cfg_attr(not(test), no_std)]

// The generated export glue takes one argument per input field.
#![allow(clippy::too_many_arguments)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("user-update");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::{Failure, agents, fields, http, validate};
use serde_json::{Map, Value};

const OUTPUT: &str = "User";

/// Fields that could carry a password back; never part of the output.
const PASSWORD_FIELDS: [&str; 2] = ["password", "new_password"];

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Update)
            // Marking the user inactive is a deactivation, confirmed and counted as one.
            .when("Inactive", "true", Effect::Deactivate)
            .calls("POST", "/Users")
            .into()
    }

    fn run(input: UpdateInput) -> Envelope {
        envelope::respond(OUTPUT, update(&input), |_| envelope::empty_object())
    }
}

fn update(input: &UpdateInput) -> Result<Done, Failure> {
    let (id, body) = build_body(input)?;
    let not_found = format!("User with ID {id} not found");
    // Validation messages never quote the password; an answer from HaloPSA might.
    let secret = body
        .get("password")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (status, record) =
        http::post_array("/Users", &body, Some(&not_found)).map_err(|f| f.redacted(secret))?;
    Ok(Done::record(status, without_password(record)))
}

/// Validates the input and builds `{"id", <changed fields>}`. Sends nothing.
fn build_body(input: &UpdateInput) -> Result<(i64, Map<String, Value>), Failure> {
    let id = validate::positive_id("Id", input.id)?;
    let site_id = validate::id_or_keep("SiteId", input.site_id)?;
    let password = validate::optional_password("Password", input.password.as_deref())?;
    let mut changes = Map::new();
    let texts = [
        ("name", &input.name),
        ("surname", &input.surname),
        ("notes", &input.notes),
    ];
    for (key, value) in texts {
        if let Some(text) = validate::optional_text(value.as_deref()) {
            changes.insert(key.into(), Value::String(text));
        }
    }
    if let Some(email) = validate::optional_text(input.emailaddress.as_deref()) {
        changes.insert(
            "emailaddress".into(),
            Value::String(agents::email("Emailaddress", &email)?),
        );
    }
    if let Some(site_id) = site_id {
        changes.insert("site_id".into(), Value::from(site_id));
    }
    if let Some(password) = password {
        changes.insert("password".into(), Value::String(password));
    }
    if let Some(inactive) = input.inactive {
        changes.insert("inactive".into(), Value::Bool(inactive));
    }
    if changes.is_empty() {
        return Err(Failure::invalid(
            "Nothing to update: give at least one of Name, Surname, SiteId, Emailaddress, Notes, Password or Inactive",
        ));
    }
    let mut body = Map::new();
    body.insert("id".into(), Value::from(id));
    body.extend(changes);
    Ok((id, body))
}

/// The record without any password field.
fn without_password(mut record: Value) -> Value {
    if let Value::Object(map) = &mut record {
        for key in PASSWORD_FIELDS {
            fields::remove(map, key);
        }
    }
    record
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(id: i64) -> UpdateInput {
        UpdateInput {
            id,
            name: None,
            surname: None,
            site_id: None,
            emailaddress: None,
            notes: None,
            password: None,
            inactive: None,
        }
    }

    fn invalid(i: UpdateInput) -> String {
        match build_body(&i) {
            Err(Failure::Invalid(m)) => m,
            other => panic!("expected -1, got {other:?}"),
        }
    }

    fn body(i: UpdateInput) -> Value {
        Value::Object(build_body(&i).unwrap().1)
    }

    #[test]
    fn rules() {
        let mut i = input(0);
        i.name = Some("x".into());
        assert_eq!(invalid(i), "Id must be a positive integer");
        let mut i = input(4);
        i.site_id = Some(-1);
        assert!(invalid(i).starts_with("SiteId must be a positive integer"));
        let mut i = input(4);
        i.password = Some("weakpass".into());
        let m = invalid(i);
        assert!(
            m.starts_with("Password does not meet the password rules"),
            "{m}"
        );
        assert!(!m.contains("weakpass"));
    }

    #[test]
    fn email_addresses_follow_the_agents_rule() {
        for bad in ["notanemail", "a@b", "a b@msp.example", "@msp.example"] {
            let mut i = input(4);
            i.emailaddress = Some(bad.into());
            let m = invalid(i);
            assert!(
                m.starts_with("Emailaddress must be an email address"),
                "{bad}: {m}"
            );
        }
        let mut i = input(4);
        i.emailaddress = Some(" Ada@MSP.example ".into());
        assert_eq!(body(i), json!({"id": 4, "emailaddress": "Ada@MSP.example"}));
    }

    #[test]
    fn empty_values_keep_the_current_ones() {
        assert!(invalid(input(4)).starts_with("Nothing to update"));
        let mut i = input(4);
        i.name = Some("  ".into());
        i.surname = Some(String::new());
        i.emailaddress = Some(String::new());
        i.notes = Some(" ".into());
        i.password = Some(String::new());
        i.site_id = Some(0);
        assert!(invalid(i).starts_with("Nothing to update"));
    }

    #[test]
    fn only_given_fields_are_sent() {
        let mut i = input(4);
        i.inactive = Some(false);
        assert_eq!(body(i), json!({"id": 4, "inactive": false}));
        let mut i = input(4);
        i.name = Some(" John ".into());
        i.surname = Some("Doe".into());
        i.site_id = Some(101);
        i.emailaddress = Some("john.doe@company.example".into());
        i.notes = Some("Sales team".into());
        i.password = Some("NewSecureP@ss123".into());
        i.inactive = Some(true);
        assert_eq!(
            body(i),
            json!({"id": 4, "name": "John", "surname": "Doe", "emailaddress": "john.doe@company.example",
                   "notes": "Sales team", "site_id": 101, "password": "NewSecureP@ss123", "inactive": true})
        );
    }

    #[test]
    fn validation_sends_nothing() {
        // The native transport stub would panic if a request were sent.
        let mut i = input(4);
        i.password = Some("Short1".into());
        let e = Node::run(i);
        assert_eq!((e.status_code, e.original_status_code), (-1, 0));
        assert!(!e.error_message.contains("Short1"));
        assert_eq!(e.output, "{}");
        assert_eq!(
            without_password(json!({"id": 4, "PASSWORD": "x"})),
            json!({"id": 4})
        );
    }
}
