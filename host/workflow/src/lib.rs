//! psaflow workflows: a YAML file of steps, each running one node.
//!
//! Where things happen:
//! - `parse.rs` reads YAML into the model (`model.rs`), keeping every position;
//! - `expr.rs` finds, compiles and evaluates `${{ ... }}`;
//! - `validate.rs` checks a workflow against the node catalog before anything runs;
//! - `inputs.rs` turns `--input name=value` into typed inputs;
//! - `exec/` runs it: `run.rs` the step loop, `step.rs` one step (if, params, retry,
//!   timeout), `for_each.rs` the bounded-concurrency loop, `retry.rs` backoff;
//! - `report.rs` the run report, `dryrun.rs` the plan, `redact.rs` secrets,
//!   `render.rs` human output, `diagnostics.rs` error rendering.
mod diagnostics;
mod dryrun;
mod exec;
pub mod expr;
mod inputs;
mod model;
mod parse;
mod redact;
mod render;
mod report;
mod validate;
mod yaml;

pub use diagnostics::{Diagnostic, Diagnostics, Pos};
pub use expr::Template;
pub use inputs::resolve_inputs;
pub use model::*;
pub use parse::{format_duration, load, parse};
pub use validate::validate;
pub use dryrun::{Plan, PlannedStep, dry_run_plan, plan};
pub use exec::{RunEvent, RunObserver, RunOptions, run};
pub use redact::Redactor;
pub use render::HumanRenderer;
pub use report::{ItemReport, RunReport, RunStatus, StepReport, StepStatus};
