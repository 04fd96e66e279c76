//! The wasmtime engine and its tuning: the engine configuration (the pooling instance allocator
//! with copy-on-write memory images), the epoch ticker, the bound on live instances, and the
//! per-node limits (`NodeLimits`). The limits are enforced elsewhere: memory by the store
//! limiter (`limits.rs`), the CPU budget and wall-clock timeout by the epoch deadline set per
//! invocation (`invoke.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::{Config, Engine, Enabled, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances. Spin uses the same 10 ms tick; it bounds how late a runaway
/// node is noticed, and costs one atomic increment per tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Pool slots: how many linear memories (and tables, and component instances) the pooling
/// allocator keeps ready. Every live node instance holds at least one slot (see
/// [`NodeEngine::admit`]), so this is also the most node invocations in flight at once in one
/// process; more wait for a slot instead of failing. Each memory slot reserves about 4 GiB of
/// address space (not memory), so 512 slots reserve about 2 TiB of the 128 TiB a 64-bit Linux
/// process has.
pub const POOL_SLOTS: u32 = 512;

/// Linear memory kept mapped (and reset by `memset` of the pages the node touched, found with
/// the PAGEMAP_SCAN ioctl where the kernel has it) when a slot is freed, so the next instance
/// in it does not page-fault its stack and heap in again. Beyond this, pages are given back.
const KEEP_RESIDENT_BYTES: usize = 2 << 20;

/// Core instances one node's component may make: a component is a handful of them; this
/// leaves room for that and no more. The store limiter (`limits.rs`) and the pool use the same
/// numbers.
pub const MAX_CORE_INSTANCES: u32 = 32;
/// Linear memories one node's component may have (see [`MAX_CORE_INSTANCES`]).
pub const MAX_MEMORIES: u32 = 16;
/// Tables one node's component may have (see [`MAX_CORE_INSTANCES`]).
pub const MAX_TABLES: u32 = 32;

/// Resource limits for one node invocation.
#[derive(Debug, Clone)]
pub struct NodeLimits {
    /// Linear memory a node may grow to. Nodes parse a few pages of JSON; 64 MiB is generous.
    pub memory_bytes: usize,
    /// Time the node may spend computing (time waiting for HaloPSA is not counted).
    pub cpu_budget: Duration,
    /// Wall-clock limit for the whole invocation, HTTP included.
    pub wall_timeout: Duration,
}

impl Default for NodeLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            cpu_budget: Duration::from_secs(2),
            wall_timeout: Duration::from_secs(120),
        }
    }
}

/// The engine shared by every node, with its epoch ticker and its pool slots.
pub struct NodeEngine {
    /// The wasmtime engine every node is compiled and instantiated with.
    pub engine: Engine,
    ticker_stop: Arc<AtomicBool>,
    /// One permit per pool slot; an invocation holds as many as its component has memories.
    slots: Arc<tokio::sync::Semaphore>,
}

impl NodeEngine {
    /// An engine with psaflow's settings, its pool sized to `limits`, and its epoch ticker
    /// started (stopped on drop).
    pub fn new(limits: &NodeLimits) -> anyhow::Result<Self> {
        let mut config = Config::new();
        // Epochs are the cheap way to stop a looping node (fuel is for determinism, which we
        // do not need); the deadline is set per store in invoke.rs.
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        // An instance is made for every invocation, so making one must be cheap: the pooling
        // allocator reuses pre-reserved slots (no mmap/munmap per call) and maps each module's
        // initial memory from a copy-on-write image instead of copying its data segments.
        config.memory_init_cow(true);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling(limits)));
        let engine = Engine::new(&config).map_err(with_address_space_hint)?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        let (weak_engine, stop) = (engine.weak(), ticker_stop.clone());
        std::thread::Builder::new()
            .name("psaflow-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak_engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })?;
        Ok(Self {
            engine,
            ticker_stop,
            slots: Arc::new(tokio::sync::Semaphore::new(POOL_SLOTS as usize)),
        })
    }

    /// Waits for room in the pool for an instance needing `slots` slots (its memory or table
    /// count, at least one); the instance must be dropped before the permit. A component that
    /// needs more slots than the pool has is refused at load (see [`slots_needed`]).
    pub async fn admit(&self, slots: u32) -> tokio::sync::OwnedSemaphorePermit {
        self.slots
            .clone()
            .acquire_many_owned(slots.clamp(1, POOL_SLOTS))
            .await
            .expect("the pool's semaphore is never closed")
    }

    /// A stable identifier of this engine's compiled-code format, for the precompiled cache.
    pub fn compatibility_key(&self) -> String {
        use std::hash::{Hash, Hasher};
        // DefaultHasher::new() uses fixed keys, so the value is stable for one build of psaflow,
        // which is all the cache needs: another wasmtime would also reject the blobs itself.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    }
}

impl Drop for NodeEngine {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

/// `err` from making the engine, with how to fix it when the pool's address space could not
/// be reserved: that happens under a virtual-memory limit (`ulimit -v`), which counts
/// reserved address space, not memory used, so a few GiB of limit refuses a pool that uses
/// a few MiB.
fn with_address_space_hint(err: wasmtime::Error) -> anyhow::Error {
    let err = anyhow::Error::from(err);
    let cause = format!("{err:#}");
    let reserving = cause.contains("mmap") || cause.contains("memory pool");
    if !reserving {
        return err;
    }
    let tib = u64::from(POOL_SLOTS) * 4 / 1024;
    anyhow::anyhow!(
        "cannot reserve address space for the node pool ({cause}); psaflow reserves about \
         {tib} TiB of address space (not memory: only the pages nodes touch are used) for its \
         {POOL_SLOTS} node slots, every command that loads the node catalog included. A \
         virtual-memory limit is lower: lift it (`ulimit -v unlimited`, or raise the \
         container's or service's address-space limit) and run the command again"
    )
}

/// The pool: slots for [`POOL_SLOTS`] memories, tables and component instances, each memory
/// slot big enough for the node memory limit.
fn pooling(limits: &NodeLimits) -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(POOL_SLOTS)
        .total_core_instances(POOL_SLOTS * MAX_CORE_INSTANCES)
        .total_memories(POOL_SLOTS)
        .total_tables(POOL_SLOTS)
        .total_stacks(POOL_SLOTS)
        .max_core_instances_per_component(MAX_CORE_INSTANCES)
        .max_memories_per_component(MAX_MEMORIES)
        .max_tables_per_component(MAX_TABLES)
        // One memory can never be larger than the limit on all of a store's memories together.
        .max_memory_size(limits.memory_bytes)
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(64 << 10)
        .pagemap_scan(Enabled::Auto);
    pool
}

/// Pool slots an instance of `component` holds while it lives: one per memory or table (the
/// larger count), at least one. A component whose core modules come from imports cannot say,
/// and is counted as the most a component may have.
pub fn slots_needed(component: &wasmtime::component::Component) -> u32 {
    match component.resources_required() {
        Some(needs) => needs.num_memories.max(needs.num_tables).max(1),
        None => MAX_MEMORIES.max(MAX_TABLES),
    }
}
