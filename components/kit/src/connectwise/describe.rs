//! Building a node's self-description (`describe`).

use crate::prelude::*;
use super::types::{Capability, Effect, NodeInfo};

/// `METHOD /path-prefix`, the form used in node sources: `capability("PATCH", "/system/members")`.
pub fn capability(method: &str, path_prefix: &str) -> Capability {
    Capability {
        method: method.to_owned(),
        path_prefix: path_prefix.to_owned(),
    }
}

/// A node-info record. `idempotent` follows the effect (everything but a create), which holds
/// for every ConnectWise node: updates and deactivations set fields to given values.
pub fn node_info(
    output_key: &str,
    effect: Effect,
    natural_key: &[&str],
    capabilities: Vec<Capability>,
) -> NodeInfo {
    NodeInfo {
        output_key: output_key.to_owned(),
        effect,
        idempotent: !matches!(effect, Effect::Create),
        natural_key: natural_key.iter().map(|k| (*k).to_owned()).collect(),
        capabilities,
        param_effects: Vec::new(),
    }
}
