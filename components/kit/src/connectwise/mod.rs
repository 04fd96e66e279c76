//! What a ConnectWise PSA node needs beside the generic parts of the kit ([`crate::validate`],
//! [`crate::fields`], [`Failure`](crate::Failure)): the `psaflow:connectwise` bindings, the
//! envelope, requests with ConnectWise's error body read into a message that names the field,
//! JSON Patch bodies, `conditions` text, and the paged list algorithm.
//!
//! A ConnectWise node crate sits in `components/connectwise/<node>/` and starts with
//! `psaflow_kit::bind_connectwise_node!("member-get");`.

mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/connectwise",
        world: "kit",
        pub_export_macro: false,
    });
}

/// The `psaflow:connectwise` transport import (the only way a node reaches ConnectWise).
pub use bindings::psaflow::connectwise::transport;
/// The `psaflow:connectwise` shared types (envelope, node-info).
pub use bindings::psaflow::connectwise::types;

pub mod conditions;
pub mod describe;
pub mod envelope;
pub mod errors;
pub mod http;
pub mod member;
pub mod paging;
pub mod patch;

/// Generates a ConnectWise node's bindings for its world in `wit/connectwise/worlds.wit`, with
/// the node's `transport` and `types` mapped to the kit's, so the kit's helpers take and return
/// the node's own types. For node crates in `components/connectwise/<node>/`.
#[macro_export]
macro_rules! bind_connectwise_node {
    ($world:tt) => {
        ::wit_bindgen::generate!({
            path: "../../../wit/connectwise",
            world: $world,
            with: {
                "psaflow:connectwise/transport@0.1.0": psaflow_kit::connectwise::transport,
                "psaflow:connectwise/types@0.1.0": psaflow_kit::connectwise::types,
            },
        });
    };
}
