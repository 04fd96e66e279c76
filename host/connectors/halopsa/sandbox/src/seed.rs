//! The data a fresh sandbox starts with: the lookups every Halo instance has, and (optionally) a
//! small demo MSP with a handful of customers.
//!
//! The demo has deliberate edge cases: an inactive client, site and user (hidden from default
//! lists), a client with two sites (so deleting it is refused), a ticket type that needs approval,
//! closed and open tickets across several agents, and ticket ids in a different range from every
//! other id so that mixed-up ids show.

use serde_json::{Value, json};

use crate::model::Entity;
use crate::store::Store;

fn put(store: &mut Store, entity: Entity, record: Value) {
    let Value::Object(map) = record else {
        unreachable!("seed records are objects")
    };
    store.put(entity, map);
}

/// Loads the lookups, and the demo MSP when `demo` is true.
pub(crate) fn load(store: &mut Store, demo: bool) {
    lookups(store);
    if demo {
        customers(store);
        staff(store);
        tickets(store);
    }
}

fn lookups(store: &mut Store) {
    for (id, name, requires_approval) in [
        (1, "Incident", false),
        (2, "Change Request", true),
        (3, "Service Request", false),
        (4, "Problem", false),
        (16, "Leaver Request", false),
        (17, "New Starter Request", false),
    ] {
        put(
            store,
            Entity::TicketType,
            json!({"id": id, "name": name, "requires_approval": requires_approval, "inactive": false}),
        );
    }
    for (id, name, closed) in [
        (1, "New", false),
        (2, "In Progress", false),
        (3, "Waiting on Customer", false),
        (9, "Closed", true),
    ] {
        put(
            store,
            Entity::Status,
            json!({"id": id, "name": name, "type": if closed { "closed" } else { "open" }}),
        );
    }
    for (id, name, hours) in [
        (1, "Critical", 4),
        (2, "High", 8),
        (3, "Medium", 24),
        (4, "Low", 72),
    ] {
        put(
            store,
            Entity::Priority,
            json!({"id": id, "name": name, "fixtime_hours": hours}),
        );
    }
    // Every Halo API application logs in as an agent; this is the one tokens act as.
    put(
        store,
        Entity::Agent,
        json!({"id": 1, "name": "API User", "email": "api@msp.example", "isactive": true, "is_agent": true, "is_api_agent": true, "colour": "#7f8c8d", "lastlogindate": crate::clock::now()}),
    );
}

