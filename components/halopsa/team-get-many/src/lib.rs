//! halopsa.team.get-many: lists teams, optionally those whose name contains Search.
//!
//! Rules (seed 001, "List Teams": resolve team names to IDs):
//! - `GET /Team` with `search` when Search is not blank. The answer may be a bare array or a
//!   `{teams}` / `{record_count, teams}` wrapper. Search is also applied here (contains,
//!   case-insensitive), since an install that ignores the parameter would return every team.
//! - Output `Teams`: `{"teams": [...], "record_count": N}` with ids as integers; `{}` on failure.

#![cfg_attr(not(test), no_std)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("team-get-many");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::http::Query;
use psaflow_kit::paging::{self, Collected, Mode};
use psaflow_kit::{Failure, validate};
use serde_json::Value;

const OUTPUT: &str = "Teams";

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Read)
            .calls("GET", "/Team")
            .into()
    }

    fn run(input: GetManyInput) -> Envelope {
        envelope::respond(OUTPUT, get_many(&input), |_| envelope::empty_object())
    }
}

fn get_many(input: &GetManyInput) -> Result<Done, Failure> {
    let search = validate::optional_text(input.search.as_deref());
    let mut filter = Query::new();
    filter.push_opt("search", search.as_deref());
    let collected = paging::fetch(&paging::TEAMS, &Mode::All { count: None }, &filter)?;
    let status = collected.last_status;
    let items = matching(collected.items, search.as_deref());
    let output = paging::output(
        paging::TEAMS.key,
        Collected {
            record_count: Some(items.len() as u64),
            items,
            ..Collected::default()
        },
    );
    Ok(Done::new(status, output))
}

/// The teams whose name contains `search` (case-insensitive); all of them without a search.
fn matching(items: Vec<Value>, search: Option<&str>) -> Vec<Value> {
    let Some(term) = search.map(str::to_lowercase) else {
        return items;
    };
    items
        .into_iter()
        .filter(|t| {
            t.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.to_lowercase().contains(&term))
        })
        .collect()
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn search_is_applied_locally_too() {
        let teams = vec![json!({"id": 1, "name": "Service Desk"}), json!({"id": 2, "name": "Projects"})];
        assert_eq!(matching(teams.clone(), Some("DESK")), vec![teams[0].clone()]);
        assert_eq!(matching(teams.clone(), None).len(), 2);
    }
}
