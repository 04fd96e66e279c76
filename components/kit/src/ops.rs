//! The request-and-answer bodies several nodes share.
//!
//! Each helper starts after the node's validation: the node checks its input, words its 404, and
//! chooses its output shape, then hands the validated id to one of these. A node's rules (its
//! rustdoc header) and its validation stay in the node crate.

use crate::prelude::*;
use serde_json::Value;

use crate::envelope::Done;
use crate::errors::Failure;
use crate::http::{self, Query};

/// `GET {path_prefix}/{id}` (e.g. `"/Client"`, `"/Tickets"`) for an id the node has validated.
/// 2xx → [`Done::record`] (ids normalised; an empty answer is `{}`); a 404 is the business error
/// worded `not_found` (e.g. "Client with ID 123 not found"); any other answer is the mapped
/// failure.
pub fn get_one(path_prefix: &str, id: i64, not_found: &str) -> Result<Done, Failure> {
    let (status, record) = http::get_json(
        &format!("{path_prefix}/{id}"),
        &Query::new(),
        Some(not_found),
    )?;
    Ok(Done::record(status, record))
}

/// `DELETE {path_prefix}/{id}` for an id the node has validated. Any 2xx is success, whatever
/// the body (HaloPSA may answer with the deleted record, an empty body or plain text), and the
/// output is `success_output`, the node's own success shape (e.g.
/// `{"success": true, "deleted_id": id}`); a 404 is the business error worded `not_found`; any
/// other answer is the mapped failure. The output after a failure stays the node's choice, in its
/// `envelope::respond` call.
pub fn delete_one(
    path_prefix: &str,
    id: i64,
    not_found: &str,
    success_output: Value,
) -> Result<Done, Failure> {
    let (status, _) = http::delete(
        &format!("{path_prefix}/{id}"),
        &Query::new(),
        Some(not_found),
    )?;
    Ok(Done::new(status, success_output))
}
