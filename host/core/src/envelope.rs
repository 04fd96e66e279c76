//! The uniform result of a node invocation (see the product contract, "The envelope").

use serde_json::{Map, Value, json};

/// StatusCode for a parameter validation failure: nothing was sent.
pub const STATUS_VALIDATION: i32 = -1;
/// StatusCode for a completed request (ErrorMessage tells business errors apart).
pub const STATUS_COMPLETED: i32 = 200;
/// StatusCode for a network or system error; safe to retry.
pub const STATUS_SYSTEM: i32 = 500;

/// One node's result. Serialised as `{"StatusCode", "OriginalStatusCode", "ErrorMessage", <output_name>: output}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// StatusCode: 200 when the request completed, -1 for a validation failure, 500 for a system
    /// error (see the `STATUS_*` constants).
    pub status_code: i32,
    /// The HTTP status the PSA answered with, or 0 when no request was answered.
    pub original_status_code: i32,
    /// Empty on success; otherwise what went wrong, in words an MSP engineer can act on.
    pub error_message: String,
    /// The operation's output key, e.g. `Client`, `Sites`, `DeletedUser`.
    pub output_name: String,
    /// The record(s) the node produced, or `{}` when it failed.
    pub output: Value,
}

impl Envelope {
    /// A validation failure raised by the host before the node ran (e.g. a parameter of the wrong type).
    pub fn validation(output_name: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status_code: STATUS_VALIDATION,
            original_status_code: 0,
            error_message: message.into(),
            output_name: output_name.into(),
            output: json!({}),
        }
    }

    /// A system failure (trap, timeout, resource limit, unreachable API): safe to retry.
    pub fn system(output_name: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status_code: STATUS_SYSTEM,
            original_status_code: 0,
            error_message: message.into(),
            output_name: output_name.into(),
            output: json!({}),
        }
    }

    /// The contract's success rule: StatusCode 200 and an empty ErrorMessage.
    pub fn is_success(&self) -> bool {
        self.status_code == STATUS_COMPLETED && self.error_message.is_empty()
    }

    /// The JSON object users and scripts see.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("StatusCode".into(), json!(self.status_code));
        map.insert(
            "OriginalStatusCode".into(),
            json!(self.original_status_code),
        );
        map.insert("ErrorMessage".into(), json!(self.error_message));
        if !self.output_name.is_empty() {
            map.insert(self.output_name.clone(), self.output.clone());
        }
        Value::Object(map)
    }

    /// Reads an envelope back from its JSON form (mocks in workflow tests, recorded runs).
    /// The output key is the one key that is not one of the three status fields.
    pub fn from_json(value: &Value) -> Result<Self, String> {
        let obj = value
            .as_object()
            .ok_or("an envelope must be a JSON object")?;
        let int = |key: &str, default: i32| -> Result<i32, String> {
            match obj.get(key) {
                None => Ok(default),
                Some(v) => v
                    .as_i64()
                    .and_then(|n| i32::try_from(n).ok())
                    .ok_or_else(|| format!("{key} must be a 32-bit integer, got {v}")),
            }
        };
        let status_code = int("StatusCode", 200)?;
        let original_status_code = int(
            "OriginalStatusCode",
            if status_code == 200 { 200 } else { 0 },
        )?;
        let error_message = match obj.get("ErrorMessage") {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(v) => return Err(format!("ErrorMessage must be a string, got {v}")),
        };
        let mut outputs = obj.iter().filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "StatusCode" | "OriginalStatusCode" | "ErrorMessage"
            )
        });
        let (output_name, output) = match (outputs.next(), outputs.next()) {
            (None, _) => (String::new(), json!({})),
            (Some((k, v)), None) => (k.clone(), v.clone()),
            (Some((a, _)), Some((b, _))) => {
                return Err(format!(
                    "an envelope has one output key, found both {a:?} and {b:?}"
                ));
            }
        };
        Ok(Self {
            status_code,
            original_status_code,
            error_message,
            output_name,
            output,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_with_contract_keys_and_round_trips() {
        let env = Envelope {
            status_code: 200,
            original_status_code: 201,
            error_message: String::new(),
            output_name: "Client".into(),
            output: json!({"id": 7, "name": "Acme"}),
        };
        let v = env.to_json();
        assert_eq!(
            v,
            json!({"StatusCode": 200, "OriginalStatusCode": 201, "ErrorMessage": "", "Client": {"id": 7, "name": "Acme"}})
        );
        assert_eq!(Envelope::from_json(&v).unwrap(), env);
        assert!(env.is_success());
    }

    #[test]
    fn business_error_is_not_success() {
        let mut env = Envelope::validation("Client", "Id must be a positive integer");
        assert!(!env.is_success());
        env.status_code = 200;
        assert!(!env.is_success(), "200 with a message is a business error");
    }

    #[test]
    fn from_json_rejects_two_outputs() {
        let err = Envelope::from_json(&json!({"StatusCode": 200, "A": 1, "B": 2})).unwrap_err();
        assert!(err.contains("\"A\"") && err.contains("\"B\""), "{err}");
    }

    #[test]
    fn from_json_rejects_a_status_code_that_does_not_fit() {
        // 2^32 + 200 used to wrap to 200 and read as a success.
        let err = Envelope::from_json(&json!({"StatusCode": 4_294_967_496_i64, "Client": {}}))
            .unwrap_err();
        assert!(err.contains("StatusCode must be a 32-bit integer"), "{err}");
    }
}
