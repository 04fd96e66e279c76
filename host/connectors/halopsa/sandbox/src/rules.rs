//! Per-entity rules: what a create needs, what an update may change, which fields Halo derives,
//! and when a delete is refused.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::model::{Entity, Record, Rejection, id_of, id_value, is_deleted};
use crate::store::Store;

/// The seeded "Closed" status; a ticket is closed exactly when it has this status.
pub(crate) const STATUS_CLOSED: i64 = 9;
/// New tickets start as "New".
const STATUS_NEW: i64 = 1;
/// New tickets without a priority get "Medium".
const DEFAULT_PRIORITY: i64 = 3;
/// Halo's answer to a create on a ticket type bound to an approval process.
pub(crate) const APPROVAL_REQUIRED: &str = "CODE:APP03/2 Please select the CAB members to approve";

/// Fields holding ids of other records: normalised to integers on input, whatever JSON number or
/// numeric string the client sent.
const ID_FIELDS: &[&str] = &[
    "id",
    "client_id",
    "site_id",
    "user_id",
    "agent_id",
    "tickettype_id",
    "status_id",
    "priority_id",
    "toplevel_id",
    "team_id",
    "main_site_id",
    "ticket_id",
    "outcome_id",
];

/// Control flags read from a POSTed object (Halo's underscore fields).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct InputFlags {
    /// `_recover: true` restores a soft-deleted ticket.
    pub(crate) recover: bool,
}

/// Cleans a POSTed object before it is validated: control flags are taken out (they steer the
/// request and are not data), ids become integers, and a user's password becomes a flag.
pub(crate) fn normalise_input(
    entity: Entity,
    record: &mut Record,
) -> Result<InputFlags, Rejection> {
    let flags = InputFlags {
        recover: record
            .get("_recover")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    record.retain(|key, _| !key.starts_with('_'));

    let mut errors = Map::new();
    for key in ID_FIELDS {
        let Some(value) = record.get_mut(*key) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        match id_value(value) {
            Some(id) => *value = json!(id),
            None => {
                errors.insert(
                    (*key).to_owned(),
                    json!(format!("The value '{value}' is not valid for {key}.")),
                );
            }
        }
    }
    if entity == Entity::Agent {
        normalise_agent_status(record, &mut errors);
    }
    if entity == Entity::Priority {
        priority_number_as_key(record);
    }
    if entity == Entity::Action {
        check_time_taken(record, &mut errors);
    }
    if entity == Entity::User {
        for key in ["password", "new_password"] {
            let password = record.get(key).and_then(Value::as_str).unwrap_or_default();
            if !password.is_empty() && !meets_password_policy(password) {
                errors.insert(
                    key.to_owned(),
                    json!(
                        "The password must be at least 8 characters long and contain upper and lower case letters and a number or symbol."
                    ),
                );
            }
        }
        absorb_password(record);
    }
    if errors.is_empty() {
        Ok(flags)
    } else {
        Err(Rejection::Fields(errors))
    }
}

/// Agents are stored with `isactive` (seed 001's field); `isdisabled` (the swagger's) is derived
/// from it on output. A request may send either, or both when they agree.
fn normalise_agent_status(record: &mut Record, errors: &mut Map<String, Value>) {
    let active = record.get("isactive").and_then(Value::as_bool);
    let disabled = record.remove("isdisabled").and_then(|v| v.as_bool());
    match (active, disabled) {
        (Some(a), Some(d)) if a == d => {
            errors.insert(
                "isactive".to_owned(),
                json!("isactive and isdisabled contradict each other."),
            );
        }
        (None, Some(d)) => {
            record.insert("isactive".to_owned(), json!(!d));
        }
        _ => {}
    }
}

/// Halo lists a priority with a GUID `id` and the number tickets use as `priorityid` (reference
/// 2 and 4.7). The sandbox keys priorities by that number: a record written with `priorityid`
/// is stored under it, and [`decorate`] puts the GUID back on output.
pub(crate) fn priority_number_as_key(record: &mut Record) {
    if let Some(number) = record.remove("priorityid").as_ref().and_then(id_value) {
        record.insert("id".to_owned(), json!(number));
    }
}

/// The GUID Halo shows as a priority's `id`, made from its number so it is stable.
pub(crate) fn priority_guid(number: i64) -> String {
    format!("6a0c9f1e-5d2b-4c8a-9e31-{number:012x}")
}

/// An action's `timetaken` is hours: a number of 0 or more (a numeric string is read as one).
fn check_time_taken(record: &mut Record, errors: &mut Map<String, Value>) {
    let Some(value) = record.get("timetaken") else {
        return;
    };
    let hours = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        Value::Null => return,
        _ => None,
    };
    match hours.filter(|h| h.is_finite() && *h >= 0.0) {
        Some(h) => {
            record.insert("timetaken".to_owned(), json!(h));
        }
        None => {
            errors.insert(
                "timetaken".to_owned(),
                json!(format!("The value '{value}' is not valid for timetaken.")),
            );
        }
    }
}

