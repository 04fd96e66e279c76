//! What the host gives a node instance: an empty WASI (no files, no env, no network) and the
//! psaflow transport. One file per WIT interface, as in wasmtime's own WASI host.

pub mod transport;

use psaflow_core::{CallLog, Transport};
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};

/// The data of one node's store; lives for exactly one invocation.
pub struct NodeState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: crate::limits::MemoryLimiter,
    pub(crate) transport: Arc<dyn Transport>,
    /// Time spent waiting for HaloPSA, which does not count against the node's CPU budget.
    pub(crate) host_time: Duration,
    /// Requests the node sent through the transport.
    pub(crate) requests: u32,
    /// Every request and how it ended, shared with the caller (see `psaflow_core::calls`).
    pub(crate) calls: CallLog,
}

impl NodeState {
    pub fn new(
        transport: Arc<dyn Transport>,
        limiter: crate::limits::MemoryLimiter,
        calls: CallLog,
    ) -> Self {
        // Deliberately nothing inherited: no args, env, preopened dirs, stdio or sockets.
        let wasi = WasiCtx::builder()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            limiter,
            transport,
            host_time: Duration::ZERO,
            requests: 0,
            calls,
        }
    }
}

impl WasiView for NodeState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
