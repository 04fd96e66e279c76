//! The get-many list algorithm shared by every list node.
//!
//! Inputs (all optional): Count, PageNo, PageSize, Paginate, Search, IncludeActive,
//! IncludeInactive ([`ListParams`]). Output: `{"<plural>": [...], "record_count": <server total>}`.
//!
//! - IncludeActive and IncludeInactive both false: `{"<plural>": [], "record_count": 0}` with
//!   StatusCode 200 and no request ([`plan`] returns `None`).
//! - PageNo, PageSize and Count must be 1 or more when given (else StatusCode -1).
//! - Paginate true (default): PageNo (default 1) and PageSize (default 100) select the page as
//!   HaloPSA's `page_no`/`page_size` do, i.e. it starts at record `(PageNo-1)*PageSize`; Count,
//!   when given (or the resource's default), caps how many records this call returns from that
//!   page: records `[(PageNo-1)*PageSize, (PageNo-1)*PageSize + min(PageSize, Count))`
//!   ([`Mode::Window`]). So PageNo=2 with PageSize=50 and Count=50 is records 51-100, and a Count
//!   below PageSize returns the first Count records of the page (seed: Count limits the total
//!   returned "regardless of pagination"; PageNo=2 with PageSize=100 is records 101-200).
//! - Paginate false: every matching record, up to Count when given. One request without
//!   `pageinate` (with `count` when Count is given); if it returns fewer than
//!   `min(Count, record_count)`, the rest is fetched with paging ([`Mode::All`]).
//!
//! HaloPSA serves at most [`SERVER_PAGE_CAP`] records per page whatever `page_size` asks. A node
//! must never return fewer records than asked because of that, so a logical page is assembled from
//! server pages that respect the cap ([`next_request`] plans them: page sizes dividing the offset,
//! or a cap-sized page overlapping it). If a server page holds fewer records than asked while
//! `record_count` says more exist, the server's cap is lower than assumed: the plan is redone with
//! the real size. An empty page ends the listing, so a `record_count` larger than what the pages
//! deliver cannot make the loop run forever.
//!
//! Status filters: tickets use `open_only=true` / `closed_only=true` (neither when both are
//! included); clients, sites and users send `includeactive` and `includeinactive`.

use crate::prelude::*;
use serde_json::{Map, Value};

use crate::envelope::Done;
use crate::errors::Failure;
use crate::http::{self, Query};
use crate::ids;
use crate::validate;

/// The most records HaloPSA returns in one page, whatever `page_size` asks.
pub const SERVER_PAGE_CAP: u64 = 100;
/// PageSize when not given.
pub const DEFAULT_PAGE_SIZE: u64 = 100;
/// Safety stop: more requests than this for one listing is a server that does not page properly.
pub const MAX_REQUESTS: usize = 10_000;

/// How a resource's list endpoint filters active/inactive records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusStyle {
    /// `includeactive=<bool>&includeinactive=<bool>` (Client, Site, Users).
    IncludeFlags,
    /// `open_only=true` or `closed_only=true`, neither for both (Tickets).
    OpenClosed,
    /// `includeenabled=<bool>&includedisabled=<bool>` (Agent: HaloPSA lists deactivated agents
    /// unless told not to).
    EnabledDisabled,
    /// No status filter (Team).
    None,
}

/// A list endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    /// API path, e.g. `/Client`.
    pub path: &'static str,
    /// Key of the list in the answer and in the output, e.g. `clients`.
    pub key: &'static str,
    /// How active/inactive filtering is sent.
    pub status_style: StatusStyle,
    /// Count when the parameter is not given (`Some(50)` for tickets).
    pub default_count: Option<u64>,
}

/// `GET /Client` → `clients`.
pub const CLIENTS: Resource = Resource {
    path: "/Client",
    key: "clients",
    status_style: StatusStyle::IncludeFlags,
    default_count: None,
};
/// `GET /Site` → `sites`.
pub const SITES: Resource = Resource {
    path: "/Site",
    key: "sites",
    status_style: StatusStyle::IncludeFlags,
    default_count: None,
};
/// `GET /Tickets` → `tickets`; Count defaults to 50.
pub const TICKETS: Resource = Resource {
    path: "/Tickets",
    key: "tickets",
    status_style: StatusStyle::OpenClosed,
    default_count: Some(50),
};
/// `GET /Users` → `users`.
pub const USERS: Resource = Resource {
    path: "/Users",
    key: "users",
    status_style: StatusStyle::IncludeFlags,
    default_count: None,
};

