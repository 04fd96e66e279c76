//! The fewest API requests a psaflow HaloPSA node's step needs against this API: the yardstick
//! `psaflow bench requests` holds every example against.
//!
//! The model reads the step (the node, its parameters), this server's rules and its data. It never
//! looks at how a node is written or at the requests it sent, so a node that sends more than it
//! must shows up as a difference. It lives with the sandbox because it is about the API the
//! sandbox serves: the page cap ([`MAX_PAGE_SIZE`]), lists answered whole without `pageinate`,
//! create and update as one `POST` each.
//!
//! | step | fewest requests |
//! |---|---|
//! | any parameter refused (StatusCode -1) | 0 |
//! | `get` by Id | 1 `GET` |
//! | `get-many`, IncludeActive and IncludeInactive both false | 0 (nothing can match) |
//! | `get-many`, Paginate false, or an agent Email search, or teams | 1 `GET` (a list without `pageinate` is answered whole; `count` cuts it) |
//! | `get-many`, Paginate true | the fewest pages of at most 100 records covering the records delivered, `[(PageNo-1)*PageSize, +delivered)`, at least 1 ([`fewest_pages`]) |
//! | status, ticket type, priority lists | 1 `GET` (bare arrays of every record) |
//! | update, delete, add-note; ticket and team create | 1 (`POST` or `DELETE`; the answer shows the result) |
//! | agent deactivate | 2: `GET /Agent/me`, then the `POST`: deactivating the agent the token acts as would lock the application out, so the node learns who that is first |
//! | client, user, agent create | 2: 1 `GET` listing the records with the create's natural key (name, email), then the `POST`: after a lost answer only a record not in that list can be the one it made, so it is never mistaken for an older record with the same name |
//! | agent create/update with Team or TeamId | 1 `GET` to resolve the team first, plus the above only when the team exists (in the data before the call) |
//! | site create | 1 `GET` listing the sites (the duplicate check, or without it the natural-key listing above), plus the `POST` only when no site matches on the check fields (in the data before the call) |
//!
//! Token requests are not in these numbers: one per run per connection is the minimum (the
//! bench counts them apart). The records a listing delivered are taken from the step's output:
//! the size of the result is fixed by the data and the parameters (the example tests check the
//! result), and only the requests spent getting it are being judged.

use serde_json::{Map, Value};

use crate::Entity;
use crate::Sandbox;
use crate::store::MAX_PAGE_SIZE;

/// The fewest requests one node invocation needs, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minimum {
    /// API requests, token requests not included.
    pub requests: u64,
    /// The rule that gave the number, for people reading the bench.
    pub why: String,
}

impl Minimum {
    fn new(requests: u64, why: impl Into<String>) -> Self {
        Minimum {
            requests,
            why: why.into(),
        }
    }
}

/// What a step needs, decided before the call from the parameters and the data; a listing's
/// page count waits for the number of records it delivered ([`Pending::finish`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending(Need);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Need {
    Fixed(u64, String),
    /// Paginate true: records from `start`, pages of at most the cap.
    Pages {
        start: u64,
    },
}

impl Pending {
    /// The minimum, given the envelope's StatusCode and output.
    pub fn finish(&self, status_code: i32, output: &Value) -> Minimum {
        if status_code == -1 {
            return Minimum::new(0, "parameters refused: nothing to send");
        }
        match &self.0 {
            Need::Fixed(n, why) => Minimum::new(*n, why.clone()),
            Need::Pages { start } => {
                let delivered = listed(output);
                let pages = fewest_pages(*start, *start + delivered, MAX_PAGE_SIZE as u64);
                Minimum::new(
                    pages,
                    format!(
                        "{delivered} records from offset {start} in pages of at most {MAX_PAGE_SIZE}"
                    ),
                )
            }
        }
    }
}

/// The number of records in a get-many output (`{"<plural>": [...], "record_count": N}`).
fn listed(output: &Value) -> u64 {
    output
        .as_object()
        .and_then(|o| o.values().find_map(Value::as_array))
        .map_or(0, |a| a.len() as u64)
}

