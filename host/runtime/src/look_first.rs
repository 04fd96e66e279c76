//! The transport of a create whose earlier attempt is in doubt (a process stopped after
//! sending it and before recording the answer): the node's first change request is answered
//! "outcome unknown" without being sent, everything else goes through. A node that can
//! recognise its record (a declared natural key) then looks it up, exactly as after a lost
//! answer: it finds the record the earlier attempt made, or learns that none exists.

use psaflow_core::{ApiRequest, ApiResponse, BoxFuture, Method, Transport, TransportError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Why the change was not sent. Its first words are how the node kit tells this from an answer
/// lost on the way (`psaflow_kit::recover::WITHHELD_FOR_RESUME`): records the node listed before
/// this attempt may include the one the earlier attempt made, so they are not ruled out.
const WITHHELD: &str = "not sent again: an earlier attempt of this call was sent and its answer \
                        never recorded, so psaflow looks for its record first";

pub(crate) struct LookFirst {
    pub inner: Arc<dyn Transport>,
    pub withheld: AtomicBool,
}

impl Transport for LookFirst {
    fn send(&self, request: ApiRequest) -> BoxFuture<'_, Result<ApiResponse, TransportError>> {
        if request.method != Method::Get && !self.withheld.swap(true, Ordering::SeqCst) {
            return Box::pin(async { Err(TransportError::UnknownOutcome(WITHHELD.into())) });
        }
        self.inner.send(request)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_node_kit_recognises_a_withheld_change() {
        // components/kit/src/recover.rs, WITHHELD_FOR_RESUME.
        assert!(super::WITHHELD.starts_with("not sent again:"));
    }
}
