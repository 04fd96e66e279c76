//! Lists past ConnectWise's 1000-record page cap: pages of `page_size` are requested in turn
//! until the list ends or `count` records are in hand.
//!
//! Where the list ends: ConnectWise says in the `Link` header whether another page exists
//! (`rel="next"`), so a last page that happens to be full costs no empty request after it. An
//! answer without the header (everything fit on one page, or something on the way dropped it)
//! is judged by its length: a full page may have a successor, so it is asked for. Trusting the
//! header's absence instead would save that one request but silently lose records wherever a
//! proxy strips headers.

use crate::prelude::*;
use serde_json::Value;

use super::http;
use super::transport::Method;
use crate::errors::Failure;

/// ConnectWise's hard cap on `pageSize`.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// What to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    pub path: String,
    pub conditions: Option<String>,
    /// Records per request, 1..=1000.
    pub page_size: u32,
    /// The most records to return; `None` for all.
    pub count: Option<u32>,
}

/// The query of page `page` (1-based) of `list`. Sorted by id so pages do not overlap.
pub fn page_query(list: &ListRequest, page: u32) -> Vec<(String, String)> {
    let mut query = Vec::new();
    if let Some(conditions) = &list.conditions {
        query.push(("conditions".to_owned(), conditions.clone()));
    }
    query.push(("orderBy".to_owned(), "id asc".to_owned()));
    query.push(("page".to_owned(), page.to_string()));
    query.push(("pageSize".to_owned(), list.page_size.to_string()));
    query
}

/// Every record of the list (up to `count`), and the status of the last answer.
pub fn list_all(list: &ListRequest) -> Result<(u16, Vec<Value>), Failure> {
    let (status, records, _) = read_pages(list)?;
    Ok((status, records))
}

/// A listing with the number of records matching its conditions.
#[derive(Debug, Clone, PartialEq)]
pub struct Counted {
    /// The status of the last answer.
    pub status: u16,
    /// The records returned (at most `count`).
    pub records: Vec<Value>,
    /// How many records match the conditions in all: the seed's `record_count` ("Total number
    /// of records matching the filter"), which HaloPSA's nodes report too.
    pub total: u64,
}

/// [`list_all`] with the total matching the conditions. The total is known from the pages read
/// when the last one read was the list's last; when `count` cut the list before its end it is
/// asked with `GET <path>/count` and the same conditions: one more request, only then.
pub fn list_counted(list: &ListRequest) -> Result<Counted, Failure> {
    let (status, records, known) = read_pages(list)?;
    let total = match known {
        Some(total) => total,
        None => count_matching(list)?,
    };
    Ok(Counted {
        status,
        records,
        total,
    })
}

