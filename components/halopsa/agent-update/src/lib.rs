//! halopsa.agent.update: changes the fields given of one agent; a new team moves the agent.
//!
//! Rules (seed 001, "Update Agent" and "Sync agent team assignments"):
//! - Id must be a positive integer; Email, when given, an email address; TeamId or Team (by
//!   name), not both; AdditionalFields a JSON object without `id` that does not deactivate the
//!   agent (that is halopsa.agent.deactivate, which is verified). At least one field to change.
//! - Blank text parameters keep the current value.
//! - The team is resolved first (`GET /Team/{id}` or `GET /Team`), then `POST /Agent` with
//!   `[{id, ...changes}]`: the id in the body is what makes HaloPSA update rather than create a
//!   duplicate (seed 001's warning). A 404 is "Agent with ID {Id} not found".
//! - Output `Agent`: the updated record with ids as integers; `{}` on any failure.

#![cfg_attr(not(test), no_std)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("agent-update");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::agents::{self, TeamChoice};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::{Failure, fields, http, validate};
use serde_json::{Map, Value};

const OUTPUT: &str = "Agent";

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Update)
            .calls("POST", "/Agent")
            .calls("GET", "/Team") // a new team, by ID or by name
            .into()
    }

    fn run(input: UpdateInput) -> Envelope {
        envelope::respond(OUTPUT, update(&input), |_| envelope::empty_object())
    }
}

fn update(input: &UpdateInput) -> Result<Done, Failure> {
    let (id, changes, team) = build_changes(input)?;
    // The id first, as HaloPSA's own requests have it.
    let mut body = Map::new();
    body.insert("id".into(), Value::from(id));
    body.extend(changes);
    agents::apply_team(&mut body, &team)?;
    let not_found = format!("Agent with ID {id} not found");
    let (status, record) = http::post_array("/Agent", &body, Some(&not_found))?;
    Ok(Done::record(status, record))
}

/// Validates the input; returns the id, the changed fields (without id and team) and the team.
fn build_changes(input: &UpdateInput) -> Result<(i64, Map<String, Value>, TeamChoice), Failure> {
    let id = validate::positive_id("Id", input.id)?;
    let team = agents::team_choice(input.team_id, input.team.as_deref())?;
    let extra = validate::json_object(
        "AdditionalFields",
        input.additional_fields.as_deref(),
        r#"{"jobtitle": "Service desk", "isdisabled": false}"#,
    )?
        .unwrap_or_default();
    if fields::contains(&extra, "id") {
        return Err(Failure::invalid(
            "AdditionalFields must not contain id: the agent is chosen by Id",
        ));
    }
    agents::refuse_deactivation_in(&extra)?;
    let mut body = Map::new();
    if let Some(name) = validate::optional_text(input.name.as_deref()) {
        body.insert("name".into(), Value::String(name));
    }
    if let Some(email) = validate::optional_text(input.email.as_deref()) {
        body.insert("email".into(), Value::String(agents::email("Email", &email)?));
    }
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
    if body.is_empty() && team == TeamChoice::None {
        return Err(Failure::invalid(
            "Nothing to update: give at least one field besides Id (Name, Email, Team, Role, ...)",
        ));
    }
    Ok((id, body, team))
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(id: i64) -> UpdateInput {
        UpdateInput {
            id,
            name: None,
            email: None,
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

    fn invalid(i: UpdateInput) -> String {
        let e = Node::run(i);
        assert_eq!((e.status_code, e.original_status_code, e.output.as_str()), (-1, 0, "{}"));
        e.error_message
    }

    #[test]
    fn changes_only_what_is_given() {
        let mut i = input(4);
        i.role = Some("Lead".into());
        i.name = Some("  ".into());
        i.team = Some("Projects".into());
        let (id, body, team) = build_changes(&i).unwrap();
        assert_eq!((id, Value::Object(body), team), (4, json!({"role": "Lead"}), TeamChoice::Name("Projects".into())));
    }

    #[test]
    fn every_rule_fails_before_sending() {
        assert_eq!(invalid(input(0)), "Id must be a positive integer");
        assert!(invalid(input(4)).starts_with("Nothing to update"));
        assert!(invalid(UpdateInput { email: Some("x".into()), ..input(4) }).starts_with("Email must be an email address"));
        assert!(invalid(UpdateInput { team_id: Some(1), team: Some("A".into()), ..input(4) }).starts_with("Give TeamId or Team"));
        assert!(invalid(UpdateInput { additional_fields: Some(r#"{"isactive": false}"#.into()), ..input(4) }).contains("halopsa.agent.deactivate"));
        assert!(invalid(UpdateInput { additional_fields: Some(r#"{"Id": 9}"#.into()), ..input(4) }).starts_with("AdditionalFields must not contain id"));
    }
}
