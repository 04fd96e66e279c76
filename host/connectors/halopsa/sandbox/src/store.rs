//! The records behind the API: tables per entity, listing with Halo's filters and paging, and
//! the create/update/delete transactions.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::rules::{self, Rejection};

/// The HaloPSA entities the sandbox serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entity {
    Client,
    Site,
    Ticket,
    User,
    Agent,
    Team,
    TicketType,
    Status,
    Priority,
}

impl Entity {
    /// The names test files and fixtures use, in [`Entity::ALL`] order.
    pub const NAMES: &[&str] = &[
        "client",
        "site",
        "ticket",
        "user",
        "agent",
        "team",
        "ticket_type",
        "status",
        "priority",
    ];

    /// `client`, `Clients`, `ticket-type`, ... (any case, singular or plural).
    pub fn from_name(name: &str) -> Option<Entity> {
        let n = name.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        let n = n
            .strip_suffix("es")
            .filter(|s| s.ends_with("status"))
            .unwrap_or(&n);
        let n = if n != "status" {
            n.strip_suffix('s').unwrap_or(n)
        } else {
            n
        };
        Some(match n {
            "client" => Entity::Client,
            "site" => Entity::Site,
            "ticket" => Entity::Ticket,
            "user" => Entity::User,
            "agent" => Entity::Agent,
            "team" => Entity::Team,
            "ticket_type" | "tickettype" => Entity::TicketType,
            "status" => Entity::Status,
            "priority" | "prioritie" => Entity::Priority,
            _ => return None,
        })
    }

    pub const ALL: [Entity; 9] = [
        Entity::Client,
        Entity::Site,
        Entity::Ticket,
        Entity::User,
        Entity::Agent,
        Entity::Team,
        Entity::TicketType,
        Entity::Status,
        Entity::Priority,
    ];

    /// The canonical path segment under `/api` (Tickets and Users are plural, the rest not).
    pub fn path(self) -> &'static str {
        match self {
            Entity::Client => "Client",
            Entity::Site => "Site",
            Entity::Ticket => "Tickets",
            Entity::User => "Users",
            Entity::Agent => "Agent",
            Entity::Team => "Team",
            Entity::TicketType => "TicketType",
            Entity::Status => "Status",
            Entity::Priority => "Priority",
        }
    }

    /// Matches a path segment case-insensitively, as Halo does.
    pub(crate) fn from_segment(segment: &str) -> Option<Entity> {
        Entity::ALL
            .into_iter()
            .find(|e| e.path().eq_ignore_ascii_case(segment))
    }

    /// The key of the wrapped list response; `None` for entities listed as a bare array.
    pub(crate) fn list_key(self) -> Option<&'static str> {
        match self {
            Entity::Client => Some("clients"),
            Entity::Site => Some("sites"),
            Entity::Ticket => Some("tickets"),
            Entity::User => Some("users"),
            Entity::Agent => Some("agents"),
            Entity::Team => Some("teams"),
            _ => None,
        }
    }

    /// How messages name the entity.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Entity::Client => "Client",
            Entity::Site => "Site",
            Entity::Ticket => "Ticket",
            Entity::User => "User",
            Entity::Agent => "Agent",
            Entity::Team => "Team",
            Entity::TicketType => "Ticket type",
            Entity::Status => "Status",
            Entity::Priority => "Priority",
        }
    }

    /// Whether lists hide inactive records unless asked (`includeinactive`).
    fn has_active_filter(self) -> bool {
        matches!(self, Entity::Client | Entity::Site | Entity::User)
    }
}

pub(crate) type Record = Map<String, Value>;

/// Reads an integer id from a field, tolerating the decimals and strings Halo itself returns.
pub(crate) fn id_of(record: &Record, key: &str) -> Option<i64> {
    record.get(key).and_then(id_value)
}

pub(crate) use psaflow_core::values::id as id_value;

#[derive(Debug, Clone, Default)]
struct Table {
    rows: BTreeMap<i64, Record>,
    next_id: i64,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Store {
    tables: BTreeMap<Entity, Table>,
    /// Named agent licences: how many active (non-API) agents may exist; `None` is unlimited.
    pub(crate) agent_seats: Option<usize>,
}

impl Store {
    fn table(&self, entity: Entity) -> Option<&Table> {
        self.tables.get(&entity)
    }

