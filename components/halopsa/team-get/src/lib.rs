//! halopsa.team.get: retrieves one team by ID.
//!
//! Rules:
//! - Id must be a positive integer (else StatusCode -1, nothing sent).
//! - `GET /Team/{Id}`; a 404 is a business error: StatusCode 200, OriginalStatusCode 404,
//!   ErrorMessage "Team with ID {Id} not found", Team `{}`.
//! - Output `Team`: the record with ids as integers; `{}` on any failure.

#![cfg_attr(not(test), no_std)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("team-get");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::{Failure, ops, validate};

const OUTPUT: &str = "Team";

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Read)
            .calls("GET", "/Team")
            .into()
    }

    fn run(input: GetInput) -> Envelope {
        envelope::respond(OUTPUT, get(&input), |_| envelope::empty_object())
    }
}

fn get(input: &GetInput) -> Result<Done, Failure> {
    let id = validate::positive_id("Id", input.id)?;
    ops::get_one("/Team", id, &format!("Team with ID {id} not found"))
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_must_be_positive() {
        let e = Node::run(GetInput { id: -3 });
        assert_eq!((e.status_code, e.error_message.as_str(), e.output.as_str()), (-1, "Id must be a positive integer", "{}"));
    }
}