/// Whether an agent counts as active (and so holds a licence seat).
pub(crate) fn agent_is_active(record: &Record) -> bool {
    record
        .get("isactive")
        .and_then(Value::as_bool)
        .or_else(|| record.get("isdisabled").and_then(Value::as_bool).map(|d| !d))
        .unwrap_or(true)
}

/// The agent every API application logs in as (`/api/Agent/me`, `is_api_agent`).
pub(crate) const API_AGENT_ID: i64 = 1;

/// Whether the API agent has been deactivated. Seed 000: API tokens and integration credentials
/// tied to a deactivated agent stop functioning (its login is disabled at once), so the sandbox
/// then refuses the token request and every resource call. A store without the agent (an
/// older state file) is not locked out.
pub(crate) fn api_agent_disabled(store: &Store) -> bool {
    store
        .get(Entity::Agent, API_AGENT_ID)
        .is_some_and(|agent| !agent_is_active(agent))
}

/// Halo sets an agent's team by name as well as by id (HaloAPI's E2E tests send `team: "Sales"`):
/// a `team` name without a `team_id` is resolved here; an unknown name is a 400.
pub(crate) fn resolve_names(
    store: &Store,
    entity: Entity,
    record: &mut Record,
) -> Result<(), Rejection> {
    if entity != Entity::Agent || id_of(record, "team_id").is_some_and(|id| id > 0) {
        return Ok(());
    }
    let Some(name) = record.get("team").and_then(Value::as_str).map(str::trim) else {
        return Ok(());
    };
    if name.is_empty() {
        return Ok(());
    }
    let team = store.rows(Entity::Team).find(|t| {
        t.get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.trim().eq_ignore_ascii_case(name))
    });
    match team.and_then(|t| id_of(t, "id")) {
        Some(id) => {
            record.insert("team_id".to_owned(), json!(id));
            record.remove("team");
            Ok(())
        }
        None => Err(Rejection::field(
            "team",
            format!("There is no team called '{name}'."),
        )),
    }
}

fn active_seats_used(store: &Store) -> usize {
    store
        .rows(Entity::Agent)
        .filter(|a| agent_is_active(a))
        .filter(|a| a.get("is_api_agent").and_then(Value::as_bool) != Some(true))
        .count()
}

/// Named licences: a save that would leave more active agents than seats (and more than before)
/// is refused with HTTP 200 and the error in the body, as Halo's seat check does.
pub(crate) fn check_seats(before: &Store, after: &Store) -> Result<(), Rejection> {
    let Some(seats) = before.agent_seats else {
        return Ok(());
    };
    let used = active_seats_used(after);
    if used > seats && used > active_seats_used(before) {
        return Err(Rejection::Body(
            StatusCode::OK,
            json!({
                "id": 0,
                "errorMessage": format!(
                    "Licence check failed: all {seats} named agent licences are in use. Deactivate an agent or buy more licences."
                ),
            }),
        ));
    }
    Ok(())
}

