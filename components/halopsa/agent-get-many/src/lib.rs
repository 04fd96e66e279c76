//! halopsa.agent.get-many: lists agents by search, email, team and status.
//!
//! Rules (seed 001, "List Agents"; the paging algorithm is `psaflow_kit::paging`):
//! - Count, PageNo, PageSize must be 1 or more when given; TeamId a positive integer; Email an
//!   email address (else StatusCode -1, nothing sent).
//! - IncludeActive (default true) and IncludeInactive (default false) are sent as
//!   `includeenabled` / `includedisabled` (HaloPSA lists deactivated agents unless told not to);
//!   both false gives `{"agents": [], "record_count": 0}` with no request.
//! - Search is sent as `search`; TeamId as `team_id`.
//! - Email: the agents whose email equals it, ignoring case (HaloPSA has no exact email filter,
//!   so `search=<email>` narrows the list and the match is made here, over every page).
//! - The answer may be a bare array or `{record_count, agents}`.
//! - Output `Agents`: `{"agents": [...], "record_count": N}` with ids as integers; `{}` on failure.

#![cfg_attr(not(test), no_std)]

// The generated export glue takes one argument per input field.
#![allow(clippy::too_many_arguments)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("agent-get-many");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::http::Query;
use psaflow_kit::paging::{self, Collected, ListParams, Mode};
use psaflow_kit::{Failure, agents, validate};
use serde_json::Value;

const OUTPUT: &str = "Agents";

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Read)
            .calls("GET", "/Agent")
            .into()
    }

    fn run(input: GetManyInput) -> Envelope {
        envelope::respond(OUTPUT, get_many(input), |_| envelope::empty_object())
    }
}

fn get_many(input: GetManyInput) -> Result<Done, Failure> {
    let email = input
        .email
        .as_deref()
        .and_then(|e| validate::optional_text(Some(e)))
        .map(|e| agents::email("Email", &e))
        .transpose()?;
    let team_id = validate::optional_positive_id("TeamId", input.team_id)?;
    let mut extra = Query::new();
    extra.push_opt("team_id", team_id);
    let params = ListParams {
        count: input.count,
        page_no: input.page_no,
        page_size: input.page_size,
        paginate: input.paginate,
        search: validate::optional_text(input.search.as_deref()).or(email.clone()),
        include_active: input.include_active,
        include_inactive: input.include_inactive,
        extra,
    };
    let Some(email) = email else {
        return paging::get_many(&paging::AGENTS, &params);
    };
    // Validate the paging numbers the same way, then list everything matching and keep the
    // exact email matches (at most a handful).
    let Some(plan) = paging::plan(&paging::AGENTS, &params)? else {
        return Ok(Done::new(0, paging::empty_output(paging::AGENTS.key)));
    };
    let collected = paging::fetch(&paging::AGENTS, &Mode::All { count: None }, &plan.filter)?;
    let status = collected.last_status;
    let items: Vec<Value> = collected
        .items
        .into_iter()
        .filter(|a| {
            a.get("email")
                .and_then(Value::as_str)
                .is_some_and(|e| e.trim().eq_ignore_ascii_case(&email))
        })
        .collect();
    let output = paging::output(
        paging::AGENTS.key,
        Collected {
            record_count: Some(items.len() as u64),
            items,
            ..Collected::default()
        },
    );
    Ok(Done::new(status, output))
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> GetManyInput {
        GetManyInput {
            search: None,
            email: None,
            team_id: None,
            include_active: None,
            include_inactive: None,
            count: None,
            page_size: None,
            paginate: None,
            page_no: None,
        }
    }

    #[test]
    fn validation_sends_nothing() {
        for (i, message) in [
            (GetManyInput { count: Some(0), ..input() }, "Count must be 1 or more"),
            (GetManyInput { team_id: Some(0), ..input() }, "TeamId must be a positive integer"),
            (GetManyInput { email: Some("nobody".into()), ..input() }, "Email must be an email address like jane.smith@msp.example, got \"nobody\""),
        ] {
            let e = Node::run(i);
            assert_eq!((e.status_code, e.error_message.as_str(), e.output.as_str()), (-1, message, "{}"));
        }
    }

    #[test]
    fn both_status_flags_false_is_an_empty_list_without_a_request() {
        let e = Node::run(GetManyInput { include_active: Some(false), include_inactive: Some(false), email: Some("a@b.example".into()), ..input() });
        assert_eq!((e.status_code, e.output.as_str()), (200, r#"{"agents":[],"record_count":0}"#));
    }
}
