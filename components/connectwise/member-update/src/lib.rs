//! connectwise.member.update: changes the given fields of a member, nothing else.
//!
//! - Id must be a positive integer; each given field follows the create rules (names at most
//!   30 characters, Email an address, LicenseClass F/A/C/X, ids positive); AdditionalFields is a
//!   JSON object that cannot set `identifier` (fixed after creation), `id` or `_info`, nor
//!   deactivate the member (`inactiveFlag: true`, an `inactiveDate`: that is
//!   connectwise.member.deactivate, whose effect says so; reactivating is allowed). At least
//!   one field must be given. Any break: StatusCode -1, nothing sent.
//! - `PATCH /system/members/{Id}` with one `replace` per field (AdditionalFields under the
//!   explicit parameters). A 404 is "Member with id {Id} not found"; other refusals carry
//!   ConnectWise's message naming the field. Output `Member`: the member after the change.

#![cfg_attr(not(test), no_std)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_connectwise_node!("member-update");

use psaflow_kit::connectwise::describe::{capability, node_info};
use psaflow_kit::connectwise::envelope::{self, Done};
use psaflow_kit::connectwise::patch::{reference, replace_all};
use psaflow_kit::connectwise::transport::Method;
use psaflow_kit::connectwise::types::Effect;
use psaflow_kit::connectwise::{http, member};
use psaflow_kit::{Failure, fields, validate};
use serde_json::{Map, Value, json};

const OUTPUT: &str = "Member";

struct Node;

impl Guest for Node {
    fn run(input: UpdateInput) -> Envelope {
        envelope::respond(OUTPUT, update(&input))
    }

    fn describe() -> NodeInfo {
        node_info(
            OUTPUT,
            Effect::Update,
            &[],
            vec![capability("PATCH", "/system/members")],
        )
    }
}

/// The fields to replace, or the first rule the input breaks.
fn changes(input: &UpdateInput) -> Result<Map<String, Value>, Failure> {
    validate::positive_id("Id", input.id)?;
    let mut changes = member::additional_fields(input.additional_fields.as_deref(), true)?;
    // Deactivating is connectwise.member.deactivate's (effect deactivate), never an update's.
    member::refuse_deactivation_in(&changes)?;
    let mut set = |key: &str, value: Value| fields::set(&mut changes, key, value);
    if let Some(first) = &input.first_name {
        set("firstName", json!(member::name("FirstName", first)?));
    }
    if let Some(last) = &input.last_name {
        set("lastName", json!(member::name("LastName", last)?));
    }
    if let Some(email) = &input.email {
        set("officeEmail", json!(member::email("Email", email)?));
    }
    if input.license_class.is_some() {
        set(
            "licenseClass",
            json!(member::license_class(input.license_class.as_deref())?),
        );
    }
    for (param, field, id) in [
        ("SecurityRoleId", "securityRole", input.security_role_id),
        ("LocationId", "defaultLocation", input.location_id),
        ("DepartmentId", "defaultDepartment", input.department_id),
        ("TimeZoneId", "timeZone", input.time_zone_id),
    ] {
        if let Some(id) = validate::optional_positive_id(param, id)? {
            set(field, reference(id));
        }
    }
    if changes.is_empty() {
        return Err(Failure::invalid(
            "Nothing to update: give at least one of FirstName, LastName, Email, LicenseClass, SecurityRoleId, LocationId, DepartmentId, TimeZoneId, AdditionalFields",
        ));
    }
    Ok(changes)
}

fn update(input: &UpdateInput) -> Result<Done, Failure> {
    let patch = replace_all(&changes(input)?);
    let id = input.id;
    match http::send_json(
        Method::Patch,
        &format!("/system/members/{id}"),
        &[],
        Some(&patch),
    ) {
        Ok((status, member)) => Ok(Done {
            original_status: status,
            output: member,
        }),
        Err(Failure::Api { status: 404, .. }) => Err(Failure::Api {
            status: 404,
            message: format!("Member with id {id} not found"),
        }),
        Err(other) => Err(other),
    }
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> UpdateInput {
        UpdateInput {
            id: 7,
            first_name: None,
            last_name: None,
            email: None,
            license_class: None,
            security_role_id: None,
            location_id: None,
            department_id: None,
            time_zone_id: None,
            additional_fields: None,
        }
    }

    #[test]
    fn only_given_fields_are_patched() {
        let mut i = input();
        i.last_name = Some("Smith".into());
        i.security_role_id = Some(3);
        i.additional_fields = Some(r#"{"title": "Lead", "lastname": "ignored"}"#.into());
        assert_eq!(
            replace_all(&changes(&i).unwrap()),
            json!([
                {"op": "replace", "path": "title", "value": "Lead"},
                {"op": "replace", "path": "lastName", "value": "Smith"},
                {"op": "replace", "path": "securityRole", "value": {"id": 3}}
            ])
        );
    }

    #[test]
    fn every_rule_stops_before_sending() {
        let cases: Vec<(Box<dyn Fn(&mut UpdateInput)>, &str)> = vec![
            (Box::new(|_| {}), "Nothing to update"),
            (
                Box::new(|i| {
                    i.id = 0;
                    i.additional_fields = Some(r#"{"title": "x"}"#.into());
                }),
                "Id must be a positive integer",
            ),
            (
                Box::new(|i| i.first_name = Some("".into())),
                "FirstName is required",
            ),
            (
                Box::new(|i| i.email = Some("nope".into())),
                "Email must be an email address",
            ),
            (
                Box::new(|i| i.license_class = Some("B".into())),
                "LicenseClass must be",
            ),
            (
                Box::new(|i| i.location_id = Some(0)),
                "LocationId must be a positive integer",
            ),
            (
                Box::new(|i| i.additional_fields = Some(r#"{"identifier": "new"}"#.into())),
                "AdditionalFields must not set identifier",
            ),
            (
                Box::new(|i| i.additional_fields = Some(r#"{"inactiveFlag": true}"#.into())),
                "AdditionalFields must not deactivate the member (inactiveFlag): use connectwise.member.deactivate",
            ),
            (
                Box::new(|i| {
                    i.first_name = Some("Jo".into());
                    i.additional_fields =
                        Some(r#"{"inactiveDate": "2025-01-01T00:00:00Z"}"#.into());
                }),
                "AdditionalFields must not deactivate the member (inactiveDate)",
            ),
        ];
        for (change, message) in cases {
            let mut i = input();
            change(&mut i);
            let e = Node::run(i);
            assert_eq!(
                (e.status_code, e.original_status_code),
                (-1, 0),
                "{message}"
            );
            assert!(e.error_message.starts_with(message), "{}", e.error_message);
        }
    }
}
