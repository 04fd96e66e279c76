//! Requests through the `psaflow:connectwise` transport: an answer comes back as the status and
//! its JSON, a non-2xx as [`Failure::Api`] with ConnectWise's explanation, no answer as
//! [`Failure::Transport`].

use crate::prelude::*;
use serde_json::Value;

use super::errors;
use super::transport::{self, Method, Request};
use crate::errors::Failure;

/// Sends one request and reads a 2xx JSON answer.
pub fn send_json(
    method: Method,
    path: &str,
    query: &[(String, String)],
    body: Option<&Value>,
) -> Result<(u16, Value), Failure> {
    send_reading_link(method, path, query, body).map(|(status, value, _)| (status, value))
}

/// [`send_json`], also returning the answer's `Link` header (ConnectWise's paging).
pub fn send_reading_link(
    method: Method,
    path: &str,
    query: &[(String, String)],
    body: Option<&Value>,
) -> Result<(u16, Value, Option<String>), Failure> {
    let request = Request {
        method,
        path: path.to_owned(),
        query: query.to_vec(),
        body: body.map(Value::to_string),
    };
    let response = transport::send(&request).map_err(|e| errors::from_transport(&e))?;
    if !(200..300).contains(&response.status) {
        return Err(errors::from_response(response.status, &response.body));
    }
    let value = serde_json::from_str(&response.body).map_err(|e| Failure::Unexpected {
        status: response.status,
        message: format!(
            "ConnectWise answered {} with a body that is not JSON ({e})",
            response.status
        ),
    })?;
    Ok((response.status, value, response.link))
}

/// `GET path` of one record; a 404 becomes `not_found` (a business error, StatusCode 200).
pub fn get_one(path: &str, not_found: &str) -> Result<(u16, Value), Failure> {
    match send_json(Method::Get, path, &[], None) {
        Err(Failure::Api { status: 404, .. }) => Err(Failure::Api {
            status: 404,
            message: not_found.to_owned(),
        }),
        other => other,
    }
}
