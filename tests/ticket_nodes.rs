//! End-to-end tests of the Ticket nodes: the real components through the real host against the
//! sandbox over HTTP. Each operation: success (and the sandbox state after it), every validation
//! rule (-1 and no request sent), a business error (200 + message + the original status), a
//! server error and a network error (500, 0); get-many's status filters and paging across the
//! server's 100-record cap.

use psaflow_tests::{
    Entity, Harness, assert_empty_list_without_request, assert_invalid, assert_network_error,
    assert_pages_within_server_cap, assert_server_error, assert_success, codes, harness, ids_of,
    status,
};
use serde_json::{Value, json};

fn tickets(h: &Harness) -> Vec<Value> {
    h.sandbox.records(Entity::Ticket)
}

fn ticket_record(h: &Harness, id: i64) -> Option<Value> {
    tickets(h)
        .into_iter()
        .find(|t| t["id"].as_i64() == Some(id))
}

// ---------------------------------------------------------------------------------------------
// Create a Ticket

#[tokio::test(flavor = "multi_thread")]
async fn create_ticket_success_with_explicit_parameters_winning() {
    let h = harness().await;
    let count = tickets(&h).len();
    let envelope = h
        .invoke(
            "halopsa.ticket.create",
            json!({
                "TickettypeId": 1,
                "Summary": " Network printer is offline ",
                "Details": "The 2nd floor printer does not answer pings.",
                "AgentId": 2,
                "PriorityId": 2,
                "CategoryId": 12,
                "UserId": 4,
                "AdditionalFields": {
                    "site_id": 3,
                    "startdate": "2025-01-15T10:00:00Z",
                    "targetdate": "2025-01-17T18:00:00Z",
                    "tags": "urgent,hardware",
                    "Summary": "not this one",
                    "agent_id": 4,
                    "category_id": 99
                }
            }),
        )
        .await;
    assert_success(&envelope, 201);
    let ticket = &envelope["Ticket"];
    let id = ticket["id"].as_i64().expect("integer id");
    assert_eq!(ticket["summary"], "Network printer is offline");
    assert_eq!(
        ticket["details"],
        "The 2nd floor printer does not answer pings."
    );
    assert_eq!(ticket["tickettype_id"], 1);
    assert_eq!(ticket["agent_id"], 2, "AgentId wins over AdditionalFields");
    assert_eq!(ticket["priority_id"], 2);
    assert_eq!(
        ticket["categoryid_1"], 12,
        "CategoryId is sent as categoryid_1"
    );
    assert_eq!(ticket["user_id"], 4);
    assert_eq!(ticket["site_id"], 3);
    assert_eq!(ticket["startdate"], "2025-01-15T10:00:00Z");
    assert_eq!(ticket["targetdate"], "2025-01-17T18:00:00Z");
    assert_eq!(ticket["tags"], "urgent,hardware");

    // The sandbox holds the new ticket.
    assert_eq!(tickets(&h).len(), count + 1);
    let stored = ticket_record(&h, id).expect("stored");
    assert_eq!(stored["summary"], "Network printer is offline");
    assert_eq!(stored["agent_id"], 2);
    assert_eq!(stored["site_id"], 3);
    assert_eq!(stored["deleted"], false);

    // One object in a JSON array, with HaloPSA's field names and nothing overridden left in.
    let body = h.last_post_body();
    let sent = body.as_array().expect("a JSON array");
    assert_eq!(sent.len(), 1);
    let sent = sent[0].as_object().unwrap();
    assert!(
        !sent.contains_key("Summary") && !sent.contains_key("category_id"),
        "{body}"
    );
    assert_eq!(sent["categoryid_1"], 12);

    // The minimal ticket: only the required parameters.
    let envelope = h
        .invoke(
            "halopsa.ticket.create",
            json!({"TickettypeId": 3, "Summary": "Password reset", "Details": "For Raj Patel"}),
        )
        .await;
    assert_success(&envelope, 201);
    assert_eq!(
        h.last_post_body(),
        json!([{"tickettype_id": 3, "summary": "Password reset", "details": "For Raj Patel"}])
    );
    assert_eq!(tickets(&h).len(), count + 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn create_ticket_validation() {
    let h = harness().await;
    let node = "halopsa.ticket.create";
    let count = tickets(&h).len();
    let base = json!({"TickettypeId": 1, "Summary": "Printer offline", "Details": "Floor 2"});
    let with = |changes: Value| {
        let mut params = base.clone();
        for (k, v) in changes.as_object().unwrap() {
            params[k] = v.clone();
        }
        params
    };
    let cases = [
        (
            json!({"TickettypeId": 0}),
            "TickettypeId must be a positive integer",
        ),
        (
            json!({"TickettypeId": -1}),
            "TickettypeId must be a positive integer",
        ),
        (json!({"Summary": ""}), "Summary is required"),
        (json!({"Summary": "   "}), "Summary is required"),
        (json!({"Details": ""}), "Details is required"),
        (json!({"Details": " \n "}), "Details is required"),
        (json!({"AgentId": 0}), "AgentId must be a positive integer"),
        (
            json!({"PriorityId": -2}),
            "PriorityId must be a positive integer",
        ),
        (
            json!({"CategoryId": 0}),
            "CategoryId must be a positive integer",
        ),
        (json!({"UserId": -5}), "UserId must be a positive integer"),
        (
            json!({"AdditionalFields": [1, 2]}),
            "AdditionalFields must be a JSON object",
        ),
        (
            json!({"AdditionalFields": "[1, 2]"}),
            "AdditionalFields must be a JSON object",
        ),
        (
            json!({"AdditionalFields": "{not json"}),
            "AdditionalFields must be",
        ),
        (
            json!({"AdditionalFields": {"id": 1001}}),
            "AdditionalFields must not contain id",
        ),
        (
            json!({"AdditionalFields": {"startdate": "2025-01-15"}}),
            "AdditionalFields.startdate must be an ISO 8601 date and time",
        ),
        (
            json!({"AdditionalFields": {"targetdate": "17/01/2025 18:00"}}),
            "AdditionalFields.targetdate must be an ISO 8601 date and time",
        ),
        (
            json!({"AdditionalFields": {"site_id": 3, "targetdate": "2025-01-17T25:00:00"}}),
            "AdditionalFields.targetdate must be an ISO 8601 date and time",
        ),
    ];
    for (changes, message) in cases {
        assert_invalid(&h, node, with(changes), message, "Ticket", json!({})).await;
    }
    // A required parameter left out is refused before the node runs.
    for missing in ["TickettypeId", "Summary", "Details"] {
        let mut params = base.clone();
        params.as_object_mut().unwrap().remove(missing);
        assert_invalid(&h, node, params, missing, "Ticket", json!({})).await;
    }
    assert_eq!(tickets(&h).len(), count, "nothing created");
}

#[tokio::test(flavor = "multi_thread")]
async fn create_ticket_business_server_and_network_errors() {
    let h = harness().await;
    let node = "halopsa.ticket.create";
    let count = tickets(&h).len();
    // Ticket type 2 (Change Request) is bound to an approval process.
    let envelope = h
        .invoke(
            node,
            json!({"TickettypeId": 2, "Summary": "Firewall change", "Details": "Open port 443"}),
        )
        .await;
    assert_eq!(
        codes(&envelope),
        (
            200,
            400,
            "CODE:APP03/2 Please select the CAB members to approve".to_string()
        ),
        "{envelope}"
    );
    assert_eq!(envelope["Ticket"], json!({}));

    // An unknown ticket type: HaloPSA's field message.
    let envelope = h
        .invoke(
            node,
            json!({"TickettypeId": 999, "Summary": "x", "Details": "y"}),
        )
        .await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 400), "{envelope}");
    assert!(message.contains("tickettype_id"), "{message}");
    assert_eq!(envelope["Ticket"], json!({}));
    assert_eq!(tickets(&h).len(), count, "nothing created");

    let params = json!({"TickettypeId": 1, "Summary": "x", "Details": "y"});
    assert_server_error(&h, node, params.clone(), "Ticket", json!({})).await;
    assert_network_error(&h, node, params, "Ticket", json!({})).await;
    assert_eq!(tickets(&h).len(), count);
}

