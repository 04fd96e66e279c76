//! JSON Schemas (draft-07) for editors: one for workflow files, built from the node
//! catalog (each node's parameters with type, required-ness and description), and one for test
//! files. `psaflow schema` prints them; YAML language servers read them for completion,
//! hover text and squiggles.
use crate::shape::{self, Shape, Ty};
use psaflow_core::{Catalog, NodeSpec, ParamType};
use serde_json::{Map, Value, json};

// Draft-07: what YAML language servers read best (if/then/else included).
const DRAFT: &str = "http://json-schema.org/draft-07/schema#";

/// `${{ ... }}` as the whole value.
fn expression() -> Value {
    json!({
        "type": "string",
        "pattern": "^\\s*\\$\\{\\{[\\s\\S]*\\}\\}\\s*$",
        "description": "An expression, e.g. ${{ steps.client.Client.id }}; its result is the value."
    })
}

fn duration() -> Value {
    json!({
        "description": "A duration: 500ms, 30s, 2m, 1h, or a number of seconds.",
        "anyOf": [
            {"type": "number", "exclusiveMinimum": 0},
            {"type": "string", "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*(ms|s|sec|secs|seconds|m|min|minutes|h|hours)?\\s*$"}
        ]
    })
}

/// The schema of a parameter value: its type, or an expression, at every level.
fn value_schema(ty: &ParamType) -> Value {
    match ty {
        ParamType::List { item } => json!({
            "anyOf": [{"type": "array", "items": value_schema(item)}, {"$ref": "#/definitions/expression"}]
        }),
        ParamType::Record { fields } => {
            let props: Map<String, Value> = fields
                .iter()
                .map(|f| (f.name.clone(), param_schema(&f.ty, &f.description)))
                .collect();
            let required: Vec<&str> = fields
                .iter()
                .filter(|f| f.required)
                .map(|f| f.name.as_str())
                .collect();
            json!({
                "anyOf": [
                    {"type": "object", "properties": props, "required": required, "additionalProperties": false},
                    {"$ref": "#/definitions/expression"}
                ]
            })
        }
        // Any JSON, expressions included.
        ParamType::Json => json!({}),
        other => json!({"anyOf": [other.json_schema(), {"$ref": "#/definitions/expression"}]}),
    }
}

fn param_schema(ty: &ParamType, description: &str) -> Value {
    let mut schema = value_schema(ty);
    let text = if description.is_empty() {
        format!("{ty}")
    } else {
        format!("{description} ({ty})")
    };
    schema
        .as_object_mut()
        .expect("schemas are objects")
        .insert("description".into(), Value::String(text));
    schema
}

/// The `with:` of one node: its parameters, those required, nothing else.
fn with_schema(node: &NodeSpec) -> Value {
    let props: Map<String, Value> = node
        .params
        .iter()
        .map(|p| (p.name.clone(), param_schema(&p.ty, &p.description)))
        .collect();
    let required: Vec<&str> = node
        .params
        .iter()
        .filter(|p| p.required)
        .map(|p| p.name.as_str())
        .collect();
    let mut description = format!("Parameters of {}", node.id);
    if !node.description.is_empty() {
        description.push_str(": ");
        description.push_str(&node.description);
    }
    json!({
        "type": "object",
        "description": description,
        "properties": props,
        "required": required,
        "additionalProperties": false
    })
}

