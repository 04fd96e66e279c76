//! The records behind the API: one table per entity, and Halo's list parameters and paging.
//! The operations that apply the rules (create, update, delete, list) are in `ops.rs`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::model::{Entity, Record, Rejection, id_of};

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

    /// A record known to exist (just stored or checked).
    pub(crate) fn record(&self, entity: Entity, id: i64) -> &Record {
        &self.tables[&entity].rows[&id]
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

    pub(crate) fn remove(&mut self, entity: Entity, id: i64) -> Option<Record> {
        self.tables.get_mut(&entity)?.rows.remove(&id)
    }

    /// Everything the store holds, as the JSON a state file keeps:
    /// `{"version": 1, "agent_seats": n|null, "tables": {"client": {"next_id": n, "rows": [...]}}}`.
    pub(crate) fn to_json(&self) -> Value {
        let tables: serde_json::Map<String, Value> = self
            .tables
            .iter()
            .map(|(entity, table)| {
                (
                    entity.name().to_owned(),
                    json!({"next_id": table.next_id, "rows": table.rows.values().collect::<Vec<_>>()}),
                )
            })
            .collect();
        json!({"version": STATE_VERSION, "agent_seats": self.agent_seats, "tables": tables})
    }

    /// Reads what [`Store::to_json`] wrote; the message says what is wrong and where.
    pub(crate) fn from_json(value: &Value) -> Result<Store, String> {
        match value.get("version").and_then(Value::as_i64) {
            Some(STATE_VERSION) => {}
            Some(v) => return Err(format!("it is version {v}; this psaflow reads version {STATE_VERSION}")),
            None => return Err("it has no \"version\" (is it a psaflow sandbox state file?)".into()),
        }
        let mut store = Store {
            agent_seats: match value.get("agent_seats") {
                None | Some(Value::Null) => None,
                Some(v) => Some(
                    v.as_u64()
                        .and_then(|n| usize::try_from(n).ok())
                        .ok_or("\"agent_seats\" must be a whole number or null")?,
                ),
            },
            ..Store::default()
        };
        let tables = value
            .get("tables")
            .and_then(Value::as_object)
            .ok_or("\"tables\" must be an object")?;
        for (name, table) in tables {
            let entity = Entity::from_name(name).ok_or_else(|| format!("unknown table \"{name}\""))?;
            let rows = table
                .get("rows")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("table \"{name}\": \"rows\" must be a list"))?;
            for (i, row) in rows.iter().enumerate() {
                let record = row
                    .as_object()
                    .filter(|r| id_of(r, "id").is_some_and(|id| id > 0))
                    .ok_or_else(|| format!("table \"{name}\", row {}: a record with a positive \"id\" was expected", i + 1))?;
                store.put(entity, record.clone());
            }
            let next_id = table.get("next_id").and_then(Value::as_i64).unwrap_or(1);
            let t = store.tables.entry(entity).or_default();
            t.next_id = t.next_id.max(next_id);
        }
        Ok(store)
    }

}