/// `GET /Agent` → `agents` (a bare array, or `{record_count, agents}` when paging).
pub const AGENTS: Resource = Resource {
    path: "/Agent",
    key: "agents",
    status_style: StatusStyle::EnabledDisabled,
    default_count: None,
};
/// `GET /Team` → `teams` (a bare array or `{teams}`).
pub const TEAMS: Resource = Resource {
    path: "/Team",
    key: "teams",
    status_style: StatusStyle::None,
    default_count: None,
};

/// `GET /Status` → `statuses` (a bare array, or `{statuses}`).
pub const STATUSES: Resource = Resource {
    path: "/Status",
    key: "statuses",
    status_style: StatusStyle::None,
    default_count: None,
};
/// `GET /TicketType` → `tickettypes` (a bare array, or `{tickettypes}`).
pub const TICKET_TYPES: Resource = Resource {
    path: "/TicketType",
    key: "tickettypes",
    status_style: StatusStyle::None,
    default_count: None,
};
/// `GET /Priority` → `priorities` (a bare array, or `{priorities}`).
pub const PRIORITIES: Resource = Resource {
    path: "/Priority",
    key: "priorities",
    status_style: StatusStyle::None,
    default_count: None,
};

/// The get-many parameters, as the node received them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListParams {
    /// Count: most records to return in total.
    pub count: Option<i32>,
    /// PageNo, from 1 (Paginate true).
    pub page_no: Option<i32>,
    /// PageSize (Paginate true).
    pub page_size: Option<i32>,
    /// Paginate: one page (true, default) or everything (false).
    pub paginate: Option<bool>,
    /// Search: sent as `search` when not blank.
    pub search: Option<String>,
    /// IncludeActive, default true.
    pub include_active: Option<bool>,
    /// IncludeInactive, default false.
    pub include_inactive: Option<bool>,
    /// Further server-side filters the node validated (e.g. `agent_id=4`), sent with every
    /// request after the status and search filters.
    pub extra: Query,
}

/// Which records a listing returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Records `[start, end)` of the server's order (Paginate true). `start == end` means no
    /// record is wanted ([`plan`] never makes one); one tiny request still learns `record_count`.
    Window { start: u64, end: u64 },
    /// Every record, or the first `count` (Paginate false).
    All { count: Option<u64> },
}

/// A validated listing: what to fetch and the query every request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Which records.
    pub mode: Mode,
    /// Filters sent with every request (search, status flags), before the paging parameters.
    pub filter: Query,
}

/// Validates the parameters and plans the listing. `Ok(None)` means IncludeActive and
/// IncludeInactive are both false: the answer is an empty list and no request is sent.
pub fn plan(resource: &Resource, params: &ListParams) -> Result<Option<Plan>, Failure> {
    let count = validate::optional_at_least_one("Count", params.count)?
        .map(u64::from)
        .or(resource.default_count);
    let page_no = validate::optional_at_least_one("PageNo", params.page_no)?.map_or(1, u64::from);
    let page_size = validate::optional_at_least_one("PageSize", params.page_size)?
        .map_or(DEFAULT_PAGE_SIZE, u64::from);
    let include_active = params.include_active.unwrap_or(true);
    let include_inactive = params.include_inactive.unwrap_or(false);
    let Some(mut filter) = status_query(resource.status_style, include_active, include_inactive)
    else {
        return Ok(None);
    };
    if let Some(search) = validate::optional_text(params.search.as_deref()) {
        filter.push("search", search);
    }
    filter.extend(&params.extra);
    let mode = if params.paginate.unwrap_or(true) {
        // The page is chosen by PageNo and PageSize alone; Count caps how much of it comes back.
        let start = (page_no - 1).saturating_mul(page_size);
        let len = count.map_or(page_size, |c| c.min(page_size));
        Mode::Window {
            start,
            end: start.saturating_add(len),
        }
    } else {
        Mode::All { count }
    };
    Ok(Some(Plan { mode, filter }))
}

