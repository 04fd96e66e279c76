//! The sandbox's data: one table per resource, and the list query (conditions, orderBy,
//! fields, page, pageSize) shared by every list endpoint.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::conditions::{self, Condition};
use crate::errors::{ApiError, FieldError};

/// The resources the sandbox serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entity {
    /// `/system/members`: people who log in (the nodes create and deactivate them).
    Member,
    /// `/service/tickets`.
    Ticket,
    /// A lookup a member refers to (`securityRole`).
    SecurityRole,
    /// A lookup a member refers to (`defaultLocation`).
    Location,
    /// A lookup a member refers to (`defaultDepartment`).
    Department,
    /// A lookup a member refers to (`timeZone`).
    TimeZone,
    /// A lookup a ticket refers to (`status`).
    TicketStatus,
    /// `/system/members/types`: the member types (connectwise-api.md §3, §8).
    MemberType,
}

impl Entity {
    /// Every resource, in a fixed order (for state files and listings).
    pub const ALL: [Entity; 8] = [
        Entity::Member,
        Entity::Ticket,
        Entity::SecurityRole,
        Entity::Location,
        Entity::Department,
        Entity::TimeZone,
        Entity::TicketStatus,
        Entity::MemberType,
    ];

    /// The path below `/apis/3.0`, lower case (routes are matched case-insensitively).
    pub fn path(self) -> &'static str {
        match self {
            Entity::Member => "/system/members",
            Entity::Ticket => "/service/tickets",
            Entity::SecurityRole => "/system/securityroles",
            Entity::Location => "/system/locations",
            Entity::Department => "/system/departments",
            Entity::TimeZone => "/system/timezonesetups",
            Entity::TicketStatus => "/service/statuses",
            Entity::MemberType => "/system/members/types",
        }
    }

    /// The resource a lower-case path below `/apis/3.0` names, and the segments after it
    /// (`["12"]`, `["count"]`, `[]`). The longest match wins: `system/members/types` is the
    /// member types, not the member with id `types`.
    pub(crate) fn from_segments<'a, 'b>(
        segments: &'a [&'b str],
    ) -> Option<(Entity, &'a [&'b str])> {
        Entity::ALL
            .into_iter()
            .filter_map(|entity| {
                let own: Vec<&str> = entity.path().split('/').filter(|s| !s.is_empty()).collect();
                let tail = segments.strip_prefix(own.as_slice())?;
                Some((own.len(), entity, tail))
            })
            .max_by_key(|(length, _, _)| *length)
            .map(|(_, entity, tail)| (entity, tail))
    }

    /// The `resource` name in error bodies.
    pub(crate) fn resource(self) -> &'static str {
        match self {
            Entity::Member => "member",
            Entity::Ticket => "ticket",
            Entity::SecurityRole => "securityRole",
            Entity::Location => "location",
            Entity::Department => "department",
            Entity::TimeZone => "timeZoneSetup",
            Entity::TicketStatus => "status",
            Entity::MemberType => "memberType",
        }
    }

    /// For "... with id N was not found."
    pub(crate) fn label(self) -> &'static str {
        match self {
            Entity::Member => "Member",
            Entity::Ticket => "Ticket",
            Entity::SecurityRole => "Security role",
            Entity::Location => "Location",
            Entity::Department => "Department",
            Entity::TimeZone => "Time zone",
            Entity::TicketStatus => "Status",
            Entity::MemberType => "Member type",
        }
    }

    /// Fields a condition, `orderBy` or `fields` may name (first path segment).
    pub(crate) fn fields(self) -> &'static [&'static str] {
        match self {
            Entity::Member => crate::members::FIELDS,
            Entity::Ticket => crate::tickets::FIELDS,
            Entity::SecurityRole => &["id", "name", "roleType", "_info"],
            Entity::Location => &["id", "name", "_info"],
            Entity::Department => &["id", "identifier", "name", "_info"],
            Entity::TimeZone => &["id", "name", "offset", "_info"],
            Entity::TicketStatus => &["id", "name", "closedStatus", "_info"],
            Entity::MemberType => &["id", "name", "inactiveFlag", "_info"],
        }
    }

    fn field(self, name: &str) -> Option<&'static str> {
        self.fields()
            .iter()
            .copied()
            .find(|f| f.eq_ignore_ascii_case(name))
    }
}

pub(crate) type Record = Map<String, Value>;

#[derive(Debug, Default)]
pub(crate) struct Store {
    tables: BTreeMap<Entity, BTreeMap<i64, Record>>,
    next_ids: BTreeMap<Entity, i64>,
}

