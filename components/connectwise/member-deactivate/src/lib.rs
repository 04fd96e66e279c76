//! connectwise.member.deactivate: sets a member inactive. ConnectWise never deletes members
//! (their tickets and time stay attributed to them), and neither does psaflow.
//!
//! - Id must be a positive integer (else StatusCode -1, nothing sent).
//! - `PATCH /system/members/{Id}` with `[{"op": "replace", "path": "inactiveFlag", "value": true}]`.
//!   Deactivating an inactive member changes nothing and succeeds (idempotent).
//! - A 404 is "Member with id {Id} not found" (StatusCode 200). Output `Member`: the member as
//!   ConnectWise returns it after the change; `{}` on failure.
//! - Open tickets are not reassigned here: list them with connectwise.ticket.get-many and move
//!   them with connectwise.ticket.update first.

#![cfg_attr(not(test), no_std)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_connectwise_node!("member-deactivate");

use psaflow_kit::connectwise::describe::{capability, node_info};
use psaflow_kit::connectwise::envelope::{self, Done};
use psaflow_kit::connectwise::http;
use psaflow_kit::connectwise::transport::Method;
use psaflow_kit::connectwise::types::Effect;
use psaflow_kit::{Failure, validate};
use serde_json::json;

const OUTPUT: &str = "Member";

struct Node;

impl Guest for Node {
    fn run(input: DeactivateInput) -> Envelope {
        envelope::respond(OUTPUT, deactivate(&input))
    }

    fn describe() -> NodeInfo {
        node_info(
            OUTPUT,
            Effect::Deactivate,
            &[],
            vec![capability("PATCH", "/system/members")],
        )
    }
}

fn deactivate(input: &DeactivateInput) -> Result<Done, Failure> {
    let id = validate::positive_id("Id", input.id)?;
    let patch = json!([{"op": "replace", "path": "inactiveFlag", "value": true}]);
    let path = format!("/system/members/{id}");
    match http::send_json(Method::Patch, &path, &[], Some(&patch)) {
        Ok((status, member)) => Ok(Done {
            original_status: status,
            output: member,
        }),
        Err(Failure::Api { status: 404, .. }) => Err(Failure::Api {
            status: 404,
            message: format!("Member with id {id} not found"),
        }),
        Err(other) => Err(other),
    }
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_id_sends_nothing_and_the_node_says_it_deactivates() {
        let e = Node::run(DeactivateInput { id: 0 });
        assert_eq!(
            (e.status_code, e.error_message.as_str()),
            (-1, "Id must be a positive integer")
        );
        let info = Node::describe();
        assert!(matches!(info.effect, Effect::Deactivate) && info.idempotent);
    }
}
