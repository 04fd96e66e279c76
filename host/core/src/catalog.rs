//! What a node looks like from outside: its id, description and typed parameters.
//! Built by the runtime from each component's exported input record and WIT docs;
//! read by the CLI (`psaflow nodes`), the workflow validator and the schema generator.

use crate::capability::{Capability, Effect, ParamEffect};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A parameter's type, as the user writes it. Mirrors the WIT type of the record field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ParamType {
    /// A WIT `string`.
    String,
    /// A WIT `bool`.
    Bool,
    /// A signed or unsigned integer of `bits` width.
    Integer {
        /// True for `s8`..`s64`.
        signed: bool,
        /// 8, 16, 32 or 64: the mapping checks values fit before calling the node.
        bits: u8,
    },
    /// A WIT `f32` or `f64`.
    Float,
    /// A WIT `json` alias: any JSON value, passed to the node as JSON text.
    Json,
    /// A WIT `list<...>`; users write a YAML/JSON array.
    List {
        /// The type of every element.
        item: Box<ParamType>,
    },
    /// A nested record (third-party nodes may use them).
    Record {
        /// The record's fields, in WIT order.
        fields: Vec<ParamSpec>,
    },
    /// A WIT enum: one of these names.
    Enum {
        /// The case names as WIT spells them (kebab-case).
        cases: Vec<String>,
    },
}

impl ParamType {
    /// JSON Schema for a value of this type (used by `psaflow schema`).
    pub fn json_schema(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            ParamType::String => json!({"type": "string"}),
            ParamType::Bool => json!({"type": "boolean"}),
            ParamType::Integer { signed, bits } => {
                let (min, max): (i128, i128) = if *signed {
                    (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
                } else {
                    (0, (1i128 << bits) - 1)
                };
                json!({"type": "integer", "minimum": min as f64, "maximum": max as f64})
            }
            ParamType::Float => json!({"type": "number"}),
            ParamType::Json => json!({}),
            ParamType::List { item } => json!({"type": "array", "items": item.json_schema()}),
            ParamType::Record { fields } => {
                let props: serde_json::Map<_, _> = fields
                    .iter()
                    .map(|f| (f.name.clone(), f.ty.json_schema()))
                    .collect();
                let required: Vec<_> = fields
                    .iter()
                    .filter(|f| f.required)
                    .map(|f| f.name.clone())
                    .collect();
                json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
            }
            ParamType::Enum { cases } => json!({"enum": cases}),
        }
    }
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamType::String => write!(f, "string"),
            ParamType::Bool => write!(f, "boolean"),
            ParamType::Integer { .. } => write!(f, "integer"),
            ParamType::Float => write!(f, "number"),
            ParamType::Json => write!(f, "json"),
            ParamType::List { item } => write!(f, "list<{item}>"),
            ParamType::Record { .. } => write!(f, "object"),
            ParamType::Enum { cases } => write!(f, "one of {}", cases.join("|")),
        }
    }
}

/// One parameter of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamSpec {
    /// The name users write: `SiteClientId`.
    pub name: String,
    /// The WIT field name: `site-client-id`.
    pub wit_name: String,
    /// What values the parameter accepts.
    #[serde(rename = "type")]
    pub ty: ParamType,
    /// Required unless the WIT field is an `option<...>`.
    pub required: bool,
    /// From the field's WIT doc comment; empty when the node ships no WIT.
    pub description: String,
}

impl ParamSpec {
    /// The default the node declares for the parameter, as a JSON value of the parameter's type:
    /// the WIT doc comment's `Default <value>` (`Default true.`, `Default 1000;`,
    /// `Default ["name", "client_id"];`, `Default "Note".`), the convention every built-in node
    /// follows. `None` when the description declares none, or only in words (`Default: no cap.`),
    /// or a value that is not of the parameter's type.
    pub fn declared_default(&self) -> Option<serde_json::Value> {
        declared_default(&self.description, &self.ty)
    }

    /// Whether `value` is a value of this parameter's type.
    pub fn accepts(&self, value: &serde_json::Value) -> bool {
        fits(value, &self.ty)
    }
}

/// See [`ParamSpec::declared_default`].
fn declared_default(description: &str, ty: &ParamType) -> Option<serde_json::Value> {
    use serde::Deserialize;
    let mut rest = description;
    while let Some(at) = rest.find("Default ") {
        let starts_sentence = rest[..at]
            .trim_end()
            .chars()
            .last()
            .is_none_or(|c| matches!(c, '.' | ';' | '(' | ','));
        let after = &rest[at + "Default ".len()..];
        rest = after;
        if !starts_sentence {
            continue;
        }
        let after = after.trim_start();
        let mut parser = serde_json::Deserializer::from_str(after);
        let value = serde_json::Value::deserialize(&mut parser)
            .ok()
            .or_else(|| {
                // `Default 25.`: the sentence's full stop reads as a broken decimal.
                let word = after.split_whitespace().next()?;
                serde_json::from_str(word.trim_end_matches(['.', ';', ','])).ok()
            })?;
        return fits(&value, ty).then_some(value);
    }
    None
}

