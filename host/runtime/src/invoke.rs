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
    let started = Instant::now();
    let budget = limits.cpu_budget;
    // The deadline fires every tick. Time spent waiting for HaloPSA is subtracted, so only the
    // node's own computing counts; under budget it yields, so a busy node never blocks the
    // executor (and the wall-clock timeout below can always fire).
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |ctx| {
        let guest = started.elapsed().saturating_sub(ctx.data().host_time);
        if guest > budget {
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
    let outcome = tokio::time::timeout(limits.wall_timeout, call).await;

    let state = store.data();
    let stats = InvocationStats {
        requests: state.requests,
        host_time: state.host_time,
        guest_time: started.elapsed().saturating_sub(state.host_time),
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