/// The format of a sandbox state file (`psaflow sandbox --state FILE`).
const STATE_VERSION: i64 = 1;

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
    /// Agents: `team_id` (halopsa-api.md §4.5). The ticket list has no such parameter.
    pub(crate) team_id: Option<i64>,
    /// Tickets: `team`, a comma-separated list of team ids (halopsa-api.md §4.3; the swagger:
    /// "tickets based on Team ID's in the array"). Empty means no filter.
    pub(crate) teams: Vec<i64>,
    /// Actions: the ticket whose actions are listed, and whether private notes are left out.
    pub(crate) ticket_id: Option<i64>,
    pub(crate) exclude_private: bool,
    /// Agents: `includeenabled` / `includedisabled` (both default true: Halo lists inactive
    /// agents unless filtered) and `includeapiagents` (default false).
    pub(crate) include_enabled: bool,
    pub(crate) include_disabled: bool,
    pub(crate) include_api_agents: bool,
    pub(crate) open_only: bool,
    pub(crate) closed_only: bool,
    pub(crate) deleted: bool,
    /// Tickets, comma-separated id lists (halopsa-api.md §4.3; HaloAPI Get-HaloTicket: "array
    /// of ... IDs"): `agent`, `status`, `priority`, `requesttype` (ticket type ids), `sla`,
    /// `client_ids` and `ticketids` keep the tickets whose id is listed; `excludethese` drops the
    /// listed tickets. Empty means no filter.
    pub(crate) agents: Vec<i64>,
    pub(crate) statuses: Vec<i64>,
    pub(crate) priorities: Vec<i64>,
    pub(crate) request_types: Vec<i64>,
    pub(crate) slas: Vec<i64>,
    pub(crate) client_ids: Vec<i64>,
    pub(crate) ticket_ids: Vec<i64>,
    pub(crate) exclude_ids: Vec<i64>,
    /// Tickets: `requesttype_id`, one ticket type id.
    pub(crate) request_type_id: Option<i64>,
    /// Tickets: `search_summary`, `search_details`, `search_user_name`: "contains", ignoring
    /// case, in that one field.
    pub(crate) search_summary: Option<String>,
    pub(crate) search_details: Option<String>,
    pub(crate) search_user_name: Option<String>,
    /// Tickets: `datesearch` names the date field `startdate`/`enddate` bound (inclusive);
    /// `dateoccured` (Halo's spelling) is `dateoccurred`.
    pub(crate) date_search: Option<String>,
    pub(crate) start_date: Option<String>,
    pub(crate) end_date: Option<String>,
    /// Clients: `search_name_only`: `search` looks at the name alone.
    pub(crate) search_name_only: bool,
    /// Clients, sites, users, tickets: `order` ... `order5` name the fields to sort by, in that
    /// precedence; `orderdesc` ... `orderdesc5` reverse the matching key (halopsa-api.md §3).
    pub(crate) order: [Option<String>; ORDER_KEYS],
    pub(crate) order_desc: [bool; ORDER_KEYS],
    /// Agents: `activeinactive` ("two comma separated values, the first sets includeactive and
    /// the second includeinactive", halopsa-api.md §3) on the agents' active flag: whether to
    /// list active agents and whether to list inactive ones; it overrides includeenabled /
    /// includedisabled. `None` where it names no value.
    pub(crate) agent_active: Option<bool>,
    pub(crate) agent_inactive: Option<bool>,
    /// Teams: `ids` (a comma-separated list of team ids) and `type`/`domain` (reqs, opps or
    /// prjs: teams for requests, opportunities or projects), halopsa-api.md §4.6.
    pub(crate) team_ids: Vec<i64>,
    pub(crate) team_domain: Option<&'static str>,
}

/// `order`, `order2` ... `order5`.
pub(crate) const ORDER_KEYS: usize = 5;

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
            teams: Vec::new(),
            ticket_id: None,
            exclude_private: false,
            include_enabled: true,
            include_disabled: true,
            include_api_agents: false,
            open_only: false,
            closed_only: false,
            deleted: false,
            agents: Vec::new(),
            statuses: Vec::new(),
            priorities: Vec::new(),
            request_types: Vec::new(),
            slas: Vec::new(),
            client_ids: Vec::new(),
            ticket_ids: Vec::new(),
            exclude_ids: Vec::new(),
            request_type_id: None,
            search_summary: None,
            search_details: None,
            search_user_name: None,
            date_search: None,
            start_date: None,
            end_date: None,
            search_name_only: false,
            order: Default::default(),
            order_desc: [false; ORDER_KEYS],
            agent_active: None,
            agent_inactive: None,
            team_ids: Vec::new(),
            team_domain: None,
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
                        q.agent_active = Some(q.include_active);
                    }
                    if let Some(i) = parts.next() {
                        q.include_inactive = parse_bool(&key, i.trim())?;
                        q.agent_inactive = Some(q.include_inactive);
                    }
                }
                "client_id" => q.client_id = parse_id(&key, value)?,
                "site_id" => q.site_id = parse_id(&key, value)?,
                "toplevel_id" => q.toplevel_id = parse_id(&key, value)?,
                "user_id" => q.user_id = parse_id(&key, value)?,
                "agent_id" => q.agent_id = parse_id(&key, value)?,
                "status_id" => q.status_id = parse_id(&key, value)?,
                "team_id" => q.team_id = parse_id(&key, value)?,
                "team" => q.teams = parse_id_list(&key, value)?,
                "ticket_id" => q.ticket_id = parse_id(&key, value)?,
                "excludeprivate" => q.exclude_private = parse_bool(&key, value)?,
                "includeenabled" => q.include_enabled = parse_bool(&key, value)?,
                "includedisabled" => q.include_disabled = parse_bool(&key, value)?,
                "includeapiagents" => q.include_api_agents = parse_bool(&key, value)?,
                "open_only" => q.open_only = parse_bool(&key, value)?,
                "closed_only" => q.closed_only = parse_bool(&key, value)?,
                "deleted" => q.deleted = parse_bool(&key, value)?,
                "agent" => q.agents = parse_id_list(&key, value)?,
                "status" => q.statuses = parse_id_list(&key, value)?,
                "priority" => q.priorities = parse_id_list(&key, value)?,
                "requesttype" => q.request_types = parse_id_list(&key, value)?,
                "sla" => q.slas = parse_id_list(&key, value)?,
                "client_ids" => q.client_ids = parse_id_list(&key, value)?,
                "ticketids" => q.ticket_ids = parse_id_list(&key, value)?,
                "excludethese" => q.exclude_ids = parse_id_list(&key, value)?,
                "requesttype_id" => q.request_type_id = parse_id(&key, value)?,
                "search_summary" => q.search_summary = parse_text(value),
                "search_details" => q.search_details = parse_text(value),
                "search_user_name" => q.search_user_name = parse_text(value),
                "datesearch" => q.date_search = parse_text(value),
                "startdate" => q.start_date = parse_date(&key, value, "00:00:00")?,
                "enddate" => q.end_date = parse_date(&key, value, "23:59:59")?,
                "search_name_only" => q.search_name_only = parse_bool(&key, value)?,
                "ids" => q.team_ids = parse_id_list(&key, value)?,
                "type" | "domain" => {
                    q.team_domain = match value.to_ascii_lowercase().as_str() {
                        "" => None,
                        "reqs" => Some("forrequests"),
                        "opps" => Some("foropps"),
                        "prjs" => Some("forprojects"),
                        _ => return Err(invalid(&key, value)),
                    }
                }
                _ => {
                    if let Some(n) = key.strip_prefix("orderdesc").and_then(order_index) {
                        q.order_desc[n] = parse_bool(&key, value)?;
                    } else if let Some(n) = key.strip_prefix("order").and_then(order_index) {
                        q.order[n] = parse_text(value);
                    }
                }
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

