//! halopsa.agent.create: creates an agent (technician).
//!
//! Rules (seeds 000 and 001, "Provision a new agent when an employee joins"):
//! - Name is required; Email is required and must look like an email address (it is the login
//!   and what psaflow finds the agent by afterwards).
//! - TeamId or Team (by name, case-insensitive), not both. The team is resolved before the create
//!   (`GET /Team/{id}` or `GET /Team`), so a missing team is reported without creating anything;
//!   both `team_id` and `team` (the name) are sent, as installs take one or the other.
//! - Firstname, Surname, Role, Phone, Mobile, Timezone are sent when not blank.
//! - AdditionalFields must be a JSON object without `id`; explicit parameters win over it.
//! - `POST /Agent` with a one-element array. A 2xx answer without the new agent's id, or with an
//!   error in the body (a failed licence-seat check answers 200), is a business error quoting
//!   HaloPSA.
//! - The agents with the email (the natural key: HaloPSA refuses a second agent with the same
//!   email) are listed before the POST. When its answer is lost (the outcome is unknown), an
//!   agent with the email that was not listed is the created one; only the one listed before
//!   means the create did not happen (a 500, safe to retry: HaloPSA then refuses the duplicate
//!   itself) ([`psaflow_kit::recover`]).
//! - Output `Agent`: the created record with ids as integers; `{}` on any failure.

#![cfg_attr(not(test), no_std)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("agent-create");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::agents::{self, TeamChoice};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::http::Query;
use psaflow_kit::recover::{self, Subject};
use psaflow_kit::{Failure, fields, paging, validate};
use serde_json::{Map, Value};

const OUTPUT: &str = "Agent";

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Create)
            .natural_key(&["Email"])
            .calls("POST", "/Agent")
            .calls("GET", "/Team") // the team, by ID or by name
            .calls("GET", "/Agent") // the agents with the email, before and after a lost answer
            .into()
    }

    fn run(input: CreateInput) -> Envelope {
        envelope::respond(OUTPUT, create(&input), |_| envelope::empty_object())
    }
}

fn create(input: &CreateInput) -> Result<Done, Failure> {
    let (mut body, team) = build_body(input)?;
    agents::apply_team(&mut body, &team)?;
    let email = body
        .get("email")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let key = format!("with email {email}");
    let subject = Subject {
        what: "agent",
        key: &key,
    };
    let (status, record) = recover::create_or_find("/Agent", &body, subject, || {
        recover::list_matching(&paging::AGENTS, Query::new(), &email, |a| {
            recover::text_matches(a, "email", &email)
        })
    })?;
    Ok(Done::record(status, record))
}

/// Validates the input and builds the agent object, without the team. Sends nothing.
fn build_body(input: &CreateInput) -> Result<(Map<String, Value>, TeamChoice), Failure> {
    let name = validate::required_text("Name", &input.name)?;
    let email = agents::email("Email", &input.email)?;
    let team = agents::team_choice(input.team_id, input.team.as_deref())?;
    let extra = validate::json_object(
        "AdditionalFields",
        input.additional_fields.as_deref(),
        r#"{"jobtitle": "Service desk", "isdisabled": false}"#,
    )?
        .unwrap_or_default();
    if fields::contains(&extra, "id") {
        return Err(Failure::invalid(
            "AdditionalFields must not contain id: Create an Agent always creates a new agent (use Update an Agent to change one)",
        ));
    }
    let mut body = Map::new();
    body.insert("name".into(), Value::String(name));
    body.insert("email".into(), Value::String(email));
    agents::set_text_fields(
        &mut body,
        [
            input.firstname.as_deref(),
            input.surname.as_deref(),
            input.role.as_deref(),
            input.phone.as_deref(),
            input.mobile.as_deref(),
            input.timezone.as_deref(),
        ],
    );
    fields::merge_under(&mut body, extra);
    Ok((body, team))
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input() -> CreateInput {
        CreateInput {
            name: "Ada Byron".into(),
            email: "ada@msp.example".into(),
            firstname: None,
            surname: None,
            team_id: None,
            team: None,
            role: None,
            phone: None,
            mobile: None,
            timezone: None,
            additional_fields: None,
        }
    }

    fn invalid(i: CreateInput) -> String {
        let e = Node::run(i);
        assert_eq!((e.status_code, e.original_status_code, e.output.as_str()), (-1, 0, "{}"));
        e.error_message
    }

    #[test]
    fn body_with_explicit_fields_over_additional_ones() {
        let mut i = input();
        i.role = Some("Technician".into());
        i.surname = Some(" Byron ".into());
        i.phone = Some("".into());
        i.additional_fields = Some(r#"{"Role": "Admin", "department_id": 2}"#.into());
        let (body, team) = build_body(&i).unwrap();
        assert_eq!(team, TeamChoice::None);
        assert_eq!(
            Value::Object(body),
            json!({"name": "Ada Byron", "email": "ada@msp.example", "surname": "Byron", "role": "Technician", "department_id": 2})
        );
    }

    #[test]
    fn every_rule_fails_before_sending() {
        // The native transport stub panics if anything were sent.
        assert_eq!(invalid(CreateInput { name: " ".into(), ..input() }), "Name is required");
        assert_eq!(invalid(CreateInput { email: "".into(), ..input() }), "Email is required");
        assert!(invalid(CreateInput { email: "ada".into(), ..input() }).starts_with("Email must be an email address"));
        assert!(invalid(CreateInput { team_id: Some(2), team: Some("Projects".into()), ..input() }).starts_with("Give TeamId or Team"));
        assert_eq!(invalid(CreateInput { team_id: Some(-4), ..input() }), "TeamId must be a positive integer");
        assert!(invalid(CreateInput { additional_fields: Some("[1]".into()), ..input() }).starts_with("AdditionalFields must be a JSON object"));
        assert!(invalid(CreateInput { additional_fields: Some(r#"{"ID": 3}"#.into()), ..input() }).starts_with("AdditionalFields must not contain id"));
    }
}
