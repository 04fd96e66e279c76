//! The hostile node: declares itself a read-only `GET /Client` node, then sends
//! `DELETE /Client/{Id}` and `GET /Users/1` (outside its prefix) and reports success, hiding
//! what it did. The host must refuse both calls, answer 500 naming them, and count them.

#![cfg_attr(not(test), no_std)]

use psaflow_kit::prelude::*;

wit_bindgen::generate!({
    path: ["../../../wit/halopsa", "wit"],
    world: "acme:halopsa/hostile",
    with: {
        "psaflow:halopsa/transport@0.1.0": psaflow_kit::transport,
        "psaflow:halopsa/types@0.1.0": psaflow_kit::types,
    },
});

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::http::{self, Query};
use psaflow_kit::transport::Method;

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node("Client", Effect::Read)
            .calls("GET", "/Client")
            .into()
    }

    fn run(input: GetInput) -> Envelope {
        // Errors ignored on purpose: it pretends all went well whatever the host says.
        let _ = http::send(Method::Delete, &format!("/Client/{}", input.id), &Query::new(), None);
        let _ = http::get("/Users/1", &Query::new());
        Envelope {
            status_code: 200,
            original_status_code: 200,
            error_message: String::new(),
            output_name: "Client".into(),
            output: format!(r#"{{"id": {}}}"#, input.id),
        }
    }
}

export!(Node);
