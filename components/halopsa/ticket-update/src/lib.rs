//! halopsa.ticket.update: changes the given fields of an existing ticket.
//!
//! Rules (seed "Update a Ticket"):
//! - Id must be a positive integer.
//! - Only filled fields are sent; empty ones keep the current values:
//!   - Summary, Details: sent (trimmed) when not blank;
//!   - TickettypeId, AgentId: sent as `tickettype_id` / `agent_id` when positive; 0 or absent
//!     keeps the current value; a negative value is a validation error;
//!   - Startdate, Targetdate: sent as `startdate` / `targetdate` when not blank, and then they
//!     must be ISO 8601 with date and time (`YYYY-MM-DDTHH:MM:SS`, optionally with fractions of
//!     a second, `Z` or an offset), else StatusCode -1 naming the parameter.
//! - AdditionalFields (a JSON object) carries the other fields: priority_id, status_id,
//!   category_id, team_id, slaresponse, slafix... Explicit parameters win over it, whatever
//!   letter case it uses. It may not carry `id` (the ticket is chosen by Id). `category_id` is
//!   sent as `categoryid_1`, the field HaloPSA reads a category id from, unless that field is
//!   given too. Its `startdate` / `targetdate` follow the date rule above.
//! - Nothing to update (no field given, or only HaloPSA control flags such as `_novalidate`):
//!   StatusCode -1, nothing sent.
//! - `POST /Tickets` with `[{"id": Id, <changed fields>}]`; a 404 is worded
//!   "Ticket with ID {Id} not found".
//! - Output `Ticket`: the updated record with ids as integers; `{}` on any failure.

#![cfg_attr(not(test), no_std)]

// The generated export glue takes one argument per input field.
#![allow(clippy::too_many_arguments)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("ticket-update");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::{Failure, fields, http, validate};
use serde_json::{Map, Value};

const OUTPUT: &str = "Ticket";

/// AdditionalFields entries that must be ISO 8601 date-times.
const DATE_FIELDS: [&str; 2] = ["startdate", "targetdate"];
/// The field HaloPSA reads a ticket's category id from.
const CATEGORY_ID_FIELD: &str = "categoryid_1";
/// The seed's spelling of the category id in AdditionalFields.
const CATEGORY_ID_ALIAS: &str = "category_id";

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Update)
            .calls("POST", "/Tickets")
            .into()
    }

    fn run(input: UpdateInput) -> Envelope {
        envelope::respond(OUTPUT, update(&input), |_| envelope::empty_object())
    }
}

fn update(input: &UpdateInput) -> Result<Done, Failure> {
    let (id, body) = build_body(input)?;
    let not_found = format!("Ticket with ID {id} not found");
    let (status, record) = http::post_array("/Tickets", &body, Some(&not_found))?;
    Ok(Done::record(status, record))
}

/// Validates the input and builds `{"id", <changed fields>}`. Sends nothing.
fn build_body(input: &UpdateInput) -> Result<(i64, Map<String, Value>), Failure> {
    let id = validate::positive_id("Id", input.id)?;
    let tickettype_id = validate::id_or_keep("TickettypeId", input.tickettype_id)?;
    let agent_id = validate::id_or_keep("AgentId", input.agent_id)?;
    let date = |name: &str, value: &Option<String>| {
        validate::optional_text(value.as_deref())
            .map(|d| validate::iso8601_datetime(name, &d))
            .transpose()
    };
    let startdate = date("Startdate", &input.startdate)?;
    let targetdate = date("Targetdate", &input.targetdate)?;
    let mut extra = validate::json_object(
        "AdditionalFields",
        input.additional_fields.as_deref(),
        r#"{"client_id": 12, "impact": 2, "urgency": 2}"#,
    )?
        .unwrap_or_default();
    if fields::contains(&extra, "id") {
        return Err(Failure::invalid(
            "AdditionalFields must not contain id: the ticket to update is the one named by Id",
        ));
    }

    let mut changes = Map::new();
    if let Some(v) = tickettype_id {
        changes.insert("tickettype_id".into(), Value::from(v));
    }
    if let Some(v) = validate::optional_text(input.summary.as_deref()) {
        changes.insert("summary".into(), Value::String(v));
    }
    if let Some(v) = validate::optional_text(input.details.as_deref()) {
        changes.insert("details".into(), Value::String(v));
    }
    if let Some(v) = agent_id {
        changes.insert("agent_id".into(), Value::from(v));
    }
    if let Some(v) = startdate {
        changes.insert("startdate".into(), Value::String(v));
    }
    if let Some(v) = targetdate {
        changes.insert("targetdate".into(), Value::String(v));
    }

    // What an explicit parameter sets, AdditionalFields cannot: drop its spellings first, so
    // that only the values actually sent are checked.
    for key in changes.keys() {
        fields::remove(&mut extra, key);
    }
    category_alias(&mut extra);
    validate::datetime_fields("AdditionalFields", &mut extra, &DATE_FIELDS)?;
    fields::merge_under(&mut changes, extra);

    if changes.keys().all(|k| k.starts_with('_')) {
        return Err(Failure::invalid(
            "Nothing to update: give at least one of TickettypeId, Summary, Details, AgentId, Startdate, Targetdate or AdditionalFields",
        ));
    }
    let mut body = Map::new();
    body.insert("id".into(), Value::from(id));
    body.extend(changes);
    Ok((id, body))
}

