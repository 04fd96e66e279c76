//! End-to-end tests of the ConnectWise nodes: the real components through the real host,
//! against the embedded ConnectWise sandbox over real HTTP (Basic auth, clientId, pinned
//! version). Each validation rule is checked to send nothing; API refusals must name the field.

use psaflow_tests::connectwise::{CwEntity, CwHarness, cw_harness};
use psaflow_tests::{codes, status};
use serde_json::{Value, json};
use std::time::Duration;

fn new_member(identifier: &str) -> Value {
    json!({
        "Identifier": identifier,
        "FirstName": "Ada",
        "LastName": "Lovelace",
        "Email": "ada@msp.example",
        "SecurityRoleId": 2,
        "LocationId": 1,
        "DepartmentId": 1,
    })
}

/// Runs `node` with `params` and checks it failed validation without sending anything.
async fn assert_refused_locally(h: &CwHarness, node: &str, params: Value, message: &str) {
    h.sandbox.clear_requests();
    let envelope = h.invoke(node, params.clone()).await;
    assert_eq!(status(&envelope), (-1, 0), "{node} {params}: {envelope}");
    let text = envelope["ErrorMessage"].as_str().unwrap();
    assert!(text.contains(message), "{node} {params}: {text}");
    assert!(h.requests().is_empty(), "{node} {params} sent a request");
}

fn member_in_sandbox(h: &CwHarness, identifier: &str) -> Option<Value> {
    h.sandbox
        .records(CwEntity::Member)
        .into_iter()
        .find(|m| m["identifier"] == identifier)
}

