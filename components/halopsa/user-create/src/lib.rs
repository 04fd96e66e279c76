//! halopsa.user.create: creates a user (end-user contact) on a site.
//!
//! Rules (seed "Create a User"):
//! - Name is required (not blank; sent trimmed); SiteId is required and must be a positive
//!   integer (sent as `site_id`).
//! - Password is optional; an empty one is "not given". When given it must have 8+ characters,
//!   an upper-case letter, a lower-case letter and a digit or one of !@#$%^&* (the seed's set), checked before any request.
//!   The password is sent exactly as written and never appears in any ErrorMessage or output:
//!   rule messages do not quote it, HaloPSA's error messages are scrubbed of it, and password
//!   fields are removed from the returned User.
//! - Inactive defaults to false and is always sent.
//! - Emailaddress, Surname, Notes are optional (sent trimmed when not blank); Emailaddress,
//!   when given, must be an email address (the agents' rule, [`psaflow_kit::agents::email`]).
//! - `POST /Users` with a one-element JSON array; the answer is the User.
//! - The users with its natural key (the email address when given, else the name on the site,
//!   both trimmed, ignoring case) are listed before the POST. When its answer is lost (the
//!   outcome is unknown), one such user that was not there before is the created user; none
//!   means nothing was created (a 500, safe to retry); several stop with their ids
//!   ([`psaflow_kit::recover`]).
//! - Output `User`: the created record with ids as integers (HaloPSA writes `site_id` as a
//!   decimal) and without password fields; `{}` on any failure.

#![cfg_attr(not(test), no_std)]

// The generated export glue takes one argument per input field.
#![allow(clippy::too_many_arguments)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("user-create");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::http::Query;
use psaflow_kit::recover::{self, Subject};
use psaflow_kit::{Failure, agents, fields, paging, validate};
use serde_json::{Map, Value};

const OUTPUT: &str = "User";

/// Fields that could carry a password back; never part of the output.
const PASSWORD_FIELDS: [&str; 2] = ["password", "new_password"];

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Create)
            .natural_key(&["Emailaddress", "Name", "SiteId"])
            .calls("POST", "/Users")
            .calls("GET", "/Users") // the users with the key, before and after a lost answer
            .into()
    }

    fn run(input: CreateInput) -> Envelope {
        envelope::respond(OUTPUT, create(&input), |_| envelope::empty_object())
    }
}

fn create(input: &CreateInput) -> Result<Done, Failure> {
    let body = build_body(input)?;
    // Validation messages never quote the password; an answer from HaloPSA might.
    let secret = body
        .get("password")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or_default();
    let (name, email) = (text("name"), text("emailaddress"));
    let site_id = body.get("site_id").and_then(Value::as_i64).unwrap_or_default();
    let key = if email.is_empty() {
        format!("named {name:?} on site {site_id}")
    } else {
        format!("with email {email}")
    };
    let subject = Subject {
        what: "user",
        key: &key,
    };
    let (status, record) = recover::create_or_find("/Users", &body, subject, || {
        if email.is_empty() {
            let filter = Query::new().with("site_id", site_id);
            recover::list_matching(&paging::USERS, filter, name, |u| {
                recover::text_matches(u, "name", name) && recover::id_matches(u, "site_id", site_id)
            })
        } else {
            recover::list_matching(&paging::USERS, Query::new(), email, |u| {
                recover::text_matches(u, "emailaddress", email)
            })
        }
    })
    .map_err(|f| f.redacted(secret))?;
    Ok(Done::record(status, without_password(record)))
}

