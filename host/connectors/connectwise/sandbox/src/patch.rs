//! PATCH bodies: a JSON array of `{"op": "add"|"replace"|"remove", "path": "field", "value": ...}`.
//! Paths are one field name, with or without a leading `/`, matched case-insensitively against
//! the resource's fields.

use serde_json::Value;

use crate::errors::{ApiError, FieldError};
use crate::store::{Entity, Record};

/// One operation, its path resolved to the resource's field name.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operation {
    Set(&'static str, Value),
    Remove(&'static str),
}

impl Operation {
    pub(crate) fn field(&self) -> &'static str {
        match self {
            Operation::Set(f, _) | Operation::Remove(f) => f,
        }
    }
}

/// Parses a PATCH body, reporting every malformed operation at once.
pub(crate) fn parse(entity: Entity, body: &[u8]) -> Result<Vec<Operation>, ApiError> {
    let resource = entity.resource();
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        crate::store::bad_body(
            resource,
            format!("The request body is not valid JSON: {e}."),
        )
    })?;
    let Value::Array(items) = value else {
        return Err(crate::store::bad_body(
            resource,
            "A PATCH body must be a JSON array of {op, path, value} operations.",
        ));
    };
    if items.is_empty() {
        return Err(crate::store::bad_body(
            resource,
            "A PATCH body must contain at least one operation.",
        ));
    }
    let mut operations = Vec::new();
    let mut problems = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let op = item.get("op").and_then(Value::as_str).unwrap_or_default();
        let path = item.get("path").and_then(Value::as_str).unwrap_or_default();
        let name = path.strip_prefix('/').unwrap_or(path);
        let Some(field) = entity
            .fields()
            .iter()
            .copied()
            .find(|f| f.eq_ignore_ascii_case(name))
        else {
            problems.push(FieldError::new(
                "InvalidField",
                if path.is_empty() { "path" } else { path },
                format!(
                    "Operation {index}: '{path}' is not a field of {resource} that can be patched."
                ),
            ));
            continue;
        };
        match op.to_ascii_lowercase().as_str() {
            "add" | "replace" => match item.get("value") {
                Some(value) => operations.push(Operation::Set(field, value.clone())),
                None => problems.push(FieldError::new(
                    "NullValue",
                    field,
                    format!("Operation {index} on {field} has no value."),
                )),
            },
            "remove" => operations.push(Operation::Remove(field)),
            _ => problems.push(FieldError::new(
                "InvalidField",
                "op",
                format!("Operation {index}: op must be add, replace or remove, not '{op}'."),
            )),
        }
    }
    if problems.is_empty() {
        Ok(operations)
    } else {
        Err(ApiError::invalid(resource, problems))
    }
}

/// Applies operations to a copy of `record`.
pub(crate) fn apply(record: &Record, operations: &[Operation]) -> Record {
    let mut patched = record.clone();
    for operation in operations {
        match operation {
            Operation::Set(field, value) => {
                patched.insert((*field).to_owned(), value.clone());
            }
            Operation::Remove(field) => {
                patched.insert((*field).to_owned(), Value::Null);
            }
        }
    }
    patched
}
