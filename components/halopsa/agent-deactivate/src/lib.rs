//! halopsa.agent.deactivate: deactivates an agent, never deletes it, and confirms it.
//!
//! Rules (seeds 000 and 001, "Deactivate an agent when an employee offboards"):
//! - Id must be a positive integer (else StatusCode -1, nothing sent).
//! - `POST /Agent` with `[{id, isactive: false, isdisabled: true}]`: seed 001 documents
//!   `isactive`, the HaloPSA swagger `isdisabled`; sending both deactivates the agent on either
//!   kind of install. A 404 is "Agent with ID {Id} not found".
//! - Confirmation: the answer must show the agent inactive by either field. When the answer
//!   carries neither, the agent is read back (`GET /Agent/{Id}`) and that record decides. If
//!   HaloPSA still reports the agent active, or never says, the result is StatusCode 200 with
//!   ErrorMessage "deactivation not confirmed: ..." (the request went through; the outcome did
//!   not show).
//! - Deactivating an agent that is already inactive succeeds (idempotent).
//! - Never the connection's own agent: `GET /Agent/me` first (the agent the token acts as);
//!   when it is Id, nothing is sent and the result is StatusCode 200 with an ErrorMessage saying
//!   so. HaloPSA stops every token of a deactivated agent at once (seed 000), so deactivating it
//!   would lock psaflow, and every integration of that API application, out of the tenant, with
//!   no API call able to undo it. A tenant without `/Agent/me` (404) is not checked.
//! - Output `Agent`: the agent as HaloPSA last reported it; `{}` on any failure.

#![cfg_attr(not(test), no_std)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("agent-deactivate");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::http::{self, Query};
use psaflow_kit::{Failure, agents, errors, ids, validate};
use serde_json::{Map, Value};

const OUTPUT: &str = "Agent";

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Deactivate)
            .calls("POST", "/Agent")
            .calls("GET", "/Agent") // the read-back when the answer does not say
            .into()
    }

    fn run(input: DeactivateInput) -> Envelope {
        envelope::respond(OUTPUT, deactivate(&input), |_| envelope::empty_object())
    }
}

fn deactivate(input: &DeactivateInput) -> Result<Done, Failure> {
    let id = validate::positive_id("Id", input.id)?;
    refuse_own_agent(id)?;
    let not_found = format!("Agent with ID {id} not found");
    let mut body = Map::new();
    body.insert("id".into(), Value::from(id));
    agents::deactivation_fields(&mut body);
    let (status, answer) = http::post_array("/Agent", &body, Some(&not_found))?;
    let record = match agents::is_active(&answer) {
        Some(_) => answer,
        None => http::get_json(&format!("/Agent/{id}"), &Query::new(), Some(&not_found))?.1,
    };
    confirm(id, status, record)
}

/// Stops before the deactivation when `id` is the agent the connection acts as (see the rules).
fn refuse_own_agent(id: i64) -> Result<(), Failure> {
    let response = http::get("/Agent/me", &Query::new())?;
    if response.status == 404 && !errors::from_token_endpoint(&response.body) {
        return Ok(());
    }
    let (status, me) = http::json_answer(&response, None)?;
    own_agent_check(id, status, &me)
}

fn own_agent_check(id: i64, status: u16, me: &Value) -> Result<(), Failure> {
    if ids::field_id(me, "id") != Some(id) {
        return Ok(());
    }
    Err(Failure::Api {
        status,
        message: format!(
            "agent {id} is the agent this connection's API application acts as (GET /Agent/me); \
             deactivating it would stop every token of the application at once and lock psaflow \
             out of HaloPSA, so nothing was sent. Deactivate it in HaloPSA itself if that is meant"
        ),
    })
}

/// Success when `record` shows the agent inactive; otherwise the "not confirmed" business error.
fn confirm(id: i64, status: u16, record: Value) -> Result<Done, Failure> {
    let problem = match agents::is_active(&record) {
        Some(false) => return Ok(Done::record(status, record)),
        Some(true) => format!(
            "deactivation not confirmed: HaloPSA still reports agent {id} as active (isactive {}, isdisabled {})",
            shown(&record, "isactive"),
            shown(&record, "isdisabled")
        ),
        None => format!(
            "deactivation not confirmed: HaloPSA's answers for agent {id} carry neither isactive nor isdisabled"
        ),
    };
    Err(Failure::Api {
        status,
        message: problem,
    })
}

fn shown(record: &Value, key: &str) -> String {
    record
        .get(key)
        .map_or_else(|| "absent".to_string(), Value::to_string)
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn confirmation_reads_either_field() {
        assert!(confirm(4, 200, json!({"id": 4, "isactive": false})).is_ok());
        assert!(confirm(4, 200, json!({"id": 4, "isdisabled": true})).is_ok());
        let f = confirm(4, 200, json!({"id": 4, "isactive": true})).unwrap_err();
        assert_eq!((f.status_code(), f.original_status_code()), (200, 200));
        assert_eq!(
            f.message(),
            "deactivation not confirmed: HaloPSA still reports agent 4 as active (isactive true, isdisabled absent)"
        );
        let f = confirm(4, 200, json!({"id": 4})).unwrap_err();
        assert!(f.message().contains("carry neither isactive nor isdisabled"));
    }

    #[test]
    fn the_connections_own_agent_is_refused() {
        assert!(own_agent_check(4, 200, &json!({"id": 1, "name": "API User"})).is_ok());
        let f = own_agent_check(1, 200, &json!({"id": "1", "name": "API User"})).unwrap_err();
        assert_eq!((f.status_code(), f.original_status_code()), (200, 200));
        assert!(f.message().starts_with("agent 1 is the agent this connection's API application acts as"));
        assert!(own_agent_check(1, 200, &json!(null)).is_ok(), "an answer without an id says nothing");
    }

    #[test]
    fn id_must_be_positive() {
        let e = Node::run(DeactivateInput { id: 0 });
        assert_eq!((e.status_code, e.error_message.as_str(), e.output.as_str()), (-1, "Id must be a positive integer", "{}"));
    }
}