/// The policy Halo applies by default: 8+ characters, upper and lower case, a digit or symbol.
fn meets_password_policy(password: &str) -> bool {
    password.chars().count() >= 8
        && password.chars().any(|c| c.is_uppercase())
        && password.chars().any(|c| c.is_lowercase())
        && password.chars().any(|c| !c.is_alphabetic())
}

/// Passwords are write-only: only the fact that one was set is kept.
pub(crate) fn absorb_password(record: &mut Record) {
    let mut set = false;
    for key in ["password", "new_password"] {
        if let Some(value) = record.remove(key) {
            set |= value.as_str().is_some_and(|p| !p.is_empty());
        }
    }
    if set {
        record.insert("has_password".to_owned(), Value::Bool(true));
    }
}

fn required_fields(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Site => &["name", "client_id"],
        Entity::User => &["name", "site_id"],
        Entity::Ticket => &["summary", "tickettype_id"],
        // An action also needs an outcome, by name or id (checked in `validate_create`).
        Entity::Action => &["ticket_id"],
        _ => &["name"],
    }
}

/// A reference that must resolve when it is given: (field, entity it points to).
fn references(entity: Entity) -> &'static [(&'static str, Entity)] {
    match entity {
        Entity::Site => &[("client_id", Entity::Client)],
        Entity::User => &[("site_id", Entity::Site)],
        Entity::Ticket => &[("tickettype_id", Entity::TicketType)],
        Entity::Agent => &[("team_id", Entity::Team)],
        Entity::Action => &[("ticket_id", Entity::Ticket)],
        _ => &[],
    }
}

fn is_filled(value: Option<&Value>) -> bool {
    match value {
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(Value::Null) | None => false,
        Some(other) => id_value(other).is_none_or(|id| id > 0),
    }
}

fn required_message(key: &str) -> Value {
    json!(format!("The {key} field is required."))
}

pub(crate) fn validate_create(
    store: &Store,
    entity: Entity,
    record: &Record,
) -> Result<(), Rejection> {
    let mut errors = Map::new();
    for key in required_fields(entity) {
        if !is_filled(record.get(*key)) {
            errors.insert((*key).to_owned(), required_message(key));
        }
    }
    // HaloAPI's E2E tests: an action without an outcome is a 400, like one without a ticket.
    if entity == Entity::Action
        && !is_filled(record.get("outcome"))
        && !is_filled(record.get("outcome_id"))
    {
        errors.insert("outcome".to_owned(), required_message("outcome"));
    }
    if !errors.is_empty() {
        return Err(Rejection::Fields(errors));
    }
    check_references(store, entity, record)?;
    check_unique_email(store, entity, None, record)?;
    if entity == Entity::Ticket {
        let ticket_type =
            id_of(record, "tickettype_id").and_then(|id| store.get(Entity::TicketType, id));
        if ticket_type
            .is_some_and(|t| t.get("requires_approval").and_then(Value::as_bool) == Some(true))
        {
            return Err(Rejection::Text(
                StatusCode::BAD_REQUEST,
                APPROVAL_REQUIRED.to_owned(),
            ));
        }
    }
    Ok(())
}

/// Checks the fields an update sends; fields it leaves out keep their values and are not checked.
pub(crate) fn validate_update(
    store: &Store,
    entity: Entity,
    id: i64,
    changes: &Record,
) -> Result<(), Rejection> {
    let mut errors = Map::new();
    for key in required_fields(entity) {
        if changes.contains_key(*key) && !is_filled(changes.get(*key)) {
            errors.insert((*key).to_owned(), required_message(key));
        }
    }
    if !errors.is_empty() {
        return Err(Rejection::Fields(errors));
    }
    check_references(store, entity, changes)?;
    check_unique_email(store, entity, Some(id), changes)
}

fn check_references(store: &Store, entity: Entity, record: &Record) -> Result<(), Rejection> {
    for (key, target) in references(entity) {
        let id = id_of(record, key).filter(|id| *id > 0);
        // A soft-deleted ticket is gone as far as new references are concerned.
        let missing = |id: &i64| store.get(*target, *id).is_none_or(is_deleted);
        if let Some(id) = id.filter(missing) {
            return Err(Rejection::field(
                key,
                format!("{} {id} does not exist.", target.label()),
            ));
        }
    }
    Ok(())
}

