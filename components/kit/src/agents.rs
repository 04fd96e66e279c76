//! What the agent nodes share: the email rule, the body fields create and update both send, the
//! team given by ID or by name, and reading an agent's status whichever field the install uses.
//!
//! HaloPSA installs differ in how they report an agent's status: seed 001 documents `isactive`,
//! the official swagger `isdisabled`. [`is_active`] reads either; [`deactivation_fields`] sends
//! both, so either kind of server deactivates the agent.

use crate::prelude::*;
use serde_json::{Map, Value};

use crate::errors::Failure;
use crate::http::{self, Query};
use crate::paging;
use crate::validate;

/// The email rule: trimmed, one `@` with text on both sides, a dot in the domain, no spaces.
pub fn email(name: &str, value: &str) -> Result<String, Failure> {
    let email = validate::required_text(name, value)?;
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if valid {
        Ok(email)
    } else {
        Err(Failure::invalid(format!(
            "{name} must be an email address like jane.smith@msp.example, got {email:?}"
        )))
    }
}

/// The optional text fields both create and update send, by (parameter name, HaloPSA field).
pub const TEXT_FIELDS: [(&str, &str); 6] = [
    ("Firstname", "firstname"),
    ("Surname", "surname"),
    ("Role", "role"),
    ("Phone", "phone"),
    ("Mobile", "mobile"),
    ("Timezone", "timezone"),
];

/// Puts each given (non-blank) text value under its HaloPSA field; explicit values replace any
/// spelling of the field already in `body` (from AdditionalFields).
pub fn set_text_fields(body: &mut Map<String, Value>, values: [Option<&str>; 6]) {
    for ((_, field), value) in TEXT_FIELDS.iter().zip(values) {
        if let Some(v) = validate::optional_text(value) {
            crate::fields::set(body, field, Value::String(v));
        }
    }
}

/// Which team the caller asked for, validated; nothing sent yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamChoice {
    None,
    Id(i64),
    Name(String),
}

/// TeamId or Team, not both; TeamId must be positive; a blank Team is no team.
pub fn team_choice(team_id: Option<i64>, team: Option<&str>) -> Result<TeamChoice, Failure> {
    let id = validate::optional_positive_id("TeamId", team_id)?;
    let name = validate::optional_text(team);
    match (id, name) {
        (Some(_), Some(_)) => Err(Failure::invalid(
            "Give TeamId or Team, not both: TeamId picks the team by ID, Team by name",
        )),
        (Some(id), None) => Ok(TeamChoice::Id(id)),
        (None, Some(name)) => Ok(TeamChoice::Name(name)),
        (None, None) => Ok(TeamChoice::None),
    }
}

/// Resolves the team against HaloPSA and sets both `team_id` and `team` (the name) in `body`, so
/// installs that take either field place the agent. A team that does not exist is a business
/// error (StatusCode 200) naming the teams that do; a name several teams have is one naming
/// their ids (see [`team_by_name`]).
pub fn apply_team(body: &mut Map<String, Value>, choice: &TeamChoice) -> Result<(), Failure> {
    let (id, name) = match choice {
        TeamChoice::None => return Ok(()),
        TeamChoice::Id(id) => {
            let (_, team) = http::get_json(
                &format!("/Team/{id}"),
                &Query::new(),
                Some(&format!("Team with ID {id} not found")),
            )?;
            let name = team.get("name").and_then(Value::as_str).map(str::to_owned);
            (*id, name)
        }
        TeamChoice::Name(wanted) => {
            let (status, teams) = all_teams()?;
            team_by_name(&teams, wanted).map_err(|message| Failure::Api { status, message })?
        }
    };
    crate::fields::set(body, "team_id", Value::from(id));
    if let Some(name) = name {
        crate::fields::set(body, "team", Value::String(name));
    }
    Ok(())
}

/// The one team called `wanted` (trimmed, ignoring case): its id and name. Team names are not
/// unique in HaloPSA, so several teams with the name are refused naming their ids (picking the
/// first would place the agent in a team nobody chose); none is refused naming the teams that
/// exist. The error is the message of a business error.
pub fn team_by_name(teams: &[Value], wanted: &str) -> Result<(i64, Option<String>), String> {
    let named: Vec<&Value> = teams
        .iter()
        .filter(|t| {
            t.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.trim().eq_ignore_ascii_case(wanted))
        })
        .collect();
    let ids: Vec<i64> = named
        .iter()
        .filter_map(|t| t.get("id").and_then(crate::ids::read_id))
        .collect();
    match ids.as_slice() {
        [id] => {
            let name = named
                .iter()
                .find(|t| t.get("id").and_then(crate::ids::read_id) == Some(*id))
                .and_then(|t| t["name"].as_str())
                .map(str::to_owned);
            Ok((*id, name))
        }
        [] => {
            let names: Vec<&str> = teams
                .iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str))
                .collect();
            Err(format!(
                "No HaloPSA team is called {wanted:?} (teams: {})",
                if names.is_empty() { "none".to_string() } else { names.join(", ") }
            ))
        }
        several => {
            let ids: Vec<String> = several.iter().map(i64::to_string).collect();
            Err(format!(
                "{} HaloPSA teams are called {wanted:?} (IDs {}): give TeamId to say which one",
                several.len(),
                ids.join(", ")
            ))
        }
    }
}