    pub(crate) fn get(&self, entity: Entity, id: i64) -> Option<&Record> {
        self.table(entity)?.rows.get(&id)
    }

    pub(crate) fn get_mut(&mut self, entity: Entity, id: i64) -> Option<&mut Record> {
        self.tables.get_mut(&entity)?.rows.get_mut(&id)
    }

    pub(crate) fn rows(&self, entity: Entity) -> impl Iterator<Item = &Record> {
        self.table(entity).into_iter().flat_map(|t| t.rows.values())
    }

    /// The name of a record, for the derived `*_name` fields.
    pub(crate) fn name_of(&self, entity: Entity, id: i64) -> Option<&str> {
        self.get(entity, id)?.get("name")?.as_str()
    }

    /// Stores a record under its id, assigning the next one when it has none (missing, 0 or
    /// negative). The id is put first, as Halo's responses have it.
    pub(crate) fn put(&mut self, entity: Entity, record: Record) -> i64 {
        let table = self.tables.entry(entity).or_default();
        let id = match id_of(&record, "id") {
            Some(id) if id > 0 => id,
            _ => table.next_id.max(1),
        };
        table.next_id = table.next_id.max(id + 1);
        let mut stored = Record::new();
        stored.insert("id".to_owned(), json!(id));
        stored.extend(record.into_iter().filter(|(k, _)| k != "id"));
        table.rows.insert(id, stored);
        id
    }

    fn remove(&mut self, entity: Entity, id: i64) -> Option<Record> {
        self.tables.get_mut(&entity)?.rows.remove(&id)
    }

    /// Every record as the API shows it, soft-deleted tickets included.
    pub(crate) fn all(&self, entity: Entity) -> Vec<Value> {
        self.rows(entity)
            .map(|r| rules::decorate(self, entity, r))
            .collect()
    }

    /// A record as `GET /{id}` shows it; soft-deleted tickets are gone as far as GET is concerned.
    pub(crate) fn fetch(&self, entity: Entity, id: i64) -> Result<Value, Rejection> {
        match self.get(entity, id) {
            Some(r) if !is_deleted(r) => Ok(rules::decorate(self, entity, r)),
            _ => Err(Rejection::not_found(entity, id)),
        }
    }

    pub(crate) fn insert_fixture(
        &mut self,
        entity: Entity,
        mut record: Record,
        now: &str,
    ) -> Value {
        rules::absorb_password(&mut record);
        rules::apply_defaults(self, entity, &mut record, now);
        let id = self.put(entity, record);
        rules::decorate(self, entity, &self.tables[&entity].rows[&id])
    }

    /// `POST /api/<Entity>`: creates or partially updates each object. All or nothing: one bad
    /// object leaves the store untouched.
    pub(crate) fn save(
        &mut self,
        entity: Entity,
        items: Vec<Value>,
        now: &str,
    ) -> Result<Vec<Value>, Rejection> {
        let mut draft = self.clone();
        let mut saved_ids = Vec::with_capacity(items.len());
        for item in items {
            let Value::Object(mut changes) = item else {
                return Err(Rejection::message(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "Each {} in the request array must be a JSON object.",
                        entity.label()
                    ),
                ));
            };
            let flags = rules::normalise_input(entity, &mut changes)?;
            rules::resolve_names(&draft, entity, &mut changes)?;
            let id = changes.get("id").map(|v| (id_value(v), v.clone()));
            let id = match id {
                None | Some((Some(0 | -1), _)) => None,
                Some((Some(id), _)) if id > 0 => Some(id),
                Some((_, raw)) => {
                    return Err(Rejection::field(
                        "id",
                        format!("The value '{raw}' is not valid for id."),
                    ));
                }
            };
            changes.remove("id");
            let id = match id {
                None => {
                    rules::validate_create(&draft, entity, &changes)?;
                    rules::apply_defaults(&draft, entity, &mut changes, now);
                    draft.put(entity, changes)
                }
                Some(id) => {
                    let existing = draft
                        .get(entity, id)
                        .ok_or_else(|| Rejection::not_found(entity, id))?;
                    if is_deleted(existing) && !flags.recover {
                        return Err(Rejection::not_found(entity, id));
                    }
                    rules::validate_update(&draft, entity, id, &changes)?;
                    let mut merged = existing.clone();
                    merged.extend(changes);
                    if flags.recover {
                        merged.insert("deleted".to_owned(), Value::Bool(false));
                    }
                    rules::fill_derived_ids(&draft, entity, &mut merged);
                    merged.insert("last_update".to_owned(), json!(now));
                    draft.put(entity, merged)
                }
            };
            saved_ids.push(id);
        }
        if entity == Entity::Agent {
            rules::check_seats(self, &draft)?;
        }
        *self = draft;
        Ok(saved_ids
            .into_iter()
            .map(|id| rules::decorate(self, entity, &self.tables[&entity].rows[&id]))
            .collect())
    }