/// Whether `value` is a value of type `ty`.
fn fits(value: &serde_json::Value, ty: &ParamType) -> bool {
    use serde_json::Value;
    match (ty, value) {
        (ParamType::String, Value::String(_))
        | (ParamType::Bool, Value::Bool(_))
        | (ParamType::Float, Value::Number(_))
        | (ParamType::Json, _) => true,
        (ParamType::Integer { .. }, Value::Number(n)) => n.is_i64() || n.is_u64(),
        (ParamType::List { item }, Value::Array(items)) => items.iter().all(|v| fits(v, item)),
        (ParamType::Enum { cases }, Value::String(s)) => cases.contains(s),
        _ => false,
    }
}

/// One node of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeSpec {
    /// `halopsa.client.create`
    pub id: String,
    /// `client`
    pub resource: String,
    /// `create`
    pub operation: String,
    /// From the world's (or the input record's) WIT doc comment.
    pub description: String,
    /// Where the component came from: `built-in` or a file path.
    pub source: String,
    /// The parameters of the node's input record, in WIT order.
    pub params: Vec<ParamSpec>,
    /// The connector whose transport the node imports (`halopsa` for `psaflow:halopsa/transport`);
    /// `None` for a node that makes no API calls.
    pub connector: Option<String>,
    /// The rest is what the node declares about itself (`describe`); the host never guesses it
    /// from the node's name.
    /// The envelope key of the node's output (`Client`).
    pub output_key: String,
    /// What the node changes, as it declared it; decides destructive marking and confirmation.
    pub effect: Effect,
    /// Parameter values that make a call do more than `effect` (`Inactive: true` on an update
    /// deactivates); empty for most nodes and for nodes built before nodes could declare it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub param_effects: Vec<ParamEffect>,
    /// Repeating the call with the same input changes nothing more.
    pub idempotent: bool,
    /// For creates: the parameters that identify the record made (may be empty).
    pub natural_key: Vec<String>,
    /// Every API call the node may make; the runtime refuses any other.
    pub capabilities: Vec<Capability>,
}

impl NodeSpec {
    /// Deletes or deactivates records: its declared effect says so, or it declares a DELETE
    /// call (whatever it calls itself).
    pub fn is_destructive(&self) -> bool {
        self.effect.is_destructive() || self.capabilities.iter().any(|c| c.method == "DELETE")
    }

    /// Whether some parameter value makes a call of this node delete or deactivate, though its
    /// effect alone does not (`user.update` with `Inactive: true`).
    pub fn may_be_destructive(&self) -> bool {
        self.is_destructive() || self.param_effects.iter().any(|p| p.effect.is_destructive())
    }

    /// What one call with `params` does: the node's effect, or the effect of a declared
    /// parameter value the call is given (the most far-reaching when several are).
    pub fn effect_of(&self, params: &serde_json::Map<String, serde_json::Value>) -> Effect {
        self.effect_where(|p| p.is_given(params))
    }

    /// The node's effect, or the furthest-reaching effect of the declared parameter values
    /// `applies` says a call has (a plan also counts values it cannot know yet).
    pub fn effect_where(&self, applies: impl Fn(&ParamEffect) -> bool) -> Effect {
        self.param_effects
            .iter()
            .filter(|p| applies(p))
            .map(|p| p.effect)
            .fold(self.effect, Ord::max)
    }

    /// Whether one call with `params` deletes or deactivates records (see [`Self::effect_of`]).
    pub fn is_destructive_with(&self, params: &serde_json::Map<String, serde_json::Value>) -> bool {
        self.is_destructive() || self.effect_of(params).is_destructive()
    }

    /// The declared capability that allows `method` on `path`, if any.
    pub fn allowed_by(&self, method: &str, path: &str) -> Option<&Capability> {
        self.capabilities.iter().find(|c| c.allows(method, path))
    }

    /// The parameter users call `name` (exact spelling), if the node has one.
    pub fn param(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The message for a parameter this node does not have, with the near name and the list.
    pub fn unknown_param_message(&self, key: &str) -> String {
        let names: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
        if key.trim().is_empty() {
            // `--with =1`: "has no parameter  (did you mean Id?)" would name nothing.
            return format!(
                "a parameter name is empty (nothing before '='); name one of {}'s parameters: {}",
                self.id,
                names.join(", ")
            );
        }
        let hint = crate::names::did_you_mean(key, names.iter().copied());
        format!(
            "{} has no parameter {key}{hint}; its parameters are {}",
            self.id,
            names.join(", ")
        )
    }
}

/// Every node the host can run, by id.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Catalog {
    nodes: BTreeMap<String, NodeSpec>,
}

