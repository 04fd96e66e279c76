//! Host side of every connector's `transport` interface (`psaflow:halopsa/transport`,
//! `psaflow:connectwise/transport`, ...). Linked dynamically by import name, so a new connector
//! needs no code here: each package's `send` takes the same request record and returns the same
//! result, and the node's own connection (chosen by the runtime from the node's connector) sits
//! in its `NodeState`. Every call passes the node's `CallPolicy` first.

use super::NodeState;
use anyhow::{anyhow, bail};
use psaflow_core::calls::outcome_of;
use psaflow_core::{ApiRequest, ApiResponse, Method, TransportError};
use std::time::Instant;
use wasmtime::component::{Linker, Type, Val, types::ComponentFunc};

/// Defines `send` of the transport interface `import` (e.g. `psaflow:halopsa/transport@0.1.0`).
pub fn link(linker: &mut Linker<NodeState>, import: &str) -> anyhow::Result<()> {
    let mut instance = linker
        .instance(import)
        .map_err(|e| anyhow!("linking {import}: {e}"))?;
    instance.func_new_async("send", |mut store, ty: ComponentFunc, params, results| {
        Box::new(async move {
            let [request] = params else {
                return Err(wasmtime::Error::msg("transport send takes one request"));
            };
            let request = request_from_val(request)
                .map_err(|e| wasmtime::Error::msg(format!("{e:#}")))?;
            let admitted = store
                .data_mut()
                .policy
                .admit(request.method, &request.path);
            let outcome = match admitted {
                Err(message) => {
                    store.data().calls.refuse();
                    Err(TransportError::Denied(message))
                }
                Ok(()) => match store.data().transport.clone() {
                    None => {
                        store.data().calls.refuse();
                        Err(TransportError::Denied("no API calls are possible here".into()))
                    }
                    Some(transport) => {
                        // Recorded before it is sent, so a call cut off stays of unknown outcome.
                        let method = request.method;
                        let calls = store.data().calls.clone();
                        match calls.start(method, &request.path) {
                            // The invocation was cut off (a step's timeout) while the node ran
                            // on: it may send nothing more (see `spawned.rs`).
                            Err(_closed) => Err(TransportError::Denied(
                                "the invocation was cut off".into(),
                            )),
                            Ok(call) => {
                                let started = Instant::now();
                                let outcome = transport.send(request).await;
                                store.data_mut().host_time += started.elapsed();
                                // The epoch ticks that passed while the API answered are not
                                // the node's: without this the first check back in the guest
                                // would find its deadline long gone and yield at once, sending
                                // the node to the back of the executor's queue for nothing.
                                store.set_epoch_deadline(1);
                                calls.finish(
                                    call,
                                    match &outcome {
                                        Ok(resp) => outcome_of(method, Some(resp.status), false),
                                        Err(e) => outcome_of(
                                            method,
                                            None,
                                            matches!(e, TransportError::UnknownOutcome(_)),
                                        ),
                                    },
                                );
                                outcome
                            }
                        }
                    }
                },
            };
            let result_type = ty.results().next();
            results[0] = result_to_val(outcome, result_type.as_ref());
            Ok(())
        })
    })
    .map_err(|e| anyhow!("linking {import}.send: {e}"))?;
    Ok(())
}

fn field<'a>(fields: &'a [(String, Val)], name: &str) -> anyhow::Result<&'a Val> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .ok_or_else(|| anyhow!("the transport request has no field `{name}`"))
}

