//! halopsa.ticket.create: creates a ticket and returns the created record.
//!
//! Rules (seed "Create a Ticket"):
//! - TickettypeId is required and must be a positive integer; Summary and Details are required
//!   (not blank; sent trimmed).
//! - AgentId, PriorityId, CategoryId and UserId are optional; when given they must be positive
//!   integers. They are sent as `agent_id`, `priority_id`, `categoryid_1` and `user_id`: HaloPSA
//!   reads a ticket's category id from `categoryid_1` (`category_1` is the category's text).
//! - AdditionalFields, when given, must be a JSON object (site_id, startdate, targetdate, tags,
//!   custom fields...); its fields are merged into the body. It may not carry `id` (that would
//!   turn the create into an update of another ticket). `category_id`, the spelling the seed uses
//!   for a category id, is sent as `categoryid_1` unless that field is given too.
//! - Explicit parameters win over AdditionalFields, whatever letter case AdditionalFields uses
//!   for the same field (HaloPSA matches field names ignoring case).
//! - `startdate` / `targetdate` in AdditionalFields must be ISO 8601 with date and time (e.g.
//!   `2025-01-15T10:00:00Z`), else StatusCode -1 naming the field.
//! - `POST /Tickets` with a one-element JSON array; the answer (object or array) is the Ticket.
//! - When the answer is lost (the outcome is unknown) the ticket is not created again: a ticket has
//!   no natural key to look it up by, so the failure says it may or may not exist and how to check.
//! - A business rejection, such as a ticket type bound to an approval process (400
//!   `CODE:APP03/2 Please select the CAB members to approve`), gives StatusCode 200, HaloPSA's
//!   message and OriginalStatusCode 400.
//! - Output `Ticket`: the created record with ids as integers; `{}` on any failure.

#![cfg_attr(not(test), no_std)]

// The generated export glue takes one argument per input field.
#![allow(clippy::too_many_arguments)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("ticket-create");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::recover;
use psaflow_kit::{Failure, fields, validate};
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
        describe::node(OUTPUT, Effect::Create)
            .calls("POST", "/Tickets")
            .into()
    }

    fn run(input: CreateInput) -> Envelope {
        envelope::respond(OUTPUT, create(&input), |_| envelope::empty_object())
    }
}

fn create(input: &CreateInput) -> Result<Done, Failure> {
    let body = build_body(input)?;
    // A ticket has no natural key (two tickets may share a summary), so an unknown outcome is
    // not resolved by looking: the step fails and says how to check.
    let summary = body.get("summary").and_then(Value::as_str).unwrap_or_default();
    let how_to_check = format!(
        "look in HaloPSA for a ticket with the summary {summary:?} (halopsa.ticket.get-many with Search) before running this again"
    );
    let (status, record) = recover::create_once("/Tickets", &body, "ticket", &how_to_check)?;
    Ok(Done::record(status, record))
}