/// Every team (one request; HaloPSA answers a bare array or `{teams}`), with the status.
pub fn all_teams() -> Result<(u16, Vec<Value>), Failure> {
    let collected = paging::fetch(
        &paging::TEAMS,
        &paging::Mode::All { count: None },
        &Query::new(),
    )?;
    Ok((collected.last_status, collected.items))
}

/// The agent's status as the record reports it: `isactive`, else the negation of `isdisabled`;
/// `None` when the record carries neither as a boolean.
pub fn is_active(record: &Value) -> Option<bool> {
    let active = record.get("isactive").and_then(Value::as_bool);
    let disabled = record.get("isdisabled").and_then(Value::as_bool);
    match (active, disabled) {
        // Both present and disagreeing: the record says "active" somewhere, so it is not
        // confirmed inactive.
        (Some(a), Some(d)) => Some(a || !d),
        (Some(a), None) => Some(a),
        (None, Some(d)) => Some(!d),
        (None, None) => None,
    }
}

/// The fields that deactivate an agent on either kind of install.
pub fn deactivation_fields(body: &mut Map<String, Value>) {
    body.insert("isactive".into(), Value::Bool(false));
    body.insert("isdisabled".into(), Value::Bool(true));
}

/// AdditionalFields of an update may reactivate an agent but not deactivate it: deactivation is
/// its own node (marked as such in dry runs and plans) and is verified.
pub fn refuse_deactivation_in(extra: &Map<String, Value>) -> Result<(), Failure> {
    let deactivates = crate::fields::get(extra, "isactive") == Some(&Value::Bool(false))
        || crate::fields::get(extra, "isdisabled") == Some(&Value::Bool(true))
        || crate::fields::get(extra, "inactive") == Some(&Value::Bool(true));
    if deactivates {
        return Err(Failure::invalid(
            "AdditionalFields must not deactivate the agent: use halopsa.agent.deactivate, which confirms the agent is inactive",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn emails() {
        assert_eq!(email("Email", " Ada@MSP.example ").unwrap(), "Ada@MSP.example");
        for bad in ["ada", "ada@", "@msp.example", "ada@msp", "a b@msp.example", "a@b@c.example"] {
            let f = email("Email", bad).unwrap_err();
            assert!(f.is_validation(), "{bad}");
            assert!(f.message().starts_with("Email must be an email address"), "{bad}");
        }
        assert_eq!(email("Email", " ").unwrap_err().message(), "Email is required");
    }

    #[test]
    fn team_choices() {
        assert_eq!(team_choice(None, None), Ok(TeamChoice::None));
        assert_eq!(team_choice(Some(3), Some(" ")), Ok(TeamChoice::Id(3)));
        assert_eq!(team_choice(None, Some(" Projects ")), Ok(TeamChoice::Name("Projects".into())));
        assert!(team_choice(Some(3), Some("Projects")).unwrap_err().message().starts_with("Give TeamId or Team"));
        assert_eq!(team_choice(Some(0), None).unwrap_err().message(), "TeamId must be a positive integer");
    }

    #[test]
    fn teams_by_name_must_be_unambiguous() {
        let teams = [
            json!({"id": 1, "name": "Service Desk"}),
            json!({"id": 2, "name": "Projects"}),
            json!({"id": 7, "name": " service desk "}),
        ];
        assert_eq!(team_by_name(&teams, "Projects"), Ok((2, Some("Projects".into()))));
        assert_eq!(
            team_by_name(&teams, "Service Desk").unwrap_err(),
            "2 HaloPSA teams are called \"Service Desk\" (IDs 1, 7): give TeamId to say which one"
        );
        assert_eq!(
            team_by_name(&teams, "Sales").unwrap_err(),
            "No HaloPSA team is called \"Sales\" (teams: Service Desk, Projects,  service desk )"
        );
        assert!(team_by_name(&[], "Sales").unwrap_err().ends_with("(teams: none)"));
    }

    #[test]
    fn status_from_either_field() {
        assert_eq!(is_active(&json!({"isactive": false})), Some(false));
        assert_eq!(is_active(&json!({"isdisabled": true})), Some(false));
        assert_eq!(is_active(&json!({"isactive": true, "isdisabled": false})), Some(true));
        assert_eq!(is_active(&json!({"isactive": false, "isdisabled": false})), Some(true));
        assert_eq!(is_active(&json!({"id": 4})), None);
    }

    #[test]
    fn updates_cannot_deactivate_through_additional_fields() {
        let extra = |v: Value| v.as_object().unwrap().clone();
        assert!(refuse_deactivation_in(&extra(json!({"IsActive": false}))).is_err());
        assert!(refuse_deactivation_in(&extra(json!({"isdisabled": true}))).is_err());
        assert!(refuse_deactivation_in(&extra(json!({"isactive": true}))).is_ok());
    }
}