/// The fewest pages (`page_no`, `page_size` with `page_size <= cap`, page `k` holding records
/// `[(k-1)*size, k*size)`) that together hold records `[start, end)`; 1 when nothing is wanted
/// (one request still learns that). Exact: a shortest path over the offsets still to cover.
pub fn fewest_pages(start: u64, end: u64, cap: u64) -> u64 {
    if end <= start {
        return 1;
    }
    let cap = cap.max(1);
    let Ok(len) = usize::try_from(end - start) else {
        // Beyond memory for the exact search: the bound any cover must meet.
        return (end - start).div_ceil(cap);
    };
    // best[i]: fewest pages covering [start + i, end).
    let mut best = vec![u64::MAX; len + 1];
    best[len] = 0;
    for i in (0..len).rev() {
        let offset = start + i as u64;
        for size in 1..=cap {
            let reach = ((offset / size + 1) * size).min(end);
            let rest = best[usize::try_from(reach - start).unwrap_or(len)];
            if rest != u64::MAX {
                best[i] = best[i].min(rest + 1);
            }
        }
    }
    best[0]
}

fn param<'a>(params: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    params.get(name).filter(|v| !v.is_null())
}

fn flag(params: &Map<String, Value>, name: &str, default: bool) -> bool {
    match param(params, name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim().parse().unwrap_or(default),
        _ => default,
    }
}

