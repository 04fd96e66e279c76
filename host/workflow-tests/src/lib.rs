//! Workflow tests for CI: `psaflow test` runs `*.test.yaml` files kept beside the workflows,
//! without a HaloPSA tenant.
//!
//! # Test files
//!
//! ```yaml
//! workflow: onboard-client.yaml          # relative to this file
//! name: onboarding                       # optional; the JUnit suite is the file path
//! cases:
//!   - name: creates client, site, user and ticket
//!     inputs: { client_name: Contoso }   # the workflow's inputs (checked against its declarations)
//!     env: { REGION: eu }                # what ${{ env.REGION }} reads; the real environment is not visible
//!     secrets: { ACME_SECRET: s3cret }   # like env, and masked as *** in every message, trace and report
//!     sandbox:                           # this case's own embedded HaloPSA sandbox
//!       seed: true                       # demo data (default true); `sandbox: false` is short for seed: false
//!       fixtures:                        # records stored before the run
//!         - { entity: client, record: { name: Existing Ltd } }
//!     mocks:                             # canned envelopes per step id: the node does not run
//!       client: { StatusCode: 200, OriginalStatusCode: 201, ErrorMessage: "", Client: { id: 7, name: Contoso } }
//!       flaky:                           # a list answers call after call (each retry is a call);
//!         - { StatusCode: 500, ErrorMessage: boom }   # the last entry repeats
//!         - { StatusCode: 200, Client: { id: 7 } }
//!       slow: { delay: 10s, envelope: { StatusCode: 200, Client: {} } }  # takes 10s of virtual time
//!     expect:
//!       status: succeeded                # the default; write `failed` for failure tests
//!       error: "timed out"               # text the run's or a step's error contains
//!       steps:
//!         client: { status: succeeded, attempts: 1, envelope: { Client: { name: Contoso } } }
//!         site: { envelope_equals: { StatusCode: 200, OriginalStatusCode: 201, ErrorMessage: "", Site: { id: 3 } } }
//!         user: skipped                  # short for { status: skipped }
//!         ticket: { params: { Summary: New client }, error: "..." }
//!       outputs: { client_id: 7, site_id: "${{ value > 0 }}" }
//!       calls:
//!         halopsa.client.create: { times: 1, with: { Name: Contoso } }
//!         halopsa.user.delete: 0
//!       sandbox:                         # the sandbox after the run
//!         - { entity: client, where: { name: Contoso }, exists: true }
//!         - { entity: site, where: { client_id: 7 }, count: 1 }
//!       waits: [1s, 2s]                  # every wait on the virtual clock, in order
//!       assert:
//!         - "${{ outputs.client_id == steps.client.Client.id }}"
//! ```
//!
//! - **Mocks** are keyed by step id; a node id (`halopsa.client.create:`) mocks every step that
//!   runs that node (a step's own mock wins). An envelope may leave out `StatusCode` (200),
//!   `OriginalStatusCode` (200, or 0 when StatusCode is not 200) and the output key (the node's,
//!   holding `{}`). Strings in mock envelopes may hold `${{ }}` reading `params` (the call's
//!   parameters), `call` (1 for the first use of this mock), `step` and `node`.
//! - **Steps that are not mocked run for real**: the node's component, through the real
//!   runtime, against the case's own sandbox over HTTP and OAuth. A case without `sandbox:`
//!   starts a seeded sandbox the first time it needs one.
//! - **Time is virtual.** Every case has its own virtual clock for retry backoff, timeouts and
//!   mock delays: five retries with exponential backoff finish at once, and `waits` (or
//!   `${{ clock.waits }}`) shows what was waited.
//! - **Matching.** `envelope`, `outputs`, `params`, `with` and `where` match a subset: the keys
//!   written must be there with matching values, other keys are ignored; lists match item by
//!   item and must have the same length. `envelope_equals` matches exactly. Numbers compare by
//!   value. The `envelope` of a `for_each` step is the list of its item envelopes.
//! - **Checks.** A value that is one `${{ ... }}` is evaluated with `value` (the actual value
//!   at that place): a true/false result is the verdict, any other result is the expected value.
//!   Checks (and `assert`) can read `status`, `error`, `outputs`, `steps.<id>` (the envelope, as
//!   in workflows), `results.<id>` (`status`, `attempts`, `error`, `params`, `node`), `inputs`,
//!   `env`, `calls` (each `{step, node, params, envelope, mocked}`) and `clock`
//!   (`elapsed` and `waits`, in seconds).
//! - **calls** are counted per node id (every call, retries included) or per step id; `with`
//!   as a mapping must match every call, as a list one entry per call in order.
//! - **Failures** name the place in the test file (`file:line:column`), show the line with a
//!   caret, then what was expected, what came, and a `- expected` / `+ actual` line per path.
//!   A test file that cannot be read, a workflow that does not validate, or inputs that do not
//!   fit fail the cases concerned with the rendered diagnostic.
//! - `skip: true` (or a reason) reports a case as skipped without running it.
//!
//! # Running
//!
//! [`run_tests`] finds `*.test.yaml` (and `*.test.yml`) under the given files and folders
//! (recursively, skipping hidden folders, `target` and `node_modules`), validates each workflow
//! against the node catalog, and runs the cases in parallel, at most [`TestOptions::jobs`] at a
//! time. [`TestReport::render`] is the human output (one line per case, failure details,
//! then `N passed, M failed`); [`junit_xml`] the JUnit XML; [`workflow_schema`],
//! [`test_schema`] and [`combined_schema`] (both kinds, told apart by `cases:`) the JSON
//! Schemas (draft-07) for editors.
//!
//! Where things are: `spec.rs` reads test files (`yaml.rs`: psaflow-workflow's positioned
//! YAML with the test files' wording), `invoker.rs` is what a case's workflow runs against
//! (mocks, recording, the case's sandbox and runtime),
//! `runner.rs` discovers, schedules and checks, `matching.rs` compares values, `expr.rs`
//! evaluates `${{ }}`, `report.rs` and `junit.rs` report, `schema.rs` builds the schemas.

// The JSON Schemas are written as nested `json!` literals.
#![recursion_limit = "256"]

mod invoker;
mod junit;
mod matching;
mod report;
mod runner;
mod schema;
pub mod shape;
mod spec;
mod yaml;

pub use invoker::{Call, RuntimeFactory};
pub use junit::{junit_report, junit_xml};
pub use report::{CaseReport, Failure, FailureKind, Outcome, TestReport};
pub use runner::{
    CaseObserver, TestOptions, default_jobs, discover, is_test_file, run_files, run_tests,
};
pub use schema::{combined_schema, test_schema, workflow_schema};