/// Halo refuses a second user with the same email address.
fn check_unique_email(
    store: &Store,
    entity: Entity,
    own_id: Option<i64>,
    record: &Record,
) -> Result<(), Rejection> {
    let field = match entity {
        Entity::User => "emailaddress",
        Entity::Agent => "email",
        _ => return Ok(()),
    };
    let Some(email) = record
        .get(field)
        .and_then(Value::as_str)
        .map(str::trim)
    else {
        return Ok(());
    };
    if email.is_empty() {
        return Ok(());
    }
    let taken = store.rows(entity).any(|u| {
        id_of(u, "id") != own_id
            && u.get(field)
                .and_then(Value::as_str)
                .is_some_and(|e| e.trim().eq_ignore_ascii_case(email))
    });
    if taken {
        return Err(Rejection::field(
            field,
            format!(
                "{} with the email address {email} already exists.",
                if entity == Entity::User { "A user" } else { "An agent" }
            ),
        ));
    }
    Ok(())
}

fn default(record: &mut Record, key: &str, value: Value) {
    if record.get(key).is_none_or(Value::is_null) {
        record.insert(key.to_owned(), value);
    }
}

const AGENT_COLOURS: &[&str] = &[
    "#2e86de", "#e67e22", "#27ae60", "#8e44ad", "#c0392b", "#16a085",
];

/// Fields a new record gets when the request leaves them out.
pub(crate) fn apply_defaults(store: &Store, entity: Entity, record: &mut Record, now: &str) {
    match entity {
        Entity::Client => {
            default(record, "inactive", json!(false));
            default(record, "is_vip", json!(false));
            default(record, "toplevel_id", json!(1));
            default(record, "datecreated", json!(now));
        }
        Entity::Site => {
            default(record, "inactive", json!(false));
            default(record, "datecreated", json!(now));
        }
        Entity::User => {
            default(record, "inactive", json!(false));
            default(record, "has_password", json!(false));
            default(record, "datecreated", json!(now));
        }
        Entity::Ticket => {
            default(record, "status_id", json!(STATUS_NEW));
            default(record, "priority_id", json!(DEFAULT_PRIORITY));
            default(record, "dateoccurred", json!(now));
            default(record, "datecreated", json!(now));
            default(record, "deleted", json!(false));
            fill_derived_ids(store, entity, record);
        }
        Entity::Agent => {
            let colour = AGENT_COLOURS[store.rows(Entity::Agent).count() % AGENT_COLOURS.len()];
            default(record, "isactive", json!(true));
            default(record, "is_agent", json!(true));
            default(record, "colour", json!(colour));
            // Never logged in yet; the seat is used from the moment the agent is saved (seed 000).
            default(record, "lastlogindate", Value::Null);
            default(record, "datecreated", json!(now));
        }
        Entity::Team => default(record, "inactive", json!(false)),
        Entity::TicketType | Entity::Status | Entity::Priority => {}
        Entity::Action => {
            // Numbered per ticket, written by the agent the token acts as (the API agent).
            let ticket = id_of(record, "ticket_id");
            let number = store
                .rows(Entity::Action)
                .filter(|a| id_of(a, "ticket_id") == ticket)
                .count()
                + 1;
            default(record, "actionnumber", json!(number));
            default(record, "who", json!("API User"));
            default(record, "who_agentid", json!(1));
            default(record, "datetime", json!(now));
            default(record, "hiddenfromuser", json!(false));
            default(record, "timetaken", json!(0.0));
        }
    }
}