/// The status filter query; `None` when both flags are false (nothing can match).
pub fn status_query(
    style: StatusStyle,
    include_active: bool,
    include_inactive: bool,
) -> Option<Query> {
    if !include_active && !include_inactive {
        return None;
    }
    let mut q = Query::new();
    match style {
        StatusStyle::IncludeFlags => {
            q.push("includeactive", include_active);
            q.push("includeinactive", include_inactive);
        }
        StatusStyle::OpenClosed => match (include_active, include_inactive) {
            (true, false) => q.push("open_only", true),
            (false, true) => q.push("closed_only", true),
            _ => {}
        },
        StatusStyle::EnabledDisabled => {
            q.push("includeenabled", include_active);
            q.push("includedisabled", include_inactive);
        }
        StatusStyle::None => {}
    }
    Some(q)
}

/// One server page to request: `page_no` (from 1) of `page_size` records, of which the first
/// `skip` precede the wanted offset and are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerPage {
    pub page_no: u64,
    pub page_size: u64,
    pub skip: u64,
}

impl ServerPage {
    /// Offset of the page's first record.
    pub fn start(&self) -> u64 {
        (self.page_no - 1) * self.page_size
    }

    /// `pageinate=true&page_size=..&page_no=..`.
    pub fn query(&self) -> Query {
        Query::new()
            .with("pageinate", true)
            .with("page_size", self.page_size)
            .with("page_no", self.page_no)
    }
}

/// Plans the next server page for records `[offset, end)` (`offset < end`) when a page holds at
/// most `cap` records (`cap >= 1`).
///
/// - At offset 0: page 1 of `min(cap, end)`.
/// - If the rest fits in one page of some size `s <= cap`: the smallest such page (least waste).
/// - Otherwise the better of: an aligned page whose size divides the offset (the largest divisor
///   `<= cap`, so nothing is wasted), and the cap-sized page containing the offset (its records
///   before the offset are skipped). Ties go to the aligned page.
pub fn next_request(offset: u64, end: u64, cap: u64) -> ServerPage {
    debug_assert!(offset < end && cap >= 1);
    let cap = cap.max(1);
    let remaining = end - offset;
    if offset == 0 {
        return ServerPage {
            page_no: 1,
            page_size: cap.min(remaining),
            skip: 0,
        };
    }
    if remaining <= cap
        && let Some(size) = (remaining..=cap).find(|s| offset / s == (end - 1) / s)
    {
        let page_no = offset / size + 1;
        return ServerPage {
            page_no,
            page_size: size,
            skip: offset - (page_no - 1) * size,
        };
    }
    let aligned = (1..=cap)
        .rev()
        .find(|d| offset.is_multiple_of(*d))
        .unwrap_or(1);
    let aligned_gain = aligned.min(remaining);
    let before = offset / cap;
    let overlap_gain = ((before + 1) * cap - offset).min(remaining);
    if aligned_gain >= overlap_gain {
        ServerPage {
            page_no: offset / aligned + 1,
            page_size: aligned,
            skip: 0,
        }
    } else {
        ServerPage {
            page_no: before + 1,
            page_size: cap,
            skip: offset - before * cap,
        }
    }
}

/// One answered list page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// The records of the page.
    pub items: Vec<Value>,
    /// The server's `record_count` (total matching), when it sent one.
    pub record_count: Option<u64>,
}

/// Reads a list answer: `{"record_count": N, "<key>": [...]}` (the key matched
/// case-insensitively; `record_count` may be `717`, `717.0` or `"717"`), or a bare array.
pub fn parse_page(status: u16, body: &str, key: &str) -> Result<Page, Failure> {
    let unexpected = |what: &str| Failure::Unexpected {
        status,
        message: format!("HaloPSA answered the {key} list with {what}"),
    };
    match http::parse_body(status, body)? {
        Value::Array(items) => Ok(Page {
            items,
            record_count: None,
        }),
        Value::Object(map) => {
            let record_count = map.get("record_count").and_then(ids::read_count);
            match map
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
            {
                Some(Value::Array(items)) => Ok(Page {
                    items: items.clone(),
                    record_count,
                }),
                Some(Value::Null) | None if record_count.is_some() => Ok(Page {
                    items: Vec::new(),
                    record_count,
                }),
                _ => Err(unexpected(&format!("no `{key}` list"))),
            }
        }
        Value::Null => Err(unexpected("an empty body")),
        _ => Err(unexpected("something that is not a list")),
    }
}

