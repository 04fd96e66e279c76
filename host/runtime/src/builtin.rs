//! The node components and WIT packages built into psaflow by build.rs.

/// One node component embedded in the binary.
pub struct BuiltinComponent {
    /// The crate it was built from.
    pub name: &'static str,
    /// SHA-256 of `bytes` (hex), taken at build time so that start-up does not read them.
    pub digest: &'static str,
    /// The component.
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/builtin_components.rs"));

/// The folder of this checkout's built components, including the test-only ones
/// (components/testing) that are not embedded.
pub const BUILT_COMPONENTS_DIR: &str = env!("PSAFLOW_BUILT_COMPONENTS");
