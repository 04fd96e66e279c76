//! End-to-end tests of the Client nodes: the real components through the real host against the
//! sandbox over HTTP. Each operation: success, every validation rule (-1 and no request sent),
//! a business error (200 + message + the original status), a server error and a network error
//! (500), and, for get-many, paging across the server's 100-record cap.

use psaflow_tests::{Entity, Harness, harness};
use serde_json::{Value, json};

/// StatusCode, OriginalStatusCode, ErrorMessage of an envelope.
fn codes(envelope: &Value) -> (i64, i64, String) {
    (
        envelope["StatusCode"].as_i64().expect("StatusCode"),
        envelope["OriginalStatusCode"]
            .as_i64()
            .expect("OriginalStatusCode"),
        envelope["ErrorMessage"]
            .as_str()
            .expect("ErrorMessage")
            .to_string(),
    )
}

/// Runs `node` against a runtime whose HaloPSA is down (nothing listens on its port).
async fn invoke_down(h: &Harness, node: &str, params: Value) -> Value {
    let Value::Object(params) = params else {
        panic!("params must be an object")
    };
    h.down().await.invoke(node, params).await.to_json()
}

fn assert_success(envelope: &Value, original: i64) {
    assert_eq!(
        codes(envelope),
        (200, original, String::new()),
        "{envelope}"
    );
}

/// Runs `node` with `params` and checks a validation failure: StatusCode -1, OriginalStatusCode
/// 0, a message containing `message`, the given output, and no request sent to the API.
async fn assert_invalid(
    h: &Harness,
    node: &str,
    params: Value,
    message: &str,
    output_key: &str,
    output: Value,
) {
    let before = h.api_requests();
    let envelope = h.invoke(node, params.clone()).await;
    let (status, original, error) = codes(&envelope);
    assert_eq!((status, original), (-1, 0), "{node} {params}: {envelope}");
    assert!(
        error.contains(message),
        "{node} {params}: expected {message:?} in {error:?}"
    );
    assert_eq!(envelope[output_key], output, "{node} {params}");
    assert_eq!(
        h.api_requests(),
        before,
        "{node} {params} must not send a request"
    );
}

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
    let stored = client_record(&h, id).expect("stored");
    assert_eq!(stored["email"], "contact@zenith.example");
    assert_eq!(stored["phonenumber"], "+1 415 555 0123");
    assert_eq!(stored["toplevel_id"], 2);
    assert_eq!(stored["notes"], "Onboarded by workflow");
}

#[tokio::test(flavor = "multi_thread")]
async fn create_client_validation() {
    let h = harness().await;
    let node = "halopsa.client.create";
    assert_invalid(
        &h,
        node,
        json!({"Name": ""}),
        "Name is required",
        "Client",
        json!({}),
    )
    .await;
    assert_invalid(
        &h,
        node,
        json!({"Name": "   "}),
        "Name is required",
        "Client",
        json!({}),
    )
    .await;
    for website in ["www.acme.com", "acme.com", "ftp://acme.com"] {
        assert_invalid(
            &h,
            node,
            json!({"Name": "Acme", "Website": website}),
            "http:// or https://",
            "Client",
            json!({}),
        )
        .await;
    }
    assert_invalid(
        &h,
        node,
        json!({"Name": "Acme", "AdditionalFields": "[1, 2]"}),
        "AdditionalFields must be a JSON object",
        "Client",
        json!({}),
    )
    .await;
    assert_invalid(
        &h,
        node,
        json!({"Name": "Acme", "AdditionalFields": "{not json"}),
        "AdditionalFields must be",
        "Client",
        json!({}),
    )
    .await;
    assert_invalid(
        &h,
        node,
        json!({"Name": "Acme", "AdditionalFields": {"id": 1}}),
        "AdditionalFields must not contain id",
        "Client",
        json!({}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn create_client_business_server_and_network_errors() {
    let h = harness().await;
    // HaloPSA refuses an id field it cannot read: 400 with a field map.
    let envelope = h
        .invoke(
            "halopsa.client.create",
            json!({"Name": "Acme", "AdditionalFields": {"toplevel_id": "abc"}}),
        )
        .await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 400), "{envelope}");
    assert!(message.contains("toplevel_id"), "{message}");
    assert_eq!(envelope["Client"], json!({}));

    h.sandbox.faults().fail_next(500, 10, None);
    let envelope = h
        .invoke("halopsa.client.create", json!({"Name": "Acme"}))
        .await;
    h.sandbox.faults().reset();
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (500, 500), "{envelope}");
    assert!(!message.is_empty());
    assert_eq!(envelope["Client"], json!({}));

    let envelope = invoke_down(&h, "halopsa.client.create", json!({"Name": "Acme"})).await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (500, 0), "{envelope}");
    assert!(!message.is_empty());
    assert_eq!(envelope["Client"], json!({}));
}

// ---------------------------------------------------------------------------------------------
// Get a Client