/// What a listing gathered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Collected {
    /// The records, in server order.
    pub items: Vec<Value>,
    /// The latest `record_count` the server reported.
    pub record_count: Option<u64>,
    /// Requests sent.
    pub requests: usize,
    /// HTTP status of the last answer.
    pub last_status: u16,
}

struct Fetcher<F> {
    fetch: F,
    got: Collected,
}

impl<F> Fetcher<F>
where
    F: FnMut(&Query) -> Result<(u16, Page), Failure>,
{
    fn call(&mut self, query: &Query) -> Result<Page, Failure> {
        if self.got.requests >= MAX_REQUESTS {
            return Err(Failure::Unexpected {
                status: self.got.last_status,
                message: format!("HaloPSA paging did not finish after {MAX_REQUESTS} requests"),
            });
        }
        self.got.requests += 1;
        let (status, page) = (self.fetch)(query)?;
        self.got.last_status = status;
        if page.record_count.is_some() {
            self.got.record_count = page.record_count;
        }
        Ok(page)
    }

    /// Appends records `[start, end)` (or up to `record_count` when smaller) using server pages.
    fn fill(&mut self, start: u64, end: u64) -> Result<(), Failure> {
        let mut offset = start;
        let mut cap = SERVER_PAGE_CAP;
        loop {
            let limit = self.got.record_count.map_or(end, |rc| end.min(rc));
            if offset >= limit {
                return Ok(());
            }
            let request = next_request(offset, limit, cap);
            let page = self.call(&request.query())?;
            let delivered = page.items.len() as u64;
            if delivered == 0 {
                return Ok(()); // an empty page ends the listing, whatever record_count says
            }
            let short = delivered < request.page_size;
            let more_exist = self
                .got
                .record_count
                .is_some_and(|rc| request.start() + delivered < rc);
            if short && more_exist {
                // The server's page is smaller than asked: its cap is `delivered`. Pages other than
                // the first were cut at another offset, so their records are dropped; plan again.
                cap = delivered;
                if request.page_no != 1 {
                    continue;
                }
            }
            let wanted = (limit - offset) as usize;
            let usable: Vec<Value> = page
                .items
                .into_iter()
                .take(request.page_size as usize)
                .skip(request.skip as usize)
                .take(wanted)
                .collect();
            offset += usable.len() as u64;
            self.got.items.extend(usable);
            if short && !more_exist {
                return Ok(()); // the data ends here
            }
        }
    }
}

/// Runs a listing. `fetch` sends one request with the given paging query (the caller adds its
/// filters) and returns the status and the parsed page; it is a parameter so the algorithm can be
/// tested without a server.
pub fn collect<F>(mode: &Mode, fetch: F) -> Result<Collected, Failure>
where
    F: FnMut(&Query) -> Result<(u16, Page), Failure>,
{
    let mut f = Fetcher {
        fetch,
        got: Collected::default(),
    };
    match *mode {
        Mode::Window { start, end } if start >= end => {
            // Nothing wanted: one tiny page for record_count.
            f.call(
                &ServerPage {
                    page_no: 1,
                    page_size: 1,
                    skip: 0,
                }
                .query(),
            )?;
        }
        Mode::Window { start, end } => f.fill(start, end)?,
        Mode::All { count } => {
            let mut query = Query::new();
            query.push_opt("count", count);
            let mut items = f.call(&query)?.items;
            if let Some(c) = count {
                items.truncate(c as usize);
            }
            let have = items.len() as u64;
            f.got.items = items;
            let wanted = match (count, f.got.record_count) {
                (Some(c), Some(rc)) => c.min(rc),
                (None, Some(rc)) => rc,
                (_, None) => have,
            };
            if have < wanted {
                f.fill(have, wanted)?;
            }
        }
    }
    Ok(f.got)
}

