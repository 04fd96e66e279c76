//! The transport of a create whose earlier attempt is in doubt (a process stopped after
//! sending it and before recording the answer): the node's first change request is answered
//! "outcome unknown" without being sent, everything else goes through. A node that can
//! recognise its record (a declared natural key) then looks it up, exactly as after a lost
//! answer: it finds the record the earlier attempt made, or learns that none exists.

use psaflow_core::{ApiRequest, ApiResponse, BoxFuture, Method, Transport, TransportError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub(crate) struct LookFirst {
    pub inner: Arc<dyn Transport>,
    pub withheld: AtomicBool,
}

impl Transport for LookFirst {
    fn send(&self, request: ApiRequest) -> BoxFuture<'_, Result<ApiResponse, TransportError>> {
        if request.method != Method::Get && !self.withheld.swap(true, Ordering::SeqCst) {
            return Box::pin(async {
                Err(TransportError::UnknownOutcome(
                    "not sent again: an earlier attempt of this call was sent and its answer never \
                     recorded, so psaflow looks for its record first"
                        .into(),
                ))
            });
        }
        self.inner.send(request)
    }
}
