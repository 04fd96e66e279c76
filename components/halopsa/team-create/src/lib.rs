//! halopsa.team.create: creates a team.
//!
//! Rules:
//! - Name is required (not blank); it is sent trimmed and wins over AdditionalFields.
//! - AdditionalFields must be a JSON object without `id`.
//! - `POST /Team` with a one-element array; a 2xx answer without the new team's id, or with an
//!   error in the body, is a business error quoting HaloPSA.
//! - Output `Team`: the created record with ids as integers; `{}` on any failure.

#![cfg_attr(not(test), no_std)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("team-create");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::{Failure, fields, http, validate};
use serde_json::{Map, Value};

const OUTPUT: &str = "Team";

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Create)
            .natural_key(&["Name"])
            .calls("POST", "/Team")
            .into()
    }

    fn run(input: CreateInput) -> Envelope {
        envelope::respond(OUTPUT, create(&input), |_| envelope::empty_object())
    }
}

fn create(input: &CreateInput) -> Result<Done, Failure> {
    let body = build_body(input)?;
    let (status, record) = http::post_array("/Team", &body, None)?;
    Ok(Done::record(status, record))
}

fn build_body(input: &CreateInput) -> Result<Map<String, Value>, Failure> {
    let name = validate::required_text("Name", &input.name)?;
    let extra = validate::json_object(
        "AdditionalFields",
        input.additional_fields.as_deref(),
        r#"{"department_id": 3, "forrequests": true}"#,
    )?
        .unwrap_or_default();
    if fields::contains(&extra, "id") {
        return Err(Failure::invalid(
            "AdditionalFields must not contain id: Create a Team always creates a new team",
        ));
    }
    let mut body = Map::new();
    body.insert("name".into(), Value::String(name));
    fields::merge_under(&mut body, extra);
    Ok(body)
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules() {
        let body = build_body(&CreateInput {
            name: " Security ".into(),
            additional_fields: Some(r#"{"NAME": "x", "department_id": 1}"#.into()),
        })
        .unwrap();
        assert_eq!(Value::Object(body), json!({"name": "Security", "department_id": 1}));
        let e = Node::run(CreateInput { name: "".into(), additional_fields: None });
        assert_eq!((e.status_code, e.error_message.as_str()), (-1, "Name is required"));
        let e = Node::run(CreateInput { name: "x".into(), additional_fields: Some(r#"{"id": 1}"#.into()) });
        assert_eq!(e.status_code, -1);
    }
}
