//! End-to-end tests of the Client nodes: the real components through the real host against the
//! sandbox over HTTP. Each operation: success, every validation rule (-1 and no request sent),
//! a business error (200 + message + the original status), a server error and a network error
//! (500), and, for get-many, paging across the server's 100-record cap.

use psaflow_tests::{
    Entity, Harness, assert_empty_list_without_request, assert_invalid, assert_network_error,
    assert_pages_within_server_cap, assert_server_error, assert_success, codes, harness, ids_of,
};
use serde_json::{Value, json};

fn client_record(h: &Harness, id: i64) -> Option<Value> {
    h.sandbox
        .records(Entity::Client)
        .into_iter()
        .find(|c| c["id"].as_i64() == Some(id))
}

// ---------------------------------------------------------------------------------------------
// Create a Client

#[tokio::test(flavor = "multi_thread")]
async fn create_client_success_with_explicit_email_and_phone_winning() {
    let h = harness().await;
    let envelope = h
        .invoke(
            "halopsa.client.create",
            json!({
                "Name": "  Zenith Robotics ",
                "Website": "https://zenith.example",
                "Email": "contact@zenith.example",
                "Phone": "+1 415 555 0123",
                "IsVip": true,
                "Notes": "Onboarded by workflow",
                "AdditionalFields": {"email": "old@zenith.example", "phone": "000", "toplevel_id": 2}
            }),
        )
        .await;
    assert_success(&envelope, 201);
    let client = &envelope["Client"];
    let id = client["id"].as_i64().expect("integer id");
    assert!(id > 0);
    assert_eq!(client["name"], "Zenith Robotics");
    assert_eq!(client["is_vip"], true);
    assert_eq!(client["inactive"], false);
    assert_eq!(client["website"], "https://zenith.example");
    // The seed's output names, carrying what was written as emailaddress / phonenumber.
    assert_eq!(client["email"], "contact@zenith.example");
    assert_eq!(client["phone"], "+1 415 555 0123");
    let stored = client_record(&h, id).expect("stored");
    assert_eq!(stored["emailaddress"], "contact@zenith.example");
    assert_eq!(stored["phonenumber"], "+1 415 555 0123");
    assert_eq!(stored["toplevel_id"], 2);
    assert_eq!(stored["notes"], "Onboarded by workflow");
}

#[tokio::test(flavor = "multi_thread")]
async fn create_client_validation() {
    let h = harness().await;
    let node = "halopsa.client.create";
    let cases = [
        (json!({"Name": ""}), "Name is required"),
        (json!({"Name": "   "}), "Name is required"),
        (
            json!({"Name": "Acme", "Website": "www.acme.com"}),
            "http:// or https://",
        ),
        (
            json!({"Name": "Acme", "Website": "acme.com"}),
            "http:// or https://",
        ),
        (
            json!({"Name": "Acme", "Website": "ftp://acme.com"}),
            "http:// or https://",
        ),
        (
            json!({"Name": "Acme", "AdditionalFields": "[1, 2]"}),
            "AdditionalFields must be a JSON object",
        ),
        (
            json!({"Name": "Acme", "AdditionalFields": "{not json"}),
            "AdditionalFields must be",
        ),
        (
            json!({"Name": "Acme", "AdditionalFields": {"id": 1}}),
            "AdditionalFields must not contain id",
        ),
    ];
    for (params, message) in cases {
        assert_invalid(&h, node, params, message, "Client", json!({})).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn create_client_business_server_and_network_errors() {
    let h = harness().await;
    let node = "halopsa.client.create";
    // HaloPSA refuses an id field it cannot read: 400 with a field map.
    let envelope = h
        .invoke(
            node,
            json!({"Name": "Acme", "AdditionalFields": {"toplevel_id": "abc"}}),
        )
        .await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 400), "{envelope}");
    assert!(message.contains("toplevel_id"), "{message}");
    assert_eq!(envelope["Client"], json!({}));

    assert_server_error(&h, node, json!({"Name": "Acme"}), "Client", json!({})).await;
    assert_network_error(&h, node, json!({"Name": "Acme"}), "Client", json!({})).await;
}

// ---------------------------------------------------------------------------------------------
// Get a Client