    /// `DELETE /api/<Entity>/{id}`. Tickets are only flagged deleted, as in Halo.
    pub(crate) fn delete(
        &mut self,
        entity: Entity,
        id: i64,
        now: &str,
    ) -> Result<Value, Rejection> {
        let existing = self.fetch(entity, id)?;
        rules::check_delete(self, entity, id)?;
        if entity == Entity::Ticket {
            let record = self.get_mut(entity, id).expect("fetched above");
            record.insert("deleted".to_owned(), Value::Bool(true));
            record.insert("last_update".to_owned(), json!(now));
            return Ok(rules::decorate(
                self,
                entity,
                &self.tables[&entity].rows[&id],
            ));
        }
        self.remove(entity, id);
        Ok(existing)
    }

    /// `GET /api/<Entity>`: a wrapped page for clients, sites, tickets and users, a bare array
    /// for the lookups. Agents are a bare array unless paginated (then `{record_count, agents}`,
    /// as seed 001 shows); teams are `{"teams": [...]}` (plus `record_count` when paginated).
    pub(crate) fn list(&self, entity: Entity, query: &ListQuery) -> Value {
        let matching: Vec<Value> = self
            .rows(entity)
            .filter(|r| self.matches(entity, r, query))
            .map(|r| rules::decorate(self, entity, r))
            .collect();
        match entity {
            Entity::Agent if !query.pageinate => return Value::Array(matching),
            Entity::Team if !query.pageinate => return json!({ "teams": matching }),
            _ => {}
        }
        let Some(key) = entity.list_key() else {
            return Value::Array(matching);
        };
        let page = paginate(matching, query);
        let mut body = Map::new();
        body.insert("record_count".to_owned(), json!(page.record_count));
        if let (Some(no), Some(size)) = (page.page_no, page.page_size) {
            body.insert("page_no".to_owned(), json!(no));
            body.insert("page_size".to_owned(), json!(size));
        }
        body.insert(key.to_owned(), Value::Array(page.items));
        Value::Object(body)
    }

    fn matches(&self, entity: Entity, record: &Record, q: &ListQuery) -> bool {
        if entity.has_active_filter() {
            let inactive = record
                .get("inactive")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let wanted = if inactive {
                q.include_inactive
            } else {
                q.include_active
            };
            if !wanted {
                return false;
            }
        }
        if entity == Entity::Agent {
            let active = rules::agent_is_active(record);
            let wanted = if active {
                q.include_enabled
            } else {
                q.include_disabled
            };
            let api_agent = record.get("is_api_agent").and_then(Value::as_bool) == Some(true);
            if !wanted || (api_agent && !q.include_api_agents) {
                return false;
            }
        }
        if entity == Entity::Ticket {
            if is_deleted(record) != q.deleted {
                return false;
            }
            let closed = id_of(record, "status_id") == Some(rules::STATUS_CLOSED);
            if (q.open_only && closed) || (q.closed_only && !closed) {
                return false;
            }
        }
        // A filter the entity does not have is ignored, as Halo ignores unknown parameters.
        let is_ticket = entity == Entity::Ticket;
        let has_client = matches!(
            entity,
            Entity::Client | Entity::Site | Entity::User | Entity::Ticket
        );
        let client_id = self.client_of(entity, record);
        let ticket_field = |key| {
            if is_ticket {
                Some(id_of(record, key))
            } else {
                None
            }
        };
        let filters = [
            (q.client_id, has_client.then_some(client_id)),
            (
                q.site_id,
                matches!(entity, Entity::Site | Entity::User | Entity::Ticket)
                    .then(|| self.site_of(entity, record)),
            ),
            (q.user_id, ticket_field("user_id")),
            (q.agent_id, ticket_field("agent_id")),
            (q.status_id, ticket_field("status_id")),
            (
                q.team_id,
                matches!(entity, Entity::Ticket | Entity::Agent).then(|| id_of(record, "team_id")),
            ),
            (
                q.toplevel_id,
                has_client.then(|| self.toplevel_of(entity, record, client_id)),
            ),
        ];
        let rejected =
            |(wanted, actual): &(Option<i64>, Option<Option<i64>>)| match (wanted, actual) {
                (Some(w), Some(a)) => Some(*w) != *a,
                _ => false,
            };
        if filters.iter().any(rejected) {
            return false;
        }
        match &q.search {
            Some(term) => rules::search_matches(entity, record, term),
            None => true,
        }
    }

