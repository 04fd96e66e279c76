//! connectwise.member.get: one ConnectWise PSA member by id.
//!
//! - Id must be a positive integer (else StatusCode -1, nothing sent).
//! - `GET /system/members/{Id}`; a 404 is a business error: StatusCode 200,
//!   OriginalStatusCode 404, "Member with id {Id} not found". Inactive members are returned
//!   like any other (check `inactiveFlag`). Output `Member`; `{}` on failure.

#![cfg_attr(not(test), no_std)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_connectwise_node!("member-get");

use psaflow_kit::connectwise::describe::{capability, node_info};
use psaflow_kit::connectwise::envelope::{self, Done};
use psaflow_kit::connectwise::http;
use psaflow_kit::connectwise::types::Effect;
use psaflow_kit::{Failure, validate};

const OUTPUT: &str = "Member";

struct Node;

impl Guest for Node {
    fn run(input: GetInput) -> Envelope {
        envelope::respond(OUTPUT, get(&input))
    }

    fn describe() -> NodeInfo {
        node_info(
            OUTPUT,
            Effect::Read,
            &[],
            vec![capability("GET", "/system/members")],
        )
    }
}

fn get(input: &GetInput) -> Result<Done, Failure> {
    let id = validate::positive_id("Id", input.id)?;
    let (status, member) = http::get_one(
        &format!("/system/members/{id}"),
        &format!("Member with id {id} not found"),
    )?;
    Ok(Done {
        original_status: status,
        output: member,
    })
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_id_sends_nothing() {
        for id in [0, -4] {
            let e = Node::run(GetInput { id });
            assert_eq!((e.status_code, e.original_status_code), (-1, 0));
            assert_eq!(e.error_message, "Id must be a positive integer");
        }
        assert!(Node::describe().idempotent);
    }
}
