//! One call into a node: a fresh store with its limits, an instance from the pre-linked
//! `InstancePre` in a pool slot (see `engine.rs`), a call of one export (`run` or `describe`),
//! and every way that can go wrong turned into words a workflow author can act on.

use crate::engine::{NodeEngine, NodeLimits};
use crate::failure_shape::FailureShape;
use crate::host::NodeState;
use crate::params;
use psaflow_core::{CallCounts, Envelope, NodeSpec};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::{ComponentExportIndex, InstancePre, Type, Val};
use wasmtime::{Store, UpdateDeadline};

/// Raised from the epoch callback when a node has computed for longer than its budget.
#[derive(Debug, thiserror::Error)]
#[error("used more than its CPU budget of {0:?}")]
struct CpuBudgetExceeded(std::time::Duration);

/// How long a node's call has been polled: the time its own code (and the host functions it
/// calls synchronously) ran, not the time it waited.
#[derive(Default)]
struct RunTime {
    /// Time of the finished polls, and when the current poll began (if one is under way).
    state: std::sync::Mutex<(std::time::Duration, Option<Instant>)>,
}

impl RunTime {
    fn so_far(&self) -> std::time::Duration {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0 + state.1.map_or(std::time::Duration::ZERO, |at| at.elapsed())
    }

    fn begin(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1 = Some(Instant::now());
    }

    fn end(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = state.1.take() {
            state.0 += at.elapsed();
        }
    }
}

/// A future whose polls are timed into a [`RunTime`].
struct Polled<F> {
    inner: std::pin::Pin<Box<F>>,
    time: Arc<RunTime>,
}

impl<F: std::future::Future> std::future::Future for Polled<F> {
    type Output = F::Output;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        self.time.begin();
        let result = self.inner.as_mut().poll(cx);
        self.time.end();
        result
    }
}

/// A node ready to run: compiled, linked, and its input record type known.
pub struct ReadyNode {
    pub pre: InstancePre<NodeState>,
    /// The `run` export, found once at load instead of by name on every call.
    pub run: ComponentExportIndex,
    /// Pool slots an instance holds (see [`crate::engine::slots_needed`]).
    pub slots: u32,
    pub input_type: Type,
    /// The output of envelopes the host builds for this node (see [`FailureShape`]).
    pub failure: FailureShape,
}

/// What the CLI, benchmarks and reports may want to know besides the envelope.
#[derive(Debug, Clone, Default)]
pub struct InvocationStats {
    /// Requests sent, calls refused, DELETEs sent.
    pub calls: CallCounts,
    /// The refused calls, `METHOD /path`.
    pub refused: Vec<String>,
    /// Time the node's `run` call was being executed: its own code, the copying of its input
    /// and envelope in and out of its memory, and the host functions it called synchronously
    /// (the transport's time is in `host_time`). Instantiation is not included.
    pub guest_time: Duration,
    /// Time spent making the instance (a pool slot, its memory image, its start functions).
    pub instantiate_time: Duration,
    /// Time the node's transport calls took (waiting for the API included).
    pub host_time: Duration,
}

/// Runs `node` with user-facing parameters in `state` (its transport and call policy).
pub async fn invoke(
    engine: &NodeEngine,
    node: &ReadyNode,
    spec: &NodeSpec,
    state: NodeState,
    limits: &NodeLimits,
    params: &Map<String, Value>,
) -> (Envelope, InvocationStats) {
    let input = match params::input_record(spec, &node.input_type, params) {
        Ok(input) => input,
        // The node never ran and nothing was sent: the contract's validation failure.
        Err(message) => {
            let mut envelope = Envelope::validation(&spec.output_key, message);
            envelope.output = node.failure.invalid_output(params);
            return (envelope, InvocationStats::default());
        }
    };
    let (outcome, state, timing) = call(engine, node, state, limits, "run", vec![input]).await;
    let stats = InvocationStats {
        calls: state.policy.counts,
        refused: state.policy.refused.clone(),
        host_time: state.host_time,
        guest_time: timing.call,
        instantiate_time: timing.instantiate,
    };
    // Envelopes the host builds keep the operation's documented failure output.
    let system = |message: String| {
        let mut envelope = Envelope::system(&spec.output_key, message);
        envelope.output = node.failure.failure_output(params);
        envelope
    };
    // A refusal is the host's verdict, whatever the node made of the denied call.
    if let Some(message) = state.policy.refusal_message() {
        return (system(message), stats);
    }
    let envelope = match outcome {
        Ok(results) if results.len() == 1 => {
            let result = results.into_iter().next().expect("one result");
            params::envelope_from_val(result, &spec.id).unwrap_or_else(system)
        }
        Ok(_) => system(format!("{} returned no envelope", spec.id)),
        Err(message) => system(message),
    };
    (envelope, stats)
}

