//! The node components and WIT packages built into psaflow by build.rs.

include!(concat!(env!("OUT_DIR"), "/builtin_components.rs"));