// ---------------------------------------------------------------------------------------------
// Get a Ticket

#[tokio::test(flavor = "multi_thread")]
async fn get_ticket() {
    let h = harness().await;
    let node = "halopsa.ticket.get";
    let envelope = h.invoke(node, json!({"Id": 1001})).await;
    assert_success(&envelope, 200);
    let ticket = &envelope["Ticket"];
    assert_eq!(ticket["id"], 1001);
    assert_eq!(ticket["summary"], "Printer on 2nd floor offline");
    assert_eq!(ticket["agent_id"], 2);
    assert_eq!(ticket["tickettype_id"], 1);
    assert!(ticket["user_name"].is_string(), "{ticket}");
    // The seed's "Get a Ticket" output: `status` is the status name, `priority` {id, name}.
    assert!(ticket["status_name"].is_string(), "{ticket}");
    assert_eq!(ticket["status"], ticket["status_name"]);
    assert_eq!(
        ticket["priority"],
        json!({"id": 3, "name": ticket["priority_name"].clone()})
    );
    assert!(ticket["priority"]["name"].is_string(), "{ticket}");

    // Closed tickets are retrievable too.
    let envelope = h.invoke(node, json!({"Id": 1004})).await;
    assert_success(&envelope, 200);
    assert_eq!(envelope["Ticket"]["status_id"], 9);

    for id in [0, -3] {
        assert_invalid(
            &h,
            node,
            json!({"Id": id}),
            "Id must be a positive integer",
            "Ticket",
            json!({}),
        )
        .await;
    }
    assert_invalid(&h, node, json!({}), "Id", "Ticket", json!({})).await;

    let envelope = h.invoke(node, json!({"Id": 99999})).await;
    assert_eq!(
        codes(&envelope),
        (200, 404, "Ticket with ID 99999 not found".to_string()),
        "{envelope}"
    );
    assert_eq!(envelope["Ticket"], json!({}));

    assert_server_error(&h, node, json!({"Id": 1001}), "Ticket", json!({})).await;
    assert_network_error(&h, node, json!({"Id": 1001}), "Ticket", json!({})).await;
}