    fn site_of(&self, entity: Entity, record: &Record) -> Option<i64> {
        match entity {
            Entity::Site => id_of(record, "id"),
            Entity::User | Entity::Ticket => id_of(record, "site_id"),
            _ => None,
        }
    }

    fn client_of(&self, entity: Entity, record: &Record) -> Option<i64> {
        match entity {
            Entity::Client => id_of(record, "id"),
            Entity::Site | Entity::Ticket => id_of(record, "client_id"),
            Entity::User => {
                let site = id_of(record, "site_id")?;
                id_of(self.get(Entity::Site, site)?, "client_id")
            }
            _ => None,
        }
    }

    fn toplevel_of(&self, entity: Entity, record: &Record, client_id: Option<i64>) -> Option<i64> {
        match entity {
            Entity::Client => id_of(record, "toplevel_id"),
            _ => id_of(self.get(Entity::Client, client_id?)?, "toplevel_id"),
        }
    }
}

pub(crate) fn is_deleted(record: &Record) -> bool {
    record
        .get("deleted")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Halo serves at most this many records per page, whatever `page_size` asks for.
pub(crate) const MAX_PAGE_SIZE: usize = 100;
/// The page size when `pageinate=true` comes without `page_size`.
pub(crate) const DEFAULT_PAGE_SIZE: usize = 50;

/// The list parameters the sandbox honours. Names are matched case-insensitively and unknown
/// ones are ignored, as Halo does (a misspelt filter silently returns unfiltered data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListQuery {
    pub(crate) pageinate: bool,
    pub(crate) page_size: Option<usize>,
    pub(crate) page_no: Option<usize>,
    pub(crate) count: Option<usize>,
    pub(crate) search: Option<String>,
    pub(crate) include_active: bool,
    pub(crate) include_inactive: bool,
    pub(crate) client_id: Option<i64>,
    pub(crate) site_id: Option<i64>,
    pub(crate) toplevel_id: Option<i64>,
    pub(crate) user_id: Option<i64>,
    pub(crate) agent_id: Option<i64>,
    pub(crate) status_id: Option<i64>,
    pub(crate) team_id: Option<i64>,
    /// Agents: `includeenabled` / `includedisabled` (both default true: Halo lists inactive
    /// agents unless filtered) and `includeapiagents` (default false).
    pub(crate) include_enabled: bool,
    pub(crate) include_disabled: bool,
    pub(crate) include_api_agents: bool,
    pub(crate) open_only: bool,
    pub(crate) closed_only: bool,
    pub(crate) deleted: bool,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            pageinate: false,
            page_size: None,
            page_no: None,
            count: None,
            search: None,
            include_active: true,
            include_inactive: false,
            client_id: None,
            site_id: None,
            toplevel_id: None,
            user_id: None,
            agent_id: None,
            status_id: None,
            team_id: None,
            include_enabled: true,
            include_disabled: true,
            include_api_agents: false,
            open_only: false,
            closed_only: false,
            deleted: false,
        }
    }
}

