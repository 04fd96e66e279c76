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
    for (id, name) in [(1, "Employee"), (2, "Contractor"), (3, "Subcontractor")] {
        let href = format!("{}/{id}", Entity::MemberType.path());
        store.put(
            Entity::MemberType,
            object(json!({"id": id, "name": name, "inactiveFlag": false, "_info": {"href": href}})),
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
    // The last column is when a ticket in a closed status was closed (after SEEDED_AT, when
    // every seeded ticket was entered); its owner closed it.
    let tickets = [
        (1, "Printer offline in accounts", 2, 1, None),
        (2, "New starter laptop", 2, 2, None),
        (3, "VPN drops every hour", 2, 3, None),
        (4, "Password reset", 2, 4, Some("2025-01-06T09:40:00Z")),
        (5, "Server disk space warning", 3, 1, None),
        (
            6,
            "Email signature update",
            3,
            4,
            Some("2025-01-08T14:15:00Z"),
        ),
        (7, "Firewall firmware", 4, 2, None),
        (
            8,
            "Old ticket of a leaver",
            5,
            5,
            Some("2025-01-10T16:30:00Z"),
        ),
    ];
    for (id, summary, owner, status, closed_at) in tickets {
        let record = object(json!({
            "id": id,
            "summary": summary,
            "owner": {"id": owner},
            "status": {"id": status},
            "company": {"id": 1, "identifier": "Contoso", "name": "Contoso Ltd"},
            "resources": null,
        }));
        let mut record = crate::tickets::fixture(store, record, SEEDED_AT);
        // A closed ticket carries when and by whom it was closed, as a PATCH to a closed
        // status stamps them; without them `closedDate = null` found closed tickets.
        let closed = record.get("closedFlag") == Some(&json!(true));
        let (closed_date, closed_by) = match (closed, closed_at) {
            (true, Some(at)) => (json!(at), record["owner"]["identifier"].clone()),
            _ => (Value::Null, Value::Null),
        };
        record.insert("closedDate".into(), closed_date);
        record.insert("closedBy".into(), closed_by);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conditions;

    fn matching(store: &Store, condition: &str) -> Vec<i64> {
        let condition = conditions::parse(condition).unwrap();
        store
            .all(Entity::Ticket)
            .into_iter()
            .filter(|t| condition.matches(t))
            .map(|t| t["id"].as_i64().unwrap())
            .collect()
    }

    #[test]
    fn closed_tickets_say_when_and_by_whom_after_they_were_entered() {
        let mut store = Store::default();
        load(&mut store, true);
        let closed = matching(&store, "closedFlag = true");
        assert_eq!(closed, [4, 6, 8]);
        for ticket in store.all(Entity::Ticket) {
            let is_closed = ticket["closedFlag"] == json!(true);
            if is_closed {
                let date = ticket["closedDate"].as_str().expect("closedDate");
                assert!(
                    date > ticket["_info"]["dateEntered"].as_str().unwrap(),
                    "{ticket}"
                );
                assert!(ticket["closedBy"].as_str().is_some_and(|b| !b.is_empty()));
            } else {
                assert_eq!(ticket["closedDate"], Value::Null, "{ticket}");
                assert_eq!(ticket["closedBy"], Value::Null, "{ticket}");
            }
        }
        assert_eq!(matching(&store, "closedDate != null"), closed);
        assert_eq!(
            matching(&store, "closedDate = null"),
            matching(&store, "closedFlag = false")
        );
        assert_eq!(
            matching(&store, "closedDate >= [2025-01-08T00:00:00Z]"),
            [6, 8]
        );
    }
}
