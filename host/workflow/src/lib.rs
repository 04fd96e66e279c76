//! psaflow workflows: a YAML file of steps, each running one node.
//!
//! Where things happen:
//! - `yaml.rs` reads YAML into a tree that keeps every position (public: psaflow-workflow-tests
//!   reads test files with it); `parse.rs` turns that tree into the model (`model.rs`);
//! - `expr.rs` finds, compiles and evaluates `${{ ... }}`;
//! - `validate.rs` checks a workflow against the node catalog before anything runs;
//!   `lint.rs` finds what is valid but probably unintended (warnings);
//! - `inputs.rs` turns `--input name=value` into typed inputs;
//! - `options.rs` how to run (`RunOptions`), `events.rs` what a run reports as it goes
//!   (`RunEvent`, `RunObserver`), `duration.rs` durations as written and shown;
//! - `exec/` runs it: `run.rs` the step loop, `step.rs` one step (if, params, retry,
//!   timeout), `for_each.rs` the bounded-concurrency loop, `retry.rs` backoff;
//! - `report.rs` the run report, `dryrun.rs` the plan, `redact.rs` secrets,
//!   `render.rs` human output, `diagnostics.rs` error rendering.
//!
//! Semantics worth knowing:
//! - `parse` fails only on unreadable YAML; other problems are collected and returned by
//!   `validate` together with catalog checks, in source order. `run` validates again
//!   against the invoker's catalog and sends nothing if the workflow is invalid.
//! - YAML 1.2 booleans: only `true`/`false` are booleans (`id: off` is text); numbers
//!   with leading zeros (`0123`) stay text.
//! - `steps.<id>` is the step's envelope; for a for_each step the list of envelopes in
//!   input order, with `null` for items skipped by `if` or never started; `null` for a
//!   skipped step.
//! - A parameter that evaluates to null is left out, as if not written.
//! - A failing step stops the run (later steps are `skipped`), unless it has
//!   `continue_on_error`: then the run goes on, its status stays `succeeded` and the
//!   report/summary carry a warning.
//! - for_each: without `continue_on_error`, the first failed item stops new items; items
//!   in flight finish. The step fails if any item failed; all items skipped is success.
//! - A run-time expression error fails the step with a -1 envelope (nothing is sent).
mod diagnostics;
mod dryrun;
mod duration;
mod events;
mod exec;
pub mod expr;
mod dates;
mod file_inputs;
mod inputs;
mod lint;
pub mod journal;
mod model;
mod options;
mod parse;
pub mod plan;
mod precheck;
mod redact;
mod render;
mod report;
mod spill;
mod validate;
pub mod yaml;

pub use diagnostics::{Diagnostic, Diagnostics, Pos, Severity};
pub use lint::warnings;
pub use dryrun::{CallEstimate, Plan, PlannedStep, dry_run_plan, plan};
pub use duration::{MAX_DURATION, duration_from_secs, format_duration, parse_duration};
pub use events::{RunEvent, RunObserver};
pub use exec::run;
pub use options::RunOptions;
pub use expr::Template;
pub use inputs::{resolve_inputs, resolve_inputs_in};
pub use model::*;
pub use parse::{MAX_WORKFLOW_BYTES, load, parse};
pub use precheck::check_node_inputs;
pub use redact::Redactor;
pub use render::HumanRenderer;
pub use spill::SPILL_AFTER_BYTES;
pub use report::{
    AttemptRecord, ItemReport, RunReport, RunStatus, StepReport, StepStatus, StoredEnvelope,
    WaitingApproval,
};
pub use validate::validate;
