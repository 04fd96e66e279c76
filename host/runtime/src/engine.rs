//! The wasmtime engine and its tuning: the engine configuration, the epoch ticker, and the
//! per-node limits (`NodeLimits`). The limits are enforced elsewhere: memory by the store
//! limiter (`limits.rs`), the CPU budget and wall-clock timeout by the epoch deadline set per
//! invocation (`invoke.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::{Config, Engine};

/// How often the epoch advances. Spin uses the same 10 ms tick; it bounds how late a runaway
/// node is noticed, and costs one atomic increment per tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

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

/// The engine shared by every node, with its epoch ticker.
pub struct NodeEngine {
    /// The wasmtime engine every node is compiled and instantiated with.
    pub engine: Engine,
    ticker_stop: Arc<AtomicBool>,
}

impl NodeEngine {
    /// An engine with psaflow's settings and its epoch ticker started (stopped on drop).
    pub fn new() -> anyhow::Result<Self> {
        let mut config = Config::new();
        // Epochs are the cheap way to stop a looping node (fuel is for determinism, which we
        // do not need); the deadline is set per store in invoke.rs.
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        let engine = Engine::new(&config)?;

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
        })
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