// ---------------------------------------------------------------------------------------------
// Update a Ticket

#[tokio::test(flavor = "multi_thread")]
async fn update_ticket_changes_only_given_fields() {
    let h = harness().await;
    let node = "halopsa.ticket.update";
    let before = ticket_record(&h, 1001).unwrap();
    let envelope = h
        .invoke(
            node,
            json!({
                "Id": 1001,
                "Summary": "Printer offline (toner)",
                "Details": "",
                "TickettypeId": 0,
                "Startdate": "2025-10-30T10:00:00",
                "Targetdate": "2025-11-05T18:00:00Z",
                "AdditionalFields": {"status_id": 2, "priority_id": 1, "team_id": 3, "Summary": "not this"}
            }),
        )
        .await;
    assert_success(&envelope, 200);
    let ticket = &envelope["Ticket"];
    assert_eq!(ticket["id"], 1001);
    assert_eq!(ticket["summary"], "Printer offline (toner)");
    assert_eq!(ticket["startdate"], "2025-10-30T10:00:00");
    assert_eq!(ticket["targetdate"], "2025-11-05T18:00:00Z");
    assert_eq!(ticket["status_id"], 2);
    assert_eq!(ticket["priority_id"], 1);
    assert_eq!(ticket["team_id"], 3);
    // The seed's "Update a Ticket" output: `status` (the name) and `priority` {id, name}, from
    // HaloPSA's status_name, priority_id and priority_name.
    assert!(ticket["status"].is_string(), "{ticket}");
    assert_eq!(ticket["status"], ticket["status_name"]);
    assert_eq!(
        ticket["priority"],
        json!({"id": 1, "name": ticket["priority_name"].clone()})
    );

    // The sandbox: the given fields changed, the rest kept.
    let after = ticket_record(&h, 1001).unwrap();
    assert_eq!(after["summary"], "Printer offline (toner)");
    assert_eq!(
        after["details"], before["details"],
        "empty Details keeps the value"
    );
    assert_eq!(
        after["tickettype_id"], before["tickettype_id"],
        "0 keeps the type"
    );
    assert_eq!(after["agent_id"], before["agent_id"]);
    assert_eq!(after["priority_id"], 1);
    assert_eq!(
        h.last_post_body(),
        json!([{"id": 1001, "summary": "Printer offline (toner)", "startdate": "2025-10-30T10:00:00",
                "targetdate": "2025-11-05T18:00:00Z", "status_id": 2, "priority_id": 1, "team_id": 3}])
    );

    // AgentId and TickettypeId alone; AdditionalFields alone.
    let envelope = h
        .invoke(node, json!({"Id": 1002, "AgentId": 4, "TickettypeId": 3}))
        .await;
    assert_success(&envelope, 200);
    let after = ticket_record(&h, 1002).unwrap();
    assert_eq!(
        (after["agent_id"].clone(), after["tickettype_id"].clone()),
        (json!(4), json!(3))
    );
    let envelope = h
        .invoke(
            node,
            json!({"Id": 1003, "AdditionalFields": {"status_id": 9}}),
        )
        .await;
    assert_success(&envelope, 200);
    assert_eq!(ticket_record(&h, 1003).unwrap()["status_id"], 9);
}

