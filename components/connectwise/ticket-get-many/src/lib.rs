//! connectwise.ticket.get-many: service tickets by owner and open state, across pages.
//!
//! - OwnerIdentifier (at most 15 characters) or OwnerId (positive), not both; Count 1 or
//!   more; Conditions not blank when given. Any break: StatusCode -1, nothing sent.
//! - `GET /service/tickets?conditions=(Conditions) and (owner/identifier = "x" | owner/id = n)
//!   and (closedFlag = false)` (the last with OpenOnly), 1000 per page, until a short page or
//!   Count tickets.
//! - Output `Tickets`: `{"tickets": [...], "record_count": <tickets matching>}`:
//!   record_count is how many match in all (the seed's "Total number of records matching the
//!   filter", as HaloPSA's nodes report it), not how many Count let through. When Count cut the
//!   list before its last page, `GET /service/tickets/count` with the same conditions tells it
//!   (one more request, only then); `{}` on failure.

#![cfg_attr(not(test), no_std)]
// The generated export glue takes one argument per input field.
#![allow(clippy::too_many_arguments)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_connectwise_node!("ticket-get-many");

use psaflow_kit::connectwise::conditions::{all_of, quote};
use psaflow_kit::connectwise::describe::{capability, node_info};
use psaflow_kit::connectwise::envelope::{self, Done};
use psaflow_kit::connectwise::member::MAX_IDENTIFIER;
use psaflow_kit::connectwise::paging::{self, ListRequest, MAX_PAGE_SIZE};
use psaflow_kit::connectwise::types::Effect;
use psaflow_kit::{Failure, validate};
use serde_json::json;

const OUTPUT: &str = "Tickets";

struct Node;

impl Guest for Node {
    fn run(input: GetManyInput) -> Envelope {
        envelope::respond(OUTPUT, list(&input))
    }

    fn describe() -> NodeInfo {
        node_info(
            OUTPUT,
            Effect::Read,
            &[],
            vec![capability("GET", "/service/tickets")],
        )
    }
}

fn request(input: &GetManyInput) -> Result<ListRequest, Failure> {
    let mut clauses = Vec::new();
    if let Some(conditions) = &input.conditions {
        if conditions.trim().is_empty() {
            return Err(Failure::invalid(
                "Conditions is empty; leave it out or give a value",
            ));
        }
        clauses.push(conditions.trim().to_owned());
    }
    let owner_id = validate::optional_positive_id("OwnerId", input.owner_id)?;
    match (input.owner_identifier.as_deref(), owner_id) {
        (Some(_), Some(_)) => {
            return Err(Failure::invalid(
                "Give OwnerIdentifier or OwnerId, not both",
            ));
        }
        (Some(identifier), None) => {
            // Optional: blank is a mistake to point at, not a missing required value.
            if identifier.trim().is_empty() {
                return Err(Failure::invalid(
                    "OwnerIdentifier is empty; leave it out or give a value",
                ));
            }
            let identifier = validate::required_text("OwnerIdentifier", identifier)?;
            if identifier.chars().count() > MAX_IDENTIFIER {
                return Err(Failure::invalid(format!(
                    "OwnerIdentifier must be at most {MAX_IDENTIFIER} characters, as member identifiers are"
                )));
            }
            clauses.push(format!("owner/identifier = {}", quote(&identifier)));
        }
        (None, Some(id)) => clauses.push(format!("owner/id = {id}")),
        (None, None) => {}
    }
    if input.open_only.unwrap_or(false) {
        clauses.push("closedFlag = false".to_owned());
    }
    Ok(ListRequest {
        path: "/service/tickets".to_owned(),
        conditions: all_of(&clauses),
        page_size: MAX_PAGE_SIZE,
        count: validate::optional_at_least_one("Count", input.count)?,
    })
}

fn list(input: &GetManyInput) -> Result<Done, Failure> {
    let listed = paging::list_counted(&request(input)?)?;
    Ok(Done {
        original_status: listed.status,
        output: json!({"record_count": listed.total, "tickets": listed.records}),
    })
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> GetManyInput {
        GetManyInput {
            owner_identifier: None,
            owner_id: None,
            open_only: None,
            conditions: None,
            count: None,
        }
    }

    #[test]
    fn owner_and_open_state_become_conditions() {
        assert_eq!(request(&input()).unwrap().conditions, None);
        let r = request(&GetManyInput {
            owner_identifier: Some("jdoe".into()),
            open_only: Some(true),
            conditions: Some("board/id = 1".into()),
            ..input()
        })
        .unwrap();
        assert_eq!(
            r.conditions.as_deref(),
            Some(r#"(board/id = 1) and (owner/identifier = "jdoe") and (closedFlag = false)"#)
        );
        let r = request(&GetManyInput {
            owner_id: Some(4),
            ..input()
        })
        .unwrap();
        assert_eq!(r.conditions.as_deref(), Some("owner/id = 4"));
    }

    #[test]
    fn rules_stop_before_sending() {
        for (i, message) in [
            (
                GetManyInput {
                    owner_identifier: Some("a".into()),
                    owner_id: Some(1),
                    ..input()
                },
                "Give OwnerIdentifier or OwnerId, not both",
            ),
            (
                GetManyInput {
                    owner_id: Some(0),
                    ..input()
                },
                "OwnerId must be a positive integer",
            ),
            (
                GetManyInput {
                    owner_identifier: Some("x".repeat(16)),
                    ..input()
                },
                "OwnerIdentifier must be at most 15",
            ),
            (
                GetManyInput {
                    owner_identifier: Some(" ".into()),
                    ..input()
                },
                "OwnerIdentifier is empty; leave it out or give a value",
            ),
            (
                GetManyInput {
                    owner_identifier: Some("".into()),
                    ..input()
                },
                "OwnerIdentifier is empty; leave it out or give a value",
            ),
            (
                GetManyInput {
                    count: Some(-1),
                    ..input()
                },
                "Count must be 1 or more",
            ),
            (
                GetManyInput {
                    conditions: Some("".into()),
                    ..input()
                },
                "Conditions is empty",
            ),
        ] {
            let e = Node::run(i);
            assert_eq!((e.status_code, e.original_status_code), (-1, 0));
            assert!(e.error_message.starts_with(message), "{}", e.error_message);
        }
    }
}
