//! halopsa.user.get-many: lists users, one logical page or all of them.
//!
//! Rules (seed "Get Many Users"; the algorithm is `psaflow_kit::paging`):
//! - Count, PageNo, PageSize must be 1 or more when given (else StatusCode -1).
//! - IncludeActive (default true) and IncludeInactive (default false) are sent as
//!   `includeactive` / `includeinactive`; both false gives `{"users": [], "record_count": 0}`
//!   with no request.
//! - Search (name, email, username and other user fields) is sent as `search` when not blank.
//! - Paginate true (default): page PageNo (default 1) of PageSize (default 100) records, of which
//!   at most Count are returned (Count never moves the page); pages above HaloPSA's 100-record cap
//!   are assembled from several requests.
//! - Paginate false: all matching users (up to Count).
//! - Output `Users`: `{"users": [...], "record_count": <server total>}` with ids as integers
//!   (HaloPSA lists `site_id` as a decimal); `{}` on failure.

#![cfg_attr(not(test), no_std)]

// The generated export glue takes one argument per input field.
#![allow(clippy::too_many_arguments)]

psaflow_kit::bind_node!("user-get-many");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope;
use psaflow_kit::paging::{self, ListParams};

const OUTPUT: &str = "Users";

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Read)
            .calls("GET", "/Users")
            .into()
    }

    fn run(input: GetManyInput) -> Envelope {
        envelope::respond(
            OUTPUT,
            paging::get_many(&paging::USERS, &params(input)),
            |_| envelope::empty_object(),
        )
    }
}

fn params(input: GetManyInput) -> ListParams {
    ListParams {
        count: input.count,
        page_no: input.page_no,
        page_size: input.page_size,
        paginate: input.paginate,
        search: input.search,
        include_active: input.include_active,
        include_inactive: input.include_inactive,
        extra: Default::default(),
    }
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
        }
    }

    #[test]
    fn defaults_and_filters() {
        let p = paging::plan(
            &paging::USERS,
            &params(GetManyInput {
                search: Some(" smith ".into()),
                include_inactive: Some(true),
                ..input()
            }),
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.mode, Mode::Window { start: 0, end: 100 });
        assert_eq!(p.filter.get("includeactive"), Some("true"));
        assert_eq!(p.filter.get("includeinactive"), Some("true"));
        assert_eq!(p.filter.get("search"), Some("smith"));
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
        assert_eq!(e.output, r#"{"users":[],"record_count":0}"#);
    }

    #[test]
    fn invalid_numbers() {
        let e = Node::run(GetManyInput {
            count: Some(-5),
            ..input()
        });
        assert_eq!((e.status_code, e.original_status_code), (-1, 0));
        assert_eq!(e.error_message, "Count must be 1 or more");
        assert_eq!(e.output, "{}");
    }
}