/// Runs a listing against HaloPSA: every request is `GET resource.path` with `filter` followed by
/// the paging query.
pub fn fetch(resource: &Resource, mode: &Mode, filter: &Query) -> Result<Collected, Failure> {
    collect(mode, |paging| {
        let mut query = filter.clone();
        query.extend(paging);
        let response = http::get(resource.path, &query)?;
        if !http::is_success(response.status) {
            return Err(crate::errors::from_response(
                response.status,
                &response.body,
                None,
            ));
        }
        let page = parse_page(response.status, &response.body, resource.key)?;
        Ok((response.status, page))
    })
}

/// `{"<key>": items (ids normalised), "record_count": <server total, else the number of items>}`.
pub fn output(key: &str, collected: Collected) -> Value {
    let record_count = collected
        .record_count
        .unwrap_or(collected.items.len() as u64);
    let mut map = Map::new();
    map.insert(
        key.to_string(),
        ids::normalized(Value::Array(collected.items)),
    );
    map.insert("record_count".to_string(), Value::from(record_count));
    Value::Object(map)
}

/// `{"<key>": [], "record_count": 0}`.
pub fn empty_output(key: &str) -> Value {
    output(
        key,
        Collected {
            record_count: Some(0),
            ..Collected::default()
        },
    )
}

