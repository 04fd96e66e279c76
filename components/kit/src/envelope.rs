//! Builders for the envelope a node returns.
//!
//! The host prints an [`Envelope`] as
//! `{"StatusCode", "OriginalStatusCode", "ErrorMessage", "<output_name>": <output>}`.
//! Success is StatusCode 200 with an empty ErrorMessage; see [`crate::errors`] for the failures.
//!
//! The usual shape of a node is `respond(OUTPUT, operation(&input), |failure| ...)`, where
//! `operation` returns `Result<`[`Done`]`, `[`Failure`]`>` and uses `?` throughout.

use crate::prelude::*;
use serde_json::{Map, Value};

use crate::errors::Failure;
use crate::ids;
use crate::types::Envelope;

/// A successful operation: the HTTP status HaloPSA answered (0 when no request was needed) and
/// the output value.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    /// OriginalStatusCode.
    pub original_status: u16,
    /// The value under the output key.
    pub output: Value,
}

impl Done {
    /// A success with `output` exactly as given.
    pub fn new(original_status: u16, output: Value) -> Self {
        Done {
            original_status,
            output,
        }
    }

    /// A success whose output is a HaloPSA record: ids are normalised ([`ids::normalize`]) and a
    /// non-object (an empty answer) becomes `{}`.
    pub fn record(original_status: u16, record: Value) -> Self {
        let output = match record {
            Value::Object(_) => ids::normalized(record),
            _ => empty_object(),
        };
        Done {
            original_status,
            output,
        }
    }
}

/// `{}`: the output of most failures.
pub fn empty_object() -> Value {
    Value::Object(Map::new())
}

fn build(
    status_code: i32,
    original_status_code: i32,
    message: &str,
    output_name: &str,
    output: &Value,
) -> Envelope {
    Envelope {
        status_code,
        original_status_code,
        error_message: message.to_string(),
        output_name: output_name.to_string(),
        output: output.to_string(),
    }
}

/// Success: StatusCode 200, OriginalStatusCode `original_status`, empty ErrorMessage. The output
/// gains the seed-facing fields of its name ([`crate::outputs`]: a ticket's `status` and
/// `priority`, a client's `email` and `phone`).
pub fn success(output_name: &str, original_status: u16, output: &Value) -> Envelope {
    let mut output = output.clone();
    crate::outputs::add_seed_fields(output_name, &mut output);
    build(200, i32::from(original_status), "", output_name, &output)
}

/// Validation failure: StatusCode -1, OriginalStatusCode 0 (nothing was sent).
pub fn validation(output_name: &str, message: &str, output: &Value) -> Envelope {
    build(-1, 0, message, output_name, output)
}

/// System failure before or without reaching the API: StatusCode 500, OriginalStatusCode 0.
pub fn system(output_name: &str, message: &str, output: &Value) -> Envelope {
    build(500, 0, message, output_name, output)
}

/// The envelope of any [`Failure`] (codes per [`crate::errors`]).
pub fn failure(output_name: &str, failure: &Failure, output: &Value) -> Envelope {
    build(
        failure.status_code(),
        failure.original_status_code(),
        failure.message(),
        output_name,
        output,
    )
}

/// The envelope of an HTTP answer for a single record: 2xx → success with the record (ids
/// normalised; an object, the first object of an array, or `{}`); otherwise the mapped failure
/// with `failure_output`. `not_found` words a 404 (e.g. "Client with ID 123 not found").
pub fn from_response(
    output_name: &str,
    status: u16,
    body: &str,
    not_found: Option<&str>,
    failure_output: &Value,
) -> Envelope {
    let answer = crate::http::json_answer(
        &crate::transport::Response {
            status,
            body: body.to_string(),
        },
        not_found,
    );
    match answer {
        Ok((status, value)) => {
            let done = Done::record(status, crate::http::single_record(value));
            success(output_name, done.original_status, &done.output)
        }
        Err(f) => failure(output_name, &f, failure_output),
    }
}

/// Turns an operation's result into the envelope: `Ok` → [`success`]; `Err` → [`failure`] with
/// the output `on_failure` chooses for it (usually `{}`; delete nodes report
/// `{"success": false, ...}`).
pub fn respond(
    output_name: &str,
    result: Result<Done, Failure>,
    on_failure: impl FnOnce(&Failure) -> Value,
) -> Envelope {
    match result {
        Ok(done) => success(output_name, done.original_status, &done.output),
        Err(f) => {
            let output = on_failure(&f);
            failure(output_name, &f, &output)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parts(e: &Envelope) -> (i32, i32, &str, &str, Value) {
        (
            e.status_code,
            e.original_status_code,
            e.error_message.as_str(),
            e.output_name.as_str(),
            serde_json::from_str(&e.output).unwrap(),
        )
    }

    #[test]
    fn builders() {
        let s = success("Client", 201, &json!({"id": 7}));
        assert_eq!(parts(&s), (200, 201, "", "Client", json!({"id": 7})));
        let v = validation("Client", "Name is required", &empty_object());
        assert_eq!(parts(&v), (-1, 0, "Name is required", "Client", json!({})));
        let x = system("Client", "boom", &empty_object());
        assert_eq!(parts(&x), (500, 0, "boom", "Client", json!({})));
    }

    #[test]
    fn from_http_answers() {
        let ok = from_response(
            "Site",
            200,
            r#"{"id": 4, "client_id": 21.0}"#,
            None,
            &empty_object(),
        );
        assert_eq!(
            parts(&ok),
            (200, 200, "", "Site", json!({"id": 4, "client_id": 21}))
        );
        let listed = from_response("Site", 201, r#"[{"id": 4}]"#, None, &empty_object());
        assert_eq!(parts(&listed).4, json!({"id": 4}));
        let missing = from_response(
            "Site",
            404,
            "",
            Some("Site with ID 4 not found"),
            &empty_object(),
        );
        assert_eq!(
            parts(&missing),
            (200, 404, "Site with ID 4 not found", "Site", json!({}))
        );
        let down = from_response("Site", 503, "", None, &empty_object());
        assert_eq!(parts(&down).0, 500);
        assert_eq!(parts(&down).1, 503);
    }

    #[test]
    fn respond_picks_the_failure_output() {
        let ok = respond(
            "DeletedSite",
            Ok(Done::new(200, json!({"success": true, "deleted_id": 3}))),
            |_| empty_object(),
        );
        assert_eq!(parts(&ok).4, json!({"success": true, "deleted_id": 3}));
        let bad = respond("DeletedSite", Err(Failure::Transport("down".into())), |f| {
            if f.is_validation() {
                empty_object()
            } else {
                json!({"success": false, "deleted_id": 3})
            }
        });
        assert_eq!(
            parts(&bad),
            (
                500,
                0,
                "down",
                "DeletedSite",
                json!({"success": false, "deleted_id": 3})
            )
        );
    }

    #[test]
    fn records_are_normalised() {
        assert_eq!(
            Done::record(200, json!({"id": "5"})).output,
            json!({"id": 5})
        );
        assert_eq!(Done::record(200, Value::Null).output, json!({}));
    }
}
