//! psaflow-kit: the shared guest library every psaflow HaloPSA node is built on.
//!
//! A node is a WebAssembly component exporting `run(input) -> envelope`. Between reading its
//! input record and returning the envelope it needs the same handful of things, one module each:
//!
//! | module | job |
//! |---|---|
//! | [`validate`] | parameter rules (positive ids, ids where 0 keeps the current value, required text, URLs, passwords, ISO 8601, JSON objects and their date-time fields); every rule fails with [`Failure::Invalid`] |
//! | [`fields`] | JSON object fields matched ignoring letter case, as HaloPSA does; merging `AdditionalFields` under explicit parameters |
//! | [`errors`] | the one failure type, [`Failure`], and the mapping from an HTTP answer or a transport error to StatusCode / OriginalStatusCode / ErrorMessage |
//! | [`envelope`] | builders for the envelope the node returns |
//! | [`http`] | thin wrappers over the `transport` import: GET with a query, POST of a one-element JSON array, DELETE, an existence check |
//! | [`paging`] | the get-many list algorithm (logical pages larger than the server's 100-record cap, Count, Paginate=false) |
//! | [`ids`] | reading ids written as `21`, `21.0` or `"21"`, and normalising `id` / `*_id` fields in output records |
//!
//! # Writing a node
//!
//! ```ignore
//! wit_bindgen::generate!({
//!     path: "../../wit",
//!     world: "client-get",
//!     with: {
//!         "psaflow:halopsa/transport@0.1.0": psaflow_kit::transport,
//!         "psaflow:halopsa/types@0.1.0": psaflow_kit::types,
//!     },
//! });
//! use psaflow_kit::{envelope, errors::Failure, http, validate};
//!
//! struct Node;
//! impl Guest for Node {
//!     fn run(input: GetInput) -> Envelope {
//!         envelope::respond("Client", get(&input), |_| envelope::empty_object())
//!     }
//! }
//! fn get(input: &GetInput) -> Result<envelope::Done, Failure> {
//!     let id = validate::positive_id("Id", input.id)?;          // -1, nothing sent
//!     let not_found = format!("Client with ID {id} not found");
//!     let (status, record) = http::get_json(&format!("/Client/{id}"), &http::Query::new(), Some(&not_found))?;
//!     Ok(envelope::Done::record(status, record))                  // ids normalised
//! }
//! export!(Node);
//! ```
//!
//! The pure parts (validation, error mapping, paging plans, id handling) have no transport calls,
//! so they are unit-tested natively with `cargo test -p psaflow-kit`; on native targets the
//! transport import compiles to a stub that must not be called.

wit_bindgen::generate!({
    path: "../../wit",
    world: "kit",
    pub_export_macro: false,
});

/// The `transport` import (the only way a node reaches HaloPSA). Nodes map their own bindings to it
/// with `with: { "psaflow:halopsa/transport@0.1.0": psaflow_kit::transport }`.
pub use psaflow::halopsa::transport;
/// The shared WIT types (the envelope). Nodes map theirs with
/// `with: { "psaflow:halopsa/types@0.1.0": psaflow_kit::types }`.
pub use psaflow::halopsa::types;

pub mod envelope;
pub mod errors;
pub mod fields;
pub mod http;
pub mod ids;
pub mod paging;
pub mod validate;

pub use errors::Failure;