/// Where one call's polled time went.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallTiming {
    /// Making the instance.
    pub instantiate: Duration,
    /// Calling the export (everything polled after the instance was made).
    pub call: Duration,
}

/// Instantiates the node in a store holding `state` and calls `export`. Returns the results
/// or why the call failed (already in words), the state for its counters, and the timing.
pub async fn call(
    engine: &NodeEngine,
    node: &ReadyNode,
    state: NodeState,
    limits: &NodeLimits,
    export: &str,
    args: Vec<Val>,
) -> (Result<Vec<Val>, String>, NodeState, CallTiming) {
    let node_id = state.policy.node();
    // Declared before the store, so dropped after it: the slot is free again only once the
    // instance in it is gone.
    let _slot = engine.admit(node.slots).await;
    let mut store = Store::new(&engine.engine, state);
    store.limiter(|state| &mut state.limiter);
    let budget = limits.cpu_budget;
    let run_time = Arc::new(RunTime::default());
    // The deadline fires every tick. Only the time the node's call is being polled counts
    // (accumulated per poll): waiting for the API, or for a worker thread another node's task
    // holds under for_each concurrency, is not charged. Under budget it yields, so a busy node
    // never blocks the executor (and the wall-clock timeout below can always fire).
    store.set_epoch_deadline(1);
    let charged = run_time.clone();
    store.epoch_deadline_callback(move |_ctx| {
        if charged.so_far() > budget {
            return Err(CpuBudgetExceeded(budget).into());
        }
        Ok(UpdateDeadline::Yield(1))
    });

    let instantiated = std::sync::Mutex::new(None::<Duration>);
    let call = async {
        let instance = node.pre.instantiate_async(&mut store).await?;
        *instantiated.lock().unwrap_or_else(|e| e.into_inner()) = Some(run_time.so_far());
        let func = if export == "run" {
            instance.get_func(&mut store, node.run)
        } else {
            instance.get_func(&mut store, export)
        }
        .ok_or_else(|| wasmtime::Error::msg(format!("the component has no `{export}` export")))?;
        let mut results = vec![Val::Bool(false); func.ty(&store).results().len()];
        func.call_async(&mut store, &args, &mut results).await?;
        wasmtime::Result::Ok(results)
    };
    let timed = Polled {
        inner: Box::pin(call),
        time: run_time.clone(),
    };
    let outcome = crate::deadline::within(limits.wall_timeout, timed).await;
    let result = match outcome {
        Ok(Ok(results)) => Ok(results),
        Ok(Err(err)) => Err(describe_failure(
            &node_id,
            &err,
            store.data().limiter.exceeded,
            limits,
        )),
        Err(_) => Err(format!(
            "{node_id} did not finish within {:?} and was stopped",
            limits.wall_timeout
        )),
    };
    let total = run_time.so_far();
    let instantiate = instantiated
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .unwrap_or(total);
    let timing = CallTiming {
        instantiate,
        call: total.saturating_sub(instantiate),
    };
    (result, store.into_data(), timing)
}

/// Words a workflow author can act on, for each way a node can die.
fn describe_failure(
    node: &str,
    err: &wasmtime::Error,
    memory_exceeded: bool,
    limits: &NodeLimits,
) -> String {
    if memory_exceeded {
        return format!(
            "{node} exceeded its memory limit of {} MiB and was stopped",
            limits.memory_bytes >> 20
        );
    }
    if let Some(cpu) = err.downcast_ref::<CpuBudgetExceeded>() {
        return format!("{node} {cpu} and was stopped (an endless loop?)");
    }
    if let Some(trap) = err.downcast_ref::<wasmtime::Trap>() {
        return format!("{node} crashed ({trap}); the host stopped it and carries on");
    }
    format!("{node} failed: {err:#}")
}
