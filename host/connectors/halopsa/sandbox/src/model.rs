//! The sandbox's data model: the entities it serves, records, ids as Halo writes them, and
//! why a request is refused. Everything else (store, rules, operations) builds on this.

use axum::http::StatusCode;
use serde_json::{Map, Value};

/// The HaloPSA entities the sandbox serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entity {
    /// `/Client`: a customer of the MSP.
    Client,
    /// `/Site`: a client's location; users belong to one.
    Site,
    /// `/Tickets`.
    Ticket,
    /// `/Users`: a client's end user.
    User,
    /// `/Agent`: an MSP technician.
    Agent,
    /// `/Team`: a group of agents tickets are assigned to.
    Team,
    /// `/TicketType`: a lookup tickets refer to.
    TicketType,
    /// `/Status`: a ticket status lookup.
    Status,
    /// `/Priority`: a ticket priority lookup.
    Priority,
    /// A ticket action (a note, an email, a status change): `/Actions`, listed per ticket.
    Action,
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
        "action",
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
            "action" => Entity::Action,
            _ => return None,
        })
    }

    /// Every entity, in a fixed order (state files, listings).
    pub const ALL: [Entity; 10] = [
        Entity::Client,
        Entity::Site,
        Entity::Ticket,
        Entity::User,
        Entity::Agent,
        Entity::Team,
        Entity::TicketType,
        Entity::Status,
        Entity::Priority,
        Entity::Action,
    ];

    /// The name test files and state files use (`ticket_type`), one of [`Entity::NAMES`].
    pub fn name(self) -> &'static str {
        Entity::NAMES[Entity::ALL
            .iter()
            .position(|e| *e == self)
            .expect("every entity is in ALL")]
    }

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
            Entity::Action => "Actions",
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
            Entity::Action => Some("actions"),
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
            Entity::Action => "Action",
        }
    }

    /// Whether lists take `order` ... `order5` and `orderdesc` (halopsa-api.md §3: clients,
    /// sites, users, tickets).
    pub(crate) fn has_order(self) -> bool {
        matches!(
            self,
            Entity::Client | Entity::Site | Entity::User | Entity::Ticket
        )
    }

    /// Whether lists hide inactive records unless asked (`includeinactive`).
    pub(crate) fn has_active_filter(self) -> bool {
        matches!(self, Entity::Client | Entity::Site | Entity::User)
    }
}

pub(crate) type Record = Map<String, Value>;

/// Reads an integer id from a field, tolerating the decimals and strings Halo itself returns.
pub(crate) fn id_of(record: &Record, key: &str) -> Option<i64> {
    record.get(key).and_then(id_value)
}

pub(crate) use psaflow_core::values::id as id_value;

pub(crate) fn is_deleted(record: &Record) -> bool {
    record
        .get("deleted")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Why a request is refused, in the body shape Halo uses for that kind of refusal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rejection {
    /// 400 with an ASP.NET model-state body: `{"<field>": "<message>", ...}`.
    Fields(Map<String, Value>),
    /// Any status with `{"message": "..."}`.
    Message(StatusCode, String),
    /// Any status with a plain-text body (Halo's coded business errors).
    Text(StatusCode, String),
    /// Any status (even 200) with this JSON body: Halo reports a failed licence check in the body
    /// of a 200 (seed 001: "do not rely on HTTP status alone").
    Body(StatusCode, Value),
}

impl Rejection {
    pub(crate) fn field(key: &str, message: impl Into<String>) -> Rejection {
        let mut fields = Map::new();
        fields.insert(key.to_owned(), Value::String(message.into()));
        Rejection::Fields(fields)
    }

    pub(crate) fn message(status: StatusCode, message: impl Into<String>) -> Rejection {
        Rejection::Message(status, message.into())
    }

    pub(crate) fn not_found(entity: Entity, id: i64) -> Rejection {
        Rejection::message(
            StatusCode::NOT_FOUND,
            format!("{} {id} not found.", entity.label()),
        )
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Rejection::Fields(_) => StatusCode::BAD_REQUEST,
            Rejection::Message(status, _)
            | Rejection::Text(status, _)
            | Rejection::Body(status, _) => *status,
        }
    }
}

