//! halopsa.ticket.add-note: adds a note to a ticket, as a HaloPSA action.
//!
//! Rules (reference 2: "Action without `ticket_id` or `outcome_id`" is a 400; HAPI#66: an action
//! POST without `timetaken` was refused while the browser's payload, which has it, succeeded):
//! - TicketId must be a positive integer; Note is required (not blank; sent trimmed).
//! - HiddenFromUser defaults to true: a note an automation writes stays between agents unless the
//!   workflow says the end user may see it (`hiddenfromuser`).
//! - TimeSpentMinutes, when given, must be 0 or more; HaloPSA records time in hours, so it is sent
//!   as `timetaken` in hours (15 minutes → 0.25). Without it `timetaken` is 0.
//! - Outcome names the action type as configured in HaloPSA; blank or absent is "Note".
//! - `POST /Actions` with a one-element JSON array; the answer is the created action.
//! - A note on a ticket that does not exist is HaloPSA's business error (StatusCode 200 with its
//!   message and OriginalStatusCode 400, or "Ticket with ID N not found" for a 404).
//! - Effect: a create, not idempotent, with no natural key. Two identical notes on one ticket are
//!   normal ("Called the user, no answer"), so after a lost answer a note found with the same
//!   text cannot be told from an older one: the node does not look, it fails saying the note may
//!   or may not have been added and how to check.
//! - Output `Action`: the created action with ids as integers; `{}` on any failure.

#![cfg_attr(not(test), no_std)]

// The generated export glue takes one argument per input field.
#![allow(clippy::too_many_arguments)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("ticket-add-note");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::{Failure, http, recover, validate};
use serde_json::{Map, Value};

const OUTPUT: &str = "Action";
const PATH: &str = "/Actions";
/// The action outcome when the workflow names none.
const DEFAULT_OUTCOME: &str = "Note";

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Create)
            .calls("POST", PATH)
            .into()
    }

    fn run(input: AddNoteInput) -> Envelope {
        envelope::respond(OUTPUT, add_note(&input), |_| envelope::empty_object())
    }
}

fn add_note(input: &AddNoteInput) -> Result<Done, Failure> {
    let body = build_body(input)?;
    let ticket_id = input.ticket_id;
    let not_found = format!("Ticket with ID {ticket_id} not found");
    let how_to_check = format!(
        "look at the actions of ticket {ticket_id} in HaloPSA for this note before running this again"
    );
    let (status, action) = http::post_array(PATH, &body, Some(&not_found))
        .map_err(|failure| recover::once_failure(failure, "note", &how_to_check))?;
    Ok(Done::record(status, action))
}

/// Validates the input and builds the action object to POST. Sends nothing.
fn build_body(input: &AddNoteInput) -> Result<Map<String, Value>, Failure> {
    let ticket_id = validate::positive_id("TicketId", input.ticket_id)?;
    let note = validate::required_text("Note", &input.note)?;
    let hours = time_spent_hours(input.time_spent_minutes)?;
    let outcome = validate::optional_text(input.outcome.as_deref())
        .unwrap_or_else(|| DEFAULT_OUTCOME.to_string());

    let mut body = Map::new();
    body.insert("ticket_id".into(), Value::from(ticket_id));
    body.insert("outcome".into(), Value::String(outcome));
    body.insert("note".into(), Value::String(note));
    body.insert(
        "hiddenfromuser".into(),
        Value::Bool(input.hidden_from_user.unwrap_or(true)),
    );
    body.insert("timetaken".into(), Value::from(hours));
    Ok(body)
}

/// TimeSpentMinutes as HaloPSA's `timetaken` hours, rounded to six decimals (0 when not given).
fn time_spent_hours(minutes: Option<i32>) -> Result<f64, Failure> {
    match minutes {
        None => Ok(0.0),
        Some(m) if m < 0 => Err(Failure::invalid(format!(
            "TimeSpentMinutes must be 0 or more, got {m}"
        ))),
        Some(m) => Ok(round_half_up(f64::from(m) / 60.0 * 1e6) / 1e6),
    }
}

