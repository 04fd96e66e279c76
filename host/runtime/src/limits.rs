//! Capability policy for a node instance, kept apart from the capabilities themselves: how
//! much memory it may use and which imports it may have. (CPU time is policed in invoke.rs
//! through the epoch deadline.)

/// Caps the linear memory of a node's whole store (every core instance of the component
/// together, not each memory alone) and its table growth and instance, memory and table
/// counts, and remembers whether the memory cap was hit so the resulting trap can be reported
/// as "memory limit exceeded" instead of a bare trap.
pub struct MemoryLimiter {
    /// The cap on all linear memory of the store together.
    pub max_bytes: usize,
    /// Set when a growth was refused for the cap, so the trap that follows is reported as
    /// "memory limit exceeded".
    pub exceeded: bool,
    /// Bytes of linear memory the store holds now, over all its memories.
    total: usize,
}

use crate::engine::{MAX_CORE_INSTANCES as MAX_INSTANCES, MAX_MEMORIES, MAX_TABLES};

impl MemoryLimiter {
    /// A limiter allowing `max_bytes` of linear memory in total.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            exceeded: false,
            total: 0,
        }
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    // Also called when a memory is created (current 0), so `total` counts every memory.
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .total
            .saturating_sub(current)
            .saturating_add(desired);
        if total > self.max_bytes {
            self.exceeded = true;
            // An error (not `Ok(false)`) traps at once: a guest allocator would otherwise
            // abort with an opaque `unreachable`.
            return Err(wasmtime::Error::msg(format!(
                "memory limit of {} MiB exceeded",
                self.max_bytes >> 20
            )));
        }
        self.total = total;
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES as usize
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES as usize
    }

    fn tables(&self) -> usize {
        MAX_TABLES as usize
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// Whether a node may import interface `name`. Type-only interfaces (where input records
/// live) grant nothing; of the interfaces with functions, only a psaflow connector's transport
/// and WASI are linked – and the WASI context is empty: no files, no environment, no sockets.
/// Anything else is refused when the node is loaded, so a third-party component cannot ask for
/// capabilities psaflow does not mean to give.
pub fn import_allowed(name: &str, has_functions: bool) -> bool {
    !has_functions || transport_connector(name).is_some() || name.starts_with("wasi:")
}

/// The connector of a transport import: `halopsa` for `psaflow:halopsa/transport@0.1.0`.
pub fn transport_connector(name: &str) -> Option<&str> {
    let (package, rest) = name.strip_prefix("psaflow:")?.split_once('/')?;
    let interface = rest.split('@').next()?;
    (interface == "transport" && !package.is_empty()).then_some(package)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn the_memory_cap_counts_every_memory_of_the_store() {
        let mut limiter = MemoryLimiter::new(10 << 20);
        assert!(limiter.memory_growing(0, 6 << 20, None).unwrap());
        // A second memory of 6 MiB is within 10 MiB alone, not together with the first.
        assert!(limiter.memory_growing(0, 6 << 20, None).is_err());
        assert!(limiter.exceeded);
        // Growing the first memory counts only the growth.
        let mut limiter = MemoryLimiter::new(10 << 20);
        assert!(limiter.memory_growing(0, 4 << 20, None).unwrap());
        assert!(limiter.memory_growing(4 << 20, 8 << 20, None).unwrap());
        assert!(limiter.memory_growing(0, 2 << 20, None).unwrap());
        assert!(limiter.memory_growing(0, 1, None).is_err());
    }

    #[test]
    fn only_transports_and_wasi_functions_are_linked() {
        assert!(import_allowed("psaflow:halopsa/transport@0.1.0", true));
        assert!(import_allowed("psaflow:connectwise/transport@0.1.0", true));
        assert!(import_allowed("wasi:cli/environment@0.2.6", true));
        assert!(import_allowed("acme:widgets/widget@1.0.0", false));
        assert!(!import_allowed("acme:secrets/vault@1.0.0", true));
        assert!(!import_allowed("psaflow:halopsa/secrets@0.1.0", true));
    }

    #[test]
    fn the_connector_is_the_transport_package() {
        assert_eq!(
            transport_connector("psaflow:halopsa/transport@0.1.0"),
            Some("halopsa")
        );
        assert_eq!(
            transport_connector("psaflow:connectwise/transport@0.1.0"),
            Some("connectwise")
        );
        assert_eq!(transport_connector("acme:halopsa/transport@0.1.0"), None);
        assert_eq!(transport_connector("psaflow:halopsa/types@0.1.0"), None);
    }
}