fn customers(store: &mut Store) {
    let clients = [
        json!({"id": 1, "name": "Acme Manufacturing Ltd", "toplevel_id": 1, "inactive": false, "is_vip": true,
               "website": "https://www.acme-mfg.example", "emailaddress": "it@acme-mfg.example", "phonenumber": "+44 113 496 0100",
               "notes": "Managed services, 24x7 cover", "datecreated": "2023-03-14T09:00:00"}),
        json!({"id": 2, "name": "Brightwater Dental Group", "toplevel_id": 1, "inactive": false, "is_vip": false,
               "website": "https://brightwater-dental.example", "emailaddress": "practice@brightwater-dental.example",
               "phonenumber": "+44 117 496 0200", "notes": "", "datecreated": "2023-08-02T11:30:00"}),
        json!({"id": 3, "name": "Cobalt Logistics", "toplevel_id": 2, "inactive": false, "is_vip": false,
               "website": "https://cobalt-logistics.example", "emailaddress": "ops@cobalt-logistics.example",
               "phonenumber": "+44 1394 496 030", "notes": "Break/fix, pay as you go", "datecreated": "2024-01-22T14:05:00"}),
        json!({"id": 4, "name": "Dunmore Legal LLP", "toplevel_id": 1, "inactive": true, "is_vip": false,
               "website": "https://dunmore-legal.example", "emailaddress": "office@dunmore-legal.example",
               "phonenumber": "+44 20 7946 0400", "notes": "Contract ended 2024-12", "datecreated": "2022-11-10T10:00:00"}),
    ];
    for client in clients {
        put(store, Entity::Client, client);
    }

    for (id, client_id, name, contact, phone, inactive) in [
        (1, 1, "Head Office", "Jane Smith", "+44 113 496 0101", false),
        (
            2,
            1,
            "Leeds Warehouse",
            "Oliver Grant",
            "+44 113 496 0150",
            false,
        ),
        (
            3,
            2,
            "Main Clinic",
            "Emma Clarke",
            "+44 117 496 0201",
            false,
        ),
        (4, 2, "Harbour Street Clinic", "", "+44 117 496 0250", true),
        (
            5,
            3,
            "Felixstowe Depot",
            "Sofia Rossi",
            "+44 1394 496 031",
            false,
        ),
        (6, 4, "Chambers", "Grace Hughes", "+44 20 7946 0401", false),
    ] {
        put(
            store,
            Entity::Site,
            json!({"id": id, "name": name, "client_id": client_id, "maincontact_name": contact,
                   "phonenumber": phone, "notes": "", "inactive": inactive, "datecreated": "2023-09-01T08:00:00"}),
        );
    }

    for (id, site_id, name, surname, email, inactive) in [
        (1, 1, "Jane", "Smith", "jane.smith@acme-mfg.example", false),
        (2, 1, "Raj", "Patel", "raj.patel@acme-mfg.example", false),
        (
            3,
            2,
            "Oliver",
            "Grant",
            "oliver.grant@acme-mfg.example",
            false,
        ),
        (
            4,
            3,
            "Emma",
            "Clarke",
            "emma.clarke@brightwater-dental.example",
            false,
        ),
        (
            5,
            3,
            "Liam",
            "O'Connor",
            "liam.oconnor@brightwater-dental.example",
            false,
        ),
        (
            6,
            5,
            "Sofia",
            "Rossi",
            "sofia.rossi@cobalt-logistics.example",
            false,
        ),
        (
            7,
            5,
            "Noah",
            "Williams",
            "noah.williams@cobalt-logistics.example",
            true,
        ),
        (
            8,
            6,
            "Grace",
            "Hughes",
            "grace.hughes@dunmore-legal.example",
            false,
        ),
    ] {
        put(
            store,
            Entity::User,
            json!({"id": id, "name": format!("{name} {surname}"), "firstname": name, "surname": surname,
                   "emailaddress": email, "site_id": site_id, "notes": "", "inactive": inactive,
                   "has_password": false, "datecreated": "2023-09-01T08:00:00"}),
        );
    }
}

fn staff(store: &mut Store) {
    for (id, name) in [(1, "Service Desk"), (2, "Projects"), (3, "Field Engineers")] {
        put(
            store,
            Entity::Team,
            json!({"id": id, "name": name, "inactive": false, "forrequests": true}),
        );
    }
    // (id, name, email, team id, role, active, days since last login, colour). Tom Becker has
    // not logged in for months (an unused seat); Lena Fischer left last year and is deactivated.
    for (id, name, email, team, role, active, last_login, colour) in [
        (2, "Sam Carter", "sam.carter@msp.example", 1, "Technician", true, 1, "#2e86de"),
        (3, "Priya Natarajan", "priya.natarajan@msp.example", 3, "Technician", true, 3, "#e67e22"),
        (4, "Tom Becker", "tom.becker@msp.example", 2, "Project Manager", true, 200, "#27ae60"),
        (5, "Lena Fischer", "lena.fischer@msp.example", 1, "Technician", false, 400, "#8e44ad"),
    ] {
        let (first, surname) = name.split_once(' ').unwrap_or((name, ""));
        put(
            store,
            Entity::Agent,
            json!({"id": id, "name": name, "firstname": first, "surname": surname, "email": email,
                   "team_id": team, "role": role, "isactive": active, "is_agent": true, "colour": colour,
                   "lastlogindate": crate::clock::days_ago(last_login),
                   "datecreated": "2023-01-09T09:00:00"}),
        );
    }
    // Ten named licences: the demo uses four.
    store.agent_seats = Some(10);
}