/// JSON Schema for workflow files, with each node of `catalog` and its parameters.
pub fn workflow_schema(catalog: &Catalog) -> Value {
    let nodes: Vec<Value> = catalog
        .iter()
        .map(|n| {
            let mut d = n.description.clone();
            if n.is_destructive() {
                d.push_str(&format!(" DESTRUCTIVE: {}s records.", n.effect));
            }
            for p in n.param_effects.iter().filter(|p| p.effect.is_destructive()) {
                d.push_str(&format!(" DESTRUCTIVE with {}: {}s records.", p.condition(), p.effect));
            }
            json!({"const": n.id, "description": d.trim()})
        })
        .collect();
    let per_node: Vec<Value> = catalog
        .iter()
        .map(|n| {
            json!({
                "if": {"properties": {"node": {"const": n.id}}, "required": ["node"]},
                "then": {"properties": {"with": with_schema(n)}}
            })
        })
        .collect();
    let identifier = "^[A-Za-z_][A-Za-z0-9_]*$";
    json!({
        "$schema": DRAFT,
        "title": "psaflow workflow",
        "description": "A psaflow workflow: steps that each run one HaloPSA node. See `psaflow nodes` for the nodes.",
        "type": "object",
        "required": ["name", "steps"],
        "additionalProperties": false,
        "properties": {
            "name": {"type": "string", "description": "The workflow's name."},
            "description": {"type": "string"},
            "connection": {"$ref": "#/definitions/connection"},
            "env": {
                "type": "array",
                "description": "The environment variables expressions may read as ${{ env.NAME }}; no others are visible. Credentials (names containing SECRET, TOKEN, PASSWORD, KEY, ...) cannot be listed.",
                "uniqueItems": true,
                "items": {
                    "type": "string",
                    "pattern": identifier,
                    "not": {"pattern": credential_pattern()}
                }
            },
            "inputs": {
                "type": "object",
                "description": "Values given when the workflow is run (--input name=value); read as ${{ inputs.name }}.",
                "propertyNames": {"pattern": identifier},
                "additionalProperties": {"$ref": "#/definitions/input"}
            },
            "steps": {"type": "array", "minItems": 1, "items": {"$ref": "#/definitions/step"}},
            "on_failure": {
                "type": "array",
                "description": "Steps run when the workflow fails, after the failing step (e.g. to undo what succeeded); they read what the earlier steps returned.",
                "items": {"$ref": "#/definitions/step"}
            },
            "finally": {
                "type": "array",
                "description": "Steps run at the end whatever happened.",
                "items": {"$ref": "#/definitions/step"}
            },
            "outputs": {
                "type": "object",
                "description": "Values the run reports, usually expressions such as ${{ steps.client.Client.id }}."
            }
        },
        "definitions": {
            "expression": expression(),
            "duration": duration(),
            "connection": {
                "type": "object",
                "description": "Where the HaloPSA API is. Used only when psaflow runs with --allow-workflow-connection. The secret is never written here, only the name of the variable holding it.",
                "additionalProperties": false,
                "properties": {
                    "api_url": {"type": "string"},
                    "auth_url": {"type": "string"},
                    "tenant": {"type": "string"},
                    "client_id": {"type": "string"},
                    "client_secret_env": {"type": "string", "pattern": "^(HALOPSA|PSAFLOW)_[A-Za-z0-9_]+$", "description": "The environment variable holding the client secret: a HALOPSA_* or PSAFLOW_* variable."},
                    "scope": {"type": "string"}
                }
            },
            "input": {
                "anyOf": [
                    {"enum": ["string", "integer", "number", "boolean", "list", "object", "csv", "json"]},
                    {
                        "type": "object",
                        "additionalProperties": false,
                        "properties": {
                            "type": {"enum": ["string", "integer", "number", "boolean", "list", "object", "csv", "json"]},
                            "required": {"type": "boolean"},
                            "default": {},
                            "description": {"type": "string"}
                        }
                    },
                    {"type": "null"}
                ]
            },
            "retry": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "max_attempts": {"type": "integer", "minimum": 1, "description": "Attempts in total, the first included (default 3)."},
                    "backoff": {"enum": ["exponential", "constant", "fixed"]},
                    "initial_interval": {"$ref": "#/definitions/duration"},
                    "max_interval": {"$ref": "#/definitions/duration"},
                    "multiplier": {"type": "number", "minimum": 1},
                    "retry_on": {
                        "description": "system: StatusCode 500; business: 200 with an ErrorMessage; validation: -1; unknown_outcome: a change that may or may not have been applied (only for nodes that cannot find their own record).",
                        "anyOf": [
                            {"enum": ["system", "business", "validation", "unknown_outcome"]},
                            {"type": "array", "items": {"enum": ["system", "business", "validation", "unknown_outcome"]}}
                        ]
                    }
                }
            },
            "approval": {
                "type": "object",
                "description": "Pause before this step until a person approves it (psaflow approve RUN_ID); the run exits with status 4 meanwhile.",
                "required": ["message"],
                "additionalProperties": false,
                "properties": {
                    "message": {"type": "string"},
                    "timeout": {"$ref": "#/definitions/duration"},
                    "on_timeout": {"enum": ["reject", "approve"]},
                    "approvers": {"type": "array", "items": {"type": "string"}}
                }
            },
            "step": {
                "type": "object",
                "required": ["id"],
                "oneOf": [
                    {"required": ["node"], "not": {"required": ["set"]}},
                    {"required": ["set"], "not": {"anyOf": [{"required": ["node"]}, {"required": ["with"]}]}}
                ],
                "additionalProperties": false,
                "properties": {
                    "id": {"type": "string", "pattern": identifier, "description": "Later steps read this step's envelope as ${{ steps.<id> }}."},
                    "name": {"type": "string"},
                    "node": {"description": "The node to run.", "oneOf": nodes},
                    "set": {
                        "type": "object",
                        "minProperties": 1,
                        "description": "Named values computed from expressions, without a node; read as ${{ steps.<id>.<name> }}.",
                        "propertyNames": {"pattern": identifier}
                    },
                    "approval": {"$ref": "#/definitions/approval"},
                    "with": {"type": "object", "description": "The node's parameters."},
                    "for_each": {
                        "description": "Run once per item; the item is ${{ item }}.",
                        "anyOf": [{"type": "array"}, {"$ref": "#/definitions/expression"}]
                    },
                    "concurrency": {"type": "integer", "minimum": 1},
                    "if": {"description": "Run only when true.", "type": ["string", "boolean"]},
                    "retry": {"$ref": "#/definitions/retry"},
                    "timeout": {"$ref": "#/definitions/duration"},
                    "continue_on_error": {"type": "boolean"},
                    "confirm": {"type": "boolean"}
                },
                "allOf": per_node
            }
        }
    })
}

