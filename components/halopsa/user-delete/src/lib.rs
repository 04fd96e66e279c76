//! halopsa.user.delete: permanently deletes a user by ID.
//!
//! Rules (seed "Delete a User"):
//! - Id must be a positive integer (else StatusCode -1, nothing sent, DeletedUser `{}`).
//! - `DELETE /Users/{Id}`:
//!   - 2xx: deleted. StatusCode 200, `{"id": Id, "deleted": true}`.
//!   - 404: StatusCode 200, OriginalStatusCode 404, "User with ID {Id} not found", `{}`.
//!   - 5xx: HaloPSA is known to answer a SUCCESSFUL user delete with HTTP 500 and an empty
//!     body, so a server error does not say whether the user was deleted. The node asks
//!     (`GET /Users/{Id}`):
//!     - 404, the user is gone: deleted. StatusCode 200, empty ErrorMessage,
//!       `{"id": Id, "deleted": true}`, OriginalStatusCode the delete's status (500);
//!     - the user is still there: not deleted. StatusCode 500 (safe to retry), the delete's
//!       status as OriginalStatusCode, a message saying so, `{}`;
//!     - the check itself fails: StatusCode 500, a message saying the delete could not be
//!       confirmed (and why), `{}`.
//!   - other 4xx: StatusCode 200 with HaloPSA's message, `{}`.
//!   - API not reached: StatusCode 500, OriginalStatusCode 0, `{}`.
//! - Output `DeletedUser`: `{"id": Id, "deleted": true}` on success; `{}` on every failure, as the
//!   seed says ("Returns empty object {} on failure"): the ErrorMessage says what happened.

#![cfg_attr(not(test), no_std)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("user-delete");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::errors::{self, status_text};
use psaflow_kit::http::{self, Query};
use psaflow_kit::transport::{Method, Response};
use psaflow_kit::{Failure, validate};
use serde_json::{Value, json};

const OUTPUT: &str = "DeletedUser";

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Delete)
            .calls("DELETE", "/Users")
            .calls("GET", "/Users") // confirms a delete HaloPSA answered with 500
            .into()
    }

    fn run(input: DeleteInput) -> Envelope {
        let id = input.id;
        envelope::respond(OUTPUT, delete(&input), |failure| {
            failure_output(failure, id)
        })
    }
}

/// `{"id": Id, "deleted": <deleted>}`.
fn outcome(id: i64, deleted: bool) -> Value {
    json!({"id": id, "deleted": deleted})
}

/// `{}` on every failure (seed "Delete a User": "Returns empty object {} on failure").
fn failure_output(_failure: &Failure, _id: i64) -> Value {
    envelope::empty_object()
}

fn delete(input: &DeleteInput) -> Result<Done, Failure> {
    let id = validate::positive_id("Id", input.id)?;
    let path = format!("/Users/{id}");
    let response = http::send(Method::Delete, &path, &Query::new(), None)?;
    settle(id, &response, || {
        http::exists(&path).map(|(_, found)| found)
    })
}