fn tickets(store: &mut Store) {
    // (id, summary, details, type, status, priority, user, agent, team, occurred)
    let rows = [
        (
            1001,
            "Printer on 2nd floor offline",
            "HP LaserJet not responding to ping since this morning.",
            1,
            2,
            3,
            1,
            2,
            1,
            "2025-01-06T09:12:00",
        ),
        (
            1002,
            "New starter: Mia Turner",
            "Laptop, M365 licence and door fob for Monday.",
            17,
            1,
            3,
            2,
            2,
            1,
            "2025-01-07T10:40:00",
        ),
        (
            1003,
            "Warehouse Wi-Fi drops",
            "Handheld scanners lose connection in aisle 7.",
            1,
            3,
            2,
            3,
            3,
            3,
            "2025-01-08T07:55:00",
        ),
        (
            1004,
            "Imaging PC slow to boot",
            "X-ray imaging workstation takes 10 minutes to start.",
            1,
            9,
            3,
            4,
            3,
            3,
            "2024-12-16T13:20:00",
        ),
        (
            1005,
            "Leaver: Paul Reed",
            "Disable account and forward mailbox to practice manager.",
            16,
            9,
            4,
            5,
            2,
            1,
            "2024-12-20T16:00:00",
        ),
        (
            1006,
            "Firewall firmware upgrade",
            "Scheduled upgrade of the depot firewall.",
            2,
            2,
            3,
            6,
            4,
            2,
            "2025-01-09T08:30:00",
        ),
        (
            1007,
            "Recurring VPN disconnects",
            "Root cause for repeated VPN drops at the depot.",
            4,
            2,
            2,
            6,
            4,
            2,
            "2025-01-10T12:00:00",
        ),
        (
            1008,
            "Shared mailbox access",
            "Access to accounts@ for the new bookkeeper.",
            3,
            1,
            4,
            2,
            0,
            1,
            "2025-01-13T09:05:00",
        ),
        (
            1009,
            "Server disk space alert",
            "C: on FS01 below 10% free.",
            1,
            9,
            1,
            1,
            2,
            1,
            "2024-11-28T03:14:00",
        ),
        (
            1010,
            "Archive matter files",
            "Export closed matters before contract end.",
            3,
            9,
            4,
            8,
            3,
            3,
            "2024-12-02T15:45:00",
        ),
    ];
    for (id, summary, details, tickettype, status, priority, user, agent, team, occurred) in rows {
        let site = store
            .get(Entity::User, user)
            .and_then(|u| u.get("site_id").cloned())
            .unwrap_or(Value::Null);
        let client = site
            .as_i64()
            .and_then(|s| store.get(Entity::Site, s))
            .and_then(|s| s.get("client_id").cloned())
            .unwrap_or(Value::Null);
        put(
            store,
            Entity::Ticket,
            json!({"id": id, "summary": summary, "details": details, "tickettype_id": tickettype,
                   "status_id": status, "priority_id": priority, "client_id": client, "site_id": site,
                   "user_id": user, "agent_id": agent, "team_id": team, "category_1": "",
                   "dateoccurred": occurred, "datecreated": occurred, "deleted": false}),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::id_of;

    #[test]
    fn demo_has_the_promised_shape() {
        let mut store = Store::default();
        load(&mut store, true);
        let count = |e| store.rows(e).count();
        let inactive = |e| {
            store
                .rows(e)
                .filter(|r| r["inactive"] == json!(true))
                .count()
        };
        assert_eq!((count(Entity::Client), inactive(Entity::Client)), (4, 1));
        assert_eq!((count(Entity::Site), inactive(Entity::Site)), (6, 1));
        assert_eq!((count(Entity::User), inactive(Entity::User)), (8, 1));
        assert_eq!(count(Entity::Ticket), 10);
        assert_eq!(count(Entity::Agent), 5);
        assert_eq!(count(Entity::Team), 3);
        assert_eq!(store.name_of(Entity::Agent, 1), Some("API User"));
        let closed = store
            .rows(Entity::Ticket)
            .filter(|t| id_of(t, "status_id") == Some(9))
            .count();
        assert!(closed > 0 && closed < 10);
        // Every ticket's client is the client of its site.
        for t in store.rows(Entity::Ticket) {
            let site = store
                .get(Entity::Site, id_of(t, "site_id").unwrap())
                .unwrap();
            assert_eq!(id_of(site, "client_id"), id_of(t, "client_id"));
        }
    }

    #[test]
    fn without_demo_only_lookups_remain() {
        let mut store = Store::default();
        load(&mut store, false);
        assert_eq!(store.rows(Entity::Client).count(), 0);
        assert_eq!(store.rows(Entity::Ticket).count(), 0);
        assert_eq!(store.rows(Entity::TicketType).count(), 6);
        assert_eq!(store.rows(Entity::Status).count(), 4);
        assert_eq!(store.rows(Entity::Agent).count(), 1);
    }
}
