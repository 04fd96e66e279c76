//! The lookup lists: ticket statuses, ticket types and priorities.
//!
//! HaloPSA answers `GET /Status`, `/TicketType` and `/Priority` with a bare array of every record
//! (a `{<key>: [...]}` wrapper is read too). They are short configuration lists, so they are
//! fetched whole and Search is applied here: a contains match on the name, ignoring case. Sending
//! `search` would not help: these endpoints are not documented to honour it, and HaloPSA ignores
//! parameters it does not know.
//!
//! Output: `{"<key>": [...], "record_count": N}` like every get-many, with `record_count` the
//! number of records returned (after Search) and ids as integers.

use crate::prelude::*;
use serde_json::Value;

use crate::envelope::Done;
use crate::errors::Failure;
use crate::http::Query;
use crate::paging::{self, Collected, Mode, Resource};
use crate::validate;

/// Lists `resource`, keeps the records whose name contains `search` (when not blank), passes each
/// through `adapt` (a node's own field mapping) and builds the get-many output.
pub fn get_many(
    resource: &Resource,
    search: Option<&str>,
    adapt: fn(Value) -> Value,
) -> Result<Done, Failure> {
    let listed = paging::fetch(resource, &Mode::All { count: None }, &Query::new())?;
    let status = listed.last_status;
    Ok(Done::new(
        status,
        output(resource, listed.items, search, adapt),
    ))
}

/// The output for `items` as listed (pure, so it is unit-tested).
pub fn output(
    resource: &Resource,
    items: Vec<Value>,
    search: Option<&str>,
    adapt: fn(Value) -> Value,
) -> Value {
    let search = validate::optional_text(search);
    let items: Vec<Value> = name_contains(items, search.as_deref())
        .into_iter()
        .map(adapt)
        .collect();
    paging::output(
        resource.key,
        Collected {
            record_count: Some(items.len() as u64),
            items,
            ..Collected::default()
        },
    )
}

/// The records whose `name` contains `search`, ignoring case; all of them without a search.
pub fn name_contains(items: Vec<Value>, search: Option<&str>) -> Vec<Value> {
    let Some(term) = search.map(str::to_lowercase) else {
        return items;
    };
    items
        .into_iter()
        .filter(|record| {
            record
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|name| name.to_lowercase().contains(&term))
        })
        .collect()
}

/// `adapt` for lists whose records need no mapping.
pub fn as_is(record: Value) -> Value {
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paging::STATUSES;
    use serde_json::json;

    fn statuses() -> Vec<Value> {
        vec![
            json!({"id": 1, "name": "New"}),
            json!({"id": "2", "name": "In Progress"}),
            json!({"id": 9.0, "name": "Closed"}),
        ]
    }

    #[test]
    fn search_is_a_case_insensitive_contains_on_the_name() {
        let found = name_contains(statuses(), Some("PROG"));
        assert_eq!(found, vec![statuses()[1].clone()]);
        assert_eq!(name_contains(statuses(), None).len(), 3);
        assert!(name_contains(statuses(), Some("nothing")).is_empty());
        // A record without a name never matches a search.
        assert!(name_contains(vec![json!({"id": 4})], Some("x")).is_empty());
    }

    #[test]
    fn output_counts_what_it_returns_and_normalises_ids() {
        assert_eq!(
            output(&STATUSES, statuses(), Some("  "), as_is),
            json!({"statuses": [
                {"id": 1, "name": "New"},
                {"id": 2, "name": "In Progress"},
                {"id": 9, "name": "Closed"}
            ], "record_count": 3})
        );
        assert_eq!(
            output(&STATUSES, statuses(), Some(" closed "), as_is),
            json!({"statuses": [{"id": 9, "name": "Closed"}], "record_count": 1})
        );
        assert_eq!(
            output(&STATUSES, Vec::new(), None, as_is),
            json!({"statuses": [], "record_count": 0})
        );
    }
}
