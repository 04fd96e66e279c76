//! halopsa.client.update: changes the given fields of an existing client.
//!
//! Rules (seed "Update a Client"):
//! - Id must be a positive integer.
//! - Updatable fields: Name, Inactive, Notes, IsVip, Website. Only the fields given are sent;
//!   empty text and absent flags keep the current values.
//! - Website, when given, must start with http:// or https://.
//! - No updatable field given: StatusCode -1 (nothing sent).
//! - `POST /Client` with `[{"id": Id, <changed fields>}]`; a 404 is worded
//!   "Client with ID {Id} not found".
//! - Output `Client`: the updated record with ids as integers; `{}` on any failure.

#![cfg_attr(not(test), no_std)]

// The generated export glue takes one argument per input field.
#![allow(clippy::too_many_arguments)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("client-update");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::{Failure, http, validate};
use serde_json::{Map, Value};

const OUTPUT: &str = "Client";

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Update)
            // Marking the client inactive is a deactivation, confirmed and counted as one.
            .when("Inactive", "true", Effect::Deactivate)
            .calls("POST", "/Client")
            .into()
    }

    fn run(input: UpdateInput) -> Envelope {
        envelope::respond(OUTPUT, update(&input), |_| envelope::empty_object())
    }
}

fn update(input: &UpdateInput) -> Result<Done, Failure> {
    let (id, body) = build_body(input)?;
    let not_found = format!("Client with ID {id} not found");
    let (status, record) = http::post_array("/Client", &body, Some(&not_found))?;
    Ok(Done::record(status, record))
}

/// Validates the input and builds `{"id", <changed fields>}`. Sends nothing.
fn build_body(input: &UpdateInput) -> Result<(i64, Map<String, Value>), Failure> {
    let id = validate::positive_id("Id", input.id)?;
    let website = validate::optional_text(input.website.as_deref())
        .map(|w| validate::website("Website", &w))
        .transpose()?;
    let mut changes = Map::new();
    if let Some(name) = validate::optional_text(input.name.as_deref()) {
        changes.insert("name".into(), Value::String(name));
    }
    if let Some(inactive) = input.inactive {
        changes.insert("inactive".into(), Value::Bool(inactive));
    }
    if let Some(notes) = validate::optional_text(input.notes.as_deref()) {
        changes.insert("notes".into(), Value::String(notes));
    }
    if let Some(is_vip) = input.is_vip {
        changes.insert("is_vip".into(), Value::Bool(is_vip));
    }
    if let Some(website) = website {
        changes.insert("website".into(), Value::String(website));
    }
    if changes.is_empty() {
        return Err(Failure::invalid(
            "Nothing to update: give at least one of Name, Inactive, Notes, IsVip or Website",
        ));
    }
    let mut body = Map::new();
    body.insert("id".into(), Value::from(id));
    body.extend(changes);
    Ok((id, body))
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
            inactive: None,
            notes: None,
            is_vip: None,
            website: None,
        }
    }

    fn invalid(i: UpdateInput) -> String {
        match build_body(&i) {
            Err(Failure::Invalid(m)) => m,
            other => panic!("expected -1, got {other:?}"),
        }
    }

    #[test]
    fn rules() {
        let mut i = input(0);
        i.name = Some("x".into());
        assert_eq!(invalid(i), "Id must be a positive integer");
        assert!(invalid(input(5)).starts_with("Nothing to update"));
        let mut i = input(5);
        i.name = Some("  ".into());
        i.notes = Some(String::new());
        assert!(
            invalid(i).starts_with("Nothing to update"),
            "empty text keeps values"
        );
        let mut i = input(5);
        i.website = Some("acme.com".into());
        assert!(invalid(i).starts_with("Website must start with"));
    }

    #[test]
    fn only_given_fields_are_sent() {
        let mut i = input(5);
        i.is_vip = Some(false);
        assert_eq!(
            Value::Object(build_body(&i).unwrap().1),
            json!({"id": 5, "is_vip": false})
        );
        let mut i = input(5);
        i.name = Some(" New ".into());
        i.inactive = Some(true);
        i.notes = Some("n".into());
        i.website = Some("https://a.example".into());
        assert_eq!(
            Value::Object(build_body(&i).unwrap().1),
            json!({"id": 5, "name": "New", "inactive": true, "notes": "n", "website": "https://a.example"})
        );
    }
}