/// A whole get-many node: validate, plan, fetch, shape the output. Both include flags false gives
/// the empty list with OriginalStatusCode 0 (no request).
pub fn get_many(resource: &Resource, params: &ListParams) -> Result<Done, Failure> {
    let Some(plan) = plan(resource, params)? else {
        return Ok(Done::new(0, empty_output(resource.key)));
    };
    let collected = fetch(resource, &plan.mode, &plan.filter)?;
    Ok(Done::new(
        collected.last_status,
        output(resource.key, collected),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params() -> ListParams {
        ListParams::default()
    }

    fn plan_of(resource: &Resource, p: ListParams) -> Plan {
        plan(resource, &p).expect("valid").expect("not empty")
    }

    #[test]
    fn defaults_and_windows() {
        assert_eq!(
            plan_of(&CLIENTS, params()).mode,
            Mode::Window { start: 0, end: 100 }
        );
        let p = ListParams {
            page_no: Some(2),
            page_size: Some(250),
            ..params()
        };
        assert_eq!(
            plan_of(&SITES, p).mode,
            Mode::Window {
                start: 250,
                end: 500
            }
        );
        // Count caps what one call returns; it never moves or empties the page PageNo selects.
        let p = ListParams {
            page_no: Some(2),
            page_size: Some(100),
            count: Some(150),
            ..params()
        };
        assert_eq!(
            plan_of(&SITES, p).mode,
            Mode::Window {
                start: 100,
                end: 200
            }
        );
        let p = ListParams {
            page_no: Some(3),
            page_size: Some(100),
            count: Some(30),
            ..params()
        };
        assert_eq!(
            plan_of(&SITES, p).mode,
            Mode::Window {
                start: 200,
                end: 230
            }
        );
        // The reported defect: PageNo=2 with PageSize=2 and Count=2 is records 3-4, not nothing.
        let p = ListParams {
            page_no: Some(2),
            page_size: Some(2),
            count: Some(2),
            ..params()
        };
        assert_eq!(
            plan_of(&CLIENTS, p).mode,
            Mode::Window { start: 2, end: 4 }
        );
        // Tickets' default Count of 50 with PageSize 50: page 2 is records 51-100.
        let p = ListParams {
            page_no: Some(2),
            page_size: Some(50),
            ..params()
        };
        assert_eq!(
            plan_of(&TICKETS, p).mode,
            Mode::Window {
                start: 50,
                end: 100
            }
        );
        // Tickets: Count defaults to 50.
        assert_eq!(
            plan_of(&TICKETS, params()).mode,
            Mode::Window { start: 0, end: 50 }
        );
        let p = ListParams {
            paginate: Some(false),
            ..params()
        };
        assert_eq!(
            plan_of(&TICKETS, p.clone()).mode,
            Mode::All { count: Some(50) }
        );
        assert_eq!(plan_of(&USERS, p).mode, Mode::All { count: None });
    }

    #[test]
    fn validation_of_numbers() {
        for (p, name) in [
            (
                ListParams {
                    page_no: Some(0),
                    ..params()
                },
                "PageNo",
            ),
            (
                ListParams {
                    page_size: Some(0),
                    ..params()
                },
                "PageSize",
            ),
            (
                ListParams {
                    count: Some(0),
                    ..params()
                },
                "Count",
            ),
            (
                ListParams {
                    count: Some(-1),
                    paginate: Some(false),
                    ..params()
                },
                "Count",
            ),
        ] {
            let err = plan(&CLIENTS, &p).unwrap_err();
            assert!(err.is_validation());
            assert_eq!(err.message(), format!("{name} must be 1 or more"));
        }
    }

    #[test]
    fn status_filters() {
        let q = |style, a, i| status_query(style, a, i).map(|q| q.into_pairs());
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            q(StatusStyle::OpenClosed, true, false),
            Some(vec![pair("open_only", "true")])
        );
        assert_eq!(
            q(StatusStyle::OpenClosed, false, true),
            Some(vec![pair("closed_only", "true")])
        );
        assert_eq!(q(StatusStyle::OpenClosed, true, true), Some(vec![]));
        assert_eq!(q(StatusStyle::OpenClosed, false, false), None);
        assert_eq!(
            q(StatusStyle::IncludeFlags, true, false),
            Some(vec![
                pair("includeactive", "true"),
                pair("includeinactive", "false")
            ])
        );
        assert_eq!(q(StatusStyle::IncludeFlags, false, false), None);
        let p = ListParams {
            include_active: Some(false),
            include_inactive: Some(false),
            ..params()
        };
        assert_eq!(plan(&CLIENTS, &p), Ok(None));
        let p = ListParams {
            search: Some("  acme ".into()),
            ..params()
        };
        assert_eq!(plan_of(&CLIENTS, p).filter.get("search"), Some("acme"));
        let p = ListParams {
            search: Some("   ".into()),
            ..params()
        };
        assert_eq!(plan_of(&CLIENTS, p).filter.get("search"), None);
    }

    fn plan_all(start: u64, end: u64, cap: u64) -> Vec<ServerPage> {
        let mut out = Vec::new();
        let mut offset = start;
        while offset < end {
            let page = next_request(offset, end, cap);
            assert!(
                page.page_size >= 1 && page.page_size <= cap,
                "{page:?} breaks the cap"
            );
            assert!(page.skip < page.page_size);
            assert_eq!(
                page.start() + page.skip,
                offset,
                "{page:?} must start at offset {offset}"
            );
            let usable = (page.page_size - page.skip).min(end - offset);
            offset += usable;
            out.push(page);
            assert!(out.len() < 10_000);
        }
        out
    }

    fn sp(page_no: u64, page_size: u64, skip: u64) -> ServerPage {
        ServerPage {
            page_no,
            page_size,
            skip,
        }
    }

    #[test]
    fn planner_respects_the_cap() {
        // PageSize 250, PageNo 2 → records 250..500.
        assert_eq!(
            plan_all(250, 500, 100),
            vec![sp(6, 50, 0), sp(4, 100, 0), sp(5, 100, 0)]
        );
        // The first 250.
        assert_eq!(
            plan_all(0, 250, 100),
            vec![sp(1, 100, 0), sp(2, 100, 0), sp(5, 50, 0)]
        );
        // Small logical pages map to one server page of the same size.
        assert_eq!(plan_all(90, 120, 100), vec![sp(4, 30, 0)]);
        assert_eq!(plan_all(200, 300, 100), vec![sp(3, 100, 0)]);
        assert_eq!(plan_all(0, 7, 100), vec![sp(1, 7, 0)]);
        // A prime offset does not degrade into one-record pages.
        let pages = plan_all(101, 400, 100);
        assert!(pages.len() <= 4, "{pages:?}");
        // A short tail straddling a page boundary is fetched in one request.
        assert_eq!(plan_all(101, 111, 100).len(), 1);
        // A lower real cap.
        for page in plan_all(250, 500, 40) {
            assert!(page.page_size <= 40);
        }
        // Request counts stay close to the minimum for many shapes.
        for start in [0u64, 1, 7, 99, 100, 101, 150, 250, 333, 1000, 4999] {
            for len in [1u64, 50, 99, 100, 101, 250, 1000] {
                let pages = plan_all(start, start + len, 100);
                let minimum = len.div_ceil(100) as usize;
                assert!(
                    pages.len() <= minimum + 2,
                    "start {start} len {len}: {pages:?}"
                );
            }
        }
    }

    /// A fake list endpoint: `total` records with ids 1..=total, at most `cap` per page,
    /// reporting `claimed` as record_count (to model a lying total) and capping unpaginated
    /// answers at `unpaged_cap`.
    struct FakeServer {
        total: u64,
        cap: u64,
        claimed: u64,
        unpaged_cap: u64,
        log: Vec<Vec<(String, String)>>,
    }

    impl FakeServer {
        fn new(total: u64) -> Self {
            FakeServer {
                total,
                cap: 100,
                claimed: total,
                unpaged_cap: 100,
                log: Vec::new(),
            }
        }

        fn answer(&mut self, q: &Query) -> Result<(u16, Page), Failure> {
            self.log.push(q.pairs().to_vec());
            let num = |k: &str| q.get(k).map(|v| v.parse::<u64>().unwrap());
            let (first, len) = if q.get("pageinate") == Some("true") {
                let size = num("page_size").unwrap().min(self.cap);
                ((num("page_no").unwrap() - 1) * size, size)
            } else {
                (0, num("count").unwrap_or(u64::MAX).min(self.unpaged_cap))
            };
            let items = (first..self.total.min(first.saturating_add(len)))
                .map(|i| json!({"id": i + 1}))
                .collect();
            Ok((
                200,
                Page {
                    items,
                    record_count: Some(self.claimed),
                },
            ))
        }

        fn run(&mut self, mode: Mode) -> Collected {
            collect(&mode, |q| self.answer(q)).expect("listing succeeds")
        }
    }

    fn ids_of(c: &Collected) -> Vec<u64> {
        c.items.iter().map(|v| v["id"].as_u64().unwrap()).collect()
    }

    #[test]
    fn assembles_pages_larger_than_the_cap() {
        let mut server = FakeServer::new(600);
        let got = server.run(Mode::Window {
            start: 250,
            end: 500,
        });
        assert_eq!(ids_of(&got), (251..=500).collect::<Vec<_>>());
        assert_eq!(got.record_count, Some(600));
        assert_eq!(got.requests, 3);
        for q in &server.log {
            let size: u64 = q
                .iter()
                .find(|(k, _)| k == "page_size")
                .unwrap()
                .1
                .parse()
                .unwrap();
            assert!(size <= 100);
        }
    }

    #[test]
    fn window_past_the_data() {
        let mut server = FakeServer::new(30);
        let got = server.run(Mode::Window {
            start: 100,
            end: 200,
        });
        assert!(got.items.is_empty());
        assert_eq!(got.record_count, Some(30));
        let got = FakeServer::new(260).run(Mode::Window {
            start: 200,
            end: 400,
        });
        assert_eq!(ids_of(&got), (201..=260).collect::<Vec<_>>());
    }

    #[test]
    fn count_limits_and_empty_windows() {
        let mut server = FakeServer::new(500);
        let got = server.run(Mode::Window { start: 0, end: 30 });
        assert_eq!(ids_of(&got), (1..=30).collect::<Vec<_>>());
        assert_eq!(got.requests, 1);
        // An empty window: nothing returned, one request for the total.
        let mut server = FakeServer::new(500);
        let got = server.run(Mode::Window {
            start: 200,
            end: 200,
        });
        assert!(got.items.is_empty());
        assert_eq!((got.record_count, got.requests), (Some(500), 1));
    }

    #[test]
    fn replans_when_the_server_cap_is_lower() {
        let mut server = FakeServer::new(1000);
        server.cap = 30;
        let got = server.run(Mode::Window {
            start: 250,
            end: 500,
        });
        assert_eq!(ids_of(&got), (251..=500).collect::<Vec<_>>());
        let mut server = FakeServer::new(1000);
        server.cap = 40;
        let got = server.run(Mode::Window { start: 0, end: 250 });
        assert_eq!(ids_of(&got), (1..=250).collect::<Vec<_>>());
        // Requests after the first discovery respect the real cap.
        let sizes: Vec<u64> = server
            .log
            .iter()
            .skip(1)
            .map(|q| {
                q.iter()
                    .find(|(k, _)| k == "page_size")
                    .unwrap()
                    .1
                    .parse()
                    .unwrap()
            })
            .collect();
        assert!(sizes.iter().all(|s| *s <= 40), "{sizes:?}");
    }

    #[test]
    fn an_empty_page_stops_a_lying_total() {
        let mut server = FakeServer::new(150);
        server.claimed = 10_000;
        let got = server.run(Mode::All { count: None });
        assert_eq!(ids_of(&got), (1..=150).collect::<Vec<_>>());
        assert!(got.requests <= 4, "{} requests", got.requests);
        let mut server = FakeServer::new(150);
        server.claimed = 10_000;
        let got = server.run(Mode::Window {
            start: 100,
            end: 400,
        });
        assert_eq!(ids_of(&got), (101..=150).collect::<Vec<_>>());
    }

    #[test]
    fn paginate_false_fills_what_the_first_answer_lacked() {
        let mut server = FakeServer::new(320);
        let got = server.run(Mode::All { count: None });
        assert_eq!(ids_of(&got), (1..=320).collect::<Vec<_>>());
        assert_eq!(
            server.log[0],
            Vec::<(String, String)>::new(),
            "first request without pageinate"
        );
        let mut server = FakeServer::new(320);
        let got = server.run(Mode::All { count: Some(250) });
        assert_eq!(ids_of(&got), (1..=250).collect::<Vec<_>>());
        assert_eq!(
            server.log[0],
            vec![("count".to_string(), "250".to_string())]
        );
        // A server that honours count needs one request.
        let mut server = FakeServer::new(320);
        server.unpaged_cap = u64::MAX;
        let got = server.run(Mode::All { count: Some(250) });
        assert_eq!((got.items.len(), got.requests), (250, 1));
        // Fewer records than Count.
        let got = FakeServer::new(40).run(Mode::All { count: Some(250) });
        assert_eq!(
            (got.items.len(), got.requests, got.record_count),
            (40, 1, Some(40))
        );
    }

    #[test]
    fn failures_stop_the_listing() {
        let mut calls = 0;
        let result = collect(&Mode::Window { start: 0, end: 300 }, |_| {
            calls += 1;
            if calls == 2 {
                Err(Failure::Transport("down".into()))
            } else {
                Ok((
                    200,
                    Page {
                        items: (0..100).map(|i| json!({"id": i})).collect(),
                        record_count: Some(1000),
                    },
                ))
            }
        });
        assert_eq!(result, Err(Failure::Transport("down".into())));
        assert_eq!(calls, 2);
    }

    #[test]
    fn a_server_ignoring_page_no_cannot_loop_forever() {
        let mut calls = 0usize;
        let result = collect(&Mode::All { count: None }, |_| {
            calls += 1;
            Ok((
                200,
                Page {
                    items: vec![json!({"id": 1})],
                    record_count: Some(u64::MAX),
                },
            ))
        });
        assert!(matches!(result, Err(Failure::Unexpected { .. })));
        assert_eq!(calls, MAX_REQUESTS);
    }

    #[test]
    fn pages_and_outputs() {
        let page = parse_page(
            200,
            r#"{"record_count": 717.0, "page_no": 1, "clients": [{"id": 1.0}]}"#,
            "clients",
        )
        .unwrap();
        assert_eq!(
            page,
            Page {
                items: vec![json!({"id": 1.0})],
                record_count: Some(717)
            }
        );
        let page = parse_page(200, r#"[{"id": 2}]"#, "clients").unwrap();
        assert_eq!(page.record_count, None);
        assert_eq!(
            parse_page(200, r#"{"record_count": 0}"#, "sites")
                .unwrap()
                .items
                .len(),
            0
        );
        assert!(matches!(
            parse_page(200, r#"{"other": []}"#, "sites"),
            Err(Failure::Unexpected { .. })
        ));
        assert!(matches!(
            parse_page(200, "oops", "sites"),
            Err(Failure::Unexpected { .. })
        ));
        let out = output(
            "sites",
            Collected {
                items: vec![json!({"id": "4", "client_id": 21.0})],
                record_count: Some(9),
                ..Default::default()
            },
        );
        assert_eq!(
            out,
            json!({"sites": [{"id": 4, "client_id": 21}], "record_count": 9})
        );
        assert_eq!(
            empty_output("tickets"),
            json!({"tickets": [], "record_count": 0})
        );
    }
}
