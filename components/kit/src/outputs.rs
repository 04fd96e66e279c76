//! Seed-facing fields that HaloPSA's records spell differently, added to a node's output from
//! the record's own fields (never invented: a field is added only when its source is there, and
//! a field the record already has is left alone).
//!
//! - `Ticket` (seed "Get a Ticket" / "Update a Ticket"): `status` (string, the status name, from
//!   `status_name`) and `priority` (object `{"id", "name"}` from `priority_id` and
//!   `priority_name`). HaloPSA's ticket (`Faults`, halopsa-api.md §4.3) carries only the flat
//!   fields, which stay.
//! - `Client` (seed "Create/Get/Update a Client"): `email` and `phone`, from the contact fields
//!   psaflow writes, `emailaddress` and `phonenumber` (halopsa-api.md names no contact field for
//!   the Client; HaloPSA spells them so for Users, Sites and Teams, §4.2, §4.4, §4.6).
//!
//! Applied by [`crate::envelope::success`] to every successful output of those names, so each
//! node that returns a ticket or a client (create, get, update, recovery) has them.

use crate::prelude::*;
use serde_json::{Map, Value};

/// Adds the seed-facing fields of output `output_name` to `output` (an object; anything else is
/// left as it is).
pub fn add_seed_fields(output_name: &str, output: &mut Value) {
    let Value::Object(record) = output else {
        return;
    };
    match output_name {
        "Ticket" => ticket(record),
        "Client" => {
            alias(record, "email", "emailaddress");
            alias(record, "phone", "phonenumber");
        }
        _ => {}
    }
}

/// `record[to] = record[from]` when `to` is absent and `from` is present and not null.
fn alias(record: &mut Map<String, Value>, to: &str, from: &str) {
    if record.contains_key(to) {
        return;
    }
    if let Some(value) = record.get(from).filter(|v| !v.is_null()).cloned() {
        record.insert(to.into(), value);
    }
}

fn ticket(record: &mut Map<String, Value>) {
    alias(record, "status", "status_name");
    if record.contains_key("priority") {
        return;
    }
    let mut priority = Map::new();
    for (from, to) in [("priority_id", "id"), ("priority_name", "name")] {
        if let Some(value) = record.get(from).filter(|v| !v.is_null()) {
            priority.insert(to.into(), value.clone());
        }
    }
    if !priority.is_empty() {
        record.insert("priority".into(), Value::Object(priority));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_seed_fields(name: &str, mut v: Value) -> Value {
        add_seed_fields(name, &mut v);
        v
    }

    #[test]
    fn tickets_carry_status_and_priority_as_the_seed_lists_them() {
        let t = with_seed_fields(
            "Ticket",
            json!({"id": 1, "status_id": 2, "status_name": "In Progress",
                   "priority_id": 3, "priority_name": "Medium"}),
        );
        assert_eq!(t["status"], "In Progress");
        assert_eq!(t["priority"], json!({"id": 3, "name": "Medium"}));
        // The flat fields stay.
        assert_eq!(
            (t["status_id"].clone(), t["priority_name"].clone()),
            (json!(2), json!("Medium"))
        );
        // Nothing invented: no source, no field; a field the record has is kept.
        let t = with_seed_fields("Ticket", json!({"id": 1, "priority_id": 3}));
        assert_eq!(t.get("status"), None);
        assert_eq!(t["priority"], json!({"id": 3}));
        let t = with_seed_fields(
            "Ticket",
            json!({"id": 1, "status": "x", "status_name": "y"}),
        );
        assert_eq!(t["status"], "x");
        assert_eq!(t.get("priority"), None);
    }

    #[test]
    fn clients_carry_email_and_phone() {
        let c = with_seed_fields(
            "Client",
            json!({"id": 1, "emailaddress": "a@b.example", "phonenumber": "+44 1"}),
        );
        assert_eq!(
            (c["email"].clone(), c["phone"].clone()),
            (json!("a@b.example"), json!("+44 1"))
        );
        assert_eq!(c["emailaddress"], "a@b.example");
        let c = with_seed_fields(
            "Client",
            json!({"id": 1, "email": "kept@b.example", "emailaddress": "x@b.example"}),
        );
        assert_eq!(c["email"], "kept@b.example");
        assert_eq!(c.get("phone"), None);
        // Other outputs and non-objects are untouched.
        assert_eq!(
            with_seed_fields("Site", json!({"phonenumber": "1"})),
            json!({"phonenumber": "1"})
        );
        assert_eq!(with_seed_fields("Client", json!({})), json!({}));
    }
}