#[tokio::test(flavor = "multi_thread")]
async fn update_ticket_validation_and_errors() {
    let h = harness().await;
    let node = "halopsa.ticket.update";
    let before = ticket_record(&h, 1001).unwrap();
    let cases = [
        (
            json!({"Id": 0, "Summary": "x"}),
            "Id must be a positive integer",
        ),
        (
            json!({"Id": -4, "Summary": "x"}),
            "Id must be a positive integer",
        ),
        (json!({"Id": 1001}), "Nothing to update"),
        (
            json!({"Id": 1001, "Summary": "", "Details": "  ", "TickettypeId": 0, "AgentId": 0, "Startdate": "", "AdditionalFields": {}}),
            "Nothing to update",
        ),
        (
            json!({"Id": 1001, "TickettypeId": -1}),
            "TickettypeId must be a positive integer",
        ),
        (
            json!({"Id": 1001, "AgentId": -2}),
            "AgentId must be a positive integer",
        ),
        (
            json!({"Id": 1001, "Startdate": "2025-10-30"}),
            "Startdate must be an ISO 8601 date and time",
        ),
        (
            json!({"Id": 1001, "Startdate": "2025-10-30 10:00:00"}),
            "Startdate must be an ISO 8601 date and time",
        ),
        (
            json!({"Id": 1001, "Targetdate": "10:00:00"}),
            "Targetdate must be an ISO 8601 date and time",
        ),
        (
            json!({"Id": 1001, "Targetdate": "2025-02-30T10:00:00"}),
            "Targetdate must be an ISO 8601 date and time",
        ),
        (
            json!({"Id": 1001, "AdditionalFields": {"startdate": "next week"}}),
            "AdditionalFields.startdate must be an ISO 8601 date and time",
        ),
        (
            json!({"Id": 1001, "AdditionalFields": {"id": 1002, "status_id": 9}}),
            "AdditionalFields must not contain id",
        ),
        (
            json!({"Id": 1001, "AdditionalFields": "[]"}),
            "AdditionalFields must be a JSON object",
        ),
    ];
    for (params, message) in cases {
        assert_invalid(&h, node, params, message, "Ticket", json!({})).await;
    }
    assert_eq!(ticket_record(&h, 1001).unwrap(), before, "nothing changed");

    // A missing ticket is a business error.
    let envelope = h.invoke(node, json!({"Id": 99999, "Summary": "x"})).await;
    assert_eq!(
        codes(&envelope),
        (200, 404, "Ticket with ID 99999 not found".to_string()),
        "{envelope}"
    );
    assert_eq!(envelope["Ticket"], json!({}));
    // HaloPSA refuses an unknown ticket type.
    let envelope = h
        .invoke(node, json!({"Id": 1001, "TickettypeId": 999}))
        .await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 400), "{envelope}");
    assert!(message.contains("tickettype_id"), "{message}");
    assert_eq!(envelope["Ticket"], json!({}));

    let params = json!({"Id": 1001, "Summary": "x"});
    assert_server_error(&h, node, params.clone(), "Ticket", json!({})).await;
    assert_network_error(&h, node, params, "Ticket", json!({})).await;
    assert_eq!(ticket_record(&h, 1001).unwrap(), before, "nothing changed");
}

// ---------------------------------------------------------------------------------------------
// Delete a Ticket