#[tokio::test(flavor = "multi_thread")]
async fn get_client() {
    let h = harness().await;
    let node = "halopsa.client.get";
    let envelope = h.invoke(node, json!({"Id": 1})).await;
    assert_success(&envelope, 200);
    assert_eq!(envelope["Client"]["id"], 1);
    assert_eq!(envelope["Client"]["name"], "Acme Manufacturing Ltd");
    // The seed's `email` and `phone`, from the fields psaflow writes (emailaddress, phonenumber).
    assert_eq!(envelope["Client"]["email"], "it@acme-mfg.example");
    assert_eq!(envelope["Client"]["emailaddress"], "it@acme-mfg.example");
    assert_eq!(envelope["Client"]["phone"], "+44 113 496 0100");

    // Inactive clients are retrievable.
    let envelope = h.invoke(node, json!({"Id": 4})).await;
    assert_success(&envelope, 200);
    assert_eq!(envelope["Client"]["inactive"], true);

    for id in [0, -7] {
        assert_invalid(
            &h,
            node,
            json!({"Id": id}),
            "Id must be a positive integer",
            "Client",
            json!({}),
        )
        .await;
    }

    let envelope = h.invoke(node, json!({"Id": 99999})).await;
    assert_eq!(
        codes(&envelope),
        (200, 404, "Client with ID 99999 not found".to_string()),
        "{envelope}"
    );
    assert_eq!(envelope["Client"], json!({}));

    assert_network_error(&h, node, json!({"Id": 1}), "Client", json!({})).await;
}

// ---------------------------------------------------------------------------------------------
// Update a Client