impl Store {
    pub(crate) fn get(&self, entity: Entity, id: i64) -> Option<&Record> {
        self.tables.get(&entity)?.get(&id)
    }

    pub(crate) fn rows(&self, entity: Entity) -> impl Iterator<Item = &Record> {
        self.tables
            .get(&entity)
            .into_iter()
            .flat_map(|t| t.values())
    }

    /// Stores `record`, assigning the next id when it has none (or 0). Returns the id.
    pub(crate) fn put(&mut self, entity: Entity, mut record: Record) -> i64 {
        let next = self.next_ids.entry(entity).or_insert(1);
        let id = match record.get("id").and_then(Value::as_i64) {
            Some(id) if id > 0 => id,
            _ => *next,
        };
        *next = (*next).max(id + 1);
        record.insert("id".into(), json!(id));
        self.tables.entry(entity).or_default().insert(id, record);
        id
    }

    pub(crate) fn all(&self, entity: Entity) -> Vec<Value> {
        self.rows(entity).cloned().map(Value::Object).collect()
    }

    pub(crate) fn fetch(&self, entity: Entity, id: &str) -> Result<Value, ApiError> {
        id.parse::<i64>()
            .ok()
            .and_then(|id| self.get(entity, id))
            .map(|r| Value::Object(r.clone()))
            .ok_or_else(|| ApiError::not_found(entity.label(), id))
    }

    /// `{id, name, _info}` (departments and members also carry `identifier`) for a reference
    /// field; `None` when the id does not exist.
    pub(crate) fn reference(&self, entity: Entity, id: i64) -> Option<Value> {
        let record = self.get(entity, id)?;
        let mut reference = json!({"id": id});
        for key in ["identifier", "name"] {
            if let Some(value) = record.get(key) {
                reference[key] = value.clone();
            }
        }
        if entity == Entity::Member {
            let name = format!(
                "{} {}",
                record["firstName"].as_str().unwrap_or_default(),
                record["lastName"].as_str().unwrap_or_default()
            );
            reference["name"] = json!(name.trim());
        }
        reference["_info"] = json!({"href": format!("{}/{id}", entity.path())});
        Some(reference)
    }

    /// The records matching `query`, sorted and cut to one page, and the total before paging.
    pub(crate) fn list(&self, entity: Entity, query: &ListQuery) -> (Vec<Value>, usize) {
        let (page, total, _) = self.list_page(entity, query);
        (page, total)
    }

    /// As [`Store::list`], with the id of the page's last record (what a forward-only `Link`
    /// continues after, even when `fields` leaves `id` out).
    pub(crate) fn list_page(
        &self,
        entity: Entity,
        query: &ListQuery,
    ) -> (Vec<Value>, usize, Option<i64>) {
        let mut rows: Vec<&Record> = self
            .rows(entity)
            // pageId: the records after that id (connectwise-api.md §5: `id > pageId`).
            .filter(|record| {
                query
                    .page_id
                    .is_none_or(|after| record.get("id").and_then(Value::as_i64) > Some(after))
            })
            .filter(|record| {
                query.conditions.as_ref().is_none_or(|c| {
                    // Conditions read nested values, so they see the record as JSON.
                    c.matches(&Value::Object((*record).clone()))
                })
            })
            .collect();
        // Forward-only pages follow ids (the table's own order); page numbers are not used.
        let page_number = if query.forward_only { 1 } else { query.page };
        if !query.forward_only && !query.order_by.is_empty() {
            rows.sort_by(|a, b| {
                for (field, descending) in &query.order_by {
                    let ordering = compare_values(a.get(*field), b.get(*field));
                    let ordering = if *descending {
                        ordering.reverse()
                    } else {
                        ordering
                    };
                    if ordering.is_ne() {
                        return ordering;
                    }
                }
                std::cmp::Ordering::Equal
            });
        }
        let total = rows.len();
        let rows: Vec<&Record> = rows
            .into_iter()
            .skip((page_number - 1).saturating_mul(query.page_size))
            .take(query.page_size)
            .collect();
        let last_id = rows
            .last()
            .and_then(|record| record.get("id"))
            .and_then(Value::as_i64);
        let page = rows
            .into_iter()
            .map(|record| query.project(record))
            .collect();
        (page, total, last_id)
    }

    pub(crate) fn count(&self, entity: Entity, query: &ListQuery) -> usize {
        self.list(
            entity,
            &ListQuery {
                page: 1,
                page_size: usize::MAX,
                ..query.clone()
            },
        )
        .1
    }
}