/// JSON Schema for test files (`*.test.yaml`), generated from [`crate::shape`]: the same
/// description the parser takes its keys from.
pub fn test_schema() -> Value {
    let mut definitions = Map::new();
    definitions.insert("expression".into(), expression());
    definitions.insert("duration".into(), duration());
    let root = object_schema(&shape::TEST_FILE, &mut definitions);
    let mut schema = json!({
        "$schema": DRAFT,
        "title": "psaflow workflow test",
        "description": shape::TEST_FILE.description,
    });
    let object = schema.as_object_mut().expect("schemas are objects");
    if let Value::Object(root) = root {
        object.extend(root);
    }
    object.insert("definitions".into(), Value::Object(definitions));
    schema
}

/// A shape's mapping: its properties (with descriptions), required keys and no others.
pub(crate) fn object_schema(shape: &Shape, definitions: &mut Map<String, Value>) -> Value {
    let properties: Map<String, Value> = shape
        .fields
        .iter()
        .map(|f| {
            let mut schema = type_schema(&f.ty, definitions);
            // Beside a `$ref`, draft-07 ignores other keywords: wrap it to keep the description.
            if schema.get("$ref").is_some() {
                schema = json!({"allOf": [schema]});
            }
            if let Value::Object(o) = &mut schema {
                o.insert("description".into(), Value::String(f.description.into()));
            }
            (f.name.to_string(), schema)
        })
        .collect();
    let required: Vec<&str> = shape
        .fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.name)
        .collect();
    let mut schema = json!({
        "type": "object",
        "description": shape.description,
        "properties": properties,
        "additionalProperties": false
    });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