#[tokio::test(flavor = "multi_thread")]
async fn update_client_changes_only_given_fields() {
    let h = harness().await;
    let before = client_record(&h, 2).unwrap();
    let envelope = h
        .invoke(
            "halopsa.client.update",
            json!({"Id": 2, "Notes": "Now on managed services", "IsVip": true, "Name": ""}),
        )
        .await;
    assert_success(&envelope, 200);
    assert_eq!(envelope["Client"]["id"], 2);
    assert_eq!(envelope["Client"]["notes"], "Now on managed services");
    assert_eq!(envelope["Client"]["is_vip"], true);
    let after = client_record(&h, 2).unwrap();
    assert_eq!(after["name"], before["name"], "empty Name keeps the name");
    assert_eq!(after["website"], before["website"]);
    assert_eq!(after["inactive"], before["inactive"]);

    let envelope = h
        .invoke("halopsa.client.update", json!({"Id": 2, "Inactive": true}))
        .await;
    assert_success(&envelope, 200);
    assert_eq!(client_record(&h, 2).unwrap()["inactive"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn update_client_validation_and_errors() {
    let h = harness().await;
    let node = "halopsa.client.update";
    let cases = [
        (
            json!({"Id": 0, "Name": "X"}),
            "Id must be a positive integer",
        ),
        (json!({"Id": 2}), "Nothing to update"),
        (
            json!({"Id": 2, "Name": "  ", "Notes": ""}),
            "Nothing to update",
        ),
        (
            json!({"Id": 2, "Website": "acme.com"}),
            "http:// or https://",
        ),
    ];
    for (params, message) in cases {
        assert_invalid(&h, node, params, message, "Client", json!({})).await;
    }

    let envelope = h.invoke(node, json!({"Id": 99999, "Name": "Ghost"})).await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 404), "{envelope}");
    assert_eq!(message, "Client with ID 99999 not found");
    assert_eq!(envelope["Client"], json!({}));

    assert_network_error(&h, node, json!({"Id": 2, "Name": "X"}), "Client", json!({})).await;
}

// ---------------------------------------------------------------------------------------------
// Delete a Client

#[tokio::test(flavor = "multi_thread")]
async fn delete_client() {
    let h = harness().await;
    let created = h
        .invoke("halopsa.client.create", json!({"Name": "Short-lived Ltd"}))
        .await;
    let id = created["Client"]["id"].as_i64().unwrap();
    let envelope = h.invoke("halopsa.client.delete", json!({"Id": id})).await;
    assert_success(&envelope, 200);
    assert_eq!(
        envelope["DeleteResult"],
        json!({"success": true, "deleted_id": id})
    );
    assert!(client_record(&h, id).is_none());

    // Gone: the seed's "verify with Get a Client" step gives the 404 wording.
    let envelope = h.invoke("halopsa.client.delete", json!({"Id": id})).await;
    assert_eq!(
        codes(&envelope),
        (200, 404, format!("Client with ID {id} not found")),
        "{envelope}"
    );
    assert_eq!(
        envelope["DeleteResult"],
        json!({"success": false, "deleted_id": 0})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_client_validation_and_errors() {
    let h = harness().await;
    let node = "halopsa.client.delete";
    let failed = json!({"success": false, "deleted_id": 0});
    for id in [0, -1] {
        assert_invalid(
            &h,
            node,
            json!({"Id": id}),
            "Id must be a positive integer",
            "DeleteResult",
            failed.clone(),
        )
        .await;
    }
    // Client 1 still has sites: HaloPSA refuses.
    let envelope = h.invoke(node, json!({"Id": 1})).await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 400), "{envelope}");
    assert!(message.contains("cannot be deleted"), "{message}");
    assert_eq!(envelope["DeleteResult"], failed);
    assert!(client_record(&h, 1).is_some());

    assert_network_error(&h, node, json!({"Id": 3}), "DeleteResult", failed).await;
}

// ---------------------------------------------------------------------------------------------
// Get Many Clients

#[tokio::test(flavor = "multi_thread")]
async fn get_many_clients_filters() {
    let h = harness().await;
    let node = "halopsa.client.get-many";
    // Defaults: active only.
    let envelope = h.invoke(node, json!({})).await;
    assert_success(&envelope, 200);
    assert_eq!(ids_of(&envelope["Clients"]["clients"]), vec![1, 2, 3]);
    assert_eq!(envelope["Clients"]["record_count"], 3);

    let envelope = h.invoke(node, json!({"IncludeInactive": true})).await;
    assert_eq!(ids_of(&envelope["Clients"]["clients"]), vec![1, 2, 3, 4]);
    let envelope = h
        .invoke(
            node,
            json!({"IncludeActive": false, "IncludeInactive": true}),
        )
        .await;
    assert_eq!(ids_of(&envelope["Clients"]["clients"]), vec![4]);

    let envelope = h.invoke(node, json!({"Search": "cobalt"})).await;
    assert_eq!(ids_of(&envelope["Clients"]["clients"]), vec![3]);

    // Both false: an empty list without asking HaloPSA.
    assert_empty_list_without_request(&h, node, "Clients", "clients").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn get_many_clients_validation_and_errors() {
    let h = harness().await;
    let node = "halopsa.client.get-many";
    for (params, message) in [
        (json!({"PageNo": 0}), "PageNo must be 1 or more"),
        (json!({"PageSize": 0}), "PageSize must be 1 or more"),
        (json!({"Count": 0}), "Count must be 1 or more"),
        (
            json!({"Count": -5, "Paginate": false}),
            "Count must be 1 or more",
        ),
    ] {
        assert_invalid(&h, node, params, message, "Clients", json!({})).await;
    }

    let envelope = h.invoke_failing(403, 1, node, json!({})).await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 403), "{envelope}");
    assert!(!message.is_empty());
    assert_eq!(envelope["Clients"], json!({}));

    assert_network_error(&h, node, json!({}), "Clients", json!({})).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn get_many_clients_pages_across_the_server_cap() {
    let h = harness().await;
    for i in 0..300 {
        h.sandbox.insert(
            Entity::Client,
            json!({"name": format!("Bulk Client {i:03}"), "inactive": false}),
        );
    }
    let node = "halopsa.client.get-many";
    let all_active: Vec<i64> = {
        let envelope = h.invoke(node, json!({"Paginate": false})).await;
        assert_success(&envelope, 200);
        assert_eq!(envelope["Clients"]["record_count"], 303);
        ids_of(&envelope["Clients"]["clients"])
    };
    assert_eq!(
        all_active.len(),
        303,
        "Paginate=false returns everything despite the 100 cap"
    );
    let mut unique = all_active.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 303);

    // PageSize 250: page 1 is records 0..250, page 2 the remaining 53.
    let envelope = h.invoke(node, json!({"PageSize": 250, "PageNo": 1})).await;
    assert_success(&envelope, 200);
    assert_eq!(
        ids_of(&envelope["Clients"]["clients"]),
        all_active[..250].to_vec()
    );
    assert_eq!(envelope["Clients"]["record_count"], 303);
    let envelope = h.invoke(node, json!({"PageSize": 250, "PageNo": 2})).await;
    assert_eq!(
        ids_of(&envelope["Clients"]["clients"]),
        all_active[250..].to_vec()
    );

    // Count caps what one call returns, with and without pagination; with it, PageNo and
    // PageSize still select the page (Count never moves or empties it).
    let envelope = h
        .invoke(node, json!({"PageSize": 100, "PageNo": 2, "Count": 20}))
        .await;
    assert_eq!(
        ids_of(&envelope["Clients"]["clients"]),
        all_active[100..120].to_vec()
    );
    let envelope = h
        .invoke(node, json!({"PageSize": 100, "PageNo": 2, "Count": 120}))
        .await;
    assert_eq!(
        ids_of(&envelope["Clients"]["clients"]),
        all_active[100..200].to_vec()
    );
    // The reported defect: page 2 of 2 with Count 2 was empty while record_count said more.
    let envelope = h
        .invoke(node, json!({"PageSize": 2, "PageNo": 2, "Count": 2}))
        .await;
    assert_success(&envelope, 200);
    assert_eq!(
        ids_of(&envelope["Clients"]["clients"]),
        all_active[2..4].to_vec()
    );
    assert_eq!(envelope["Clients"]["record_count"], 303);
    let envelope = h
        .invoke(node, json!({"Paginate": false, "Count": 280}))
        .await;
    assert_eq!(
        ids_of(&envelope["Clients"]["clients"]),
        all_active[..280].to_vec()
    );
    assert_eq!(envelope["Clients"]["record_count"], 303);

    // Every server page the nodes asked for respects the 100-record cap.
    assert_pages_within_server_cap(&h);
}
