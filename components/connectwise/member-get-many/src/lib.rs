//! connectwise.member.get-many: members matching conditions, search and active state, across
//! as many pages as needed.
//!
//! - PageSize 1..=1000 (ConnectWise's cap; default 1000); Count 1 or more when given; Search
//!   and Conditions, when given, not blank. Any break: StatusCode -1, nothing sent.
//! - `GET /system/members?conditions=...&orderBy=id asc&page=N&pageSize=S`, page after page
//!   until a short page or Count members. The conditions are `(Conditions) and (search
//!   clause) and (inactiveFlag = false)`; the search clause matches identifier, firstName,
//!   lastName and officeEmail with `contains` (the text quoted and escaped); IncludeInactive
//!   drops the last clause.
//! - Output `Members`: `{"members": [...], "record_count": <members matching>}`:
//!   record_count is how many match in all (the seed's "Total number of records matching the
//!   filter", as HaloPSA's nodes report it), not how many Count let through. When Count cut the
//!   list before its last page, `GET /system/members/count` with the same conditions tells it
//!   (one more request, only then); `{}` on failure.
//!   A bad Conditions expression is refused by ConnectWise naming `conditions`.

#![cfg_attr(not(test), no_std)]
// The generated export glue takes one argument per input field.
#![allow(clippy::too_many_arguments)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_connectwise_node!("member-get-many");

use psaflow_kit::connectwise::conditions::{all_of, quote};
use psaflow_kit::connectwise::describe::{capability, node_info};
use psaflow_kit::connectwise::envelope::{self, Done};
use psaflow_kit::connectwise::paging::{self, ListRequest, MAX_PAGE_SIZE};
use psaflow_kit::connectwise::types::Effect;
use psaflow_kit::{Failure, validate};
use serde_json::json;

const OUTPUT: &str = "Members";

struct Node;

impl Guest for Node {
    fn run(input: GetManyInput) -> Envelope {
        envelope::respond(OUTPUT, list(&input))
    }

    fn describe() -> NodeInfo {
        node_info(
            OUTPUT,
            Effect::Read,
            &[],
            vec![capability("GET", "/system/members")],
        )
    }
}

fn given(name: &str, value: Option<&str>) -> Result<Option<String>, Failure> {
    match value {
        None => Ok(None),
        Some(text) if text.trim().is_empty() => Err(Failure::invalid(format!(
            "{name} is empty; leave it out or give a value"
        ))),
        Some(text) => Ok(Some(text.trim().to_owned())),
    }
}

fn request(input: &GetManyInput) -> Result<ListRequest, Failure> {
    let page_size = match input.page_size {
        None => MAX_PAGE_SIZE,
        Some(size) if (1..=MAX_PAGE_SIZE as i32).contains(&size) => size as u32,
        Some(size) => {
            return Err(Failure::invalid(format!(
                "PageSize must be between 1 and {MAX_PAGE_SIZE} (ConnectWise's page limit), not {size}"
            )));
        }
    };
    let count = validate::optional_at_least_one("Count", input.count)?;
    let mut clauses = Vec::new();
    if let Some(conditions) = given("Conditions", input.conditions.as_deref())? {
        clauses.push(conditions);
    }
    if let Some(search) = given("Search", input.search.as_deref())? {
        let text = quote(&search);
        clauses.push(
            ["identifier", "firstName", "lastName", "officeEmail"]
                .iter()
                .map(|field| format!("{field} contains {text}"))
                .collect::<Vec<_>>()
                .join(" or "),
        );
    }
    if !input.include_inactive.unwrap_or(false) {
        clauses.push("inactiveFlag = false".to_owned());
    }
    Ok(ListRequest {
        path: "/system/members".to_owned(),
        conditions: all_of(&clauses),
        page_size,
        count,
    })
}

fn list(input: &GetManyInput) -> Result<Done, Failure> {
    let listed = paging::list_counted(&request(input)?)?;
    Ok(Done {
        original_status: listed.status,
        output: json!({"record_count": listed.total, "members": listed.records}),
    })
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> GetManyInput {
        GetManyInput {
            conditions: None,
            search: None,
            include_inactive: None,
            count: None,
            page_size: None,
        }
    }

    #[test]
    fn conditions_combine_search_and_active_state() {
        assert_eq!(
            request(&input()).unwrap().conditions.as_deref(),
            Some("inactiveFlag = false")
        );
        let mut i = input();
        i.conditions = Some(r#"securityRole/id = 2 or licenseClass = "A""#.into());
        i.search = Some(r#"o"k"#.into());
        let r = request(&i).unwrap();
        assert_eq!(
            r.conditions.as_deref(),
            Some(
                r#"(securityRole/id = 2 or licenseClass = "A") and (identifier contains "o\"k" or firstName contains "o\"k" or lastName contains "o\"k" or officeEmail contains "o\"k") and (inactiveFlag = false)"#
            )
        );
        assert_eq!((r.page_size, r.count), (1000, None));
        i = input();
        i.include_inactive = Some(true);
        assert_eq!(request(&i).unwrap().conditions, None);
    }

    #[test]
    fn limits_stop_before_sending() {
        for (size, ok) in [(0, false), (1, true), (1000, true), (1001, false)] {
            let i = GetManyInput {
                page_size: Some(size),
                ..input()
            };
            if !ok {
                let e = Node::run(i);
                assert_eq!(e.status_code, -1);
                assert!(
                    e.error_message
                        .starts_with("PageSize must be between 1 and 1000"),
                    "{}",
                    e.error_message
                );
            } else {
                assert_eq!(request(&i).unwrap().page_size, size as u32);
            }
        }
        let e = Node::run(GetManyInput {
            count: Some(0),
            ..input()
        });
        assert_eq!(e.error_message, "Count must be 1 or more");
        let e = Node::run(GetManyInput {
            search: Some("  ".into()),
            ..input()
        });
        assert!(e.error_message.starts_with("Search is empty"));
    }
}
