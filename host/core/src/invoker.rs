//! The seam between the workflow engine and whatever runs nodes: the wasm runtime in
//! production, canned envelopes in workflow tests.

use crate::{CallLog, Catalog, Envelope};
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::Pin;

/// A boxed future that can cross threads: the object-safe return type of the host's traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the runtime saw a node do over the API during one invocation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CallCounts {
    /// Requests sent (refused ones not included).
    pub requests: u32,
    /// Calls the host refused: outside the node's declared capabilities, or past the request cap.
    pub refused_calls: u32,
    /// DELETE requests sent, whatever the node declares itself to be.
    pub deletes_sent: u32,
}

impl CallCounts {
    /// Adds another attempt's counts (a step's report sums its retries).
    pub fn add(&mut self, other: CallCounts) {
        self.requests += other.requests;
        self.refused_calls += other.refused_calls;
        self.deletes_sent += other.deletes_sent;
    }
}

/// Runs nodes for the workflow engine. The runtime implements it over wasm components; the
/// workflow tests implement it with mocks, so the engine cannot tell the difference.
pub trait NodeInvoker: Send + Sync {
    /// The nodes this invoker can run (used to validate workflows before they run).
    fn catalog(&self) -> &Catalog;

    /// Runs `node` with parameters keyed by their user-facing names (`SiteClientId`),
    /// recording every request the node makes in `calls` as it goes (so the record survives
    /// the invocation being cut off by a timeout). Never fails: every failure is an envelope
    /// (-1 bad parameter, 500 system error). Invokers that send nothing themselves (canned
    /// envelopes) leave `calls` empty.
    fn invoke_recorded<'a>(
        &'a self,
        node: &'a str,
        params: Map<String, Value>,
        calls: CallLog,
    ) -> BoxFuture<'a, Envelope>;

    /// [`NodeInvoker::invoke_recorded`] for a caller that does not read the calls.
    fn invoke<'a>(&'a self, node: &'a str, params: Map<String, Value>) -> BoxFuture<'a, Envelope> {
        self.invoke_recorded(node, params, CallLog::new())
    }

    /// True when [`NodeInvoker::invoke_looking_first`] is supported.
    fn can_look_first(&self) -> bool {
        false
    }

    /// Runs a create whose earlier attempt is in doubt so that it looks for its record first:
    /// its first change request is answered "outcome unknown" without being sent, so a node
    /// that can recognise its record (a declared natural key) finds it, or finds that none
    /// exists. Only called when [`NodeInvoker::can_look_first`]; the default runs the node
    /// normally.
    fn invoke_looking_first<'a>(
        &'a self,
        node: &'a str,
        params: Map<String, Value>,
        calls: CallLog,
    ) -> BoxFuture<'a, Envelope> {
        self.invoke_recorded(node, params, calls)
    }

    /// Checks `params` the way the node would, sending nothing: the node runs with a transport
    /// that refuses every request. `None` when this invoker cannot check (canned envelopes).
    fn check<'a>(
        &'a self,
        _node: &'a str,
        _params: Map<String, Value>,
    ) -> BoxFuture<'a, Option<InputCheck>> {
        Box::pin(async { None })
    }
}

/// What a node said about its input when run in check mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputCheck {
    /// The node got as far as its first request (or finished without one): the input passed.
    Valid,
    /// The node refused the input (StatusCode -1) before sending anything; its message.
    Invalid(String),
}