/// Validates the input and builds the user object to POST. Sends nothing.
fn build_body(input: &CreateInput) -> Result<Map<String, Value>, Failure> {
    let name = validate::required_text("Name", &input.name)?;
    let site_id = validate::positive_id("SiteId", input.site_id)?;
    let password = validate::optional_password("Password", input.password.as_deref())?;
    let mut body = Map::new();
    body.insert("name".into(), Value::String(name));
    body.insert("site_id".into(), Value::from(site_id));
    if let Some(email) = validate::optional_text(input.emailaddress.as_deref()) {
        body.insert(
            "emailaddress".into(),
            Value::String(agents::email("Emailaddress", &email)?),
        );
    }
    let texts = [("surname", &input.surname), ("notes", &input.notes)];
    for (key, value) in texts {
        if let Some(text) = validate::optional_text(value.as_deref()) {
            body.insert(key.into(), Value::String(text));
        }
    }
    if let Some(password) = password {
        body.insert("password".into(), Value::String(password));
    }
    body.insert(
        "inactive".into(),
        Value::Bool(input.inactive.unwrap_or(false)),
    );
    Ok(body)
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

    fn input(name: &str, site_id: i64) -> CreateInput {
        CreateInput {
            name: name.into(),
            site_id,
            emailaddress: None,
            surname: None,
            notes: None,
            password: None,
            inactive: None,
        }
    }

    fn invalid(i: CreateInput) -> String {
        match build_body(&i) {
            Err(Failure::Invalid(m)) => m,
            other => panic!("expected -1, got {other:?}"),
        }
    }

    #[test]
    fn minimal_body_is_active() {
        assert_eq!(
            Value::Object(build_body(&input(" John ", 1)).unwrap()),
            json!({"name": "John", "site_id": 1, "inactive": false})
        );
    }

    #[test]
    fn full_body() {
        let mut i = input("John", 3);
        i.surname = Some("Doe".into());
        i.emailaddress = Some(" john.doe@company.example ".into());
        i.notes = Some("  ".into());
        i.password = Some("SecureP@ss123".into());
        i.inactive = Some(true);
        assert_eq!(
            Value::Object(build_body(&i).unwrap()),
            json!({"name": "John", "site_id": 3, "emailaddress": "john.doe@company.example",
                   "surname": "Doe", "password": "SecureP@ss123", "inactive": true})
        );
        let mut i = input("John", 3);
        i.password = Some(String::new());
        assert!(
            !build_body(&i).unwrap().contains_key("password"),
            "empty = not given"
        );
    }

    #[test]
    fn email_addresses_follow_the_agents_rule() {
        for bad in ["notanemail", "a@b", "a b@msp.example", "@msp.example"] {
            let mut i = input("John", 3);
            i.emailaddress = Some(bad.into());
            let m = invalid(i);
            assert!(
                m.starts_with("Emailaddress must be an email address"),
                "{bad}: {m}"
            );
        }
        let mut i = input("John", 3);
        i.emailaddress = Some("  ".into());
        assert!(
            !build_body(&i).unwrap().contains_key("emailaddress"),
            "blank = not given"
        );
    }

    #[test]
    fn rules() {
        assert_eq!(invalid(input("", 1)), "Name is required");
        assert_eq!(invalid(input("   ", 1)), "Name is required");
        for site in [0, -2] {
            assert_eq!(
                invalid(input("John", site)),
                "SiteId must be a positive integer"
            );
        }
        for weak in [
            "Sh0rt!",
            "alllowercase1",
            "ALLUPPERCASE1",
            "NoDigitOrSymbol",
            "        ",
        ] {
            let mut i = input("John", 1);
            i.password = Some(weak.into());
            let m = invalid(i);
            assert!(
                m.starts_with("Password does not meet the password rules"),
                "{m}"
            );
            assert!(
                weak.trim().is_empty() || !m.contains(weak),
                "never echoed: {m}"
            );
        }
    }

    #[test]
    fn the_password_never_reaches_the_envelope() {
        // A weak password fails before any request (the native transport stub would panic).
        let mut i = input("John", 1);
        i.password = Some("weakpass".into());
        let e = Node::run(i);
        assert_eq!((e.status_code, e.original_status_code), (-1, 0));
        assert!(!e.error_message.contains("weakpass"));
        assert_eq!(e.output, "{}");
        // Password fields are stripped from what HaloPSA returns.
        assert_eq!(
            without_password(
                json!({"id": 9, "name": "John", "Password": "x", "new_password": "y"})
            ),
            json!({"id": 9, "name": "John"})
        );
    }
}