/// Validates the input and builds the ticket object to POST. Sends nothing.
fn build_body(input: &CreateInput) -> Result<Map<String, Value>, Failure> {
    let tickettype_id = validate::positive_id("TickettypeId", input.tickettype_id)?;
    let summary = validate::required_text("Summary", &input.summary)?;
    let details = validate::required_text("Details", &input.details)?;
    let optional_ids = [
        (
            "agent_id",
            validate::optional_positive_id("AgentId", input.agent_id)?,
        ),
        (
            "priority_id",
            validate::optional_positive_id("PriorityId", input.priority_id)?,
        ),
        (
            CATEGORY_ID_FIELD,
            validate::optional_positive_id("CategoryId", input.category_id)?,
        ),
        (
            "user_id",
            validate::optional_positive_id("UserId", input.user_id)?,
        ),
    ];
    let mut extra = validate::json_object(
        "AdditionalFields",
        input.additional_fields.as_deref(),
        r#"{"client_id": 12, "impact": 2, "urgency": 2}"#,
    )?
        .unwrap_or_default();
    if fields::contains(&extra, "id") {
        return Err(Failure::invalid(
            "AdditionalFields must not contain id: Create a Ticket always creates a new ticket (use Update a Ticket to change one)",
        ));
    }

    let mut body = Map::new();
    body.insert("tickettype_id".into(), Value::from(tickettype_id));
    body.insert("summary".into(), Value::String(summary));
    body.insert("details".into(), Value::String(details));
    for (key, id) in optional_ids {
        if let Some(id) = id {
            body.insert(key.into(), Value::from(id));
        }
    }
    if body.contains_key(CATEGORY_ID_FIELD) {
        // CategoryId replaces the category id however AdditionalFields spells it.
        fields::remove(&mut extra, CATEGORY_ID_ALIAS);
    } else {
        category_alias(&mut extra);
    }
    validate::datetime_fields("AdditionalFields", &mut extra, &DATE_FIELDS)?;
    fields::merge_under(&mut body, extra);
    Ok(body)
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

    fn input(tickettype_id: i64, summary: &str, details: &str) -> CreateInput {
        CreateInput {
            tickettype_id,
            summary: summary.into(),
            details: details.into(),
            agent_id: None,
            priority_id: None,
            category_id: None,
            user_id: None,
            additional_fields: None,
        }
    }

    fn ok() -> CreateInput {
        input(
            1,
            "Printer offline",
            "Floor 2 printer does not answer pings.",
        )
    }

    fn invalid(i: CreateInput) -> String {
        match build_body(&i) {
            Err(Failure::Invalid(m)) => m,
            other => panic!("expected -1, got {other:?}"),
        }
    }

    #[test]
    fn minimal_body() {
        assert_eq!(
            Value::Object(build_body(&input(3, " Summary ", " Details ")).unwrap()),
            json!({"tickettype_id": 3, "summary": "Summary", "details": "Details"})
        );
    }

    #[test]
    fn required_parameters() {
        for id in [0, -1] {
            assert_eq!(
                invalid(input(id, "s", "d")),
                "TickettypeId must be a positive integer"
            );
        }
        assert_eq!(invalid(input(1, "", "d")), "Summary is required");
        assert_eq!(invalid(input(1, " \t", "d")), "Summary is required");
        assert_eq!(invalid(input(1, "s", "")), "Details is required");
        assert_eq!(invalid(input(1, "s", "  ")), "Details is required");
    }

    #[test]
    fn optional_ids_must_be_positive() {
        type Setter = fn(&mut CreateInput);
        let cases: [(Setter, &str); 4] = [
            (|i| i.agent_id = Some(0), "AgentId"),
            (|i| i.priority_id = Some(-3), "PriorityId"),
            (|i| i.category_id = Some(0), "CategoryId"),
            (|i| i.user_id = Some(-1), "UserId"),
        ];
        for (set, name) in cases {
            let mut i = ok();
            set(&mut i);
            assert_eq!(invalid(i), format!("{name} must be a positive integer"));
        }
    }

    #[test]
    fn optional_ids_are_sent_with_halo_names() {
        let mut i = ok();
        i.agent_id = Some(42);
        i.priority_id = Some(3);
        i.category_id = Some(12);
        i.user_id = Some(105);
        let body = build_body(&i).unwrap();
        assert_eq!(body["agent_id"], 42);
        assert_eq!(body["priority_id"], 3);
        assert_eq!(body["categoryid_1"], 12);
        assert_eq!(body["user_id"], 105);
        assert!(!body.contains_key("category_1"), "category_1 is the text");
    }

    #[test]
    fn additional_fields_are_merged_under_explicit_parameters() {
        let mut i = ok();
        i.agent_id = Some(2);
        i.additional_fields = Some(
            r#"{"site_id": 15, "startdate": "2025-01-15T10:00:00Z", "targetdate": "2025-01-17T18:00:00Z",
                "tags": "urgent,hardware", "Summary": "ignored", "AGENT_ID": 9, "priority_id": 1,
                "customfields": [{"id": 7, "value": "x"}]}"#
                .into(),
        );
        let body = Value::Object(build_body(&i).unwrap());
        assert_eq!(
            body,
            json!({
                "tickettype_id": 1,
                "summary": "Printer offline",
                "details": "Floor 2 printer does not answer pings.",
                "agent_id": 2,
                "site_id": 15,
                "startdate": "2025-01-15T10:00:00Z",
                "targetdate": "2025-01-17T18:00:00Z",
                "tags": "urgent,hardware",
                "priority_id": 1,
                "customfields": [{"id": 7, "value": "x"}]
            })
        );
    }

    #[test]
    fn category_id_spellings() {
        let mut i = ok();
        i.additional_fields = Some(r#"{"category_id": 5}"#.into());
        assert_eq!(build_body(&i).unwrap()["categoryid_1"], 5);
        let mut i = ok();
        i.additional_fields = Some(r#"{"category_id": 5, "categoryid_1": 6}"#.into());
        let body = build_body(&i).unwrap();
        assert_eq!(
            (body["categoryid_1"].clone(), body["category_id"].clone()),
            (json!(6), json!(5))
        );
        let mut i = ok();
        i.category_id = Some(12);
        i.additional_fields =
            Some(r#"{"Category_Id": 5, "CATEGORYID_1": 6, "category_1": "Hardware"}"#.into());
        let body = Value::Object(build_body(&i).unwrap());
        assert_eq!(body["categoryid_1"], 12);
        assert_eq!(body["category_1"], "Hardware", "the text is another field");
        assert!(
            body.get("Category_Id").is_none() && body.get("CATEGORYID_1").is_none(),
            "{body}"
        );
    }

    #[test]
    fn additional_fields_rules() {
        let mut i = ok();
        i.additional_fields = Some("[1]".into());
        assert!(invalid(i).starts_with("AdditionalFields must be a JSON object"));
        let mut i = ok();
        i.additional_fields = Some("{oops".into());
        assert!(invalid(i).starts_with("AdditionalFields must be a JSON object"));
        let mut i = ok();
        i.additional_fields = Some(r#"{"ID": 1001}"#.into());
        assert!(invalid(i).starts_with("AdditionalFields must not contain id"));
        for (json, field) in [
            (r#"{"startdate": "2025-01-15"}"#, "startdate"),
            (r#"{"targetdate": "17/01/2025 18:00"}"#, "targetdate"),
            (r#"{"StartDate": "2025-01-15T25:00:00"}"#, "StartDate"),
            (r#"{"targetdate": 1736899200}"#, "targetdate"),
        ] {
            let mut i = ok();
            i.additional_fields = Some(json.into());
            let m = invalid(i);
            assert!(
                m.starts_with(&format!(
                    "AdditionalFields.{field} must be an ISO 8601 date and time"
                )),
                "{json}: {m}"
            );
        }
        // Blank AdditionalFields is "not given".
        let mut i = ok();
        i.additional_fields = Some("  ".into());
        assert!(build_body(&i).is_ok());
    }

    #[test]
    fn validation_sends_nothing() {
        // The native transport stub would panic if a request were sent.
        let e = Node::run(input(1, "s", ""));
        assert_eq!((e.status_code, e.original_status_code), (-1, 0));
        assert_eq!(e.error_message, "Details is required");
        assert_eq!(e.output, "{}");
        assert_eq!(e.output_name, "Ticket");
    }
}