fn compare_values(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Some(Value::Number(a)), Some(Value::Number(b))) => a
            .as_f64()
            .partial_cmp(&b.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::String(a)), Some(Value::String(b))) => a.to_lowercase().cmp(&b.to_lowercase()),
        (Some(Value::Bool(a)), Some(Value::Bool(b))) => a.cmp(b),
        (None | Some(Value::Null), None | Some(Value::Null)) => Ordering::Equal,
        // Nulls first, as SQL Server sorts them ascending.
        (None | Some(Value::Null), _) => Ordering::Less,
        (_, None | Some(Value::Null)) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

/// ConnectWise's hard cap on `pageSize`.
pub const MAX_PAGE_SIZE: usize = 1000;
/// The page size when a request gives none.
pub const DEFAULT_PAGE_SIZE: usize = 25;

/// A parsed list request.
#[derive(Debug, Clone)]
pub(crate) struct ListQuery {
    pub(crate) conditions: Option<Condition>,
    pub(crate) order_by: Vec<(&'static str, bool)>,
    pub(crate) fields: Option<Vec<&'static str>>,
    pub(crate) page: usize,
    pub(crate) page_size: usize,
    /// `pageId=N`: only records with an id above N.
    pub(crate) page_id: Option<i64>,
    /// The `pagination-type: forward-only` header: pages in id order, continued by `pageId`.
    pub(crate) forward_only: bool,
}

impl ListQuery {
    /// Reads the query parameters (names case-insensitive); every problem is a 400 naming the
    /// parameter, as ConnectWise answers.
    pub(crate) fn parse(entity: Entity, pairs: &[(String, String)]) -> Result<ListQuery, ApiError> {
        let param = |name: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let invalid = |field: &str, code: &'static str, message: String| {
            ApiError::invalid(field, vec![FieldError::new(code, field, message)])
        };
        let mut query = ListQuery {
            conditions: None,
            order_by: Vec::new(),
            fields: None,
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
            page_id: None,
            forward_only: false,
        };
        if let Some(text) = param("conditions").filter(|t| !t.trim().is_empty()) {
            let condition = conditions::parse(text).map_err(|e| {
                invalid(
                    "conditions",
                    "InvalidConditions",
                    format!("The conditions could not be parsed: {e}."),
                )
            })?;
            for path in condition.fields() {
                if entity.field(&path[0]).is_none() {
                    return Err(invalid(
                        "conditions",
                        "InvalidConditions",
                        format!(
                            "Unknown field '{}' in conditions for {}.",
                            path.join("/"),
                            entity.resource()
                        ),
                    ));
                }
            }
            query.conditions = Some(condition);
        }
        if let Some(text) = param("orderBy").filter(|t| !t.trim().is_empty()) {
            for part in text.split(',') {
                let mut words = part.split_whitespace();
                let name = words.next().unwrap_or_default();
                let direction = words.next().unwrap_or("asc");
                let field = entity.field(name).ok_or_else(|| {
                    invalid(
                        "orderBy",
                        "InvalidField",
                        format!("Unknown field '{name}' in orderBy."),
                    )
                })?;
                let descending = match direction.to_ascii_lowercase().as_str() {
                    "asc" => false,
                    "desc" => true,
                    other => {
                        return Err(invalid(
                            "orderBy",
                            "InvalidField",
                            format!("orderBy direction must be asc or desc, not '{other}'."),
                        ));
                    }
                };
                query.order_by.push((field, descending));
            }
        }
        if let Some(text) = param("fields").filter(|t| !t.trim().is_empty()) {
            let mut fields = Vec::new();
            for name in text.split(',').map(str::trim) {
                fields.push(entity.field(name).ok_or_else(|| {
                    invalid(
                        "fields",
                        "InvalidField",
                        format!("Unknown field '{name}' in fields."),
                    )
                })?);
            }
            query.fields = Some(fields);
        }
        if let Some(text) = param("page") {
            query.page = match text.trim().parse::<usize>() {
                Ok(page) if page >= 1 => page,
                _ => {
                    return Err(invalid(
                        "page",
                        "OutOfRange",
                        format!(
                            "The field page must be a whole number of at least 1, not '{text}'."
                        ),
                    ));
                }
            };
        }
        if let Some(text) = param("pageSize") {
            query.page_size = match text.trim().parse::<usize>() {
                Ok(size) if (1..=MAX_PAGE_SIZE).contains(&size) => size,
                _ => {
                    return Err(invalid(
                        "pageSize",
                        "OutOfRange",
                        format!("The field pageSize must be between 1 and {MAX_PAGE_SIZE}."),
                    ));
                }
            };
        }
        if let Some(text) = param("pageId") {
            query.page_id = match text.trim().parse::<i64>() {
                Ok(id) if id >= 0 => Some(id),
                _ => {
                    return Err(invalid(
                        "pageId",
                        "OutOfRange",
                        format!(
                            "The field pageId must be a whole number of at least 0 (the id of the last record of the previous page), not '{text}'."
                        ),
                    ));
                }
            };
        }
        Ok(query)
    }

