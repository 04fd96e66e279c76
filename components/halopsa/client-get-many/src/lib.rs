//! halopsa.client.get-many: lists clients, one logical page or all of them.
//!
//! Rules (seed "Get Many Clients"; the algorithm is `psaflow_kit::paging`):
//! - Count, PageNo, PageSize must be 1 or more when given (else StatusCode -1).
//! - IncludeActive (default true) and IncludeInactive (default false) are sent as
//!   `includeactive` / `includeinactive`; both false gives `{"clients": [], "record_count": 0}`
//!   with no request.
//! - Search (partial match on name, email, contact) is sent as `search` when not blank.
//! - Paginate true (default): page PageNo (default 1) of PageSize (default 100) records, of which
//!   at most Count are returned (Count never moves the page); pages above HaloPSA's 100-record cap
//!   are assembled from several requests.
//! - Paginate false: all matching records (up to Count).
//! - Output `Clients`: `{"clients": [...], "record_count": <server total>}`; `{}` on failure.

#![cfg_attr(not(test), no_std)]

// The generated export glue takes one argument per input field.
#![allow(clippy::too_many_arguments)]

psaflow_kit::bind_node!("client-get-many");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope;
use psaflow_kit::paging::{self, ListParams};

const OUTPUT: &str = "Clients";

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Read)
            .calls("GET", "/Client")
            .into()
    }

    fn run(input: GetManyInput) -> Envelope {
        envelope::respond(
            OUTPUT,
            paging::get_many(&paging::CLIENTS, &params(input)),
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
        assert_eq!(e.output, r#"{"clients":[],"record_count":0}"#);
    }

    #[test]
    fn invalid_numbers() {
        let e = Node::run(GetManyInput {
            page_size: Some(0),
            ..input()
        });
        assert_eq!((e.status_code, e.original_status_code), (-1, 0));
        assert_eq!(e.error_message, "PageSize must be 1 or more");
        assert_eq!(e.output, "{}");
    }
}