#[tokio::test]
async fn member_create_sends_every_required_field_and_returns_the_member() {
    let h = cw_harness().await;
    let mut params = new_member("alovelace");
    params["TimeZoneId"] = json!(4);
    params["AdditionalFields"] = json!(r#"{"title": "Engineer", "firstName": "Overridden"}"#);
    let envelope = h.invoke("connectwise.member.create", params).await;
    assert_eq!(codes(&envelope), (200, 201, String::new()), "{envelope}");
    let member = &envelope["Member"];
    assert_eq!(member["identifier"], "alovelace");
    assert_eq!(member["firstName"], "Ada", "explicit parameters win");
    assert_eq!(member["title"], "Engineer");
    assert_eq!(member["licenseClass"], "F", "LicenseClass defaults to F");
    assert_eq!(member["securityRole"]["name"], "Technician");
    assert_eq!(member["timeZone"]["name"], "GMT Standard Time");
    assert_eq!(
        member_in_sandbox(&h, "alovelace").unwrap()["id"],
        member["id"]
    );
    let body = h.last_body("POST");
    assert_eq!(body["defaultEmail"], "Office");
    assert_eq!(body["officeEmail"], "ada@msp.example");
    assert_eq!(body["defaultDepartment"], json!({"id": 1}));
    let request = h.requests().pop().unwrap();
    assert!(request.authenticated);
    assert!(
        request
            .accept
            .unwrap()
            .starts_with("application/vnd.connectwise.com+json; version="),
        "the API version is pinned"
    );
}

#[tokio::test]
async fn member_create_rules_stop_before_sending() {
    let h = cw_harness().await;
    let node = "connectwise.member.create";
    let with = |key: &str, value: Value| {
        let mut params = new_member("newbie");
        params[key] = value;
        params
    };
    let without = |key: &str| {
        let mut params = new_member("newbie");
        params.as_object_mut().unwrap().remove(key);
        params
    };
    let cases = [
        (
            with("Identifier", json!("sixteen-chars-id")),
            "Identifier must be at most 15 characters",
        ),
        (
            with("Identifier", json!("j doe")),
            "Identifier must not contain spaces",
        ),
        (with("Identifier", json!(" ")), "Identifier is required"),
        (with("FirstName", json!("")), "FirstName is required"),
        (
            with("LastName", json!("x".repeat(31))),
            "LastName must be at most 30",
        ),
        (
            with("Email", json!("ada.example")),
            "Email must be an email address",
        ),
        (
            with("LicenseClass", json!("Z")),
            "LicenseClass must be F (full member)",
        ),
        (
            with("SecurityRoleId", json!(0)),
            "SecurityRoleId must be a positive integer",
        ),
        (
            with("LocationId", json!(-3)),
            "LocationId must be a positive integer",
        ),
        (
            with("DepartmentId", json!(0)),
            "DepartmentId must be a positive integer",
        ),
        (
            with("TimeZoneId", json!(0)),
            "TimeZoneId must be a positive integer",
        ),
        (
            with("AdditionalFields", json!("[1]")),
            "AdditionalFields must be a JSON object",
        ),
        (
            with("AdditionalFields", json!(r#"{"id": 5}"#)),
            "AdditionalFields must not set id",
        ),
    ];
    for (params, message) in cases {
        assert_refused_locally(&h, node, params, message).await;
    }
    // Parameters the node requires are named by the host before the node runs.
    for key in [
        "Identifier",
        "FirstName",
        "LastName",
        "Email",
        "SecurityRoleId",
        "LocationId",
        "DepartmentId",
    ] {
        assert_refused_locally(&h, node, without(key), key).await;
    }
    assert_eq!(
        h.sandbox.records(CwEntity::Member).len(),
        5,
        "nothing was created"
    );
}

#[tokio::test]
async fn member_create_refusals_name_the_field() {
    let h = cw_harness().await;
    let envelope = h
        .invoke("connectwise.member.create", new_member("JDOE"))
        .await;
    let (code, original, text) = codes(&envelope);
    assert_eq!((code, original), (200, 400), "{envelope}");
    assert!(
        text.contains("identifier: The identifier 'JDOE' is already in use"),
        "{text}"
    );
    assert_eq!(envelope["Member"], json!({}));

    let mut params = new_member("newbie");
    params["SecurityRoleId"] = json!(99);
    let envelope = h.invoke("connectwise.member.create", params).await;
    assert_eq!(status(&envelope), (200, 400));
    assert!(
        envelope["ErrorMessage"]
            .as_str()
            .unwrap()
            .contains("securityRole: Security role with id 99 was not found"),
        "{envelope}"
    );
}

#[tokio::test]
async fn member_create_waits_out_429s_and_reports_one_that_persists() {
    let h = cw_harness().await;
    h.sandbox.faults().fail_next(429, 2, Some(3));
    let envelope = h
        .invoke("connectwise.member.create", new_member("patient"))
        .await;
    assert_eq!(status(&envelope), (200, 201), "{envelope}");
    assert_eq!(h.clock.sleeps(), [Duration::from_secs(3); 2]);
    assert_eq!(h.sandbox.records(CwEntity::Member).len(), 6, "created once");

    h.sandbox.faults().fail_next(429, 10, Some(1));
    let envelope = h.invoke("connectwise.member.get", json!({"Id": 2})).await;
    let (code, original, text) = codes(&envelope);
    assert_eq!((code, original), (500, 429), "{envelope}");
    assert!(text.contains("rate limiting"), "{text}");
}

#[tokio::test]
async fn member_get_reads_one_and_names_a_missing_one() {
    let h = cw_harness().await;
    let envelope = h.invoke("connectwise.member.get", json!({"Id": 5})).await;
    assert_eq!(codes(&envelope), (200, 200, String::new()));
    assert_eq!(envelope["Member"]["identifier"], "former");
    assert_eq!(
        envelope["Member"]["inactiveFlag"], true,
        "inactive members are returned too"
    );

    let envelope = h.invoke("connectwise.member.get", json!({"Id": 404})).await;
    assert_eq!(
        codes(&envelope),
        (200, 404, "Member with id 404 not found".into())
    );
    assert_eq!(envelope["Member"], json!({}));
    assert_refused_locally(
        &h,
        "connectwise.member.get",
        json!({"Id": 0}),
        "Id must be a positive integer",
    )
    .await;
}

fn identifiers(envelope: &Value) -> Vec<String> {
    envelope["Members"]["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["identifier"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn member_get_many_filters_active_search_and_conditions() {
    let h = cw_harness().await;
    let node = "connectwise.member.get-many";
    let envelope = h.invoke(node, json!({})).await;
    assert_eq!(
        identifiers(&envelope),
        ["apiadmin", "jdoe", "asmith", "mgarcia"]
    );
    assert_eq!(envelope["Members"]["record_count"], 4);

    let envelope = h.invoke(node, json!({"IncludeInactive": true})).await;
    assert_eq!(envelope["Members"]["record_count"], 5);

    let envelope = h.invoke(node, json!({"Search": "SMITH"})).await;
    assert_eq!(identifiers(&envelope), ["asmith"]);
    let envelope = h
        .invoke(
            node,
            json!({"Search": "former@msp", "IncludeInactive": true}),
        )
        .await;
    assert_eq!(identifiers(&envelope), ["former"]);

    let envelope = h
        .invoke(
            node,
            json!({"Conditions": r#"securityRole/name = "Technician" or licenseClass = "A""#}),
        )
        .await;
    assert_eq!(identifiers(&envelope), ["apiadmin", "jdoe", "asmith"]);

    let envelope = h
        .invoke(node, json!({"Conditions": r#"identifier = "open"#}))
        .await;
    let (code, original, text) = codes(&envelope);
    assert_eq!((code, original), (200, 400));
    assert!(
        text.contains("conditions: The conditions could not be parsed"),
        "{text}"
    );

    assert_refused_locally(
        &h,
        node,
        json!({"PageSize": 1001}),
        "PageSize must be between 1 and 1000",
    )
    .await;
    assert_refused_locally(
        &h,
        node,
        json!({"PageSize": 0}),
        "PageSize must be between 1 and 1000",
    )
    .await;
    assert_refused_locally(&h, node, json!({"Count": 0}), "Count must be 1 or more").await;
    assert_refused_locally(&h, node, json!({"Search": "  "}), "Search is empty").await;
}

#[tokio::test]
async fn member_get_many_pages_past_the_1000_cap() {
    let h = cw_harness().await;
    for n in 0..2345 {
        h.sandbox.insert(
            CwEntity::Member,
            json!({"identifier": format!("bulk{n:05}"), "firstName": "Bulk", "lastName": format!("{n}"),
                   "licenseClass": "F", "officeEmail": format!("b{n}@msp.example"),
                   "securityRole": {"id": 2}, "defaultLocation": {"id": 1}, "defaultDepartment": {"id": 1}}),
        );
    }
    h.sandbox.clear_requests();
    let envelope = h.invoke("connectwise.member.get-many", json!({})).await;
    assert_eq!(status(&envelope), (200, 200));
    assert_eq!(
        envelope["Members"]["record_count"], 2349,
        "2345 bulk + 4 seeded active"
    );
    let ids: Vec<i64> = envelope["Members"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "in id order, no repeats"
    );
    let pages: Vec<String> = h.requests().iter().map(|r| r.query.clone()).collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(
        pages.iter().all(|q| q.contains("pageSize=1000")),
        "{pages:?}"
    );

    h.sandbox.clear_requests();
    let envelope = h
        .invoke(
            "connectwise.member.get-many",
            json!({"Count": 1500, "PageSize": 500}),
        )
        .await;
    assert_eq!(
        envelope["Members"]["members"].as_array().unwrap().len(),
        1500
    );
    assert_eq!(
        envelope["Members"]["record_count"], 2349,
        "record_count is every member matching, not the 1500 Count let through"
    );
    let requests = h.requests();
    assert_eq!(
        requests.len(),
        4,
        "three pages of 500 and the count: {requests:?}"
    );
    assert!(
        requests[3].path.ends_with("/system/members/count"),
        "{requests:?}"
    );
}

#[tokio::test]
async fn member_record_count_is_the_total_matching_whatever_count_returns() {
    let h = cw_harness().await;
    let node = "connectwise.member.get-many";
    let all = h.invoke(node, json!({"IncludeInactive": true})).await;
    let total = all["Members"]["members"].as_array().unwrap().len();
    assert!(total > 2, "{all}");
    assert_eq!(all["Members"]["record_count"], total);

    // Count cuts the list, but the one page read held every match: no count request.
    h.sandbox.clear_requests();
    let envelope = h
        .invoke(node, json!({"IncludeInactive": true, "Count": 2}))
        .await;
    assert_eq!(status(&envelope), (200, 200));
    assert_eq!(envelope["Members"]["members"].as_array().unwrap().len(), 2);
    assert_eq!(envelope["Members"]["record_count"], total, "{envelope}");
    assert_eq!(h.requests().len(), 1, "{:?}", h.requests());

    // Count stops on a page with a successor: the total is asked with the same conditions.
    h.sandbox.clear_requests();
    let envelope = h.invoke(node, json!({"Count": 2, "PageSize": 2})).await;
    let active = total - 1; // member 5 is inactive
    assert_eq!(envelope["Members"]["record_count"], active, "{envelope}");
    let requests = h.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(
        requests[1].path.ends_with("/system/members/count"),
        "{requests:?}"
    );
    assert!(
        requests[1].query.contains("conditions=inactiveFlag"),
        "{requests:?}"
    );
    assert!(!requests[1].query.contains("page"), "{requests:?}");
}

#[tokio::test]
async fn member_update_patches_only_the_given_fields() {
    let h = cw_harness().await;
    let envelope = h
        .invoke(
            "connectwise.member.update",
            json!({"Id": 2, "LastName": "Dough", "SecurityRoleId": 3, "AdditionalFields": r#"{"title": "Lead"}"#}),
        )
        .await;
    assert_eq!(codes(&envelope), (200, 200, String::new()), "{envelope}");
    assert_eq!(envelope["Member"]["lastName"], "Dough");
    assert_eq!(envelope["Member"]["securityRole"]["name"], "Dispatcher");
    assert_eq!(envelope["Member"]["firstName"], "Jane", "untouched");
    assert_eq!(
        h.last_body("PATCH"),
        json!([
            {"op": "replace", "path": "title", "value": "Lead"},
            {"op": "replace", "path": "lastName", "value": "Dough"},
            {"op": "replace", "path": "securityRole", "value": {"id": 3}}
        ])
    );

    let envelope = h
        .invoke(
            "connectwise.member.update",
            json!({"Id": 2, "LocationId": 77}),
        )
        .await;
    assert_eq!(status(&envelope), (200, 400));
    assert!(
        envelope["ErrorMessage"]
            .as_str()
            .unwrap()
            .contains("defaultLocation: Location with id 77"),
        "{envelope}"
    );
    let envelope = h
        .invoke(
            "connectwise.member.update",
            json!({"Id": 999, "LastName": "X"}),
        )
        .await;
    assert_eq!(
        codes(&envelope),
        (200, 404, "Member with id 999 not found".into())
    );

    let node = "connectwise.member.update";
    assert_refused_locally(&h, node, json!({"Id": 2}), "Nothing to update").await;
    // Deactivating is connectwise.member.deactivate's, whose effect says so; an update that
    // would deactivate is refused before anything is sent, and the member stays active.
    for extra in [
        json!({"inactiveFlag": true}),
        json!({"inactiveDate": "2025-01-01T00:00:00Z"}),
    ] {
        assert_refused_locally(
            &h,
            node,
            json!({"Id": 2, "AdditionalFields": extra}),
            "AdditionalFields must not deactivate the member",
        )
        .await;
    }
    assert_eq!(
        member_in_sandbox(&h, "jdoe").unwrap()["inactiveFlag"],
        false
    );
    assert_refused_locally(
        &h,
        node,
        json!({"Id": 0, "LastName": "X"}),
        "Id must be a positive integer",
    )
    .await;
    assert_refused_locally(
        &h,
        node,
        json!({"Id": 2, "Email": "nope"}),
        "Email must be an email address",
    )
    .await;
    assert_refused_locally(
        &h,
        node,
        json!({"Id": 2, "FirstName": "x".repeat(31)}),
        "FirstName must be at most 30",
    )
    .await;
    assert_refused_locally(
        &h,
        node,
        json!({"Id": 2, "LicenseClass": "Q"}),
        "LicenseClass must be",
    )
    .await;
    assert_refused_locally(
        &h,
        node,
        json!({"Id": 2, "DepartmentId": 0}),
        "DepartmentId must be a positive integer",
    )
    .await;
    assert_refused_locally(
        &h,
        node,
        json!({"Id": 2, "AdditionalFields": r#"{"Identifier": "renamed"}"#}),
        "Identifier cannot be changed",
    )
    .await;
}

#[tokio::test]
async fn member_deactivate_sets_inactive_and_never_deletes() {
    let h = cw_harness().await;
    let envelope = h
        .invoke("connectwise.member.deactivate", json!({"Id": 3}))
        .await;
    assert_eq!(codes(&envelope), (200, 200, String::new()), "{envelope}");
    assert_eq!(envelope["Member"]["inactiveFlag"], true);
    assert!(envelope["Member"]["inactiveDate"].is_string());
    assert_eq!(
        h.last_body("PATCH"),
        json!([{"op": "replace", "path": "inactiveFlag", "value": true}])
    );
    assert_eq!(
        member_in_sandbox(&h, "asmith").unwrap()["inactiveFlag"],
        true
    );
    assert!(h.requests().iter().all(|r| r.method != "DELETE"));

    // Again: nothing more changes, and it still succeeds.
    let again = h
        .invoke("connectwise.member.deactivate", json!({"Id": 3}))
        .await;
    assert_eq!(status(&again), (200, 200));
    assert_eq!(
        again["Member"]["inactiveDate"],
        envelope["Member"]["inactiveDate"]
    );

    let envelope = h
        .invoke("connectwise.member.deactivate", json!({"Id": 404}))
        .await;
    assert_eq!(
        codes(&envelope),
        (200, 404, "Member with id 404 not found".into())
    );
    assert_refused_locally(
        &h,
        "connectwise.member.deactivate",
        json!({"Id": -1}),
        "Id must be a positive integer",
    )
    .await;
}

fn ticket_ids(envelope: &Value) -> Vec<i64> {
    envelope["Tickets"]["tickets"]
        .as_array()
        .expect("tickets")
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn ticket_get_many_by_owner_and_open_state() {
    let h = cw_harness().await;
    let node = "connectwise.ticket.get-many";
    let envelope = h
        .invoke(node, json!({"OwnerIdentifier": "jdoe", "OpenOnly": true}))
        .await;
    assert_eq!(codes(&envelope), (200, 200, String::new()));
    assert_eq!(ticket_ids(&envelope), [1, 2, 3]);
    assert_eq!(envelope["Tickets"]["record_count"], 3);
    let envelope = h.invoke(node, json!({"OwnerId": 2})).await;
    assert_eq!(
        ticket_ids(&envelope),
        [1, 2, 3, 4],
        "closed ones too without OpenOnly"
    );
    let envelope = h
        .invoke(node, json!({"Conditions": r#"summary contains "printer""#}))
        .await;
    assert_eq!(ticket_ids(&envelope), [1]);
    let envelope = h.invoke(node, json!({"Count": 2})).await;
    assert_eq!(ticket_ids(&envelope), [1, 2]);
    assert_eq!(
        envelope["Tickets"]["record_count"], 8,
        "every ticket matching, not the 2 returned"
    );

    assert_refused_locally(
        &h,
        node,
        json!({"OwnerId": 2, "OwnerIdentifier": "jdoe"}),
        "not both",
    )
    .await;
    assert_refused_locally(
        &h,
        node,
        json!({"OwnerId": 0}),
        "OwnerId must be a positive integer",
    )
    .await;
    assert_refused_locally(
        &h,
        node,
        json!({"OwnerIdentifier": "x".repeat(16)}),
        "OwnerIdentifier must be at most 15",
    )
    .await;
    assert_refused_locally(&h, node, json!({"Count": 0}), "Count must be 1 or more").await;

    h.sandbox.faults().fail_next(429, 1, Some(2));
    let envelope = h.invoke(node, json!({"OwnerIdentifier": "asmith"})).await;
    assert_eq!(ticket_ids(&envelope), [5, 6]);
    assert_eq!(h.clock.sleeps(), [Duration::from_secs(2)]);
}

#[tokio::test]
async fn ticket_update_reassigns_and_names_a_refused_owner() {
    let h = cw_harness().await;
    let node = "connectwise.ticket.update";
    let envelope = h.invoke(node, json!({"Id": 1, "OwnerId": 3})).await;
    assert_eq!(codes(&envelope), (200, 200, String::new()), "{envelope}");
    assert_eq!(envelope["Ticket"]["owner"]["identifier"], "asmith");
    assert_eq!(
        h.last_body("PATCH"),
        json!([{"op": "replace", "path": "owner", "value": {"id": 3}}])
    );

    let envelope = h.invoke(node, json!({"Id": 2, "StatusId": 4})).await;
    assert_eq!(
        envelope["Ticket"]["closedFlag"], true,
        "a closed status closes the ticket"
    );

    // References come back whole, as ConnectWise returns them: moving a ticket to {"id": 2}
    // keeps the board's name.
    let envelope = h
        .invoke(
            node,
            json!({"Id": 3, "AdditionalFields": {"board": {"id": 2}}}),
        )
        .await;
    assert_eq!(codes(&envelope), (200, 200, String::new()), "{envelope}");
    assert_eq!(envelope["Ticket"]["board"]["name"], "Projects");
    // closedFlag follows the status: it cannot close a ticket whose status is open.
    let envelope = h
        .invoke(
            node,
            json!({"Id": 3, "AdditionalFields": {"closedFlag": true}}),
        )
        .await;
    let (code, original, text) = codes(&envelope);
    assert_eq!((code, original), (200, 400), "{envelope}");
    assert!(text.contains("closedFlag"), "{text}");

    let envelope = h.invoke(node, json!({"Id": 1, "OwnerId": 5})).await;
    let (code, original, text) = codes(&envelope);
    assert_eq!((code, original), (200, 400));
    assert!(
        text.contains("owner: Member 'former' is inactive"),
        "{text}"
    );
    let envelope = h.invoke(node, json!({"Id": 99, "OwnerId": 3})).await;
    assert_eq!(
        codes(&envelope),
        (200, 404, "Ticket with id 99 not found".into())
    );

    assert_refused_locally(&h, node, json!({"Id": 1}), "Nothing to update").await;
    assert_refused_locally(
        &h,
        node,
        json!({"Id": 0, "OwnerId": 3}),
        "Id must be a positive integer",
    )
    .await;
    assert_refused_locally(
        &h,
        node,
        json!({"Id": 1, "StatusId": -1}),
        "StatusId must be a positive integer",
    )
    .await;
    assert_refused_locally(
        &h,
        node,
        json!({"Id": 1, "AdditionalFields": "{"}),
        "AdditionalFields must be",
    )
    .await;
}

#[tokio::test]
async fn an_unreachable_connectwise_is_a_retryable_system_error() {
    let h = cw_harness().await;
    h.sandbox.faults().drop_next_connections(2);
    let envelope = h.invoke("connectwise.member.get", json!({"Id": 2})).await;
    let (code, original, text) = codes(&envelope);
    assert_eq!((code, original), (500, 0), "{envelope}");
    assert!(text.contains("ConnectWise could not be reached"), "{text}");
}

#[tokio::test]
async fn a_member_create_whose_answer_was_lost_finds_its_member_instead_of_creating_it_twice() {
    let h = cw_harness().await;
    h.sandbox.faults().drop_next_after_commit(1);
    let envelope = h
        .invoke("connectwise.member.create", new_member("lostanswer"))
        .await;
    assert_eq!(codes(&envelope).0, 200, "{envelope}");
    assert_eq!(envelope["Member"]["identifier"], "lostanswer", "{envelope}");
    let made: Vec<Value> = h
        .sandbox
        .records(CwEntity::Member)
        .into_iter()
        .filter(|m| m["identifier"] == "lostanswer")
        .collect();
    assert_eq!(made.len(), 1, "created exactly once");
    assert_eq!(envelope["Member"]["id"], made[0]["id"]);
    let posts = h.requests().iter().filter(|r| r.method == "POST").count();
    assert_eq!(posts, 1, "the POST is never sent again");
}

#[tokio::test]
async fn a_member_create_lost_before_the_server_saw_it_says_trying_again_is_safe() {
    let h = cw_harness().await;
    h.sandbox.faults().drop_next_connections(1);
    let envelope = h
        .invoke("connectwise.member.create", new_member("neversaved"))
        .await;
    let (code, original, text) = codes(&envelope);
    assert_eq!((code, original), (500, 0), "{envelope}");
    assert!(text.contains("outcome unknown"), "{text}");
    assert!(text.contains("trying again is safe"), "{text}");
    assert!(member_in_sandbox(&h, "neversaved").is_none());
}

#[tokio::test]
async fn an_update_whose_answer_was_lost_is_reported_unknown_and_not_sent_twice() {
    let h = cw_harness().await;
    h.sandbox.clear_requests();
    h.sandbox.faults().drop_next_after_commit(1);
    let envelope = h
        .invoke(
            "connectwise.member.update",
            json!({"Id": 3, "FirstName": "Alexandra"}),
        )
        .await;
    let (code, original, text) = codes(&envelope);
    assert_eq!((code, original), (500, 0), "{envelope}");
    assert!(
        text.starts_with("outcome unknown: ConnectWise may or may not have applied the request"),
        "{text}"
    );
    let patches = h.requests().iter().filter(|r| r.method == "PATCH").count();
    assert_eq!(
        patches, 1,
        "a PATCH whose answer was lost is not re-sent by the transport"
    );
}