/// `GET <path>/count` with the list's conditions: ConnectWise answers `{"count": n}`.
pub fn count_matching(list: &ListRequest) -> Result<u64, Failure> {
    let path = format!("{}/count", list.path);
    let (status, value) = http::send_json(Method::Get, &path, &count_query(list), None)?;
    value
        .get("count")
        .and_then(|c| {
            c.as_u64()
                .or_else(|| c.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
        })
        .ok_or_else(|| Failure::Unexpected {
            status,
            message: format!("ConnectWise answered {path} without a count"),
        })
}

/// The query of `<path>/count`: the conditions alone (no paging, no order).
pub fn count_query(list: &ListRequest) -> Vec<(String, String)> {
    list.conditions
        .iter()
        .map(|c| ("conditions".to_owned(), c.clone()))
        .collect()
}

/// The pages of the list up to `count` records: the status of the last answer, the records and,
/// when the last page read was the list's last, how many records the list has in all.
fn read_pages(list: &ListRequest) -> Result<(u16, Vec<Value>, Option<u64>), Failure> {
    let mut records = Vec::new();
    let mut status = 200;
    for page in 1.. {
        let (answered, value, link) =
            http::send_reading_link(Method::Get, &list.path, &page_query(list, page), None)?;
        status = answered;
        let Value::Array(items) = value else {
            return Err(Failure::Unexpected {
                status,
                message: format!(
                    "ConnectWise answered {} with something other than a list",
                    list.path
                ),
            });
        };
        let more = has_next_page(link.as_deref(), items.len(), list.page_size);
        records.extend(items);
        if let Some(count) = list.count
            && records.len() >= count as usize
        {
            let total = (!more).then_some(records.len() as u64);
            records.truncate(count as usize);
            return Ok((status, records, total));
        }
        if !more {
            break;
        }
    }
    let total = records.len() as u64;
    Ok((status, records, Some(total)))
}

/// Whether another page follows one of `items` records asked in pages of `page_size`: the
/// `Link` header decides when the answer has one, the page's length otherwise.
pub fn has_next_page(link: Option<&str>, items: usize, page_size: u32) -> bool {
    match link {
        Some(link) => links_to_next(link),
        None => items >= page_size as usize,
    }
}

/// Whether a `Link` header value (`<url>; rel="next", <url>; rel="last"`) has a `next` link.
/// Only the parameters after each `<url>` are read, so a URL holding `;` or `,` cannot confuse it.
fn links_to_next(header: &str) -> bool {
    header
        .split('<')
        .filter_map(|link| link.split_once('>').map(|(_, params)| params))
        .any(|params| {
            params.split(';').any(|param| {
                let Some((key, value)) = param.split_once('=') else {
                    return false;
                };
                let value = value.trim().trim_end_matches(',').trim().trim_matches('"');
                key.trim().eq_ignore_ascii_case("rel")
                    && value
                        .split_whitespace()
                        .any(|rel| rel.eq_ignore_ascii_case("next"))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_header_decides_when_there_is_one() {
        let base = "<https://cw.example/v4_6_release/apis/3.0/system/members?pageSize=2&page=";
        let middle = format!(
            "{base}1>; rel=\"first\", {base}1>; rel=\"prev\", {base}3>; rel=\"next\", {base}4>; rel=\"last\""
        );
        let last = format!("{base}1>; rel=\"first\", {base}3>; rel=\"prev\"");
        assert!(has_next_page(Some(&middle), 2, 2));
        assert!(
            !has_next_page(Some(&last), 2, 2),
            "a full last page needs no empty page after it"
        );
        assert!(
            has_next_page(Some("<u>; rel=next"), 1, 2),
            "a next link wins over a short page"
        );
        assert!(
            !has_next_page(Some("<u?next=1;rel=next,x>; rel=\"last\""), 2, 2),
            "only rel counts, not the URL"
        );
        assert!(has_next_page(Some("<a>; rel=\"prev\", <b>; rel=\"next\""), 2, 2));
        // Without a header only a short page is known to be the last.
        assert!(has_next_page(None, 2, 2));
        assert!(!has_next_page(None, 1, 2));
        assert!(!has_next_page(None, 0, 2));
    }

    #[test]
    fn count_queries_carry_only_the_conditions() {
        let mut list = ListRequest {
            path: "/system/members".into(),
            conditions: Some("inactiveFlag = false".into()),
            page_size: 2,
            count: Some(2),
        };
        assert_eq!(
            count_query(&list),
            [("conditions".to_owned(), "inactiveFlag = false".to_owned())]
        );
        list.conditions = None;
        assert!(count_query(&list).is_empty());
    }

    #[test]
    fn page_queries_carry_conditions_order_and_size() {
        let list = ListRequest {
            path: "/system/members".into(),
            conditions: Some("inactiveFlag = false".into()),
            page_size: 1000,
            count: None,
        };
        let q = page_query(&list, 3);
        let pairs: Vec<(&str, &str)> = q.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("conditions", "inactiveFlag = false"),
                ("orderBy", "id asc"),
                ("page", "3"),
                ("pageSize", "1000")
            ]
        );
    }
}