/// A comma-separated list of ids (`team=1,3`); ids of 0 or below are dropped, as in [`parse_id`].
fn parse_id_list(key: &str, value: &str) -> Result<Vec<i64>, Rejection> {
    let mut ids = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        ids.extend(parse_id(key, part)?);
    }
    Ok(ids)
}

/// The position of an `order`/`orderdesc` key from its suffix: "" is 0, "2" ... "5" are 1 ... 4.
fn order_index(suffix: &str) -> Option<usize> {
    match suffix {
        "" => Some(0),
        _ => suffix
            .parse::<usize>()
            .ok()
            .filter(|n| (2..=ORDER_KEYS).contains(n))
            .map(|n| n - 1),
    }
}

fn parse_text(value: &str) -> Option<String> {
    Some(value.to_owned()).filter(|s| !s.is_empty())
}

/// A date bound, `yyyy-MM-dd` or `yyyy-MM-ddTHH:mm:ss` (halopsa-api.md §4.3), kept as
/// `yyyy-MM-ddTHH:mm:ss` so that it compares as text with the records' dates. A bare date
/// takes `day_time` (the start of the day for `startdate`, its end for `enddate`).
fn parse_date(key: &str, value: &str, day_time: &str) -> Result<Option<String>, Rejection> {
    if value.is_empty() {
        return Ok(None);
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (date, time) = value.split_once(['T', ' ']).unwrap_or((value, day_time));
    let date_ok = matches!(date.split('-').collect::<Vec<_>>().as_slice(),
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 && digits(y) && digits(m) && digits(d));
    let time = time.trim_end_matches('Z');
    let time = time.split_once('.').map_or(time, |(t, _)| t);
    let time_ok = matches!(time.split(':').collect::<Vec<_>>().as_slice(),
        [h, m, s] if [h, m, s].iter().all(|p| p.len() == 2 && digits(p)));
    if !date_ok || !time_ok {
        return Err(invalid(key, value));
    }
    Ok(Some(format!("{date}T{time}")))
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

/// Applies Halo's paging rules to the matching records (already in list order: by id, or as
/// `order`/`orderdesc` ask).
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

#[cfg(test)]
mod state_tests {
    use super::*;

    #[test]
    fn a_store_survives_its_state_file() {
        let mut store = Store::default();
        crate::seed::load(&mut store, true);
        store.agent_seats = Some(7);
        let id = store.put(Entity::Client, json!({"name": "Added"}).as_object().unwrap().clone());
        store.remove(Entity::Client, 1);
        let back = Store::from_json(&store.to_json()).unwrap();
        assert_eq!(back.to_json(), store.to_json());
        assert_eq!(back.agent_seats, Some(7));
        assert!(back.get(Entity::Client, 1).is_none());
        assert_eq!(back.name_of(Entity::Client, id), Some("Added"));
        // Ids keep counting from where they were, even after the highest was removed.
        let mut back = back;
        back.remove(Entity::Client, id);
        let next = back.put(Entity::Client, Record::new());
        assert_eq!(next, id + 1);
    }

    #[test]
    fn a_damaged_state_file_is_refused_saying_where() {
        for (text, expected) in [
            (json!({}), "no \"version\""),
            (json!({"version": 9}), "version 9"),
            (json!({"version": 1, "tables": {"gizmo": {"rows": []}}}), "unknown table \"gizmo\""),
            (json!({"version": 1, "tables": {"client": {"rows": [{"name": "x"}]}}}), "row 1"),
            (json!({"version": 1, "tables": []}), "\"tables\" must be an object"),
        ] {
            let err = Store::from_json(&text).expect_err("refused");
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
