//! Host side of `psaflow:halopsa/transport`: converts the node's request to the transport
//! seam (`psaflow_core::Transport`) and back. Base URL, token, retries and URL policy live
//! behind that seam (psaflow-halopsa); this file only translates and keeps time.

use super::NodeState;
use crate::bindings::transport::{self as wit, Host};
use psaflow_core::calls::outcome_of;
use psaflow_core::{ApiRequest, Method, TransportError};
use std::time::Instant;

impl Host for NodeState {
    async fn send(&mut self, req: wit::Request) -> Result<wit::Response, wit::TransportError> {
        let request = ApiRequest {
            method: match req.method {
                wit::Method::Get => Method::Get,
                wit::Method::Post => Method::Post,
                wit::Method::Delete => Method::Delete,
            },
            path: req.path,
            query: req.query,
            body: req.body,
        };
        self.requests += 1;
        let (method, call) = (request.method, self.calls.start(request.method, &request.path));
        let started = Instant::now();
        let result = self.transport.send(request).await;
        self.host_time += started.elapsed();
        let outcome = match &result {
            Ok(resp) => outcome_of(method, Some(resp.status), false),
            Err(e) => outcome_of(method, None, matches!(e, TransportError::UnknownOutcome(_))),
        };
        self.calls.finish(call, outcome);
        match result {
            Ok(resp) => Ok(wit::Response {
                status: resp.status,
                body: resp.body,
            }),
            Err(TransportError::Unreachable(m)) => Err(wit::TransportError::Unreachable(m)),
            Err(TransportError::Timeout(m)) => Err(wit::TransportError::Timeout(m)),
            Err(TransportError::Denied(m)) => Err(wit::TransportError::Denied(m)),
            Err(TransportError::UnknownOutcome(m)) => Err(wit::TransportError::UnknownOutcome(m)),
        }
    }
}

impl crate::bindings::psaflow::halopsa::types::Host for NodeState {}
