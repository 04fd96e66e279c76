//! halopsa.priority.get-many: lists the ticket priorities, optionally those whose name contains
//! Search.
//!
//! Rules (reference 2 and 4.7: `GET /Priority` answers a bare array; a priority's `id` is a GUID
//! string and the number tickets use, `priority_id`, is its `priorityid`):
//! - One `GET /Priority`; Search is applied here, a contains match on the name ignoring case
//!   ([`psaflow_kit::lookups`]).
//! - Each priority's `id` in the output is that number (from `priorityid`), so it can be passed
//!   as PriorityId like every other id; HaloPSA's GUID is kept as `guid`. A row without
//!   `priorityid` keeps its own `id`.
//! - Output `Priorities`: `{"priorities": [...], "record_count": N}`; `{}` on failure.

#![cfg_attr(not(test), no_std)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("priority-get-many");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope;
use psaflow_kit::ids;
use psaflow_kit::lookups;
use psaflow_kit::paging::PRIORITIES;
use serde_json::Value;

const OUTPUT: &str = "Priorities";

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Read)
            .calls("GET", PRIORITIES.path)
            .into()
    }

    fn run(input: GetManyInput) -> Envelope {
        let listed = lookups::get_many(&PRIORITIES, input.search.as_deref(), priority_number_as_id);
        envelope::respond(OUTPUT, listed, |_| envelope::empty_object())
    }
}

/// Makes `id` the priority's number (`priorityid`) and keeps a GUID `id` as `guid`.
fn priority_number_as_id(record: Value) -> Value {
    let Value::Object(mut map) = record else {
        return record;
    };
    let Some(number) = map.get("priorityid").and_then(ids::read_id) else {
        return Value::Object(map);
    };
    if let Some(guid) = map.remove("id")
        && ids::read_id(&guid).is_none()
        && !map.contains_key("guid")
    {
        map.insert("guid".to_string(), guid);
    }
    let mut out = serde_json::Map::new();
    out.insert("id".to_string(), Value::from(number));
    out.extend(map);
    Value::Object(out)
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_priority_number_becomes_the_id_and_the_guid_is_kept() {
        let row = json!({"id": "5b1f0e7a-0000-4000-8000-000000000003", "priorityid": 3.0, "name": "Medium"});
        assert_eq!(
            priority_number_as_id(row),
            json!({"id": 3, "priorityid": 3.0, "name": "Medium", "guid": "5b1f0e7a-0000-4000-8000-000000000003"})
        );
        // Without priorityid the row keeps its id; a numeric id is never taken for a GUID.
        let plain = json!({"id": 2, "name": "High"});
        assert_eq!(priority_number_as_id(plain.clone()), plain);
        assert_eq!(
            priority_number_as_id(json!({"id": 7, "priorityid": "4", "name": "Low"})),
            json!({"id": 4, "priorityid": "4", "name": "Low"})
        );
    }

    #[test]
    fn output_lists_priorities_by_number_and_searches_names() {
        let rows = vec![
            json!({"id": "g-1", "priorityid": 1, "name": "Critical"}),
            json!({"id": "g-2", "priorityid": 2, "name": "High"}),
        ];
        assert_eq!(
            lookups::output(&PRIORITIES, rows, Some("HIGH"), priority_number_as_id),
            json!({"priorities": [{"id": 2, "priorityid": 2, "name": "High", "guid": "g-2"}], "record_count": 1})
        );
    }

    #[test]
    fn declares_a_read_of_the_priority_list_only() {
        let info = Node::describe();
        assert_eq!(info.output_key, "Priorities");
        assert!(matches!(info.effect, Effect::Read));
        let calls: Vec<(&str, &str)> = info
            .capabilities
            .iter()
            .map(|c| (c.method.as_str(), c.path_prefix.as_str()))
            .collect();
        assert_eq!(calls, [("GET", "/Priority")]);
    }
}
