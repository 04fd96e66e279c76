//! connectwise.member.create: creates a ConnectWise PSA member.
//!
//! Rules (lifecycle guide: a member needs an ID, names, a default email, a security role, a
//! default location and department, and a license class; ConnectWise's field limits):
//! - Identifier required, at most 15 characters, no spaces; FirstName and LastName required, at
//!   most 30; Email a well-formed address (sent as `officeEmail`, the default email);
//!   LicenseClass F (default), A, C or X; SecurityRoleId, LocationId, DepartmentId positive;
//!   TimeZoneId positive when given; AdditionalFields a JSON object without `id`/`_info`.
//!   Any break: StatusCode -1, nothing sent.
//! - `POST /system/members` with AdditionalFields under the explicit parameters.
//! - A refusal (duplicate identifier, unknown role) is StatusCode 200 with ConnectWise's
//!   message naming the field. Output `Member`: the created member; `{}` on failure.
//! - When the answer to the POST is lost (the outcome is unknown), the member is looked up by
//!   its identifier (unique in ConnectWise) instead of being created again: found, it is the
//!   create's result (the host marks the attempt recovered); not found, a 500 saying nothing
//!   was created and trying again is safe ([`psaflow_kit::recover`]).

#![cfg_attr(not(test), no_std)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_connectwise_node!("member-create");

use psaflow_kit::connectwise::conditions::quote;
use psaflow_kit::connectwise::describe::{capability, node_info};
use psaflow_kit::connectwise::envelope::{self, Done};
use psaflow_kit::connectwise::paging::{self, ListRequest, MAX_PAGE_SIZE};
use psaflow_kit::connectwise::patch::reference;
use psaflow_kit::connectwise::transport::Method;
use psaflow_kit::connectwise::types::Effect;
use psaflow_kit::connectwise::{http, member};
use psaflow_kit::recover::{self, Subject};
use psaflow_kit::{Failure, fields, validate};
use serde_json::{Map, Value, json};

const OUTPUT: &str = "Member";

struct Node;

impl Guest for Node {
    fn run(input: CreateInput) -> Envelope {
        envelope::respond(OUTPUT, create(&input))
    }

    fn describe() -> NodeInfo {
        node_info(
            OUTPUT,
            Effect::Create,
            &["Identifier"],
            // The GET lets the host find the member by its identifier after an unknown outcome.
            vec![
                capability("POST", "/system/members"),
                capability("GET", "/system/members"),
            ],
        )
    }
}

/// The request body, or the first rule the input breaks.
fn body(input: &CreateInput) -> Result<Map<String, Value>, Failure> {
    let identifier = member::identifier(&input.identifier)?;
    let first_name = member::name("FirstName", &input.first_name)?;
    let last_name = member::name("LastName", &input.last_name)?;
    let email = member::email("Email", &input.email)?;
    let license_class = member::license_class(input.license_class.as_deref())?;
    let security_role = validate::positive_id("SecurityRoleId", input.security_role_id)?;
    let location = validate::positive_id("LocationId", input.location_id)?;
    let department = validate::positive_id("DepartmentId", input.department_id)?;
    let time_zone = validate::optional_positive_id("TimeZoneId", input.time_zone_id)?;
    let mut body = member::additional_fields(input.additional_fields.as_deref(), false)?;

    let mut set = |key: &str, value: Value| fields::set(&mut body, key, value);
    set("identifier", json!(identifier));
    set("firstName", json!(first_name));
    set("lastName", json!(last_name));
    set("officeEmail", json!(email));
    set("defaultEmail", json!("Office"));
    set("licenseClass", json!(license_class));
    set("securityRole", reference(security_role));
    set("defaultLocation", reference(location));
    set("defaultDepartment", reference(department));
    if let Some(time_zone) = time_zone {
        set("timeZone", reference(time_zone));
    }
    Ok(body)
}

