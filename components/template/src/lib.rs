//! helpdesk.ticket.close: the template third-party node (see README.md beside this file).
//!
//! - Id must be a positive integer (else StatusCode -1, nothing sent).
//! - `POST /Tickets` with `[{"id": Id, "status_id": StatusId}]` (HaloPSA updates by POST).
//! - Output `Ticket`: the updated record; `{}` on any failure.

#![cfg_attr(not(test), no_std)]

use psaflow_kit::prelude::*;

// The psaflow package (transport, envelope, node-info) first, then this node's own package.
wit_bindgen::generate!({
    path: ["../../wit/halopsa", "wit"],
    world: "acme:helpdesk/close",
    with: {
        "psaflow:halopsa/transport@0.1.0": psaflow_kit::transport,
        "psaflow:halopsa/types@0.1.0": psaflow_kit::types,
    },
});

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::{Failure, http, validate};
use serde_json::{Map, Value};

const OUTPUT: &str = "Ticket";
/// HaloPSA's default "Closed" status.
const DEFAULT_CLOSED_STATUS: i64 = 9;

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Update)
            .calls("POST", "/Tickets")
            .into()
    }

    fn run(input: CloseInput) -> Envelope {
        envelope::respond(OUTPUT, close(&input), |_| envelope::empty_object())
    }
}

fn close(input: &CloseInput) -> Result<Done, Failure> {
    let body = build_body(input)?;
    let not_found = format!("Ticket with ID {} not found", input.id);
    let (status, record) = http::post_array("/Tickets", &body, Some(&not_found))?;
    Ok(Done::record(status, record))
}

/// Validates the input and builds the update to POST. Sends nothing.
fn build_body(input: &CloseInput) -> Result<Map<String, Value>, Failure> {
    let id = validate::positive_id("Id", input.id)?;
    let status = match input.status_id {
        Some(s) => validate::positive_id("StatusId", s)?,
        None => DEFAULT_CLOSED_STATUS,
    };
    let mut body = Map::new();
    body.insert("id".into(), id.into());
    body.insert("status_id".into(), status.into());
    Ok(body)
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closes_with_the_default_status() {
        let body = build_body(&CloseInput {
            id: 7,
            status_id: None,
        })
        .unwrap();
        assert_eq!(Value::Object(body), serde_json::json!({"id": 7, "status_id": 9}));
    }

    #[test]
    fn id_must_be_positive() {
        assert!(matches!(
            build_body(&CloseInput {
                id: 0,
                status_id: None
            }),
            Err(Failure::Invalid(_))
        ));
    }
}