/// A ticket logged for a user belongs to that user's site and client unless told otherwise,
/// as when an agent picks the user first in Halo.
pub(crate) fn fill_derived_ids(store: &Store, entity: Entity, record: &mut Record) {
    if entity != Entity::Ticket {
        return;
    }
    let has = |r: &Record, key| id_of(r, key).is_some_and(|id| id > 0);
    if !has(record, "site_id") {
        let site = id_of(record, "user_id")
            .and_then(|u| store.get(Entity::User, u))
            .and_then(|u| id_of(u, "site_id"));
        if let Some(site) = site {
            record.insert("site_id".to_owned(), json!(site));
        }
    }
    if !has(record, "client_id") {
        let client = id_of(record, "site_id")
            .and_then(|s| store.get(Entity::Site, s))
            .and_then(|s| id_of(s, "client_id"));
        if let Some(client) = client {
            record.insert("client_id".to_owned(), json!(client));
        }
    }
}

/// Sets `name_key` to the name of the record `id_key` points at, or removes it when that
/// reference does not resolve, so a derived name is never stale.
fn derive_name(store: &Store, out: &mut Record, id_key: &str, target: Entity, name_key: &str) {
    let name = id_of(out, id_key)
        .and_then(|id| store.name_of(target, id))
        .map(str::to_owned);
    match name {
        Some(name) => {
            out.insert(name_key.to_owned(), json!(name));
        }
        None => {
            out.remove(name_key);
        }
    }
}

/// Halo returns these two ids as doubles (`21.0`); strict deserialisers trip over it.
fn as_decimal(out: &mut Record, key: &str) {
    if let Some(id) = id_of(out, key) {
        out.insert(key.to_owned(), json!(id as f64));
    }
}

/// The record as the API returns it: stored fields plus the ones Halo derives.
pub(crate) fn decorate(store: &Store, entity: Entity, record: &Record) -> Value {
    let mut out = record.clone();
    match entity {
        Entity::Site => {
            derive_name(store, &mut out, "client_id", Entity::Client, "client_name");
            let site = out.get("name").and_then(Value::as_str).unwrap_or_default();
            let label = match out.get("client_name").and_then(Value::as_str) {
                Some(client) => format!("{client} / {site}"),
                None => site.to_owned(),
            };
            out.insert("clientsite_name".to_owned(), json!(label));
            as_decimal(&mut out, "client_id");
        }
        Entity::User => {
            derive_name(store, &mut out, "site_id", Entity::Site, "site_name");
            let client = id_of(&out, "site_id")
                .and_then(|s| store.get(Entity::Site, s))
                .and_then(|s| id_of(s, "client_id"));
            if let Some(client) = client {
                out.insert("client_id".to_owned(), json!(client));
            }
            derive_name(store, &mut out, "client_id", Entity::Client, "client_name");
            as_decimal(&mut out, "site_id");
        }
        Entity::Ticket => {
            for (id_key, target, name_key) in [
                ("tickettype_id", Entity::TicketType, "tickettype_name"),
                ("status_id", Entity::Status, "status_name"),
                ("priority_id", Entity::Priority, "priority_name"),
                ("client_id", Entity::Client, "client_name"),
                ("site_id", Entity::Site, "site_name"),
                ("user_id", Entity::User, "user_name"),
                ("agent_id", Entity::Agent, "agent_name"),
                ("team_id", Entity::Team, "team"),
            ] {
                derive_name(store, &mut out, id_key, target, name_key);
            }
        }
        Entity::Priority => {
            if let Some(number) = id_of(&out, "id") {
                out.insert("id".to_owned(), json!(priority_guid(number)));
                out.insert("priorityid".to_owned(), json!(number));
            }
        }
        Entity::Agent => {
            derive_name(store, &mut out, "team_id", Entity::Team, "team");
            let active = agent_is_active(&out);
            out.insert("isactive".to_owned(), json!(active));
            out.insert("isdisabled".to_owned(), json!(!active));
        }
        _ => {}
    }
    Value::Object(out)
}