#[tokio::test(flavor = "multi_thread")]
async fn get_client() {
    let h = harness().await;
    let envelope = h.invoke("halopsa.client.get", json!({"Id": 1})).await;
    assert_success(&envelope, 200);
    assert_eq!(envelope["Client"]["id"], 1);
    assert_eq!(envelope["Client"]["name"], "Acme Manufacturing Ltd");

    // Inactive clients are retrievable.
    let envelope = h.invoke("halopsa.client.get", json!({"Id": 4})).await;
    assert_success(&envelope, 200);
    assert_eq!(envelope["Client"]["inactive"], true);

    for id in [0, -7] {
        assert_invalid(
            &h,
            "halopsa.client.get",
            json!({"Id": id}),
            "Id must be a positive integer",
            "Client",
            json!({}),
        )
        .await;
    }

    let envelope = h.invoke("halopsa.client.get", json!({"Id": 99999})).await;
    assert_eq!(
        codes(&envelope),
        (200, 404, "Client with ID 99999 not found".to_string()),
        "{envelope}"
    );
    assert_eq!(envelope["Client"], json!({}));

    let envelope = invoke_down(&h, "halopsa.client.get", json!({"Id": 1})).await;
    assert_eq!(codes(&envelope).0, 500);
    assert_eq!(codes(&envelope).1, 0);
    assert_eq!(envelope["Client"], json!({}));
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
    assert_invalid(
        &h,
        node,
        json!({"Id": 0, "Name": "X"}),
        "Id must be a positive integer",
        "Client",
        json!({}),
    )
    .await;
    assert_invalid(
        &h,
        node,
        json!({"Id": 2}),
        "Nothing to update",
        "Client",
        json!({}),
    )
    .await;
    assert_invalid(
        &h,
        node,
        json!({"Id": 2, "Name": "  ", "Notes": ""}),
        "Nothing to update",
        "Client",
        json!({}),
    )
    .await;
    assert_invalid(
        &h,
        node,
        json!({"Id": 2, "Website": "acme.com"}),
        "http:// or https://",
        "Client",
        json!({}),
    )
    .await;

    let envelope = h.invoke(node, json!({"Id": 99999, "Name": "Ghost"})).await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 404), "{envelope}");
    assert_eq!(message, "Client with ID 99999 not found");
    assert_eq!(envelope["Client"], json!({}));

    let envelope = invoke_down(&h, node, json!({"Id": 2, "Name": "X"})).await;
    assert_eq!((codes(&envelope).0, codes(&envelope).1), (500, 0));
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

    let envelope = invoke_down(&h, node, json!({"Id": 3})).await;
    assert_eq!((codes(&envelope).0, codes(&envelope).1), (500, 0));
    assert_eq!(envelope["DeleteResult"], failed);
}

// ---------------------------------------------------------------------------------------------
// Get Many Clients

fn ids_of(list: &Value) -> Vec<i64> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|c| c["id"].as_i64().expect("integer id"))
        .collect()
}

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
    let before = h.api_requests();
    let envelope = h
        .invoke(
            node,
            json!({"IncludeActive": false, "IncludeInactive": false}),
        )
        .await;
    assert_eq!(codes(&envelope), (200, 0, String::new()));
    assert_eq!(
        envelope["Clients"],
        json!({"clients": [], "record_count": 0})
    );
    assert_eq!(h.api_requests(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn get_many_clients_validation_and_errors() {
    let h = harness().await;
    let node = "halopsa.client.get-many";
    assert_invalid(
        &h,
        node,
        json!({"PageNo": 0}),
        "PageNo must be 1 or more",
        "Clients",
        json!({}),
    )
    .await;
    assert_invalid(
        &h,
        node,
        json!({"PageSize": 0}),
        "PageSize must be 1 or more",
        "Clients",
        json!({}),
    )
    .await;
    assert_invalid(
        &h,
        node,
        json!({"Count": 0}),
        "Count must be 1 or more",
        "Clients",
        json!({}),
    )
    .await;
    assert_invalid(
        &h,
        node,
        json!({"Count": -5, "Paginate": false}),
        "Count must be 1 or more",
        "Clients",
        json!({}),
    )
    .await;

    h.sandbox.faults().fail_next(403, 1, None);
    let envelope = h.invoke(node, json!({})).await;
    h.sandbox.faults().reset();
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 403), "{envelope}");
    assert!(!message.is_empty());
    assert_eq!(envelope["Clients"], json!({}));

    let envelope = invoke_down(&h, node, json!({})).await;
    assert_eq!((codes(&envelope).0, codes(&envelope).1), (500, 0));
    assert_eq!(envelope["Clients"], json!({}));
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

    // Count limits the result, with and without pagination.
    let envelope = h
        .invoke(node, json!({"PageSize": 100, "PageNo": 2, "Count": 120}))
        .await;
    assert_eq!(
        ids_of(&envelope["Clients"]["clients"]),
        all_active[100..120].to_vec()
    );
    let envelope = h
        .invoke(node, json!({"Paginate": false, "Count": 280}))
        .await;
    assert_eq!(
        ids_of(&envelope["Clients"]["clients"]),
        all_active[..280].to_vec()
    );
    assert_eq!(envelope["Clients"]["record_count"], 303);

    // Every server page the nodes asked for respects the 100-record cap.
    let pages: Vec<u64> = h
        .sandbox
        .requests()
        .iter()
        .flat_map(|r| {
            r.query
                .split('&')
                .filter_map(|p| p.strip_prefix("page_size="))
                .map(|v| v.parse::<u64>().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(!pages.is_empty());
    assert!(pages.iter().all(|size| *size <= 100), "{pages:?}");
}
