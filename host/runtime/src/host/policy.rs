//! Per-invocation call policy: the one place that decides whether a node's API call is sent.
//! A call goes out only when the node declared it (method + path prefix, see
//! `psaflow_core::Capability`) and the invocation is under its request cap. Every decision is
//! counted, so the envelope and the run report can say what was refused and how many DELETEs
//! were sent.

use psaflow_core::{CallCounts, Capability, Method};
use std::sync::Arc;

/// Default most requests one invocation may send (a get-many of 100,000 HaloPSA records).
pub const DEFAULT_REQUEST_CAP: u32 = 1_000;

/// Who is calling, what it may call, and what it did.
#[derive(Debug, Clone)]
pub struct CallPolicy {
    /// Shared with the catalog: made once per node, not per invocation.
    node: Arc<str>,
    capabilities: Arc<[Capability]>,
    request_cap: u32,
    pub counts: CallCounts,
    /// The refused calls, `METHOD /path`, in order (the first few are named in the envelope).
    pub refused: Vec<String>,
    /// The request cap stopped the node.
    pub cap_reached: bool,
}

impl CallPolicy {
    pub fn new(
        node: impl Into<Arc<str>>,
        capabilities: impl Into<Arc<[Capability]>>,
        request_cap: u32,
    ) -> Self {
        Self {
            node: node.into(),
            capabilities: capabilities.into(),
            request_cap,
            counts: CallCounts::default(),
            refused: Vec::new(),
            cap_reached: false,
        }
    }

    /// The node's id, shared.
    pub fn node(&self) -> Arc<str> {
        self.node.clone()
    }

    /// While a node describes itself it may call nothing.
    pub fn describing(node: &str) -> Self {
        Self::new(node, Vec::<Capability>::new(), 0)
    }

    /// Decides one call; `Err` is the message of the transport's `denied` error.
    pub fn admit(&mut self, method: Method, path: &str) -> Result<(), String> {
        let method_name = method.to_string();
        if !self
            .capabilities
            .iter()
            .any(|c| c.allows(&method_name, path))
        {
            self.counts.refused_calls += 1;
            self.refused.push(format!("{method_name} {path}"));
            let declared = if self.capabilities.is_empty() {
                "no API calls".to_string()
            } else {
                self.capabilities
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(format!(
                "{} may not call {method_name} {path}: it declares {declared}",
                self.node
            ));
        }
        if self.counts.requests >= self.request_cap {
            self.counts.refused_calls += 1;
            self.cap_reached = true;
            return Err(format!(
                "{} reached the request cap of {} requests per invocation",
                self.node, self.request_cap
            ));
        }
        self.counts.requests += 1;
        if method == Method::Delete {
            self.counts.deletes_sent += 1;
        }
        Ok(())
    }

    /// The envelope message when the host refused calls, naming the node and the calls.
    pub fn refusal_message(&self) -> Option<String> {
        if self.cap_reached {
            return Some(format!(
                "{} exceeded the request cap of {} requests per invocation; the host refused further calls (raise it with --request-cap if the node really needs more)",
                self.node, self.request_cap
            ));
        }
        let first = self.refused.first()?;
        let more = match self.refused.len() {
            1 => String::new(),
            n => format!(" and {} more call(s) outside its declaration", n - 1),
        };
        Some(format!(
            "the host refused {first}{more}: {} does not declare it (declared: {})",
            self.node,
            if self.capabilities.is_empty() {
                "no API calls".to_string()
            } else {
                self.capabilities
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(cap: u32) -> CallPolicy {
        CallPolicy::new(
            "acme.client.get",
            vec![Capability {
                method: "GET".into(),
                path_prefix: "/Client".into(),
            }],
            cap,
        )
    }

    #[test]
    fn declared_calls_pass_and_are_counted() {
        let mut p = policy(10);
        assert!(p.admit(Method::Get, "/Client/1").is_ok());
        assert_eq!(p.counts.requests, 1);
        assert_eq!(p.refusal_message(), None);
    }

    #[test]
    fn undeclared_calls_are_refused_named_and_counted() {
        let mut p = policy(10);
        let err = p.admit(Method::Delete, "/Client/1").unwrap_err();
        assert!(
            err.contains("acme.client.get may not call DELETE /Client/1"),
            "{err}"
        );
        assert!(p.admit(Method::Get, "/Users").is_err());
        assert_eq!(p.counts.refused_calls, 2);
        assert_eq!(p.counts.deletes_sent, 0, "a refused DELETE is not sent");
        let msg = p.refusal_message().unwrap();
        assert!(msg.contains("DELETE /Client/1 and 1 more"), "{msg}");
        assert!(msg.contains("declared: GET /Client"), "{msg}");
    }

    #[test]
    fn request_cap_stops_a_runaway_node() {
        let mut p = policy(2);
        assert!(p.admit(Method::Get, "/Client").is_ok());
        assert!(p.admit(Method::Get, "/Client").is_ok());
        let err = p.admit(Method::Get, "/Client").unwrap_err();
        assert!(err.contains("request cap of 2"), "{err}");
        assert!(p.refusal_message().unwrap().contains("request cap of 2"));
    }

    #[test]
    fn deletes_sent_are_counted_by_method() {
        let mut p = CallPolicy::new(
            "acme.client.tidy",
            vec![Capability {
                method: "DELETE".into(),
                path_prefix: "/Client".into(),
            }],
            10,
        );
        p.admit(Method::Delete, "/Client/3").unwrap();
        assert_eq!(p.counts.deletes_sent, 1);
    }
}