/// Halo refuses to delete a record other records still hang off.
pub(crate) fn check_delete(store: &Store, entity: Entity, id: i64) -> Result<(), Rejection> {
    let (children, noun) = match entity {
        Entity::Client => (
            store
                .rows(Entity::Site)
                .filter(|s| id_of(s, "client_id") == Some(id))
                .count(),
            "site(s)",
        ),
        Entity::Site => (
            store
                .rows(Entity::User)
                .filter(|u| id_of(u, "site_id") == Some(id))
                .count(),
            "user(s)",
        ),
        // Seed 001: deleting an agent "breaks referential integrity in historical ticket data".
        Entity::Agent => (
            store
                .rows(Entity::Ticket)
                .filter(|t| id_of(t, "agent_id") == Some(id))
                .count(),
            "ticket(s) assigned; deactivate the agent instead",
        ),
        Entity::Team => (
            store
                .rows(Entity::Agent)
                .filter(|a| id_of(a, "team_id") == Some(id))
                .count(),
            "agent(s)",
        ),
        _ => (0, ""),
    };
    if children > 0 {
        return Err(Rejection::message(
            StatusCode::BAD_REQUEST,
            format!(
                "{} {id} cannot be deleted while it has {children} {noun}.",
                entity.label()
            ),
        ));
    }
    Ok(())
}

/// The fields `search` looks in, beyond the record's name.
fn search_fields(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Client => &[
            "name",
            "email",
            "emailaddress",
            "phonenumber",
            "website",
            "ref",
        ],
        Entity::Site => &[
            "name",
            "email",
            "phonenumber",
            "maincontact_name",
            "postcode",
        ],
        Entity::User => &[
            "name",
            "firstname",
            "surname",
            "emailaddress",
            "login",
            "phonenumber",
            "mobilenumber",
        ],
        Entity::Ticket => &["summary", "details"],
        Entity::Agent => &["name", "email"],
        Entity::Action => &["note"],
        _ => &["name"],
    }
}