/// `x` (0 or more, below 2^53) rounded to the nearest integer, halves up: `f64::round` is `std`'s
/// and nodes are `no_std`. Exact here: both `x` and its whole part are integers or fractions
/// representable in an f64 of this size.
fn round_half_up(x: f64) -> f64 {
    #[allow(clippy::cast_possible_truncation, reason = "x is below 2^53: its whole part fits")]
    let whole = x as i64 as f64;
    if x - whole >= 0.5 { whole + 1.0 } else { whole }
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(ticket_id: i64, note: &str) -> AddNoteInput {
        AddNoteInput {
            ticket_id,
            note: note.into(),
            hidden_from_user: None,
            time_spent_minutes: None,
            outcome: None,
        }
    }

    fn invalid(i: AddNoteInput) -> String {
        match build_body(&i) {
            Err(Failure::Invalid(m)) => m,
            other => panic!("expected -1, got {other:?}"),
        }
    }

    #[test]
    fn minimal_note_is_private_with_no_time() {
        assert_eq!(
            Value::Object(build_body(&input(1001, "  Called the user, no answer. ")).unwrap()),
            json!({"ticket_id": 1001, "outcome": "Note", "note": "Called the user, no answer.",
                   "hiddenfromuser": true, "timetaken": 0.0})
        );
    }

    #[test]
    fn visible_note_with_time_and_outcome() {
        let mut i = input(7, "Replaced the toner.");
        i.hidden_from_user = Some(false);
        i.time_spent_minutes = Some(15);
        i.outcome = Some(" Onsite Visit ".into());
        let body = build_body(&i).unwrap();
        assert_eq!(body["hiddenfromuser"], false);
        assert_eq!(body["timetaken"], 0.25);
        assert_eq!(body["outcome"], "Onsite Visit");
        // A blank outcome is the default one.
        i.outcome = Some("  ".into());
        assert_eq!(build_body(&i).unwrap()["outcome"], "Note");
    }

    #[test]
    fn minutes_become_hours() {
        assert_eq!(time_spent_hours(None), Ok(0.0));
        assert_eq!(time_spent_hours(Some(0)), Ok(0.0));
        assert_eq!(time_spent_hours(Some(90)), Ok(1.5));
        assert_eq!(time_spent_hours(Some(20)), Ok(0.333333));
        // Rounded up from the half: 40 minutes are 0.6666666... hours.
        assert_eq!(time_spent_hours(Some(40)), Ok(0.666667));
        assert_eq!(time_spent_hours(Some(1)), Ok(0.016667));
        assert_eq!(time_spent_hours(Some(i32::MAX)), Ok(35791394.116667));
    }

    #[test]
    fn rounding_matches_std() {
        for x in [0.0, 0.4, 0.5, 0.6, 1.5, 2.5, 16666.666, 1e13 + 0.5, 35791394116666.66] {
            assert_eq!(round_half_up(x), x.round(), "{x}");
        }
    }

    #[test]
    fn validation_rules() {
        for id in [0, -5] {
            assert_eq!(
                invalid(input(id, "x")),
                "TicketId must be a positive integer"
            );
        }
        assert_eq!(invalid(input(1, "")), "Note is required");
        assert_eq!(invalid(input(1, " \n\t ")), "Note is required");
        let mut i = input(1, "x");
        i.time_spent_minutes = Some(-1);
        assert_eq!(invalid(i), "TimeSpentMinutes must be 0 or more, got -1");
    }

    #[test]
    fn declares_a_non_idempotent_create_without_natural_key() {
        let info = Node::describe();
        assert_eq!(info.output_key, "Action");
        assert!(matches!(info.effect, Effect::Create));
        assert!(!info.idempotent);
        assert!(info.natural_key.is_empty());
        let calls: Vec<(&str, &str)> = info
            .capabilities
            .iter()
            .map(|c| (c.method.as_str(), c.path_prefix.as_str()))
            .collect();
        assert_eq!(calls, [("POST", "/Actions")]);
    }
}
