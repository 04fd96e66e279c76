//! The node components and WIT package built into psaflow by build.rs.

include!(concat!(env!("OUT_DIR"), "/builtin_components.rs"));