    fn project(&self, record: &Record) -> Value {
        match &self.fields {
            None => Value::Object(record.clone()),
            Some(fields) => Value::Object(
                record
                    .iter()
                    .filter(|(k, _)| fields.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
        }
    }
}

/// An id in a request body: a number, or `{"id": n}`.
pub(crate) fn reference_id(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::Object(o) => o.get("id").and_then(Value::as_i64),
        _ => None,
    }
}

/// A 400 for a body that is not what the endpoint takes.
pub(crate) fn bad_body(resource: &str, message: impl Into<String>) -> ApiError {
    let mut err = ApiError::new(StatusCode::BAD_REQUEST, "InvalidObject", message);
    err.resource = resource.to_owned();
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn query_limits_and_unknown_fields_are_named() {
        let err = ListQuery::parse(Entity::Member, &pairs(&[("pageSize", "1001")])).unwrap_err();
        assert_eq!(err.errors[0].field, "pageSize");
        assert!(err.errors[0].message.contains("1000"));
        let err = ListQuery::parse(Entity::Member, &pairs(&[("page", "0")])).unwrap_err();
        assert_eq!(err.errors[0].field, "page");
        let err =
            ListQuery::parse(Entity::Member, &pairs(&[("conditions", "nope = 1")])).unwrap_err();
        assert!(err.errors[0].message.contains("'nope'"), "{err:?}");
        let ok = ListQuery::parse(
            Entity::Member,
            &pairs(&[("PAGESIZE", "1000"), ("orderby", "identifier desc")]),
        )
        .unwrap();
        assert_eq!(ok.page_size, 1000);
        assert_eq!(ok.order_by, vec![("identifier", true)]);
    }

    #[test]
    fn paging_cuts_after_sorting() {
        let mut store = Store::default();
        for n in [3, 1, 2] {
            store.put(
                Entity::Location,
                json!({"id": n, "name": format!("L{n}")})
                    .as_object()
                    .unwrap()
                    .clone(),
            );
        }
        let q = ListQuery::parse(
            Entity::Location,
            &pairs(&[("orderBy", "name desc"), ("pageSize", "2"), ("page", "2")]),
        )
        .unwrap();
        let (page, total) = store.list(Entity::Location, &q);
        assert_eq!(total, 3);
        assert_eq!(page, vec![json!({"id": 1, "name": "L1"})]);
    }

    #[test]
    fn forward_only_pages_follow_ids_after_page_id() {
        let mut store = Store::default();
        for n in [5, 1, 9, 3, 7] {
            store.put(
                Entity::Location,
                json!({"id": n, "name": format!("L{n}")})
                    .as_object()
                    .unwrap()
                    .clone(),
            );
        }
        let ids = |page: Vec<Value>| -> Vec<i64> {
            page.iter().map(|r| r["id"].as_i64().unwrap()).collect()
        };
        let mut q = ListQuery::parse(
            Entity::Location,
            &pairs(&[
                ("orderBy", "name desc"),
                ("pageSize", "2"),
                ("page", "3"),
                ("pageId", "3"),
                ("fields", "name"),
            ]),
        )
        .unwrap();
        q.forward_only = true;
        let (page, total, last) = store.list_page(Entity::Location, &q);
        assert_eq!(page, vec![json!({"name": "L5"}), json!({"name": "L7"})]);
        assert_eq!(
            (total, last),
            (3, Some(7)),
            "records after id 3; the last id"
        );
        q.fields = None;
        q.page_id = Some(7);
        let (page, total, last) = store.list_page(Entity::Location, &q);
        assert_eq!((ids(page), total, last), (vec![9], 1, Some(9)));
        let err = ListQuery::parse(Entity::Location, &pairs(&[("pageId", "x")])).unwrap_err();
        assert_eq!(err.errors[0].field, "pageId");
    }
}