fn request_from_val(val: &Val) -> anyhow::Result<ApiRequest> {
    let Val::Record(fields) = val else {
        bail!("the transport request is not a record");
    };
    let method = match field(fields, "method")? {
        Val::Enum(name) => match name.as_str() {
            "get" => Method::Get,
            "post" => Method::Post,
            "put" => Method::Put,
            "patch" => Method::Patch,
            "delete" => Method::Delete,
            other => bail!("unknown HTTP method `{other}`"),
        },
        _ => bail!("the request method is not an enum"),
    };
    let Val::String(path) = field(fields, "path")? else {
        bail!("the request path is not text");
    };
    let Val::List(pairs) = field(fields, "query")? else {
        bail!("the request query is not a list");
    };
    let mut query = Vec::with_capacity(pairs.len());
    for pair in pairs {
        match pair {
            Val::Tuple(kv) => match kv.as_slice() {
                [Val::String(k), Val::String(v)] => query.push((k.clone(), v.clone())),
                _ => bail!("a query parameter is not a pair of strings"),
            },
            _ => bail!("a query parameter is not a pair"),
        }
    }
    let body = match field(fields, "body")? {
        Val::Option(None) => None,
        Val::Option(Some(b)) => match b.as_ref() {
            Val::String(s) => Some(s.clone()),
            _ => bail!("the request body is not text"),
        },
        _ => bail!("the request body is not an option"),
    };
    Ok(ApiRequest {
        method,
        path: path.clone(),
        query,
        body,
    })
}

/// The WIT `result<response, transport-error>`. An error case the node's package does not
/// have (an older WIT) is given as `unreachable`, which every package has.
fn result_to_val(outcome: Result<ApiResponse, TransportError>, ty: Option<&Type>) -> Val {
    match outcome {
        Ok(response) => {
            let mut fields = vec![
                ("status".into(), Val::U16(response.status)),
                ("body".into(), Val::String(response.body)),
            ];
            // Packages whose response has `link` (ConnectWise's paging header) get it.
            if response_has_field(ty, "link") {
                let link = response.link.map(|l| Box::new(Val::String(l)));
                fields.push(("link".into(), Val::Option(link)));
            }
            Val::Result(Ok(Some(Box::new(Val::Record(fields)))))
        }
        Err(err) => {
            let (case, message) = error_case(&err);
            let known = error_cases(ty);
            let case = if known.is_empty() || known.iter().any(|c| c == case) {
                case
            } else {
                "unreachable"
            };
            Val::Result(Err(Some(Box::new(Val::Variant(
                case.into(),
                Some(Box::new(Val::String(message))),
            )))))
        }
    }
}

/// Whether the package's response record declares `name`.
fn response_has_field(ty: Option<&Type>, name: &str) -> bool {
    let Some(Type::Result(result)) = ty else {
        return false;
    };
    match result.ok() {
        Some(Type::Record(record)) => record.fields().any(|f| f.name == name),
        _ => false,
    }
}

fn error_case(err: &TransportError) -> (&'static str, String) {
    match err {
        TransportError::Unreachable(m) => ("unreachable", m.clone()),
        TransportError::Timeout(m) => ("timeout", m.clone()),
        TransportError::Denied(m) => ("denied", m.clone()),
        TransportError::UnknownOutcome(m) => ("unknown-outcome", m.clone()),
    }
}

fn error_cases(ty: Option<&Type>) -> Vec<String> {
    let Some(Type::Result(result)) = ty else {
        return Vec::new();
    };
    match result.err() {
        Some(Type::Variant(variant)) => variant.cases().map(|c| c.name.to_string()).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_record_is_read_by_field_name() {
        let val = Val::Record(vec![
            ("method".into(), Val::Enum("delete".into())),
            ("path".into(), Val::String("/Client/1".into())),
            (
                "query".into(),
                Val::List(vec![Val::Tuple(vec![
                    Val::String("a".into()),
                    Val::String("b".into()),
                ])]),
            ),
            ("body".into(), Val::Option(None)),
        ]);
        let req = request_from_val(&val).unwrap();
        assert_eq!(req.method, Method::Delete);
        assert_eq!(req.path, "/Client/1");
        assert_eq!(req.query, [("a".to_string(), "b".to_string())]);
        assert_eq!(req.body, None);
    }

    #[test]
    fn denied_is_a_transport_error_case() {
        let val = result_to_val(Err(TransportError::Denied("no".into())), None);
        let Val::Result(Err(Some(err))) = val else {
            panic!("not an error: {val:?}")
        };
        assert_eq!(
            *err,
            Val::Variant("denied".into(), Some(Box::new(Val::String("no".into()))))
        );
    }
}
