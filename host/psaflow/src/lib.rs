//! psaflow as a library, for platforms that embed it: the node runtime, the workflow engine,
//! the HaloPSA transport and the embedded sandbox, plus [`backend`] which picks between a real
//! tenant and the sandbox exactly as the `psaflow` command does.

pub mod backend;
pub mod durable;
pub mod execute;
pub mod invoke_audit;
pub mod percentile;
pub mod request_economy;
pub mod run_hold;
pub mod shared_budget;
pub mod soak;
pub mod worker;

pub use psaflow_core as core;
pub use psaflow_connectwise as connectwise;
pub use psaflow_halopsa as halopsa;
pub use psaflow_halopsa_sandbox as sandbox;
pub use psaflow_runtime as runtime;
pub use psaflow_runtime::Runtime;
pub use psaflow_store as store;
pub use psaflow_workflow as workflow;