impl ListQuery {
    /// Parses query pairs; a value that does not parse as the parameter's type is a 400, as
    /// ASP.NET model binding makes it.
    pub(crate) fn parse(pairs: &[(String, String)]) -> Result<ListQuery, Rejection> {
        let mut q = ListQuery::default();
        for (key, value) in pairs {
            let key = key.to_ascii_lowercase();
            let value = value.trim();
            match key.as_str() {
                "pageinate" => q.pageinate = parse_bool(&key, value)?,
                "page_size" => q.page_size = parse_opt(&key, value)?,
                "page_no" => q.page_no = parse_opt(&key, value)?,
                // node-halopsa sends `count=true` to ask for totals; Halo tolerates it.
                "count"
                    if value.eq_ignore_ascii_case("true")
                        || value.eq_ignore_ascii_case("false") => {}
                "count" => q.count = parse_opt(&key, value)?,
                "search" => q.search = Some(value.to_owned()).filter(|s| !s.is_empty()),
                "includeactive" => q.include_active = parse_bool(&key, value)?,
                "includeinactive" => q.include_inactive = parse_bool(&key, value)?,
                "activeinactive" => {
                    // "two comma separated values: includeactive, then includeinactive"
                    let mut parts = value.split(',');
                    if let Some(a) = parts.next() {
                        q.include_active = parse_bool(&key, a.trim())?;
                    }
                    if let Some(i) = parts.next() {
                        q.include_inactive = parse_bool(&key, i.trim())?;
                    }
                }
                "client_id" => q.client_id = parse_id(&key, value)?,
                "site_id" => q.site_id = parse_id(&key, value)?,
                "toplevel_id" => q.toplevel_id = parse_id(&key, value)?,
                "user_id" => q.user_id = parse_id(&key, value)?,
                "agent_id" => q.agent_id = parse_id(&key, value)?,
                "status_id" => q.status_id = parse_id(&key, value)?,
                "team_id" => q.team_id = parse_id(&key, value)?,
                "includeenabled" => q.include_enabled = parse_bool(&key, value)?,
                "includedisabled" => q.include_disabled = parse_bool(&key, value)?,
                "includeapiagents" => q.include_api_agents = parse_bool(&key, value)?,
                "open_only" => q.open_only = parse_bool(&key, value)?,
                "closed_only" => q.closed_only = parse_bool(&key, value)?,
                "deleted" => q.deleted = parse_bool(&key, value)?,
                _ => {}
            }
        }
        Ok(q)
    }
}

fn invalid(key: &str, value: &str) -> Rejection {
    Rejection::field(key, format!("The value '{value}' is not valid for {key}."))
}

fn parse_bool(key: &str, value: &str) -> Result<bool, Rejection> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" | "" => Ok(false),
        _ => Err(invalid(key, value)),
    }
}

fn parse_opt(key: &str, value: &str) -> Result<Option<usize>, Rejection> {
    if value.is_empty() {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| invalid(key, value))
}

/// Ids of 0 or below mean "no filter", as Halo's "not set" sentinels do.
fn parse_id(key: &str, value: &str) -> Result<Option<i64>, Rejection> {
    if value.is_empty() {
        return Ok(None);
    }
    let id: i64 = value.parse().map_err(|_| invalid(key, value))?;
    Ok((id > 0).then_some(id))
}

/// One page of a list, with what the response reports about it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Page {
    pub(crate) items: Vec<Value>,
    pub(crate) record_count: usize,
    /// Echoed only when paginating.
    pub(crate) page_no: Option<usize>,
    pub(crate) page_size: Option<usize>,
}

