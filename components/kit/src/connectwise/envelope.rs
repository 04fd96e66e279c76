//! The envelope of a ConnectWise node: `{"StatusCode", "OriginalStatusCode", "ErrorMessage",
//! "<output>": ...}` with `{}` as the output of every failure.

use crate::prelude::*;
use serde_json::Value;

use super::types::Envelope;
use crate::errors::Failure;

/// A successful operation: the HTTP status answered and the output value.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    pub original_status: u16,
    pub output: Value,
}

/// The envelope for `result` under `output_key`.
pub fn respond(output_key: &str, result: Result<Done, Failure>) -> Envelope {
    match result {
        Ok(done) => Envelope {
            status_code: 200,
            original_status_code: i32::from(done.original_status),
            error_message: String::new(),
            output_name: output_key.to_owned(),
            output: done.output.to_string(),
        },
        Err(failure) => Envelope {
            status_code: failure.status_code(),
            original_status_code: failure.original_status_code(),
            error_message: failure.message().to_owned(),
            output_name: output_key.to_owned(),
            output: "{}".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn success_and_failure_shapes() {
        let ok = respond(
            "Member",
            Ok(Done {
                original_status: 201,
                output: json!({"id": 7}),
            }),
        );
        assert_eq!(
            (ok.status_code, ok.original_status_code, ok.output.as_str()),
            (200, 201, r#"{"id":7}"#)
        );
        let bad = respond(
            "Member",
            Err(Failure::invalid("Id must be a positive integer")),
        );
        assert_eq!(
            (
                bad.status_code,
                bad.original_status_code,
                bad.output.as_str()
            ),
            (-1, 0, "{}")
        );
        let api = respond(
            "Member",
            Err(Failure::Api {
                status: 404,
                message: "gone".into(),
            }),
        );
        assert_eq!((api.status_code, api.original_status_code), (200, 404));
    }
}