fn number(params: &Map<String, Value>, name: &str) -> Option<i64> {
    match param(params, name)? {
        // HaloPSA writes ids as decimals (`21.0`); a whole decimal is that integer.
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0)
                .and_then(|f| format!("{f:.0}").parse().ok())
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text(params: &Map<String, Value>, name: &str) -> Option<String> {
    param(params, name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn same_text(a: &Value, b: &str) -> bool {
    a.as_str()
        .is_some_and(|a| a.trim().eq_ignore_ascii_case(b.trim()))
}

fn same_id(a: &Value, b: i64) -> bool {
    match a {
        Value::Number(n) => n.as_f64() == Some(b as f64),
        Value::String(s) => s.trim().parse::<f64>().ok() == Some(b as f64),
        _ => false,
    }
}

impl Sandbox {
    /// What `node` (a `halopsa.*` id) with `params` needs at least, judged on the data as it is
    /// now: call this just before the invocation. `None` for a node the model does not know.
    pub fn minimum_for(&self, node: &str, params: &Map<String, Value>) -> Option<Pending> {
        let rest = node.strip_prefix("halopsa.")?;
        let (resource, operation) = rest.split_once('.')?;
        let fixed = |n: u64, why: &str| Some(Pending(Need::Fixed(n, why.to_owned())));
        match (resource, operation) {
            ("client" | "site" | "ticket" | "user" | "agent" | "team", "get") => {
                fixed(1, "one GET by id")
            }
            ("status" | "tickettype" | "priority", "get-many") => {
                fixed(1, "one GET: the list is a bare array of every record")
            }
            ("team", "get-many") => fixed(1, "one GET: every team in one answer"),
            ("client" | "site" | "ticket" | "user" | "agent", "get-many") => {
                Some(Pending(listing(resource, params)))
            }
            ("agent", "create" | "update") => {
                let team = self.team_need(params);
                match (operation, team) {
                    (_, Some(false)) => fixed(1, "one GET finding the team does not exist"),
                    ("update", None) => fixed(1, "one POST"),
                    ("update", Some(true)) => fixed(2, "one GET resolving the team, one POST"),
                    (_, None) => fixed(2, "one GET listing agents with the email, one POST"),
                    (_, Some(true)) => fixed(
                        3,
                        "one GET resolving the team, one listing agents with the email, one POST",
                    ),
                }
            }
            ("site", "create") => Some(Pending(self.site_create(params))),
            ("client" | "user", "create") => fixed(
                2,
                "one GET listing the records with the create's key, one POST",
            ),
            ("ticket" | "team", "create")
            | ("client" | "site" | "user" | "ticket", "update")
            | ("ticket", "add-note") => fixed(1, "one POST"),
            ("agent", "deactivate") => fixed(
                2,
                "one GET /Agent/me (never the connection's own agent), one POST",
            ),
            ("client" | "site" | "user" | "ticket", "delete") => fixed(1, "one DELETE"),
            _ => None,
        }
    }

    /// `None` without a team; otherwise whether the team named (or numbered) exists.
    fn team_need(&self, params: &Map<String, Value>) -> Option<bool> {
        let teams = || self.records(Entity::Team);
        if let Some(id) = number(params, "TeamId").filter(|id| *id > 0) {
            return Some(teams().iter().any(|t| same_id(&t["id"], id)));
        }
        let name = text(params, "Team")?;
        Some(teams().iter().any(|t| same_text(&t["name"], &name)))
    }

    fn site_create(&self, params: &Map<String, Value>) -> Need {
        let check_fields: Vec<String> = match param(params, "DuplicateCheckFields") {
            Some(Value::Array(fields)) => fields
                .iter()
                .filter_map(Value::as_str)
                .map(|f| f.trim().to_ascii_lowercase())
                .collect(),
            _ => vec!["name".into(), "client_id".into()],
        };
        if !flag(params, "BlockIfDuplicate", true) || check_fields.is_empty() {
            return Need::Fixed(
                2,
                "one GET listing the client's sites with the name (no duplicate check asked), one POST".into(),
            );
        }
        let wanted = |field: &str| -> Option<Value> {
            let p = match field {
                "name" => "Name",
                "client_id" => return number(params, "SiteClientId").map(Value::from),
                "maincontact_name" => "MaincontactName",
                "notes" => "Notes",
                "phonenumber" => "Phonenumber",
                _ => return None,
            };
            Some(Value::String(text(params, p).unwrap_or_default()))
        };
        let duplicate = self.records(Entity::Site).iter().any(|site| {
            check_fields.iter().all(|f| match wanted(f) {
                Some(Value::Number(n)) => {
                    n.as_i64().is_some_and(|id| same_id(&site[f.as_str()], id))
                }
                Some(Value::String(s)) => {
                    same_text(&site[f.as_str()], &s)
                        || (s.is_empty()
                            && site[f.as_str()]
                                .as_str()
                                .is_none_or(|v| v.trim().is_empty()))
                }
                _ => false,
            })
        });
        if duplicate {
            Need::Fixed(
                1,
                "one GET finding the duplicate site (nothing to create)".into(),
            )
        } else {
            Need::Fixed(2, "one GET checking for a duplicate, one POST".into())
        }
    }
}

fn listing(resource: &str, params: &Map<String, Value>) -> Need {
    if !flag(params, "IncludeActive", true) && !flag(params, "IncludeInactive", false) {
        return Need::Fixed(
            0,
            "IncludeActive and IncludeInactive false: nothing can match".into(),
        );
    }
    if resource == "agent" && text(params, "Email").is_some() {
        return Need::Fixed(1, "one search GET without pageinate".into());
    }
    if !flag(params, "Paginate", true) {
        return Need::Fixed(
            1,
            "one GET without pageinate: the list is answered whole".into(),
        );
    }
    let at_least_one = |name: &str, default: u64| {
        number(params, name).map_or(default, |n| u64::try_from(n).unwrap_or(0).max(1))
    };
    let page_no = at_least_one("PageNo", 1);
    let page_size = at_least_one("PageSize", 100);
    Need::Pages {
        start: (page_no - 1) * page_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fewest_pages_follow_the_cap_and_alignment() {
        assert_eq!(
            fewest_pages(0, 0, 100),
            1,
            "an empty answer is still one request"
        );
        assert_eq!(fewest_pages(0, 7, 100), 1);
        assert_eq!(fewest_pages(0, 100, 100), 1);
        assert_eq!(fewest_pages(0, 101, 100), 2);
        assert_eq!(fewest_pages(0, 250, 100), 3);
        assert_eq!(fewest_pages(250, 500, 100), 3);
        // A window straddling a 100 boundary cannot be one page of at most 100.
        assert_eq!(fewest_pages(50, 150, 100), 2);
        assert_eq!(fewest_pages(90, 120, 100), 1, "page 4 of 30 holds 90..120");
        assert_eq!(fewest_pages(0, 2000, 1000), 2);
    }

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn finish(p: Option<Pending>, status: i32, output: Value) -> u64 {
        p.expect("a known node").finish(status, &output).requests
    }

    #[tokio::test]
    async fn steps_need_what_the_table_says() {
        let sandbox = Sandbox::start(crate::SandboxOptions::default())
            .await
            .unwrap();
        let agents = |n: usize| json!({"agents": vec![json!({"id": 1}); n], "record_count": n});
        let m = |node: &str, p: Value| sandbox.minimum_for(node, &params(p));
        assert_eq!(
            finish(
                m("halopsa.agent.get-many", json!({"PageSize": 250})),
                200,
                agents(250)
            ),
            3
        );
        assert_eq!(
            finish(
                m("halopsa.agent.get-many", json!({"PageSize": 250})),
                200,
                agents(120)
            ),
            2
        );
        assert_eq!(
            finish(m("halopsa.agent.get-many", json!({})), 200, agents(0)),
            1
        );
        assert_eq!(
            finish(
                m("halopsa.agent.get-many", json!({"Paginate": false})),
                200,
                agents(250)
            ),
            1
        );
        assert_eq!(
            finish(
                m("halopsa.client.get-many", json!({"IncludeActive": false})),
                200,
                json!({})
            ),
            0
        );
        assert_eq!(
            finish(m("halopsa.user.update", json!({"Id": 4})), 200, json!({})),
            1
        );
        assert_eq!(
            finish(m("halopsa.user.update", json!({"Id": 0})), -1, json!({})),
            0
        );
        assert_eq!(
            finish(m("halopsa.user.delete", json!({"Id": 4})), 200, json!({})),
            1
        );
        // The demo data has the teams Service Desk, Projects and Field Engineers.
        assert_eq!(
            finish(
                m("halopsa.agent.create", json!({"Team": " field ENGINEERS"})),
                200,
                json!({})
            ),
            3
        );
        assert_eq!(
            finish(m("halopsa.agent.create", json!({})), 200, json!({})),
            2,
            "the listing of agents with the email, the POST"
        );
        assert_eq!(
            finish(
                m("halopsa.client.create", json!({"Name": "x"})),
                200,
                json!({})
            ),
            2
        );
        assert_eq!(
            finish(
                m("halopsa.agent.create", json!({"Team": "Security"})),
                200,
                json!({})
            ),
            1
        );
        assert_eq!(
            finish(
                m("halopsa.agent.update", json!({"Id": 2, "Name": "x"})),
                200,
                json!({})
            ),
            1
        );
        // A site that already exists is found, not created.
        let existing = sandbox.records(Entity::Site)[0].clone();
        let dup = json!({"Name": existing["name"], "SiteClientId": existing["client_id"]});
        assert_eq!(finish(m("halopsa.site.create", dup), 200, json!({})), 1);
        let new = json!({"Name": "Nowhere", "SiteClientId": 1});
        assert_eq!(
            finish(m("halopsa.site.create", new.clone()), 200, json!({})),
            2
        );
        let mut unchecked = new;
        unchecked["BlockIfDuplicate"] = json!(false);
        assert_eq!(
            finish(m("halopsa.site.create", unchecked), 200, json!({})),
            2
        );
        assert!(m("halopsa.widget.get", json!({})).is_none());
        assert!(m("connectwise.member.get", json!({})).is_none());
    }
}
