//! The contract shared by psaflow's host crates.
//!
//! Nothing here does I/O. The runtime, the HaloPSA transport, the sandbox and the workflow
//! engine all speak these types, so each can be built, tested and replaced on its own.

pub mod budget;
pub mod calls;
pub mod capability;
pub mod catalog;
pub mod clock;
pub mod credentials;
pub mod dates;
pub mod envelope;
pub mod invoker;
pub mod names;
mod operation_words;
pub mod retry_policy;
pub mod secret;
pub mod transport;
pub mod values;

pub use budget::{RateLimit, RateLimitError, RequestBudget, WindowBudget};
pub use calls::{Ambiguity, CallLog, CallOutcome, CallRecord};
pub use capability::{Capability, Effect, ParamEffect};
pub use catalog::{Catalog, NodeSpec, ParamSpec, ParamType};
pub use clock::{Clock, SystemClock, VirtualClock};
pub use envelope::Envelope;
pub use secret::Secret;
pub use invoker::{BoxFuture, CallCounts, InputCheck, NodeInvoker};
pub use transport::{ApiRequest, ApiResponse, Method, Transport, TransportError};
