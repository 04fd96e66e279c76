//! One node invocation: a fresh store with its limits, an instance from the pre-linked
//! `InstancePre`, a call of `run`, and every way that can go wrong turned into an envelope.

use crate::engine::NodeLimits;
use crate::failure_shape::FailureShape;
use crate::host::NodeState;
use crate::limits::MemoryLimiter;
use crate::params;
use psaflow_core::{CallLog, Envelope, NodeSpec, Transport};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::{InstancePre, Type, Val};
use wasmtime::{Engine, Store, UpdateDeadline};

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
    pub input_type: Type,
}

/// What the CLI and benchmarks may want to know besides the envelope.
#[derive(Debug, Clone, Default)]
pub struct InvocationStats {
    pub requests: u32,
    pub guest_time: std::time::Duration,
    pub host_time: std::time::Duration,
}

pub async fn invoke(
    engine: &Engine,
    node: &ReadyNode,
    spec: &NodeSpec,
    output_name: &str,
    failure: &FailureShape,
    transport: Arc<dyn Transport>,
    limits: &NodeLimits,
    params: &Map<String, Value>,
    calls: CallLog,
) -> (Envelope, InvocationStats) {
    let input = match params::input_record(spec, &node.input_type, params) {
        Ok(input) => input,
        // The node never ran and nothing was sent: the contract's validation failure.
        Err(message) => {
            let mut envelope = Envelope::validation(output_name, message);
            envelope.output = failure.invalid_output(params);
            return (envelope, InvocationStats::default());
        }
    };

    let mut store = Store::new(
        engine,
        NodeState::new(transport, MemoryLimiter::new(limits.memory_bytes), calls),
    );
    store.limiter(|state| &mut state.limiter);
    let budget = limits.cpu_budget;
    let run_time = Arc::new(RunTime::default());
    // The deadline fires every tick. Only the time the node's call is being polled counts
    // (accumulated per poll): waiting for HaloPSA, or for a worker thread another node's task
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

    let call = async {
        let instance = node.pre.instantiate_async(&mut store).await?;
        let run = instance
            .get_func(&mut store, "run")
            .ok_or_else(|| wasmtime::Error::msg("the component has no `run` export"))?;
        let mut results = [Val::Bool(false)];
        run.call_async(&mut store, &[input], &mut results).await?;
        wasmtime::Result::Ok(results)
    };
    let timed = Polled {
        inner: Box::pin(call),
        time: run_time.clone(),
    };
    let outcome = tokio::time::timeout(limits.wall_timeout, timed).await;

    let state = store.data();
    let stats = InvocationStats {
        requests: state.requests,
        host_time: state.host_time,
        guest_time: run_time.so_far(),
    };
    let system = |message: String| {
        let mut envelope = Envelope::system(output_name, message);
        envelope.output = failure.failure_output(params);
        envelope
    };
    let envelope = match outcome {
        Ok(Ok([result])) => params::envelope_from_val(&result, &spec.id).unwrap_or_else(system),
        Ok(Err(err)) => system(describe_failure(
            &spec.id,
            &err,
            state.limiter.exceeded,
            limits,
        )),
        Err(_) => system(format!(
            "{} did not finish within {:?} and was stopped",
            spec.id, limits.wall_timeout
        )),
    };
    (envelope, stats)
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
