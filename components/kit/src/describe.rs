//! A node's self-description: what `describe` returns. The host reads it once, when it loads the
//! node, and decides everything about the node from it (which API calls it may make, whether it
//! is destructive, whether a retry is safe, its output key), never from the node's name.
//!
//! ```ignore
//! fn describe() -> NodeInfo {
//!     describe::node("Site", Effect::Create)
//!         .natural_key(&["Name", "SiteClientId"])
//!         .calls("POST", "/Site")
//!         .calls("GET", "/Site") // the duplicate check
//!         .into()
//! }
//! ```

use crate::prelude::*;
pub use crate::types::{Capability, Effect, NodeInfo, ParamEffect};

/// Starts a declaration: the envelope's output key and what the node changes. Idempotent
/// follows the effect (everything but a create); say otherwise with [`Declaration::idempotent`].
pub fn node(output_key: &str, effect: Effect) -> Declaration {
    Declaration(NodeInfo {
        output_key: output_key.to_string(),
        effect,
        idempotent: !matches!(effect, Effect::Create),
        natural_key: Vec::new(),
        capabilities: Vec::new(),
        param_effects: Vec::new(),
    })
}

/// A node's self-description being built; `.into()` gives the [`NodeInfo`].
#[derive(Debug, Clone)]
pub struct Declaration(NodeInfo);

impl Declaration {
    /// Whether repeating the call with the same input changes nothing more.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.0.idempotent = idempotent;
        self
    }

    /// For creates: the parameters (as users write them) that identify the record made.
    pub fn natural_key(mut self, params: &[&str]) -> Self {
        self.0.natural_key = params.iter().map(|p| p.to_string()).collect();
        self
    }

    /// A parameter value that makes one call do more than the node's effect: `("Inactive",
    /// "true", Effect::Deactivate)` on an update that deactivates when given `Inactive: true`.
    /// `equals` is JSON text.
    pub fn when(mut self, param: &str, equals: &str, effect: Effect) -> Self {
        self.0.param_effects.push(ParamEffect {
            param: param.to_string(),
            equals: equals.to_string(),
            effect,
        });
        self
    }

    /// One API call the node may make: `method` (upper case) on `path_prefix` or below it.
    pub fn calls(mut self, method: &str, path_prefix: &str) -> Self {
        self.0.capabilities.push(Capability {
            method: method.to_string(),
            path_prefix: path_prefix.to_string(),
        });
        self
    }
}

impl From<Declaration> for NodeInfo {
    fn from(declaration: Declaration) -> Self {
        declaration.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotent_follows_the_effect_unless_told() {
        let create: NodeInfo = node("Client", Effect::Create).into();
        assert!(!create.idempotent);
        let update: NodeInfo = node("Client", Effect::Update).into();
        assert!(update.idempotent);
        let told: NodeInfo = node("Note", Effect::Update).idempotent(false).into();
        assert!(!told.idempotent);
    }

    #[test]
    fn declaration_collects_key_and_calls_in_order() {
        let info: NodeInfo = node("Site", Effect::Create)
            .natural_key(&["Name", "SiteClientId"])
            .calls("POST", "/Site")
            .calls("GET", "/Site")
            .into();
        assert_eq!(info.output_key, "Site");
        assert_eq!(info.natural_key, ["Name", "SiteClientId"]);
        let calls: Vec<(&str, &str)> = info
            .capabilities
            .iter()
            .map(|c| (c.method.as_str(), c.path_prefix.as_str()))
            .collect();
        assert_eq!(calls, [("POST", "/Site"), ("GET", "/Site")]);
        assert!(info.param_effects.is_empty());
    }

    #[test]
    fn param_effects_are_declared_in_order() {
        let info: NodeInfo = node("User", Effect::Update)
            .when("Inactive", "true", Effect::Deactivate)
            .into();
        assert_eq!(info.effect, Effect::Update);
        assert_eq!(info.param_effects.len(), 1);
        assert_eq!(info.param_effects[0].param, "Inactive");
        assert_eq!(info.param_effects[0].equals, "true");
        assert_eq!(info.param_effects[0].effect, Effect::Deactivate);
    }
}
