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
//! | [`describe`] | the node's self-description (`describe`): output key, effect, idempotency, natural key, the API calls it may make |
//! | [`recover`] | creates after an ambiguous outcome: look the record up by its natural key instead of creating it twice |
//! | [`lookups`] | the lookup lists (statuses, ticket types, priorities): fetched whole, filtered by name here |
//! | `guest_runtime` | (wasm32 only) what `std` would give a `no_std` node: the allocator, `cabi_realloc`, the panic handler |
//! | [`ops`] | the request-and-answer bodies several nodes share (get one record by id, delete one by id); the node validates first and chooses the wording and output |
//!
//! # Writing a node
//!
//! ```ignore
//! #![cfg_attr(not(test), no_std)]           // see `guest_runtime`: no WASI imports
//! use psaflow_kit::prelude::*;              // String, Vec, format!, ... from `alloc`
//! psaflow_kit::bind_node!("client-get"); // the world's bindings: Guest, GetInput, export!
//! use psaflow_kit::{describe, envelope, errors::Failure, ops, validate};
//! use psaflow_kit::describe::{Effect, NodeInfo};
//!
//! struct Node;
//! impl Guest for Node {
//!     fn describe() -> NodeInfo {
//!         describe::node("Client", Effect::Read).calls("GET", "/Client").into()
//!     }
//!     fn run(input: GetInput) -> Envelope {
//!         envelope::respond("Client", get(&input), |_| envelope::empty_object())
//!     }
//! }
//! fn get(input: &GetInput) -> Result<envelope::Done, Failure> {
//!     let id = validate::positive_id("Id", input.id)?;          // -1, nothing sent
//!     let not_found = format!("Client with ID {id} not found");
//!     ops::get_one("/Client", id, &not_found)                      // ids normalised
//! }
//! export!(Node);
//! ```
//!
//! The pure parts (validation, error mapping, paging plans, id handling) have no transport calls,
//! so they are unit-tested natively with `cargo test -p psaflow-kit`; on native targets the
//! transport import compiles to a stub that must not be called.

#![cfg_attr(not(test), no_std)]

extern crate alloc;

/// The `alloc` names a node uses that `std`'s prelude would bring: `use psaflow_kit::prelude::*;`
/// at the top of a node (nodes are `no_std`, see the module docs of `guest_runtime.rs`).
pub mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::boxed::Box;
    pub use alloc::format;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec;
    pub use alloc::vec::Vec;
}

#[cfg(all(target_arch = "wasm32", not(test), not(feature = "std")))]
mod guest_runtime;

wit_bindgen::generate!({
    path: "../../wit/halopsa",
    world: "kit",
    pub_export_macro: false,
});

/// The `transport` import (the only way a node reaches HaloPSA). Nodes map their own bindings to it
/// with `with: { "psaflow:halopsa/transport@0.1.0": psaflow_kit::transport }` ([`bind_node!`]).
pub use psaflow::halopsa::transport;
/// The shared WIT types (the envelope). Nodes map theirs with
/// `with: { "psaflow:halopsa/types@0.1.0": psaflow_kit::types }` ([`bind_node!`]).
pub use psaflow::halopsa::types;

/// Generates a node's bindings for its world in `wit/halopsa/worlds.wit`: expands to
///
/// ```ignore
/// wit_bindgen::generate!({
///     path: "../../../wit/halopsa",
///     world: "<world>",
///     with: {
///         "psaflow:halopsa/transport@0.1.0": psaflow_kit::transport,
///         "psaflow:halopsa/types@0.1.0": psaflow_kit::types,
///     },
/// });
/// ```
///
/// so the node's `transport` and `types` are the kit's ([`transport`], [`types`]) and the kit's
/// helpers take and return the node's own types. Use it once, at the top of the node's `lib.rs`:
/// `psaflow_kit::bind_node!("client-get");`. It brings the world's `Guest` trait, its input
/// record and `export!` into the node crate.
///
/// `generate!` reads `path` relative to the manifest directory of the crate being compiled, so
/// this fits node crates that sit in `components/halopsa/<resource>-<operation>/`, and it needs the
/// node crate to depend on `wit-bindgen` and on this crate under the name `psaflow_kit` (the
/// workspace dependencies every node uses).
#[macro_export]
macro_rules! bind_node {
    ($world:tt) => {
        ::wit_bindgen::generate!({
            path: "../../../wit/halopsa",
            world: $world,
            with: {
                "psaflow:halopsa/transport@0.1.0": psaflow_kit::transport,
                "psaflow:halopsa/types@0.1.0": psaflow_kit::types,
            },
        });
    };
}

pub mod agents;
pub mod connectwise;
pub mod describe;
pub mod envelope;
pub mod errors;
pub mod fields;
pub mod http;
pub mod ids;
pub mod lookups;
pub mod ops;
pub mod outputs;
pub mod paging;
pub mod recover;
pub mod validate;

pub use errors::Failure;