/// Case-insensitive "contains" over the entity's text fields; a ticket also matches its number.
pub(crate) fn search_matches(entity: Entity, record: &Record, term: &str) -> bool {
    let term = term.trim().to_lowercase();
    if term.is_empty() {
        return true;
    }
    if entity == Entity::Ticket && term.parse::<i64>().ok() == id_of(record, "id") {
        return true;
    }
    let text = |key: &str| {
        record
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_lowercase)
    };
    if search_fields(entity)
        .iter()
        .filter_map(|k| text(k))
        .any(|v| v.contains(&term))
    {
        return true;
    }
    // "Jane Smith" should find name "Jane", surname "Smith".
    entity == Entity::User
        && matches!((text("name"), text("surname")), (Some(n), Some(s)) if format!("{n} {s}").contains(&term))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(value: Value) -> Record {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn store() -> Store {
        let mut store = Store::default();
        crate::seed::load(&mut store, true);
        store
    }

    #[test]
    fn required_fields_are_reported_together() {
        let err = validate_create(&store(), Entity::Site, &obj(json!({"notes": "x"}))).unwrap_err();
        assert_eq!(
            err,
            Rejection::Fields(obj(json!({
                "name": "The name field is required.",
                "client_id": "The client_id field is required."
            })))
        );
        let err =
            validate_create(&store(), Entity::Client, &obj(json!({"name": "  "}))).unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn tickets_do_not_need_details_but_need_a_known_type() {
        let s = store();
        assert!(
            validate_create(
                &s,
                Entity::Ticket,
                &obj(json!({"summary": "s", "tickettype_id": 1}))
            )
            .is_ok()
        );
        let err = validate_create(
            &s,
            Entity::Ticket,
            &obj(json!({"summary": "s", "tickettype_id": 999})),
        )
        .unwrap_err();
        assert!(matches!(err, Rejection::Fields(f) if f.contains_key("tickettype_id")));
    }

    #[test]
    fn approval_ticket_types_are_refused_with_halo_text() {
        let err = validate_create(
            &store(),
            Entity::Ticket,
            &obj(json!({"summary": "s", "tickettype_id": 2})),
        )
        .unwrap_err();
        assert_eq!(
            err,
            Rejection::Text(StatusCode::BAD_REQUEST, APPROVAL_REQUIRED.to_owned())
        );
    }

    #[test]
    fn site_and_user_references_must_exist() {
        let s = store();
        let err = validate_create(
            &s,
            Entity::Site,
            &obj(json!({"name": "x", "client_id": 999})),
        )
        .unwrap_err();
        assert!(
            matches!(err, Rejection::Fields(f) if f["client_id"] == "Client 999 does not exist.")
        );
        let err = validate_create(&s, Entity::User, &obj(json!({"name": "x", "site_id": 999})))
            .unwrap_err();
        assert!(matches!(err, Rejection::Fields(f) if f.contains_key("site_id")));
        let err =
            validate_update(&s, Entity::Site, 1, &obj(json!({"client_id": 999}))).unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert!(validate_update(&s, Entity::Site, 1, &obj(json!({"notes": "only notes"}))).is_ok());
    }

    #[test]
    fn duplicate_emails_are_refused_case_insensitively_except_for_oneself() {
        let s = store();
        let (id, email) = s
            .rows(Entity::User)
            .find_map(|u| {
                Some((
                    id_of(u, "id")?,
                    u.get("emailaddress")?.as_str()?.to_uppercase(),
                ))
            })
            .unwrap();
        let new = obj(json!({"name": "x", "site_id": 1, "emailaddress": email}));
        assert!(validate_create(&s, Entity::User, &new).is_err());
        assert!(
            validate_update(&s, Entity::User, id, &obj(json!({"emailaddress": email}))).is_ok()
        );
    }

    #[test]
    fn passwords_are_checked_and_never_kept() {
        let mut weak = obj(json!({"name": "x", "password": "password"}));
        assert!(normalise_input(Entity::User, &mut weak).is_err());
        let mut strong = obj(json!({"name": "x", "password": "S3cure!pass"}));
        normalise_input(Entity::User, &mut strong).unwrap();
        assert!(!strong.contains_key("password"));
        assert_eq!(strong["has_password"], json!(true));
    }

    #[test]
    fn input_ids_become_integers_and_control_flags_are_dropped() {
        let mut record = obj(
            json!({"client_id": 21.0, "site_id": "4", "_validate_updates": true, "_recover": true}),
        );
        let flags = normalise_input(Entity::Ticket, &mut record).unwrap();
        assert!(flags.recover);
        assert_eq!(record, obj(json!({"client_id": 21, "site_id": 4})));
        let mut bad = obj(json!({"client_id": "acme"}));
        assert!(normalise_input(Entity::Site, &mut bad).is_err());
    }

    #[test]
    fn sites_and_users_carry_decimal_ids_and_derived_names() {
        let s = store();
        let site = s.rows(Entity::Site).next().unwrap();
        let out = decorate(&s, Entity::Site, site);
        assert!(out["client_id"].is_f64());
        let client = s
            .name_of(Entity::Client, id_of(site, "client_id").unwrap())
            .unwrap();
        assert_eq!(
            out["clientsite_name"],
            json!(format!("{client} / {}", site["name"].as_str().unwrap()))
        );
        let user = s.rows(Entity::User).next().unwrap();
        let out = decorate(&s, Entity::User, user);
        assert!(out["site_id"].is_f64());
        assert!(out["client_id"].is_i64());
        assert!(out["client_name"].is_string());
    }

    #[test]
    fn clients_with_sites_cannot_be_deleted() {
        let s = store();
        let err = check_delete(&s, Entity::Client, 1).unwrap_err();
        assert!(
            matches!(err, Rejection::Message(StatusCode::BAD_REQUEST, m) if m.contains("site(s)"))
        );
    }

    #[test]
    fn search_is_case_insensitive_over_text_fields() {
        let user = obj(
            json!({"id": 5, "name": "Jane", "surname": "Smith", "emailaddress": "jane@acme.example"}),
        );
        assert!(search_matches(Entity::User, &user, "ACME"));
        assert!(search_matches(Entity::User, &user, "jane smith"));
        assert!(!search_matches(Entity::User, &user, "bob"));
        let ticket = obj(json!({"id": 1004, "summary": "Printer offline", "details": "Floor 2"}));
        assert!(search_matches(Entity::Ticket, &ticket, "floor"));
        assert!(search_matches(Entity::Ticket, &ticket, "1004"));
    }
}

