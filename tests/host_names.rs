//! Keeps the host generic: no host code outside host/connectors/ names a PSA resource or a
//! node operation. Node semantics come from each node's `describe`, entities from the
//! connector crates; a name in host code would be a guess that breaks for the next node.
//!
//! What is checked: string literals in non-test Rust code under host/ (connectors excluded,
//! comments and `#[cfg(test)]` modules skipped) that
//! - are exactly a resource name (`"client"`, `"tickets"`, ...) or an operation name
//!   (`"create"`, `"get-many"`, ...), as in `operation == "delete"` or an entity list; or
//! - contain a node id or `<resource>.<operation>` (`halopsa.client.get`, `user.create`).
//!
//! Prose in messages ("client secret", "other users") is not a name and is not flagged.

use std::path::Path;

const RESOURCES: &[&str] = &[
    "client", "clients", "site", "sites", "ticket", "tickets", "user", "users", "agent", "agents",
    "team", "teams", "member", "members", "contact", "contacts",
];
const OPERATIONS: &[&str] = &[
    "create", "get", "get-many", "update", "delete", "deactivate", "close",
];

/// Documented exceptions: (file, literal, why).
const EXCEPTIONS: &[(&str, &str, &str)] = &[
    // Effect names are the node-info contract's vocabulary, not operation names.
    ("host/core/src/capability.rs", "create", "effect name"),
    ("host/core/src/capability.rs", "update", "effect name"),
    ("host/core/src/capability.rs", "delete", "effect name"),
    ("host/core/src/capability.rs", "deactivate", "effect name"),
    ("host/store/src/model.rs", "create", "effect name"),
    ("host/store/src/model.rs", "update", "effect name"),
    ("host/store/src/model.rs", "delete", "effect name"),
    ("host/store/src/model.rs", "deactivate", "effect name"),
    // HTTP method names of the transport record (`method.get`, `method.delete`).
    ("host/runtime/src/host/transport.rs", "get", "HTTP method"),
    ("host/runtime/src/host/transport.rs", "delete", "HTTP method"),
];

/// Files whose literals are sample data or workloads, never decisions about a node.
const EXEMPT_FILES: &[(&str, &str)] = &[
    (
        "host/store/src/conformance.rs",
        "sample runs and records that every store backend must round-trip",
    ),
    (
        "host/psaflow/src/cli/bench.rs",
        "the benchmark's workload is one concrete node",
    ),
    (
        "host/psaflow/src/cli/bench_pacing.rs",
        "the pacing benchmark's workload is one concrete node",
    ),
    (
        "host/psaflow/src/request_economy/scenarios.rs",
        "the request-economy bench's large-list scenarios call concrete list nodes on data it seeds",
    ),
    (
        "host/core/src/operation_words.rs",
        "words users type for a missing operation, read only to word a 'did you mean' hint",
    ),
    (
        "host/psaflow/src/soak.rs",
        "the soak's workload creates concrete records and checks them in the sandbox",
    ),
];

fn is_name(literal: &str) -> bool {
    let trimmed = literal.trim();
    if RESOURCES.contains(&trimmed) || OPERATIONS.contains(&trimmed) {
        return true;
    }
    // `<resource>.<operation>` anywhere, e.g. inside a node id or an example.
    let bytes = literal.to_ascii_lowercase();
    RESOURCES.iter().any(|r| {
        OPERATIONS.iter().any(|o| {
            let needle = format!("{r}.{o}");
            bytes.match_indices(&needle).any(|(i, _)| {
                let before = bytes[..i].chars().last();
                let after = bytes[i + needle.len()..].chars().next();
                !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            })
        })
    })
}

/// String literals of one line of code (comments removed), good enough for this source base.
fn literals(line: &str) -> Vec<String> {
    let code = match line.trim_start().starts_with("//") {
        true => return Vec::new(),
        false => line,
    };
    let mut out = Vec::new();
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => break,
            '\'' => {
                // A char literal such as '"' or a lifetime: skip to the closing quote if short.
                let rest: String = chars.clone().take(3).collect();
                if rest.starts_with("\\\"'") {
                    chars.nth(2);
                } else if rest.chars().nth(1) == Some('\'') {
                    chars.nth(1);
                }
            }
            '"' => {
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                s.push(n);
                            }
                        }
                        '"' => break,
                        c => s.push(c),
                    }
                }
                out.push(s);
            }
            _ => {}
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            // Connector crates may name what they connect to; tests may use real node ids.
            if name == "connectors" || name == "tests" || name == "target" {
                continue;
            }
            rust_files(&path, out);
        } else if name.ends_with(".rs") && name != "build.rs" {
            out.push(path);
        }
    }
}

#[test]
fn no_host_code_outside_the_connectors_names_a_resource_or_operation() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    rust_files(&repo.join("host"), &mut files);
    assert!(files.len() > 20, "found the host sources ({})", files.len());
    let mut found = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(&repo)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if EXEMPT_FILES.iter().any(|(f, _)| *f == rel) {
            continue;
        }
        let source = std::fs::read_to_string(&file).unwrap();
        let code = source.split("#[cfg(test)]").next().unwrap();
        for (n, line) in code.lines().enumerate() {
            for literal in literals(line) {
                let excepted = EXCEPTIONS
                    .iter()
                    .any(|(f, l, _)| *f == rel && *l == literal.trim());
                if is_name(&literal) && !excepted {
                    found.push(format!("{rel}:{}: \"{literal}\"", n + 1));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "host code names resources or operations (move it into a connector crate or read it from the node's describe):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_catches_names_and_lets_prose_through() {
    assert!(is_name("delete"));
    assert!(is_name(" tickets "));
    assert!(is_name("halopsa.client.get"));
    assert!(is_name("try `node: halopsa.user.create`"));
    assert!(!is_name("the client secret is missing"));
    assert!(!is_name("writable by other users"));
    assert!(!is_name("halopsa.client.getter"));
    assert_eq!(
        literals(r#"if op == "delete" { f("a \"b\"", 'x') } // "create""#),
        ["delete", "a \"b\""]
    );
}
