//! The transport of check mode: it refuses every request, so a node run through it can only
//! validate its input. The attempt itself is the signal that validation passed.

use psaflow_core::{ApiRequest, ApiResponse, BoxFuture, Transport, TransportError};

pub(crate) struct RefuseAll;

impl Transport for RefuseAll {
    fn send(&self, _request: ApiRequest) -> BoxFuture<'_, Result<ApiResponse, TransportError>> {
        Box::pin(async {
            Err(TransportError::Denied(
                "check mode: the input passed the node's checks; nothing is sent".into(),
            ))
        })
    }
}
