//! halopsa.site.update: changes an existing site, PATCH-like.
//!
//! Rules (seed "Update a Site"):
//! - Id must be a positive integer.
//! - Name, MaincontactName, Notes, Phonenumber are sent only when not empty (empty keeps the
//!   current value).
//! - SiteClientId is sent (as `client_id`) only when greater than 0; 0 or absent keeps the
//!   current client; a negative value is a validation error.
//! - Nothing left to update: StatusCode -1 (nothing sent).
//! - `POST /Site` with `[{"id": Id, <changed fields>}]`; a 404 is worded
//!   "Site with ID {Id} not found".
//! - Output `Site`: the updated record with ids as integers (`client_id: 21.0` becomes 21);
//!   `{}` on any failure.

#![cfg_attr(not(test), no_std)]

// The generated export glue takes one argument per input field.
#![allow(clippy::too_many_arguments)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("site-update");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::{Failure, http, validate};
use serde_json::{Map, Value};

const OUTPUT: &str = "Site";

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Update)
            .calls("POST", "/Site")
            .into()
    }

    fn run(input: UpdateInput) -> Envelope {
        envelope::respond(OUTPUT, update(&input), |_| envelope::empty_object())
    }
}

fn update(input: &UpdateInput) -> Result<Done, Failure> {
    let (id, body) = build_body(input)?;
    let not_found = format!("Site with ID {id} not found");
    let (status, record) = http::post_array("/Site", &body, Some(&not_found))?;
    Ok(Done::record(status, record))
}

/// Validates the input and builds `{"id", <changed fields>}`. Sends nothing.
fn build_body(input: &UpdateInput) -> Result<(i64, Map<String, Value>), Failure> {
    let id = validate::positive_id("Id", input.id)?;
    let client_id = match input.site_client_id {
        None | Some(0) => None,
        Some(v) if v > 0 => Some(v),
        Some(_) => {
            return Err(Failure::invalid(
                "SiteClientId must be a positive integer (or 0 to keep the current client)",
            ));
        }
    };
    let mut changes = Map::new();
    let texts = [
        ("name", &input.name),
        ("maincontact_name", &input.maincontact_name),
        ("notes", &input.notes),
        ("phonenumber", &input.phonenumber),
    ];
    for (key, value) in texts {
        if let Some(text) = validate::optional_text(value.as_deref()) {
            changes.insert(key.into(), Value::String(text));
        }
    }
    if let Some(client_id) = client_id {
        changes.insert("client_id".into(), Value::from(client_id));
    }
    if changes.is_empty() {
        return Err(Failure::invalid(
            "Nothing to update: give at least one of Name, SiteClientId, MaincontactName, Notes or Phonenumber",
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
            site_client_id: None,
            maincontact_name: None,
            notes: None,
            phonenumber: None,
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
        let mut i = input(3);
        i.name = Some(String::new());
        i.notes = Some("   ".into());
        i.site_client_id = Some(0);
        assert!(invalid(i).starts_with("Nothing to update"));
        let mut i = input(3);
        i.site_client_id = Some(-2);
        assert!(invalid(i).starts_with("SiteClientId must be a positive integer"));
    }

    #[test]
    fn patch_like_body() {
        let mut i = input(3);
        i.name = Some(String::new());
        i.phonenumber = Some(" +44 20 7123 4567 ".into());
        i.site_client_id = Some(0);
        assert_eq!(
            Value::Object(build_body(&i).unwrap().1),
            json!({"id": 3, "phonenumber": "+44 20 7123 4567"})
        );
        let mut i = input(3);
        i.site_client_id = Some(21);
        i.maincontact_name = Some("Ann".into());
        assert_eq!(
            Value::Object(build_body(&i).unwrap().1),
            json!({"id": 3, "maincontact_name": "Ann", "client_id": 21})
        );
    }
}
