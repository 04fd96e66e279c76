//! halopsa.client.delete: permanently deletes a client by ID.
//!
//! Rules (seed "Delete a Client"):
//! - Id must be a positive integer (else StatusCode -1, nothing sent).
//! - `DELETE /Client/{Id}`; any 2xx is success (HaloPSA may answer with the deleted record or
//!   with an empty body).
//! - A 404 is a business error worded "Client with ID {Id} not found" (StatusCode 200,
//!   OriginalStatusCode 404); a refused delete (e.g. a client with dependents) reports HaloPSA's
//!   message with StatusCode 200.
//! - Output `DeleteResult` keeps its structure on every outcome:
//!   `{"success": true, "deleted_id": Id}` on success, `{"success": false, "deleted_id": 0}` on any
//!   failure (validation, business, network), as the seed specifies.

#![cfg_attr(not(test), no_std)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("client-delete");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::{Failure, ops, validate};
use serde_json::{Value, json};

const OUTPUT: &str = "DeleteResult";

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Delete)
            .calls("DELETE", "/Client")
            .into()
    }

    fn run(input: DeleteInput) -> Envelope {
        envelope::respond(OUTPUT, delete(&input), |_| failed())
    }
}

/// The seed's failure shape: success false and deleted_id 0.
fn failed() -> Value {
    json!({"success": false, "deleted_id": 0})
}

fn delete(input: &DeleteInput) -> Result<Done, Failure> {
    let id = validate::positive_id("Id", input.id)?;
    let not_found = format!("Client with ID {id} not found");
    ops::delete_one(
        "/Client",
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
    fn validation_keeps_the_output_structure() {
        let e = Node::run(DeleteInput { id: 0 });
        assert_eq!((e.status_code, e.original_status_code), (-1, 0));
        assert_eq!(e.error_message, "Id must be a positive integer");
        assert_eq!(
            serde_json::from_str::<Value>(&e.output).unwrap(),
            json!({"success": false, "deleted_id": 0})
        );
        assert_eq!(e.output_name, "DeleteResult");
    }
}
