//! The node components and WIT packages built into psaflow by build.rs.

include!(concat!(env!("OUT_DIR"), "/builtin_components.rs"));

/// The folder of this checkout's built components, including the test-only ones
/// (components/testing) that are not embedded.
pub const BUILT_COMPONENTS_DIR: &str = env!("PSAFLOW_BUILT_COMPONENTS");
