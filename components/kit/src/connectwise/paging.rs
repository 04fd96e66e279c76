//! Lists past ConnectWise's 1000-record page cap: pages of `page_size` are requested in turn
//! until a short page ends the list or `count` records are in hand.

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
    let mut records = Vec::new();
    let mut status = 200;
    for page in 1.. {
        let (answered, value) =
            http::send_json(Method::Get, &list.path, &page_query(list, page), None)?;
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
        let short = items.len() < list.page_size as usize;
        records.extend(items);
        if let Some(count) = list.count
            && records.len() >= count as usize
        {
            records.truncate(count as usize);
            break;
        }
        if short {
            break;
        }
    }
    Ok((status, records))
}

#[cfg(test)]
mod tests {
    use super::*;

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
