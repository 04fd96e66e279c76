//! connectwise.ticket.update: changes the given fields of a service ticket (reassigning it,
//! moving its status), nothing else.
//!
//! - Id positive; OwnerId and StatusId positive when given; AdditionalFields a JSON object
//!   without `id`/`_info`; at least one change. Any break: StatusCode -1, nothing sent.
//! - `PATCH /service/tickets/{Id}` with one `replace` per field: `owner` and `status` as
//!   `{"id": n}`, AdditionalFields under them. A 404 is "Ticket with id {Id} not found"; an
//!   inactive or unknown owner is refused by ConnectWise naming `owner`. Output `Ticket`.

#![cfg_attr(not(test), no_std)]
// The generated export glue takes one argument per input field.
#![allow(clippy::too_many_arguments)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_connectwise_node!("ticket-update");

use psaflow_kit::connectwise::describe::{capability, node_info};
use psaflow_kit::connectwise::envelope::{self, Done};
use psaflow_kit::connectwise::http;
use psaflow_kit::connectwise::patch::{reference, replace_all};
use psaflow_kit::connectwise::transport::Method;
use psaflow_kit::connectwise::types::Effect;
use psaflow_kit::{Failure, fields, validate};
use serde_json::{Map, Value};

const OUTPUT: &str = "Ticket";

struct Node;

impl Guest for Node {
    fn run(input: UpdateInput) -> Envelope {
        envelope::respond(OUTPUT, update(&input))
    }

    fn describe() -> NodeInfo {
        node_info(
            OUTPUT,
            Effect::Update,
            &[],
            vec![capability("PATCH", "/service/tickets")],
        )
    }
}

fn changes(input: &UpdateInput) -> Result<Map<String, Value>, Failure> {
    validate::positive_id("Id", input.id)?;
    let mut changes = validate::json_object(
        "AdditionalFields",
        input.additional_fields.as_deref(),
        r#"{"summary": "Printer jammed", "board": {"id": 2}}"#,
    )?
    .unwrap_or_default();
    for key in ["id", "_info"] {
        if fields::contains(&changes, key) {
            return Err(Failure::invalid(format!(
                "AdditionalFields must not set {key}; ConnectWise assigns it"
            )));
        }
    }
    if let Some(owner) = validate::optional_positive_id("OwnerId", input.owner_id)? {
        fields::set(&mut changes, "owner", reference(owner));
    }
    if let Some(status) = validate::optional_positive_id("StatusId", input.status_id)? {
        fields::set(&mut changes, "status", reference(status));
    }
    if changes.is_empty() {
        return Err(Failure::invalid(
            "Nothing to update: give at least one of OwnerId, StatusId, AdditionalFields",
        ));
    }
    Ok(changes)
}

fn update(input: &UpdateInput) -> Result<Done, Failure> {
    let patch = replace_all(&changes(input)?);
    let id = input.id;
    match http::send_json(
        Method::Patch,
        &format!("/service/tickets/{id}"),
        &[],
        Some(&patch),
    ) {
        Ok((status, ticket)) => Ok(Done {
            original_status: status,
            output: ticket,
        }),
        Err(Failure::Api { status: 404, .. }) => Err(Failure::Api {
            status: 404,
            message: format!("Ticket with id {id} not found"),
        }),
        Err(other) => Err(other),
    }
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input() -> UpdateInput {
        UpdateInput {
            id: 3,
            owner_id: None,
            status_id: None,
            additional_fields: None,
        }
    }

    #[test]
    fn owner_and_status_are_references() {
        let i = UpdateInput {
            owner_id: Some(4),
            status_id: Some(2),
            additional_fields: Some(r#"{"summary": "Moved", "Owner": {"id": 9}}"#.into()),
            ..input()
        };
        assert_eq!(
            replace_all(&changes(&i).unwrap()),
            json!([
                {"op": "replace", "path": "summary", "value": "Moved"},
                {"op": "replace", "path": "owner", "value": {"id": 4}},
                {"op": "replace", "path": "status", "value": {"id": 2}}
            ])
        );
    }

    #[test]
    fn rules_stop_before_sending() {
        for (i, message) in [
            (input(), "Nothing to update"),
            (
                UpdateInput {
                    id: 0,
                    owner_id: Some(1),
                    ..input()
                },
                "Id must be a positive integer",
            ),
            (
                UpdateInput {
                    owner_id: Some(0),
                    ..input()
                },
                "OwnerId must be a positive integer",
            ),
            (
                UpdateInput {
                    status_id: Some(-2),
                    ..input()
                },
                "StatusId must be a positive integer",
            ),
            (
                UpdateInput {
                    additional_fields: Some(r#"{"id": 1}"#.into()),
                    ..input()
                },
                "AdditionalFields must not set id",
            ),
        ] {
            let e = Node::run(i);
            assert_eq!((e.status_code, e.original_status_code), (-1, 0));
            assert!(e.error_message.starts_with(message), "{}", e.error_message);
        }
    }
}
