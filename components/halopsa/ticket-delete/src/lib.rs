//! halopsa.ticket.delete: deletes a ticket by ID.
//!
//! Rules (seed "Delete a Ticket"):
//! - Id must be a positive integer (else StatusCode -1, nothing sent, DeletedTicket `{}`).
//! - `DELETE /Tickets/{Id}`; any 2xx is success (HaloPSA may answer with the deleted ticket or
//!   with an empty body). HaloPSA keeps deleted tickets restorable; to the API they are gone.
//! - A 404 is a business error: StatusCode 200, OriginalStatusCode 404,
//!   ErrorMessage "Ticket with ID {Id} not found"; other refusals report HaloPSA's message.
//! - Output `DeletedTicket`: `{"success": true, "deleted_id": Id}` on success; on an API,
//!   business or network failure `{"success": false, "deleted_id": Id}` (the id targeted by the
//!   request); `{}` only when the request stopped at validation.

#![cfg_attr(not(test), no_std)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("ticket-delete");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::{Failure, ops, validate};
use serde_json::{Value, json};

const OUTPUT: &str = "DeletedTicket";

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Delete)
            .calls("DELETE", "/Tickets")
            .into()
    }

    fn run(input: DeleteInput) -> Envelope {
        let id = input.id;
        envelope::respond(OUTPUT, delete(&input), |failure| {
            failure_output(failure, id)
        })
    }
}

/// `{}` after a validation failure, otherwise success false with the requested id.
fn failure_output(failure: &Failure, id: i64) -> Value {
    if failure.is_validation() {
        envelope::empty_object()
    } else {
        json!({"success": false, "deleted_id": id})
    }
}

fn delete(input: &DeleteInput) -> Result<Done, Failure> {
    let id = validate::positive_id("Id", input.id)?;
    let not_found = format!("Ticket with ID {id} not found");
    ops::delete_one(
        "/Tickets",
        id,
        &not_found,
        json!({"success": true, "deleted_id": id}),
    )
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_per_failure_class() {
        for id in [0, -12] {
            let e = Node::run(DeleteInput { id });
            assert_eq!((e.status_code, e.original_status_code), (-1, 0));
            assert_eq!(e.error_message, "Id must be a positive integer");
            assert_eq!(e.output, "{}");
            assert_eq!(e.output_name, "DeletedTicket");
        }
        assert_eq!(
            failure_output(&Failure::Transport("down".into()), 1004),
            json!({"success": false, "deleted_id": 1004})
        );
        let api = Failure::Api {
            status: 404,
            message: "Ticket with ID 1004 not found".into(),
        };
        assert_eq!(
            failure_output(&api, 1004),
            json!({"success": false, "deleted_id": 1004})
        );
    }
}
