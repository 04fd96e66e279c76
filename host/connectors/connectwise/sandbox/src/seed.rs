//! The sandbox's starting data. Lookups (security roles, locations, departments, time zones,
//! ticket statuses) and the API member exist in every instance; `demo` adds a small MSP:
//! technicians, one former employee already inactive, and tickets owned by them.

use serde_json::{Value, json};

use crate::store::{Entity, Store};

const SEEDED_AT: &str = "2025-01-06T09:00:00Z";

fn object(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("seed rows are objects"),
    }
}

pub(crate) fn load(store: &mut Store, demo: bool) {
    for (id, name, role_type) in [
        (1, "Admin", "SystemAdmin"),
        (2, "Technician", "Standard"),
        (3, "Dispatcher", "Standard"),
        (4, "Integration", "Standard"),
    ] {
        store.put(
            Entity::SecurityRole,
            object(json!({"id": id, "name": name, "roleType": role_type})),
        );
    }
    for (id, name) in [(1, "Head Office"), (2, "Remote")] {
        store.put(Entity::Location, object(json!({"id": id, "name": name})));
    }
    for (id, identifier, name) in [
        (1, "SVC", "Services"),
        (2, "SLS", "Sales"),
        (3, "ADM", "Administration"),
    ] {
        store.put(
            Entity::Department,
            object(json!({"id": id, "identifier": identifier, "name": name})),
        );
    }
    for (id, name, offset) in [
        (1, "Eastern Standard Time", -5.0),
        (2, "Central Standard Time", -6.0),
        (3, "Pacific Standard Time", -8.0),
        (4, "GMT Standard Time", 0.0),
    ] {
        store.put(
            Entity::TimeZone,
            object(json!({"id": id, "name": name, "offset": offset})),
        );
    }
    for (id, name, closed) in [
        (1, "New", false),
        (2, "In Progress", false),
        (3, "Waiting on Client", false),
        (4, "Completed", true),
        (5, "Cancelled", true),
    ] {
        store.put(
            Entity::TicketStatus,
            object(json!({"id": id, "name": name, "closedStatus": closed})),
        );
    }
    // The API member the sandbox's keys belong to; deactivated, the keys stop authenticating.
    member(
        store,
        crate::server::API_MEMBER_ID,
        "apiadmin",
        "API",
        "Admin",
        "A",
        1,
        false,
    );
    if !demo {
        return;
    }
    member(store, 2, "jdoe", "Jane", "Doe", "F", 2, false);
    member(store, 3, "asmith", "Alex", "Smith", "F", 2, false);
    member(store, 4, "mgarcia", "Maria", "Garcia", "F", 3, false);
    member(store, 5, "former", "Fred", "Former", "F", 2, true);
    let tickets = [
        (1, "Printer offline in accounts", 2, 1),
        (2, "New starter laptop", 2, 2),
        (3, "VPN drops every hour", 2, 3),
        (4, "Password reset", 2, 4),
        (5, "Server disk space warning", 3, 1),
        (6, "Email signature update", 3, 4),
        (7, "Firewall firmware", 4, 2),
        (8, "Old ticket of a leaver", 5, 5),
    ];
    for (id, summary, owner, status) in tickets {
        let record = object(json!({
            "id": id,
            "summary": summary,
            "owner": {"id": owner},
            "status": {"id": status},
            "company": {"id": 1, "identifier": "Contoso", "name": "Contoso Ltd"},
            "resources": null,
        }));
        let record = crate::tickets::fixture(store, record, SEEDED_AT);
        store.put(Entity::Ticket, record);
    }
}

#[allow(clippy::too_many_arguments)]
fn member(
    store: &mut Store,
    id: i64,
    identifier: &str,
    first: &str,
    last: &str,
    license: &str,
    role: i64,
    inactive: bool,
) {
    let record = object(json!({
        "id": id,
        "identifier": identifier,
        "firstName": first,
        "lastName": last,
        "licenseClass": license,
        "officeEmail": format!("{identifier}@msp.example"),
        "securityRole": {"id": role},
        "defaultLocation": {"id": 1},
        "defaultDepartment": {"id": 1},
        "timeZone": {"id": 1},
        "hireDate": "2023-04-03T00:00:00Z",
        "inactiveFlag": inactive,
    }));
    let mut record = crate::members::fixture(store, record, SEEDED_AT);
    if inactive {
        record.insert("inactiveDate".into(), json!(SEEDED_AT));
    }
    store.put(Entity::Member, record);
}
