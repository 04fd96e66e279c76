//! halopsa.agent.get: retrieves one agent by ID.
//!
//! Rules (seed 001, "Get Agent by ID"):
//! - Id must be a positive integer (else StatusCode -1, nothing sent).
//! - `GET /Agent/{Id}`; a 404 is a business error: StatusCode 200, OriginalStatusCode 404,
//!   ErrorMessage "Agent with ID {Id} not found", Agent `{}`.
//! - Deactivated agents are returned like any other (check `isactive` / `isdisabled`).
//! - Output `Agent`: the record with ids as integers; `{}` on any failure.

#![cfg_attr(not(test), no_std)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("agent-get");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::{Failure, ops, validate};

const OUTPUT: &str = "Agent";

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Read)
            .calls("GET", "/Agent")
            .into()
    }

    fn run(input: GetInput) -> Envelope {
        envelope::respond(OUTPUT, get(&input), |_| envelope::empty_object())
    }
}

fn get(input: &GetInput) -> Result<Done, Failure> {
    let id = validate::positive_id("Id", input.id)?;
    ops::get_one("/Agent", id, &format!("Agent with ID {id} not found"))
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_must_be_positive() {
        let e = Node::run(GetInput { id: 0 });
        assert_eq!((e.status_code, e.error_message.as_str(), e.output.as_str()), (-1, "Id must be a positive integer", "{}"));
    }
}