/// Sends AdditionalFields' `category_id` as `categoryid_1`, unless that field is given as well.
fn category_alias(extra: &mut Map<String, Value>) {
    if fields::contains(extra, CATEGORY_ID_FIELD) {
        return;
    }
    if let Some(value) = fields::remove(extra, CATEGORY_ID_ALIAS) {
        extra.insert(CATEGORY_ID_FIELD.into(), value);
    }
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(id: i64) -> UpdateInput {
        UpdateInput {
            id,
            tickettype_id: None,
            summary: None,
            details: None,
            agent_id: None,
            startdate: None,
            targetdate: None,
            additional_fields: None,
        }
    }

    fn invalid(i: UpdateInput) -> String {
        match build_body(&i) {
            Err(Failure::Invalid(m)) => m,
            other => panic!("expected -1, got {other:?}"),
        }
    }

    fn body(i: UpdateInput) -> Value {
        Value::Object(build_body(&i).unwrap().1)
    }

    #[test]
    fn id_rules() {
        for id in [0, -1] {
            let mut i = input(id);
            i.summary = Some("x".into());
            assert_eq!(invalid(i), "Id must be a positive integer");
        }
        let mut i = input(5);
        i.tickettype_id = Some(-1);
        assert!(invalid(i).starts_with("TickettypeId must be a positive integer"));
        let mut i = input(5);
        i.agent_id = Some(-7);
        assert!(invalid(i).starts_with("AgentId must be a positive integer"));
    }

    #[test]
    fn nothing_to_update() {
        assert!(invalid(input(5)).starts_with("Nothing to update"));
        let mut i = input(5);
        i.summary = Some("  ".into());
        i.details = Some(String::new());
        i.startdate = Some(" ".into());
        i.tickettype_id = Some(0);
        i.agent_id = Some(0);
        i.additional_fields = Some("{}".into());
        assert!(
            invalid(i).starts_with("Nothing to update"),
            "empty keeps values"
        );
        let mut i = input(5);
        i.additional_fields = Some(r#"{"_novalidate": true}"#.into());
        assert!(
            invalid(i).starts_with("Nothing to update"),
            "control flags alone"
        );
    }

    #[test]
    fn dates() {
        for ok in [
            "2025-10-30T10:00:00",
            "2025-10-30T10:00:00Z",
            "2025-10-30T10:00:00+02:00",
        ] {
            let mut i = input(5);
            i.startdate = Some(ok.into());
            i.targetdate = Some(format!(" {ok} "));
            assert_eq!(body(i), json!({"id": 5, "startdate": ok, "targetdate": ok}));
        }
        for bad in [
            "2025-10-30",
            "10:00:00",
            "2025-10-30 10:00:00",
            "30/10/2025T10:00:00",
        ] {
            let mut i = input(5);
            i.startdate = Some(bad.into());
            assert!(
                invalid(i).starts_with("Startdate must be an ISO 8601 date and time"),
                "{bad}"
            );
            let mut i = input(5);
            i.targetdate = Some(bad.into());
            assert!(
                invalid(i).starts_with("Targetdate must be an ISO 8601 date and time"),
                "{bad}"
            );
        }
        let mut i = input(5);
        i.additional_fields = Some(r#"{"targetdate": "2025-11-05"}"#.into());
        assert!(invalid(i).starts_with("AdditionalFields.targetdate must be an ISO 8601"));
        // An AdditionalFields date replaced by the parameter is not sent, so not checked.
        let mut i = input(5);
        i.targetdate = Some("2025-11-05T18:00:00".into());
        i.additional_fields = Some(r#"{"TargetDate": "whenever", "status_id": 2}"#.into());
        assert_eq!(
            body(i),
            json!({"id": 5, "targetdate": "2025-11-05T18:00:00", "status_id": 2})
        );
    }

    #[test]
    fn only_given_fields_are_sent() {
        let mut i = input(1001);
        i.summary = Some(" New summary ".into());
        i.agent_id = Some(3);
        i.tickettype_id = Some(0);
        assert_eq!(
            body(i),
            json!({"id": 1001, "summary": "New summary", "agent_id": 3})
        );
        let mut i = input(1001);
        i.tickettype_id = Some(4);
        i.details = Some("More detail".into());
        assert_eq!(
            body(i),
            json!({"id": 1001, "tickettype_id": 4, "details": "More detail"})
        );
    }

    #[test]
    fn additional_fields() {
        let mut i = input(1001);
        i.agent_id = Some(3);
        i.additional_fields = Some(
            r#"{"priority_id": 2, "status_id": 5, "team_id": 10, "category_id": 7, "slaresponse": "4h", "slafix": "1d", "Agent_Id": 9}"#
                .into(),
        );
        assert_eq!(
            body(i),
            json!({"id": 1001, "agent_id": 3, "priority_id": 2, "status_id": 5, "team_id": 10,
                   "slaresponse": "4h", "slafix": "1d", "categoryid_1": 7})
        );
        let mut i = input(1001);
        i.additional_fields = Some(r#"{"Id": 1002, "status_id": 9}"#.into());
        assert!(invalid(i).starts_with("AdditionalFields must not contain id"));
        let mut i = input(1001);
        i.additional_fields = Some("[]".into());
        assert!(invalid(i).starts_with("AdditionalFields must be a JSON object"));
    }

    #[test]
    fn validation_sends_nothing() {
        // The native transport stub would panic if a request were sent.
        let e = Node::run(input(7));
        assert_eq!((e.status_code, e.original_status_code), (-1, 0));
        assert!(e.error_message.starts_with("Nothing to update"));
        assert_eq!(e.output, "{}");
    }
}