/// Reads the answer to `DELETE /Users/{id}`. `still_exists` is asked only after a server error
/// (5xx), whose answer alone does not tell whether the user was deleted.
fn settle(
    id: i64,
    response: &Response,
    still_exists: impl FnOnce() -> Result<bool, Failure>,
) -> Result<Done, Failure> {
    let status = response.status;
    if http::is_success(status) {
        return Ok(Done::new(status, outcome(id, true)));
    }
    if status == 404 {
        let not_found = format!("User with ID {id} not found");
        return Err(errors::from_response(
            status,
            &response.body,
            Some(&not_found),
        ));
    }
    if status < 500 {
        return Err(errors::from_response(status, &response.body, None));
    }
    let answered = match errors::body_message(&response.body) {
        Some(detail) => format!("{} ({detail})", status_text(status)),
        None => status_text(status),
    };
    match still_exists() {
        // The user is gone, so the delete worked and the envelope says success. The
        // OriginalStatusCode still reports what HaloPSA actually answered to the DELETE (500 for
        // the known empty-body quirk): OriginalStatusCode is documented as "the original HTTP
        // status code returned by HaloPSA", and keeping it lets a workflow author see that the
        // success was established by the follow-up check rather than by the delete's answer.
        Ok(false) => Ok(Done::new(status, outcome(id, true))),
        Ok(true) => Err(Failure::Api {
            status,
            message: format!(
                "HaloPSA answered the delete of user {id} with {answered} and the user still exists: it was not deleted"
            ),
        }),
        Err(check) => Err(Failure::Api {
            status,
            message: format!(
                "HaloPSA answered the delete of user {id} with {answered}, and whether the user was deleted could not be confirmed: {}",
                check.message()
            ),
        }),
    }
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Response {
        Response {
            status,
            body: body.into(),
        }
    }

    fn never_asked() -> Result<bool, Failure> {
        panic!("the existence check is only for server errors")
    }

    /// (StatusCode, OriginalStatusCode, ErrorMessage, output) as the envelope would carry them.
    fn envelope_of(id: i64, result: Result<Done, Failure>) -> (i32, i32, String, Value) {
        let e = envelope::respond(OUTPUT, result, |f| failure_output(f, id));
        (
            e.status_code,
            e.original_status_code,
            e.error_message,
            serde_json::from_str(&e.output).unwrap(),
        )
    }

    #[test]
    fn validation() {
        for id in [0, -8] {
            let e = Node::run(DeleteInput { id });
            assert_eq!((e.status_code, e.original_status_code), (-1, 0));
            assert_eq!(e.error_message, "Id must be a positive integer");
            assert_eq!(e.output, "{}");
            assert_eq!(e.output_name, "DeletedUser");
        }
    }

    #[test]
    fn plain_answers() {
        for status in [200, 204] {
            assert_eq!(
                envelope_of(5, settle(5, &answer(status, ""), never_asked)),
                (200, i32::from(status), String::new(), outcome(5, true))
            );
        }
        assert_eq!(
            envelope_of(
                5,
                settle(
                    5,
                    &answer(404, r#"{"message":"User 5 not found."}"#),
                    never_asked
                )
            ),
            (
                200,
                404,
                "User with ID 5 not found".into(),
                json!({})
            )
        );
        let (s, o, m, out) = envelope_of(5, settle(5, &answer(403, ""), never_asked));
        assert_eq!((s, o, out), (200, 403, json!({})));
        assert!(m.contains("403 Forbidden"), "{m}");
    }

    #[test]
    fn server_error_but_the_user_is_gone() {
        assert_eq!(
            envelope_of(5, settle(5, &answer(500, ""), || Ok(false))),
            (200, 500, String::new(), outcome(5, true))
        );
    }

    #[test]
    fn server_error_and_the_user_is_still_there() {
        let (s, o, m, out) = envelope_of(5, settle(5, &answer(500, ""), || Ok(true)));
        assert_eq!((s, o, out), (500, 500, json!({})));
        assert_eq!(
            m,
            "HaloPSA answered the delete of user 5 with 500 Internal Server Error and the user still exists: it was not deleted"
        );
        let (_, o, m, _) = envelope_of(
            5,
            settle(5, &answer(502, r#"{"message":"upstream"}"#), || Ok(true)),
        );
        assert_eq!(o, 502);
        assert!(m.contains("502 Bad Gateway (upstream)"), "{m}");
    }

    #[test]
    fn server_error_and_the_check_fails() {
        let (s, o, m, out) = envelope_of(
            5,
            settle(5, &answer(500, ""), || {
                Err(Failure::Transport(
                    "Could not reach the HaloPSA API: refused".into(),
                ))
            }),
        );
        assert_eq!((s, o, out), (500, 500, json!({})));
        assert!(m.contains("could not be confirmed"), "{m}");
        assert!(
            m.ends_with("Could not reach the HaloPSA API: refused"),
            "{m}"
        );
    }
}
