//! The fewest API requests a psaflow ConnectWise node's step needs against this API: the
//! yardstick `psaflow bench requests` holds every example against (the HaloPSA sandbox has the
//! same for its nodes).
//!
//! The model reads the step (the node, its parameters) and this server's rules, never how a
//! node is written or what it sent.
//!
//! | step | fewest requests |
//! |---|---|
//! | any parameter refused (StatusCode -1) | 0 |
//! | member `get` by Id | 1 `GET` |
//! | member or ticket `get-many` | `ceil(delivered / page size)` pages, at least 1: pages of PageSize (default and cap [`MAX_PAGE_SIZE`]) for members, of the cap for tickets; the `Link` header says whether another page exists, so a full last page needs no empty page after it; plus 1 `GET .../count` when more records match (`record_count`) than those pages hold |
//! | member create, update, deactivate; ticket update | 1 (`POST` or `PATCH`; the answer shows the result) |
//!
//! ConnectWise authenticates every request with Basic credentials: no token requests. The
//! records a listing delivered, and how many match in all (`record_count`), are taken from the
//! step's output (both are fixed by the data and the parameters; only the requests spent getting
//! them are judged).
//!
//! Why a listing may need the count request: `record_count` is the number of records matching
//! the conditions (the seed's "Total number of records matching the filter", as for HaloPSA),
//! not the number Count let through. When Count stops the listing on a page that has a
//! successor, the pages read cannot tell how many follow; ConnectWise's answer to that is
//! `GET <list>/count` with the same conditions (`{"count": n}`), one request, cheaper than
//! reading the remaining pages. When the pages read reach the list's end, they tell the total
//! and no count request is needed.

use serde_json::{Map, Value};

use crate::store::MAX_PAGE_SIZE;

/// The fewest requests one node invocation needs, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minimum {
    /// API requests.
    pub requests: u64,
    /// The rule that gave the number, for people reading the bench.
    pub why: String,
}

/// What a step needs; a listing's page count waits for the number of records it delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    /// This many requests, for this reason, whatever the answer.
    Fixed(u64, &'static str),
    /// A listing: the records it delivered, in pages of `page_size`.
    Pages {
        /// Records per request.
        page_size: u64,
    },
}

impl Pending {
    /// The minimum, given the envelope's StatusCode and output.
    pub fn finish(&self, status_code: i32, output: &Value) -> Minimum {
        if status_code == -1 {
            return Minimum {
                requests: 0,
                why: "parameters refused: nothing to send".into(),
            };
        }
        match self {
            Pending::Fixed(n, why) => Minimum {
                requests: *n,
                why: (*why).into(),
            },
            Pending::Pages { page_size } => {
                let delivered = output
                    .as_object()
                    .and_then(|o| o.values().find_map(Value::as_array))
                    .map_or(0, |a| a.len() as u64);
                let pages = delivered.div_ceil(*page_size).max(1);
                let matching = output
                    .get("record_count")
                    .and_then(Value::as_u64)
                    .unwrap_or(delivered);
                if matching > pages * page_size {
                    Minimum {
                        requests: pages + 1,
                        why: format!(
                            "{delivered} records in pages of {page_size}, and a count request for the {matching} matching"
                        ),
                    }
                } else {
                    Minimum {
                        requests: pages,
                        why: format!("{delivered} records in pages of {page_size}"),
                    }
                }
            }
        }
    }
}

/// What `node` (a `connectwise.*` id) with `params` needs at least; `None` for a node the
/// model does not know. Nothing here depends on the data before the call.
pub fn minimum_for(node: &str, params: &Map<String, Value>) -> Option<Pending> {
    let rest = node.strip_prefix("connectwise.")?;
    let cap = MAX_PAGE_SIZE as u64;
    match rest.split_once('.')? {
        ("member", "get") => Some(Pending::Fixed(1, "one GET by id")),
        ("member", "get-many") => {
            let asked = params
                .get("PageSize")
                .and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()));
            Some(Pending::Pages {
                page_size: asked.unwrap_or(cap).clamp(1, cap),
            })
        }
        ("ticket", "get-many") => Some(Pending::Pages { page_size: cap }),
        ("member", "create") => Some(Pending::Fixed(1, "one POST")),
        ("member", "update" | "deactivate") | ("ticket", "update") => {
            Some(Pending::Fixed(1, "one PATCH"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn need(node: &str, params: Value, status: i32, output: Value) -> u64 {
        minimum_for(node, params.as_object().unwrap())
            .expect("a known node")
            .finish(status, &output)
            .requests
    }

    #[test]
    fn listings_need_one_page_per_page_size_and_at_least_one() {
        let members = |n: usize| json!({"members": vec![json!({"id": 1}); n], "record_count": n});
        assert_eq!(
            need("connectwise.member.get-many", json!({}), 200, members(0)),
            1
        );
        assert_eq!(
            need("connectwise.member.get-many", json!({}), 200, members(1000)),
            1
        );
        assert_eq!(
            need("connectwise.member.get-many", json!({}), 200, members(1001)),
            2
        );
        assert_eq!(
            need(
                "connectwise.member.get-many",
                json!({"PageSize": 25}),
                200,
                members(60)
            ),
            3
        );
        // Count cut the list on a page with a successor: the total takes a count request.
        let cut = json!({"members": vec![json!({"id": 1}); 2], "record_count": 6});
        assert_eq!(
            need(
                "connectwise.member.get-many",
                json!({"PageSize": 2}),
                200,
                cut.clone()
            ),
            2
        );
        // The one page read held all six: its records tell the total.
        assert_eq!(need("connectwise.member.get-many", json!({}), 200, cut), 1);
        let tickets = json!({"tickets": vec![json!({"id": 1}); 2500]});
        assert_eq!(
            need("connectwise.ticket.get-many", json!({}), 200, tickets),
            3
        );
    }

    #[test]
    fn changes_need_one_request_and_refused_parameters_none() {
        assert_eq!(
            need(
                "connectwise.ticket.update",
                json!({"Id": 1}),
                200,
                json!({})
            ),
            1
        );
        assert_eq!(
            need(
                "connectwise.member.deactivate",
                json!({"Id": 2}),
                200,
                json!({})
            ),
            1
        );
        assert_eq!(
            need("connectwise.member.create", json!({}), -1, json!({})),
            0
        );
        assert!(minimum_for("connectwise.member.delete", &Map::new()).is_none());
        assert!(minimum_for("halopsa.client.get", &Map::new()).is_none());
    }
}