#[tokio::test(flavor = "multi_thread")]
async fn delete_ticket() {
    let h = harness().await;
    let node = "halopsa.ticket.delete";
    let envelope = h.invoke(node, json!({"Id": 1003})).await;
    assert_success(&envelope, 200);
    assert_eq!(
        envelope["DeletedTicket"],
        json!({"success": true, "deleted_id": 1003})
    );
    // HaloPSA keeps deleted tickets (restorable), flagged; to the API they are gone.
    assert_eq!(ticket_record(&h, 1003).unwrap()["deleted"], true);
    let envelope = h.invoke("halopsa.ticket.get", json!({"Id": 1003})).await;
    assert_eq!(status(&envelope).1, 404);

    // Deleting it again: not found, the requested id echoed.
    let envelope = h.invoke(node, json!({"Id": 1003})).await;
    assert_eq!(
        codes(&envelope),
        (200, 404, "Ticket with ID 1003 not found".to_string()),
        "{envelope}"
    );
    assert_eq!(
        envelope["DeletedTicket"],
        json!({"success": false, "deleted_id": 1003})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_ticket_validation_and_errors() {
    let h = harness().await;
    let node = "halopsa.ticket.delete";
    for id in [0, -1001] {
        assert_invalid(
            &h,
            node,
            json!({"Id": id}),
            "Id must be a positive integer",
            "DeletedTicket",
            json!({}),
        )
        .await;
    }
    let envelope = h.invoke(node, json!({"Id": 99999})).await;
    assert_eq!(
        codes(&envelope),
        (200, 404, "Ticket with ID 99999 not found".to_string()),
        "{envelope}"
    );
    assert_eq!(
        envelope["DeletedTicket"],
        json!({"success": false, "deleted_id": 99999})
    );
    let failed = json!({"success": false, "deleted_id": 1001});
    assert_server_error(
        &h,
        node,
        json!({"Id": 1001}),
        "DeletedTicket",
        failed.clone(),
    )
    .await;
    assert_network_error(&h, node, json!({"Id": 1001}), "DeletedTicket", failed).await;
    assert_eq!(ticket_record(&h, 1001).unwrap()["deleted"], false);
}

// ---------------------------------------------------------------------------------------------
// Get Many Tickets

/// Ids of the seeded tickets, open (status not Closed) and closed, not deleted.
fn seeded(h: &Harness, closed: bool) -> Vec<i64> {
    tickets(h)
        .iter()
        .filter(|t| t["deleted"] != true && (t["status_id"] == 9) == closed)
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn get_many_tickets_filters() {
    let h = harness().await;
    let node = "halopsa.ticket.get-many";
    let open = seeded(&h, false);
    let closed = seeded(&h, true);
    assert!(!open.is_empty() && !closed.is_empty());

    // Defaults: open tickets only (`open_only=true`).
    h.sandbox.clear_requests();
    let envelope = h.invoke(node, json!({})).await;
    assert_success(&envelope, 200);
    assert_eq!(ids_of(&envelope["Tickets"]["tickets"]), open);
    assert_eq!(envelope["Tickets"]["record_count"], open.len());
    let list = h
        .sandbox
        .requests()
        .into_iter()
        .find(|r| r.method == "GET" && r.path.eq_ignore_ascii_case("/api/Tickets"))
        .expect("a list request");
    assert!(list.query.contains("open_only=true"), "{list:?}");
    assert!(!list.query.contains("closed_only"), "{list:?}");

    // Inactive only: closed tickets (`closed_only=true`).
    let envelope = h
        .invoke(
            node,
            json!({"IncludeActive": false, "IncludeInactive": true}),
        )
        .await;
    assert_success(&envelope, 200);
    assert_eq!(ids_of(&envelope["Tickets"]["tickets"]), closed);
    // Both: everything.
    let envelope = h.invoke(node, json!({"IncludeInactive": true})).await;
    let mut all = open.clone();
    all.extend(&closed);
    all.sort();
    assert_eq!(ids_of(&envelope["Tickets"]["tickets"]), all);

    // Search matches summary and details.
    let envelope = h.invoke(node, json!({"Search": "PRINTER"})).await;
    assert_eq!(ids_of(&envelope["Tickets"]["tickets"]), vec![1001]);
    let envelope = h.invoke(node, json!({"Search": "aisle 7"})).await;
    assert_eq!(ids_of(&envelope["Tickets"]["tickets"]), vec![1003]);

    // TeamId is sent as `team`, the ticket list's team-id filter: a `team_id` would be ignored
    // by HaloPSA (and the sandbox) and list every team's tickets.
    h.sandbox.clear_requests();
    let envelope = h.invoke(node, json!({"TeamId": 2})).await;
    assert_success(&envelope, 200);
    assert_eq!(ids_of(&envelope["Tickets"]["tickets"]), vec![1006, 1007]);
    let list = h
        .sandbox
        .requests()
        .into_iter()
        .find(|r| r.method == "GET" && r.path.eq_ignore_ascii_case("/api/Tickets"))
        .expect("a list request");
    assert!(list.query.contains("team=2"), "{list:?}");
    assert!(!list.query.contains("team_id"), "{list:?}");

    // Both false: an empty list without asking HaloPSA.
    assert_empty_list_without_request(&h, node, "Tickets", "tickets").await;

    // Deleted tickets are not listed.
    h.invoke("halopsa.ticket.delete", json!({"Id": open[0]}))
        .await;
    let envelope = h.invoke(node, json!({})).await;
    assert_eq!(ids_of(&envelope["Tickets"]["tickets"]), open[1..].to_vec());
}

#[tokio::test(flavor = "multi_thread")]
async fn get_many_tickets_validation_and_errors() {
    let h = harness().await;
    let node = "halopsa.ticket.get-many";
    for (params, message) in [
        (json!({"PageNo": 0}), "PageNo must be 1 or more"),
        (json!({"PageSize": 0}), "PageSize must be 1 or more"),
        (json!({"PageSize": -100}), "PageSize must be 1 or more"),
        (json!({"Count": 0}), "Count must be 1 or more"),
        (
            json!({"Count": -5, "Paginate": false}),
            "Count must be 1 or more",
        ),
    ] {
        assert_invalid(&h, node, params, message, "Tickets", json!({})).await;
    }

    let envelope = h.invoke_failing(403, 1, node, json!({})).await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 403), "{envelope}");
    assert!(message.contains("403"), "{message}");
    assert_eq!(envelope["Tickets"], json!({}));

    assert_server_error(&h, node, json!({}), "Tickets", json!({})).await;
    assert_network_error(&h, node, json!({}), "Tickets", json!({})).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn get_many_tickets_pages_across_the_server_cap() {
    let h = harness().await;
    for i in 0..260 {
        h.sandbox.insert(
            Entity::Ticket,
            json!({"summary": format!("Bulk ticket {i:03}"), "details": "bulk", "tickettype_id": 1,
                   "status_id": 1, "user_id": 1, "site_id": 1, "client_id": 1}),
        );
    }
    let node = "halopsa.ticket.get-many";
    let open_total = seeded(&h, false).len();
    assert!(open_total >= 260);

    // Count defaults to 50.
    let envelope = h.invoke(node, json!({})).await;
    assert_success(&envelope, 200);
    assert_eq!(envelope["Tickets"]["tickets"].as_array().unwrap().len(), 50);
    assert_eq!(envelope["Tickets"]["record_count"], open_total);

    // Everything, despite the 100 cap.
    let all: Vec<i64> = {
        let envelope = h
            .invoke(node, json!({"Paginate": false, "Count": 10000}))
            .await;
        assert_success(&envelope, 200);
        ids_of(&envelope["Tickets"]["tickets"])
    };
    assert_eq!(
        all.len(),
        open_total,
        "Paginate=false returns every open ticket"
    );
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), open_total);

    // PageSize 250 (above the cap): page 1 is tickets 0..250, page 2 the rest.
    let envelope = h
        .invoke(node, json!({"PageSize": 250, "PageNo": 1, "Count": 10000}))
        .await;
    assert_success(&envelope, 200);
    assert_eq!(ids_of(&envelope["Tickets"]["tickets"]), all[..250].to_vec());
    let envelope = h
        .invoke(node, json!({"PageSize": 250, "PageNo": 2, "Count": 10000}))
        .await;
    assert_eq!(ids_of(&envelope["Tickets"]["tickets"]), all[250..].to_vec());

    // Count caps what one call returns from the page PageNo and PageSize select; it never
    // moves or empties the page (PageNo 2 of 100 with Count 130 used to be tickets 101-130).
    let envelope = h
        .invoke(node, json!({"PageSize": 100, "PageNo": 2, "Count": 130}))
        .await;
    assert_eq!(
        ids_of(&envelope["Tickets"]["tickets"]),
        all[100..200].to_vec()
    );
    let envelope = h
        .invoke(node, json!({"PageSize": 100, "PageNo": 2, "Count": 30}))
        .await;
    assert_eq!(
        ids_of(&envelope["Tickets"]["tickets"]),
        all[100..130].to_vec()
    );
    // The default Count (50) with PageSize 50: page 2 is tickets 51-100, not an empty list.
    let envelope = h.invoke(node, json!({"PageSize": 50, "PageNo": 2})).await;
    assert_success(&envelope, 200);
    assert_eq!(
        ids_of(&envelope["Tickets"]["tickets"]),
        all[50..100].to_vec()
    );
    assert_eq!(envelope["Tickets"]["record_count"], open_total);
    let envelope = h
        .invoke(node, json!({"Paginate": false, "Count": 220}))
        .await;
    assert_eq!(ids_of(&envelope["Tickets"]["tickets"]), all[..220].to_vec());
    assert_eq!(envelope["Tickets"]["record_count"], open_total);

    // Every server page asked for respects the 100-record cap.
    assert_pages_within_server_cap(&h);
}