/// Applies Halo's paging rules to the matching records (already in id order).
///
/// `record_count` is always the number of matching records, so paging through with the number of
/// items actually received always reaches it. With `pageinate=true` a page holds at most
/// [`MAX_PAGE_SIZE`] items whatever `page_size` asks; the echoed `page_size` is the one asked
/// for, which is exactly what misleads clients that compute the page count from it. Without
/// `pageinate`, `page_size`/`page_no` are ignored and `count` caps the result.
pub(crate) fn paginate(items: Vec<Value>, q: &ListQuery) -> Page {
    let record_count = items.len();
    if !q.pageinate {
        let limit = q.count.unwrap_or(usize::MAX);
        return Page {
            items: items.into_iter().take(limit).collect(),
            record_count,
            page_no: None,
            page_size: None,
        };
    }
    let requested = q.page_size.filter(|s| *s > 0).unwrap_or(DEFAULT_PAGE_SIZE);
    let served = requested.min(MAX_PAGE_SIZE);
    let page_no = q.page_no.unwrap_or(1).max(1);
    let start = (page_no - 1).saturating_mul(served);
    Page {
        items: items.into_iter().skip(start).take(served).collect(),
        record_count,
        page_no: Some(page_no),
        page_size: Some(requested),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(n: usize) -> Vec<Value> {
        (1..=n).map(|i| json!({ "id": i })).collect()
    }

    fn query(pairs: &[(&str, &str)]) -> ListQuery {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ListQuery::parse(&pairs).unwrap()
    }

    fn ids(page: &Page) -> Vec<i64> {
        page.items
            .iter()
            .map(|v| v["id"].as_i64().unwrap())
            .collect()
    }

    #[test]
    fn page_size_is_clamped_to_100_and_record_count_is_the_total() {
        let q = query(&[
            ("pageinate", "true"),
            ("page_size", "1000"),
            ("page_no", "1"),
        ]);
        let page = paginate(numbers(250), &q);
        assert_eq!(page.items.len(), 100);
        assert_eq!(page.record_count, 250);
        assert_eq!(page.page_size, Some(1000));
        let last = paginate(
            numbers(250),
            &query(&[
                ("pageinate", "true"),
                ("page_size", "1000"),
                ("page_no", "3"),
            ]),
        );
        assert_eq!(ids(&last), (201..=250).collect::<Vec<_>>());
    }

    #[test]
    fn pages_are_one_based_and_past_the_end_is_empty() {
        let q = query(&[("pageinate", "true"), ("page_size", "2"), ("page_no", "2")]);
        assert_eq!(ids(&paginate(numbers(5), &q)), vec![3, 4]);
        let q = query(&[("pageinate", "true"), ("page_size", "2"), ("page_no", "4")]);
        let page = paginate(numbers(5), &q);
        assert!(page.items.is_empty());
        assert_eq!(page.record_count, 5);
        let q = query(&[("pageinate", "true"), ("page_size", "2"), ("page_no", "0")]);
        assert_eq!(ids(&paginate(numbers(5), &q)), vec![1, 2]);
    }

    #[test]
    fn paging_by_items_received_reaches_record_count() {
        let total = 317;
        let mut collected = 0;
        for page_no in 1.. {
            let no = page_no.to_string();
            let q = query(&[
                ("pageinate", "true"),
                ("page_size", "1000"),
                ("page_no", &no),
            ]);
            let page = paginate(numbers(total), &q);
            collected += page.items.len();
            if collected >= page.record_count || page.items.is_empty() {
                break;
            }
        }
        assert_eq!(collected, total);
    }

    #[test]
    fn without_pageinate_page_params_are_ignored_and_count_limits() {
        let q = query(&[("page_size", "2"), ("page_no", "3")]);
        let page = paginate(numbers(150), &q);
        assert_eq!(page.items.len(), 150);
        assert_eq!(page.page_no, None);
        let q = query(&[("count", "7")]);
        let page = paginate(numbers(150), &q);
        assert_eq!(ids(&page), (1..=7).collect::<Vec<_>>());
        assert_eq!(page.record_count, 150);
    }

    #[test]
    fn query_names_are_case_insensitive_and_values_checked() {
        let q = query(&[
            ("PageInate", "TRUE"),
            ("Client_ID", "4"),
            ("misspelt_filter", "x"),
        ]);
        assert!(q.pageinate);
        assert_eq!(q.client_id, Some(4));
        let bad = ListQuery::parse(&[("page_size".to_owned(), "lots".to_owned())]);
        assert!(bad.is_err());
        assert_eq!(query(&[("client_id", "-1")]).client_id, None);
        assert_eq!(query(&[("count", "true")]).count, None);
        assert_eq!(query(&[("count", "1")]).count, Some(1));
        let q = query(&[("activeinactive", "false,true")]);
        assert!(!q.include_active && q.include_inactive);
    }

    #[test]
    fn entity_paths_match_case_insensitively() {
        assert_eq!(Entity::from_segment("tickets"), Some(Entity::Ticket));
        assert_eq!(Entity::from_segment("TICKETTYPE"), Some(Entity::TicketType));
        assert_eq!(Entity::from_segment("ticket"), None);
    }
}
