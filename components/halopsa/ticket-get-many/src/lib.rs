//! halopsa.ticket.get-many: lists tickets, one logical page or all of them up to Count.
//!
//! Rules (seed "Get Many Tickets"; the algorithm is `psaflow_kit::paging`):
//! - Count, PageNo, PageSize must be 1 or more when given (else StatusCode -1).
//! - Count defaults to 50 and caps how many tickets one call returns; PageSize defaults to 100.
//! - IncludeActive (default true) and IncludeInactive (default false): only active sends
//!   `open_only=true`, only inactive sends `closed_only=true`, both send neither; both false
//!   gives `{"tickets": [], "record_count": 0}` with no request.
//! - Search (partial match on summary and details) is sent as `search` when not blank.
//! - AgentId, UserId, ClientId, SiteId, TeamId, StatusId must be positive integers when given and
//!   are sent as `agent_id`, `user_id`, `client_id`, `site_id`, `team`, `status_id`: HaloPSA
//!   filters, so every matching ticket is found (not just those in the first pages). The ticket
//!   list has no `team_id` parameter (halopsa-api.md §4.3 lists `team` and `team_name`; the
//!   swagger's `team` is "tickets based on Team ID's in the array", a comma-separated list), and
//!   HaloPSA silently ignores a name it does not know, so `team_id` would return every ticket.
//! - Paginate true (default): page PageNo (default 1) of PageSize records, of which at most Count
//!   are returned (Count never moves the page: PageNo 2 of 50 is tickets 51-100); pages above
//!   HaloPSA's 100-record cap are assembled from several requests.
//! - Paginate false: all matching tickets up to Count.
//! - Output `Tickets`: `{"tickets": [...], "record_count": <server total>}` with ids as integers;
//!   `{}` on failure.

#![cfg_attr(not(test), no_std)]

// The generated export glue takes one argument per input field.
#![allow(clippy::too_many_arguments)]

psaflow_kit::bind_node!("ticket-get-many");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::http::Query;
use psaflow_kit::paging::{self, ListParams};
use psaflow_kit::{Failure, validate};

const OUTPUT: &str = "Tickets";

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Read)
            .calls("GET", "/Tickets")
            .into()
    }

    fn run(input: GetManyInput) -> Envelope {
        envelope::respond(OUTPUT, get_many(input), |_| envelope::empty_object())
    }
}

fn get_many(input: GetManyInput) -> Result<Done, Failure> {
    let params = params(input)?;
    paging::get_many(&paging::TICKETS, &params)
}

/// The server-side filters: (parameter, query name, value).
fn filters(input: &GetManyInput) -> Result<Query, Failure> {
    let mut query = Query::new();
    for (name, key, value) in [
        ("AgentId", "agent_id", input.agent_id),
        ("UserId", "user_id", input.user_id),
        ("ClientId", "client_id", input.client_id),
        ("SiteId", "site_id", input.site_id),
        // Not `team_id`: HaloPSA's ticket list ignores it (see the module docs).
        ("TeamId", "team", input.team_id),
        ("StatusId", "status_id", input.status_id),
    ] {
        query.push_opt(key, validate::optional_positive_id(name, value)?);
    }
    Ok(query)
}

fn params(input: GetManyInput) -> Result<ListParams, Failure> {
    let extra = filters(&input)?;
    Ok(ListParams {
        count: input.count,
        page_no: input.page_no,
        page_size: input.page_size,
        paginate: input.paginate,
        search: input.search,
        include_active: input.include_active,
        include_inactive: input.include_inactive,
        extra,
    })
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;
    use psaflow_kit::paging::Mode;

    fn input() -> GetManyInput {
        GetManyInput {
            count: None,
            page_no: None,
            page_size: None,
            paginate: None,
            search: None,
            include_active: None,
            include_inactive: None,
            agent_id: None,
            user_id: None,
            client_id: None,
            site_id: None,
            team_id: None,
            status_id: None,
        }
    }

    fn plan(i: GetManyInput) -> paging::Plan {
        paging::plan(&paging::TICKETS, &params(i).expect("valid"))
            .expect("valid")
            .expect("something to list")
    }

    #[test]
    fn defaults_are_open_tickets_the_first_50() {
        let p = plan(input());
        assert_eq!(p.mode, Mode::Window { start: 0, end: 50 });
        assert_eq!(p.filter.get("open_only"), Some("true"));
        assert_eq!(p.filter.get("closed_only"), None);
    }

    #[test]
    fn filters_go_to_the_server() {
        let p = plan(GetManyInput {
            agent_id: Some(4),
            team_id: Some(2),
            ..input()
        });
        assert_eq!(p.filter.get("agent_id"), Some("4"));
        // The documented name; `team_id` is not a ticket-list parameter and would be ignored.
        assert_eq!(p.filter.get("team"), Some("2"));
        assert_eq!(p.filter.get("team_id"), None);
        assert_eq!(p.filter.get("user_id"), None);
        let e = Node::run(GetManyInput {
            site_id: Some(0),
            ..input()
        });
        assert_eq!(
            (e.status_code, e.error_message.as_str()),
            (-1, "SiteId must be a positive integer")
        );
    }

    #[test]
    fn status_flags() {
        let p = plan(GetManyInput {
            include_active: Some(false),
            include_inactive: Some(true),
            ..input()
        });
        assert_eq!(p.filter.get("closed_only"), Some("true"));
        assert_eq!(p.filter.get("open_only"), None);
        let p = plan(GetManyInput {
            include_inactive: Some(true),
            ..input()
        });
        assert!(p.filter.pairs().is_empty(), "both: no status filter");
    }

    #[test]
    fn both_flags_false_is_an_empty_list_without_a_request() {
        // The native transport stub would panic if a request were sent.
        let e = Node::run(GetManyInput {
            include_active: Some(false),
            include_inactive: Some(false),
            ..input()
        });
        assert_eq!(
            (
                e.status_code,
                e.original_status_code,
                e.error_message.as_str()
            ),
            (200, 0, "")
        );
        assert_eq!(e.output, r#"{"tickets":[],"record_count":0}"#);
    }

    #[test]
    fn invalid_numbers() {
        for (i, name) in [
            (
                GetManyInput {
                    count: Some(0),
                    ..input()
                },
                "Count",
            ),
            (
                GetManyInput {
                    page_no: Some(-1),
                    ..input()
                },
                "PageNo",
            ),
            (
                GetManyInput {
                    page_size: Some(0),
                    ..input()
                },
                "PageSize",
            ),
        ] {
            let e = Node::run(i);
            assert_eq!((e.status_code, e.original_status_code), (-1, 0));
            assert_eq!(e.error_message, format!("{name} must be 1 or more"));
            assert_eq!(e.output, "{}");
        }
    }
}