/// The schema of a value of type `ty`; shapes become definitions referenced by name.
fn type_schema(ty: &Ty, definitions: &mut Map<String, Value>) -> Value {
    match ty {
        Ty::Text => json!({"type": "string"}),
        Ty::Bool => json!({"type": "boolean"}),
        Ty::Count => json!({"type": "integer", "minimum": 0}),
        Ty::Duration => json!({"$ref": "#/definitions/duration"}),
        Ty::Expression => json!({"$ref": "#/definitions/expression"}),
        Ty::Scalar => json!({"type": ["string", "number", "boolean", "null"]}),
        Ty::Mapping => json!({"type": "object"}),
        Ty::MappingOrList => json!({"type": ["object", "array"]}),
        Ty::Any => json!({}),
        Ty::Envelope => {
            definitions
                .entry("envelope")
                .or_insert_with(envelope_schema);
            json!({"$ref": "#/definitions/envelope"})
        }
        Ty::Enum(words) => json!({"enum": words}),
        Ty::List(item) => json!({"type": "array", "items": type_schema(item, definitions)}),
        Ty::NonEmptyList(item) => {
            json!({"type": "array", "minItems": 1, "items": type_schema(item, definitions)})
        }
        Ty::MapOf(value) => json!({
            "type": "object",
            "additionalProperties": type_schema(value, definitions)
        }),
        Ty::OneOf(options) => json!({
            "anyOf": options.iter().map(|o| type_schema(o, definitions)).collect::<Vec<_>>()
        }),
        Ty::Object(shape) => {
            if !definitions.contains_key(shape.def) {
                // Inserted first, so a shape that refers back to itself stops here.
                definitions.insert(shape.def.into(), Value::Null);
                let schema = object_schema(shape, definitions);
                definitions.insert(shape.def.into(), schema);
            }
            json!({"$ref": format!("#/definitions/{}", shape.def)})
        }
        Ty::MockAnswer => {
            if !definitions.contains_key("mock_answer") {
                let with_delay = type_schema(&Ty::Object(&shape::MOCK), definitions);
                let envelope = type_schema(&Ty::Envelope, definitions);
                definitions.insert(
                    "mock_answer".into(),
                    json!({"anyOf": [
                        with_delay,
                        {
                            "description": "An envelope (a `delay` goes beside an `envelope:` key).",
                            "allOf": [envelope, {"not": {"required": ["delay"]}}]
                        }
                    ]}),
                );
            }
            json!({"$ref": "#/definitions/mock_answer"})
        }
    }
}

/// A node's envelope as a mock writes it (the contract's shape; not a test-file mapping).
fn envelope_schema() -> Value {
    json!({
        "type": "object",
        "description": "An envelope: StatusCode (default 200), OriginalStatusCode, ErrorMessage, and one output key such as Client.",
        "properties": {
            "StatusCode": {"anyOf": [{"type": "integer"}, {"$ref": "#/definitions/expression"}]},
            "OriginalStatusCode": {"anyOf": [{"type": "integer"}, {"$ref": "#/definitions/expression"}]},
            "ErrorMessage": {"type": "string"}
        }
    })
}

/// One schema for both kinds of file: a document with `cases:` is read as a test file,
/// anything else as a workflow. Point an editor at it for a whole folder of YAML.
pub fn combined_schema(catalog: &Catalog) -> Value {
    let mut definitions = Map::new();
    let mut parts = Vec::new();
    for (name, mut schema) in [
        ("workflow", workflow_schema(catalog)),
        ("test", test_schema()),
    ] {
        let object = schema.as_object_mut().expect("schemas are objects");
        if let Some(Value::Object(defs)) = object.remove("definitions") {
            // The shared definitions (expression, duration) are the same in both.
            definitions.extend(defs);
        }
        object.remove("$schema");
        parts.push((name, schema));
    }
    for (name, schema) in parts {
        definitions.insert(format!("{name}_file"), schema);
    }
    json!({
        "$schema": DRAFT,
        "title": "psaflow workflow or workflow test",
        "description": "A psaflow workflow, or (with `cases:`) a test file for one.",
        "definitions": definitions,
        "if": {"type": "object", "required": ["cases"]},
        "then": {"$ref": "#/definitions/test_file"},
        "else": {"$ref": "#/definitions/workflow_file"}
    })
}

