//! halopsa.client.get: retrieves one client by ID.
//!
//! Rules (seed "Get a Client"):
//! - Id must be a positive integer (else StatusCode -1, nothing sent).
//! - `GET /Client/{Id}`; a 404 is a business error: StatusCode 200, OriginalStatusCode 404,
//!   ErrorMessage "Client with ID {Id} not found", Client `{}`.
//! - Inactive clients are returned like any other (check `inactive`).
//! - Output `Client`: the record with ids as integers; `{}` on any failure.

#![cfg_attr(not(test), no_std)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("client-get");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::{Failure, ops, validate};

const OUTPUT: &str = "Client";

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Read)
            .calls("GET", "/Client")
            .into()
    }

    fn run(input: GetInput) -> Envelope {
        envelope::respond(OUTPUT, get(&input), |_| envelope::empty_object())
    }
}

/// The 404 wording of the seed.
fn not_found(id: i64) -> String {
    format!("Client with ID {id} not found")
}

fn get(input: &GetInput) -> Result<Done, Failure> {
    let id = validate::positive_id("Id", input.id)?;
    ops::get_one("/Client", id, &not_found(id))
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_id_sends_nothing() {
        // The native transport stub would panic if a request were sent.
        for id in [0, -1] {
            let e = Node::run(GetInput { id });
            assert_eq!((e.status_code, e.original_status_code), (-1, 0));
            assert_eq!(e.error_message, "Id must be a positive integer");
            assert_eq!(e.output, "{}");
        }
    }
}
