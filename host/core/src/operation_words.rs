//! Words people type for an operation a resource does not have, and what resources offer
//! instead. Only the "did you mean" hint of an unknown node id reads them (see
//! `names::suggest`); nothing about a node is decided from them, so they may name operations
//! in host code (tests/host_names.rs exempts this file).

/// Operation words a user may try, and what a resource offers instead, best first: an agent is
/// deactivated, never deleted; a list is `get-many`.
pub(crate) const ALTERNATIVES: &[(&str, &[&str])] = &[
    ("delete", &["deactivate", "archive", "remove"]),
    ("remove", &["delete", "deactivate", "archive"]),
    ("deactivate", &["delete", "archive"]),
    ("disable", &["deactivate", "delete"]),
    ("archive", &["deactivate", "delete"]),
    ("list", &["get-many", "search"]),
    ("search", &["get-many", "list"]),
    ("find", &["get-many", "get"]),
    ("add", &["create"]),
    ("new", &["create"]),
    ("insert", &["create"]),
    ("edit", &["update"]),
    ("modify", &["update"]),
    ("set", &["update"]),
    ("read", &["get"]),
    ("fetch", &["get"]),
];
