//! What the host gives a node instance: an empty WASI (no files, no env, no network) and its
//! connector's transport, wrapped in the node's call policy. One file per concern.

pub mod policy;
pub mod transport;

use crate::engine::NodeLimits;
use policy::CallPolicy;
use psaflow_core::{CallLog, Transport};
use std::sync::Arc;
use std::time::Duration;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};

/// The data of one node's store; lives for exactly one invocation (or one `describe`).
pub struct NodeState {
    /// Made when the node first calls a WASI function: most nodes never do, and making one
    /// (random sources, clocks, stdio handles) costs more than the rest of the store.
    wasi: Option<WasiCtx>,
    table: ResourceTable,
    pub(crate) limiter: crate::limits::MemoryLimiter,
    /// The node's connection; `None` while it describes itself (every call is refused).
    pub(crate) transport: Option<Arc<dyn Transport>>,
    /// Who is calling and what it may call; what it did.
    pub(crate) policy: CallPolicy,
    /// Time spent waiting for the API, which does not count against the node's CPU budget.
    pub(crate) host_time: Duration,
    /// Every request and how it ended, shared with the caller (see `psaflow_core::calls`);
    /// refused calls are counted there too.
    pub(crate) calls: CallLog,
}

impl NodeState {
    pub fn new(
        transport: Option<Arc<dyn Transport>>,
        policy: CallPolicy,
        limits: &NodeLimits,
        calls: CallLog,
    ) -> Self {
        Self {
            wasi: None,
            table: ResourceTable::new(),
            limiter: crate::limits::MemoryLimiter::new(limits.memory_bytes),
            transport,
            policy,
            host_time: Duration::ZERO,
            calls,
        }
    }

    /// For `describe` at load time: no transport, no capabilities.
    pub fn describing(node: &str, limits: &NodeLimits) -> Self {
        Self::new(None, CallPolicy::describing(node), limits, CallLog::new())
    }
}

/// The WASI a node gets: deliberately nothing inherited (no args, env, preopened dirs, stdio
/// or sockets).
fn empty_wasi() -> WasiCtx {
    WasiCtx::builder()
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}

impl WasiView for NodeState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: self.wasi.get_or_insert_with(empty_wasi),
            table: &mut self.table,
        }
    }
}