impl Catalog {
    /// A catalog with no nodes; the runtime fills it as it loads components.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a node; a later node with the same id replaces the earlier one (a `--nodes`
    /// folder may override a built-in node) and the replaced one is returned.
    pub fn insert(&mut self, spec: NodeSpec) -> Option<NodeSpec> {
        self.nodes.insert(spec.id.clone(), spec)
    }

    /// The node with this id (`halopsa.client.create`), if loaded.
    pub fn get(&self, id: &str) -> Option<&NodeSpec> {
        self.nodes.get(id)
    }

    /// Every node, ordered by id.
    pub fn iter(&self) -> impl Iterator<Item = &NodeSpec> {
        self.nodes.values()
    }

    /// Every node id, in order (for "did you mean" hints and listings).
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.nodes.keys().map(String::as_str)
    }

    /// How many nodes are loaded.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when no node is loaded.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

#[cfg(test)]
mod declared_default_tests {
    use super::*;
    use serde_json::json;

    fn param(description: &str, ty: ParamType) -> ParamSpec {
        ParamSpec {
            name: "P".into(),
            wit_name: "p".into(),
            ty,
            required: false,
            description: description.into(),
        }
    }

    fn int() -> ParamType {
        ParamType::Integer {
            signed: true,
            bits: 32,
        }
    }

    #[test]
    fn defaults_are_read_from_the_description_by_type() {
        let list = ParamType::List {
            item: Box::new(ParamType::String),
        };
        let cases = [
            (
                "Include inactive members. Default false.",
                ParamType::Bool,
                Some(json!(false)),
            ),
            (
                "Whether VIP. Default true; false hides it.",
                ParamType::Bool,
                Some(json!(true)),
            ),
            (
                "Members per request. Default 1000; results span pages.",
                int(),
                Some(json!(1000)),
            ),
            (
                "Most tickets. Default 50, so a page returns 50.",
                int(),
                Some(json!(50)),
            ),
            ("Page size. Default 25.", int(), Some(json!(25))),
            (
                "The outcome. Default \"Note\".",
                ParamType::String,
                Some(json!("Note")),
            ),
            (
                "Fields compared. Default [\"name\", \"client_id\"]; [] disables the check.",
                list,
                Some(json!(["name", "client_id"])),
            ),
            ("Most clients. Default: no cap.", int(), None),
            ("Member id; a positive integer.", int(), None),
            ("A flag. Default yes.", ParamType::Bool, None),
            ("Wrong type. Default true.", int(), None),
            ("Unrelated Default 3 mid-sentence.", int(), None),
        ];
        for (description, ty, expected) in cases {
            assert_eq!(
                param(description, ty).declared_default(),
                expected,
                "{description}"
            );
        }
    }
}

#[cfg(test)]
mod param_effect_tests {
    use super::*;
    use serde_json::{Map, Value, json};

    fn update_with_inactive() -> NodeSpec {
        NodeSpec {
            id: "halopsa.user.update".into(),
            effect: Effect::Update,
            param_effects: vec![
                ParamEffect {
                    param: "Inactive".into(),
                    equals: json!(true),
                    effect: Effect::Deactivate,
                },
                ParamEffect {
                    param: "Purge".into(),
                    equals: json!("yes"),
                    effect: Effect::Delete,
                },
            ],
            ..NodeSpec::default()
        }
    }

    fn params(value: Value) -> Map<String, Value> {
        value.as_object().cloned().expect("an object")
    }

    #[test]
    fn a_declared_value_gives_the_call_its_effect() {
        let spec = update_with_inactive();
        assert!(!spec.is_destructive());
        assert!(spec.may_be_destructive());
        assert_eq!(spec.effect_of(&params(json!({"Id": 4}))), Effect::Update);
        assert_eq!(spec.effect_of(&params(json!({"Id": 4, "Inactive": false}))), Effect::Update);
        // Only the declared value: the text "true" is another value.
        assert_eq!(spec.effect_of(&params(json!({"Inactive": "true"}))), Effect::Update);
        let deactivating = params(json!({"Id": 4, "Inactive": true}));
        assert_eq!(spec.effect_of(&deactivating), Effect::Deactivate);
        assert!(spec.is_destructive_with(&deactivating));
        // Several match: the most far-reaching wins, whatever the declaration order.
        let both = params(json!({"Inactive": true, "Purge": "yes"}));
        assert_eq!(spec.effect_of(&both), Effect::Delete);
    }

    #[test]
    fn nodes_without_param_effects_keep_their_effect() {
        let spec = NodeSpec {
            effect: Effect::Deactivate,
            ..NodeSpec::default()
        };
        assert!(spec.may_be_destructive());
        assert_eq!(spec.effect_of(&Map::new()), Effect::Deactivate);
        let read = NodeSpec::default();
        assert!(!read.may_be_destructive());
    }
}
