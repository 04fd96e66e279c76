//! The store operations the API calls: fetch, list with Halo's filters, create/update (all or
//! nothing), delete. They apply the per-entity rules (`rules.rs`) to the tables (`store.rs`).

use std::cmp::Ordering;

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::model::{Entity, Record, Rejection, id_of, id_value, is_deleted};
use crate::rules;
use crate::store::{ListQuery, Store, paginate};

/// Sorts a list (in id order) by `order` ... `order5`, each reversed by its `orderdesc`; ties keep
/// id order. `orderdesc` without `order` reverses the default (id) order. A field a record lacks
/// (or null) sorts before any value, as SQL Server sorts NULL.
fn sort_by_order(items: &mut [Value], q: &ListQuery) {
    let mut keys: Vec<(&str, bool)> = q
        .order
        .iter()
        .zip(q.order_desc)
        .filter_map(|(field, desc)| Some((field.as_deref()?, desc)))
        .collect();
    if keys.is_empty() && q.order_desc[0] {
        keys.push(("id", true));
    }
    if keys.is_empty() {
        return;
    }
    items.sort_by(|a, b| {
        keys.iter()
            .map(|(field, desc)| {
                let ordering = compare_values(field_of(a, field), field_of(b, field));
                if *desc { ordering.reverse() } else { ordering }
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
}

/// A field looked up ignoring case, as Halo's column names are.
fn field_of<'a>(record: &'a Value, field: &str) -> Option<&'a Value> {
    let map = record.as_object()?;
    map.get(field)
        .or_else(|| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(field))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

/// Numbers by value, text ignoring case, false before true; values of different kinds by kind.
fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let rank = |v: Option<&Value>| match v {
        None | Some(Value::Null) => 0,
        Some(Value::Bool(_)) => 1,
        Some(Value::Number(_)) => 2,
        Some(Value::String(_)) => 3,
        Some(_) => 4,
    };
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::String(x)), Some(Value::String(y))) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

impl Store {
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
        if entity == Entity::Priority {
            rules::priority_number_as_key(&mut record);
        }
        rules::apply_defaults(self, entity, &mut record, now);
        let id = self.put(entity, record);
        rules::decorate(self, entity, self.record(entity, id))
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
                    if entity == Entity::Action {
                        draft.touch_ticket(id_of(&changes, "ticket_id"), now);
                    }
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
            .map(|id| rules::decorate(self, entity, self.record(entity, id)))
            .collect())
    }

    /// A new action is the ticket's latest activity.
    fn touch_ticket(&mut self, ticket: Option<i64>, now: &str) {
        if let Some(record) = ticket.and_then(|t| self.get_mut(Entity::Ticket, t)) {
            record.insert("lastactiondate".to_owned(), json!(now));
        }
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
                self.record(entity, id),
            ));
        }
        self.remove(entity, id);
        Ok(existing)
    }

    /// `GET /api/<Entity>`: a wrapped page for clients, sites, tickets and users, a bare array
    /// for the lookups. Agents and teams are bare arrays (halopsa-api.md §3, §4.5, §4.6, §7)
    /// unless paginated (then `{record_count, agents|teams}`, as seed 001 shows for agents).
    pub(crate) fn list(&self, entity: Entity, query: &ListQuery) -> Value {
        let mut matching: Vec<Value> = self
            .rows(entity)
            .filter(|r| self.matches(entity, r, query))
            .map(|r| rules::decorate(self, entity, r))
            .collect();
        if entity.has_order() {
            sort_by_order(&mut matching, query);
        }
        match entity {
            Entity::Agent | Entity::Team if !query.pageinate => return Value::Array(matching),
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
                q.agent_active.unwrap_or(q.include_enabled)
            } else {
                q.agent_inactive.unwrap_or(q.include_disabled)
            };
            let api_agent = record.get("is_api_agent").and_then(Value::as_bool) == Some(true);
            if !wanted || (api_agent && !q.include_api_agents) {
                return false;
            }
        }
        if entity == Entity::Team {
            // `includeenabled` / `includedisabled` (both default true) on the team's `inactive`.
            let inactive = record.get("inactive").and_then(Value::as_bool) == Some(true);
            let wanted = if inactive {
                q.include_disabled
            } else {
                q.include_enabled
            };
            let listed = q.team_ids.is_empty()
                || id_of(record, "id").is_some_and(|id| q.team_ids.contains(&id));
            let in_domain = q
                .team_domain
                .is_none_or(|flag| record.get(flag).and_then(Value::as_bool) == Some(true));
            if !wanted || !listed || !in_domain {
                return false;
            }
        }
        if entity == Entity::Action {
            // Actions are listed per ticket (`ticket_id` is required, see the server), and
            // `excludeprivate` leaves out the notes hidden from the end user.
            let private = record.get("hiddenfromuser").and_then(Value::as_bool) == Some(true);
            if id_of(record, "ticket_id") != q.ticket_id || (q.exclude_private && private) {
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
            if !self.ticket_matches(record, q) {
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
            // Agents filter on `team_id`; tickets on `team` (below), not on `team_id`.
            (
                q.team_id,
                (entity == Entity::Agent).then(|| id_of(record, "team_id")),
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
        if is_ticket
            && !q.teams.is_empty()
            && !id_of(record, "team_id").is_some_and(|team| q.teams.contains(&team))
        {
            return false;
        }
        match &q.search {
            Some(term) if entity == Entity::Client && q.search_name_only => record
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|name| name.to_lowercase().contains(&term.trim().to_lowercase())),
            Some(term) => rules::search_matches(entity, record, term),
            None => true,
        }
    }

    /// The ticket-only filters: id lists, the one-field searches and the date range.
    fn ticket_matches(&self, record: &Record, q: &ListQuery) -> bool {
        let listed = |ids: &[i64], key: &str| {
            ids.is_empty() || id_of(record, key).is_some_and(|id| ids.contains(&id))
        };
        let id_lists = [
            (&q.agents, "agent_id"),
            (&q.statuses, "status_id"),
            (&q.priorities, "priority_id"),
            (&q.request_types, "tickettype_id"),
            (&q.slas, "sla_id"),
            (&q.client_ids, "client_id"),
            (&q.ticket_ids, "id"),
        ];
        if !id_lists.iter().all(|(ids, key)| listed(ids, key)) {
            return false;
        }
        if id_of(record, "id").is_some_and(|id| q.exclude_ids.contains(&id)) {
            return false;
        }
        if q.request_type_id.is_some() && id_of(record, "tickettype_id") != q.request_type_id {
            return false;
        }
        let contains = |text: Option<&str>, term: &Option<String>| match term {
            Some(term) => {
                text.is_some_and(|t| t.to_lowercase().contains(&term.trim().to_lowercase()))
            }
            None => true,
        };
        let user_name = id_of(record, "user_id").and_then(|u| self.name_of(Entity::User, u));
        if !contains(
            record.get("summary").and_then(Value::as_str),
            &q.search_summary,
        ) || !contains(
            record.get("details").and_then(Value::as_str),
            &q.search_details,
        ) || !contains(user_name, &q.search_user_name)
        {
            return false;
        }
        if let Some(field) = &q.date_search {
            let field = field.to_ascii_lowercase();
            // Halo spells the parameter value `dateoccured`; the field is `dateoccurred`.
            let field = if field == "dateoccured" {
                "dateoccurred".to_owned()
            } else {
                field
            };
            if q.start_date.is_some() || q.end_date.is_some() {
                let Some(date) = record.get(&field).and_then(Value::as_str) else {
                    return false;
                };
                let date = date.get(..19).unwrap_or(date);
                if q.start_date.as_deref().is_some_and(|s| date < s)
                    || q.end_date.as_deref().is_some_and(|e| date > e)
                {
                    return false;
                }
            }
        }
        true
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