fn create(input: &CreateInput) -> Result<Done, Failure> {
    let body = Value::Object(body(input)?);
    let identifier = input.identifier.trim();
    let (status, member) = match http::send_json(Method::Post, "/system/members", &[], Some(&body))
    {
        Err(lost) if lost.is_unknown_outcome() => {
            let key = format!("with identifier {identifier}");
            let subject = Subject {
                what: "member",
                key: &key,
            };
            // Identifiers are unique in ConnectWise (a second create is refused), so a member
            // with it after the loss is this create's: no listing before the create is needed.
            recover::recover_in(
                "ConnectWise",
                &lost,
                subject,
                &[],
                find_by_identifier(identifier),
            )
        }
        other => other,
    }?;
    Ok(Done {
        original_status: status,
        output: member,
    })
}

/// Members (active or not) whose identifier is `identifier`: ConnectWise keeps identifiers
/// unique, so at most one.
fn find_by_identifier(identifier: &str) -> Result<(u16, Vec<Value>), Failure> {
    paging::list_all(&ListRequest {
        path: "/system/members".to_owned(),
        conditions: Some(format!("identifier = {}", quote(identifier))),
        page_size: MAX_PAGE_SIZE,
        count: None,
    })
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> CreateInput {
        CreateInput {
            identifier: "jdoe".into(),
            first_name: "Jane".into(),
            last_name: "Doe".into(),
            email: "jane@msp.example".into(),
            license_class: None,
            security_role_id: 2,
            location_id: 1,
            department_id: 1,
            time_zone_id: None,
            additional_fields: Some(r#"{"title": "Engineer", "IDENTIFIER": "ignored"}"#.into()),
        }
    }

    #[test]
    fn explicit_parameters_win_and_references_are_objects() {
        let body = body(&valid()).unwrap();
        assert_eq!(
            Value::Object(body),
            json!({"title": "Engineer", "identifier": "jdoe", "firstName": "Jane", "lastName": "Doe",
                   "officeEmail": "jane@msp.example", "defaultEmail": "Office", "licenseClass": "F",
                   "securityRole": {"id": 2}, "defaultLocation": {"id": 1}, "defaultDepartment": {"id": 1}})
        );
    }

    #[test]
    fn every_rule_stops_before_sending() {
        // The native transport stub would panic if a request were sent.
        let cases: Vec<(Box<dyn Fn(&mut CreateInput)>, &str)> = vec![
            (
                Box::new(|i| i.identifier = "far-too-long-for-cw".into()),
                "Identifier must be at most 15",
            ),
            (
                Box::new(|i| i.first_name = " ".into()),
                "FirstName is required",
            ),
            (
                Box::new(|i| i.last_name = "x".repeat(31)),
                "LastName must be at most 30",
            ),
            (
                Box::new(|i| i.email = "jane".into()),
                "Email must be an email address",
            ),
            (
                Box::new(|i| i.license_class = Some("Q".into())),
                "LicenseClass must be",
            ),
            (
                Box::new(|i| i.security_role_id = 0),
                "SecurityRoleId must be a positive integer",
            ),
            (
                Box::new(|i| i.location_id = -1),
                "LocationId must be a positive integer",
            ),
            (
                Box::new(|i| i.department_id = 0),
                "DepartmentId must be a positive integer",
            ),
            (
                Box::new(|i| i.time_zone_id = Some(0)),
                "TimeZoneId must be a positive integer",
            ),
            (
                Box::new(|i| i.additional_fields = Some("[]".into())),
                "AdditionalFields must be a JSON object",
            ),
        ];
        for (change, message) in cases {
            let mut input = valid();
            change(&mut input);
            let e = Node::run(input);
            assert_eq!(
                (e.status_code, e.original_status_code, e.output.as_str()),
                (-1, 0, "{}")
            );
            assert!(e.error_message.starts_with(message), "{}", e.error_message);
        }
    }

    #[test]
    fn describes_itself_as_a_create_keyed_by_identifier() {
        let info = Node::describe();
        assert_eq!(
            (info.output_key.as_str(), info.idempotent),
            ("Member", false)
        );
        assert_eq!(info.natural_key, ["Identifier"]);
    }
}
