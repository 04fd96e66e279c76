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

wit_bindgen::generate!({
    path: "../../wit",
    world: "client-delete",
    with: {
        "psaflow:halopsa/transport@0.1.0": psaflow_kit::transport,
        "psaflow:halopsa/types@0.1.0": psaflow_kit::types,
    },
});

use psaflow_kit::envelope::{self, Done};
use psaflow_kit::http::{self, Query};
use psaflow_kit::{Failure, validate};
use serde_json::{Value, json};

const OUTPUT: &str = "DeleteResult";

struct Node;

impl Guest for Node {
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
    let (status, _) = http::delete(&format!("/Client/{id}"), &Query::new(), Some(&not_found))?;
    Ok(Done::new(
        status,
        json!({"success": true, "deleted_id": id}),
    ))
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