/// A case-insensitive regular expression (ECMA-262, no inline flags) matching names that hold
/// credentials, built from the same list the workflow validation uses.
fn credential_pattern() -> String {
    psaflow_core::credentials::CREDENTIAL_MARKERS
        .iter()
        .map(|marker| {
            marker
                .chars()
                .map(|c| format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase()))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use psaflow_core::ParamSpec;

    fn catalog() -> Catalog {
        let mut c = Catalog::new();
        c.insert(NodeSpec {
            id: "halopsa.site.create".into(),
            resource: "site".into(),
            operation: "create".into(),
            description: "Creates a site.".into(),
            source: "built-in".into(),
            params: vec![
                ParamSpec {
                    name: "Name".into(),
                    wit_name: "name".into(),
                    ty: ParamType::String,
                    required: true,
                    description: "The site's name.".into(),
                },
                ParamSpec {
                    name: "SiteClientId".into(),
                    wit_name: "site-client-id".into(),
                    ty: ParamType::Integer {
                        signed: false,
                        bits: 32,
                    },
                    required: true,
                    description: String::new(),
                },
            ],
            ..NodeSpec::default()
        });
        c
    }

    #[test]
    fn each_node_constrains_its_with_block() {
        let s = workflow_schema(&catalog());
        assert_eq!(s["$schema"], DRAFT);
        let step = &s["definitions"]["step"];
        assert_eq!(
            step["properties"]["node"]["oneOf"][0]["const"],
            "halopsa.site.create"
        );
        let rule = &step["allOf"][0];
        assert_eq!(
            rule["if"]["properties"]["node"]["const"],
            "halopsa.site.create"
        );
        let with = &rule["then"]["properties"]["with"];
        assert_eq!(with["required"], json!(["Name", "SiteClientId"]));
        assert_eq!(with["additionalProperties"], false);
        let id = &with["properties"]["SiteClientId"];
        assert_eq!(id["anyOf"][0]["type"], "integer");
        assert_eq!(id["anyOf"][1]["$ref"], "#/definitions/expression");
        assert_eq!(
            with["properties"]["Name"]["description"],
            "The site's name. (string)"
        );
    }

    #[test]
    fn a_set_step_names_a_value_and_takes_no_with_as_validate_says() {
        let validator = jsonschema::validator_for(&workflow_schema(&catalog())).unwrap();
        let file = |step: Value| json!({"name": "t", "steps": [step]});
        assert!(validator.is_valid(&file(json!({"id": "s", "set": {"a": 1}}))));
        assert!(!validator.is_valid(&file(json!({"id": "s", "set": {}}))));
        assert!(!validator.is_valid(&file(json!({"id": "s", "set": {"a": 1}, "with": {"b": 2}}))));
        assert!(!validator.is_valid(&file(
            json!({"id": "s", "set": {"a": 1}, "node": "halopsa.site.create"})
        )));
    }

    #[test]
    fn the_combined_schema_holds_both_kinds() {
        let s = combined_schema(&catalog());
        let defs = s["definitions"].as_object().unwrap();
        for name in [
            "workflow_file",
            "test_file",
            "step",
            "case",
            "expression",
            "duration",
        ] {
            assert!(defs.contains_key(name), "{name}");
        }
        assert_eq!(defs["workflow_file"]["required"], json!(["name", "steps"]));
        assert!(defs["test_file"].get("definitions").is_none());
        assert_eq!(s["then"]["$ref"], "#/definitions/test_file");
        // The definitions both kinds share are the same, so merging lost nothing.
        assert_eq!(
            workflow_schema(&catalog())["definitions"]["expression"],
            test_schema()["definitions"]["expression"]
        );
        assert_eq!(
            workflow_schema(&catalog())["definitions"]["duration"],
            test_schema()["definitions"]["duration"]
        );
    }

    #[test]
    fn env_names_exclude_credentials() {
        let schema = workflow_schema(&catalog());
        let env = &schema["properties"]["env"];
        assert_eq!(env["type"], "array");
        let pattern = env["items"]["not"]["pattern"].as_str().unwrap();
        assert!(pattern.contains("[Ss][Ee][Cc][Rr][Ee][Tt]"), "{pattern}");
        assert!(pattern.contains("[Kk][Ee][Yy]"), "{pattern}");
    }

    #[test]
    fn every_reference_resolves() {
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        out.push(r.clone());
                    }
                    m.values().for_each(|x| refs(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
                _ => {}
            }
        }
        for schema in [
            workflow_schema(&catalog()),
            test_schema(),
            combined_schema(&catalog()),
        ] {
            let mut found = Vec::new();
            refs(&schema, &mut found);
            assert!(!found.is_empty());
            for r in found {
                let name = r.strip_prefix("#/definitions/").unwrap();
                assert!(
                    schema["definitions"].get(name).is_some(),
                    "{r} is not defined"
                );
            }
        }
    }
}
