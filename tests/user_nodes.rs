//! End-to-end tests of the User nodes: the real components through the real host against the
//! sandbox over HTTP. Each operation: success (and the sandbox state after it), every validation
//! rule (-1 and no request sent), a business error (200 + message + the original status), a
//! server error and a network error (500, 0); the password never echoed; user delete's
//! "HTTP 500 with an empty body" quirk both ways; paging across the server's 100-record cap.

use psaflow_halopsa_sandbox::UserDeleteQuirk;
use psaflow_tests::{
    Entity, Harness, assert_empty_list_without_request, assert_invalid, assert_network_error,
    assert_server_error, assert_success, codes, harness, ids_of,
};
use serde_json::{Value, json};

fn users(h: &Harness) -> Vec<Value> {
    h.sandbox.records(Entity::User)
}

fn user_record(h: &Harness, id: i64) -> Option<Value> {
    users(h).into_iter().find(|u| u["id"].as_i64() == Some(id))
}

/// (method, path) of the API requests received since `from`.
fn api_calls_since(h: &Harness, from: usize) -> Vec<(String, String)> {
    h.sandbox
        .requests()
        .into_iter()
        .filter(|r| r.path.to_ascii_lowercase().starts_with("/api/"))
        .skip(from)
        .map(|r| (r.method, r.path))
        .collect()
}

const PASSWORD: &str = "SecureP@ss123";

// ---------------------------------------------------------------------------------------------
// Create a User

#[tokio::test(flavor = "multi_thread")]
async fn create_user_success() {
    let h = harness().await;
    let count = users(&h).len();
    let envelope = h
        .invoke(
            "halopsa.user.create",
            json!({
                "Name": " Mia ",
                "Surname": "Turner",
                "SiteId": 1,
                "Emailaddress": "mia.turner@acme-mfg.example",
                "Notes": "Starts Monday",
                "Password": PASSWORD
            }),
        )
        .await;
    assert_success(&envelope, 201);
    let user = &envelope["User"];
    let id = user["id"].as_i64().expect("integer id");
    assert_eq!(user["name"], "Mia");
    assert_eq!(user["surname"], "Turner");
    assert_eq!(user["emailaddress"], "mia.turner@acme-mfg.example");
    assert_eq!(user["notes"], "Starts Monday");
    assert_eq!(user["inactive"], false, "active by default");
    assert!(user["site_id"].is_i64(), "HaloPSA's 1.0 becomes 1: {user}");
    assert_eq!(user["site_id"], 1);
    assert!(user.get("password").is_none(), "{user}");
    assert!(
        !envelope.to_string().contains(PASSWORD),
        "the password is never echoed: {envelope}"
    );

    // The sandbox holds the user, with a password set.
    assert_eq!(users(&h).len(), count + 1);
    let stored = user_record(&h, id).expect("stored");
    assert_eq!(stored["name"], "Mia");
    assert_eq!(stored["has_password"], true);
    assert_eq!(stored["inactive"], false);

    // Inactive false is sent explicitly; the body is a one-element array.
    let body = h.last_post_body();
    assert_eq!(body[0]["inactive"], false, "{body}");
    assert_eq!(body.as_array().unwrap().len(), 1);

    // Only the required parameters; a disabled user.
    let envelope = h
        .invoke(
            "halopsa.user.create",
            json!({"Name": "Temp Contractor", "SiteId": 3, "Inactive": true}),
        )
        .await;
    assert_success(&envelope, 201);
    assert_eq!(
        h.last_post_body(),
        json!([{"name": "Temp Contractor", "site_id": 3, "inactive": true}])
    );
    let id = envelope["User"]["id"].as_i64().unwrap();
    assert_eq!(user_record(&h, id).unwrap()["inactive"], true);
    assert_eq!(user_record(&h, id).unwrap()["has_password"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn create_user_validation() {
    let h = harness().await;
    let node = "halopsa.user.create";
    let count = users(&h).len();
    let cases = [
        (json!({"Name": "", "SiteId": 1}), "Name is required"),
        (json!({"Name": "   ", "SiteId": 1}), "Name is required"),
        (
            json!({"Name": "Mia", "SiteId": 0}),
            "SiteId must be a positive integer",
        ),
        (
            json!({"Name": "Mia", "SiteId": -1}),
            "SiteId must be a positive integer",
        ),
        (json!({"SiteId": 1}), "Name"),
        (json!({"Name": "Mia"}), "SiteId"),
        (
            json!({"Name": "Mia", "SiteId": 1, "Emailaddress": "notanemail"}),
            "Emailaddress must be an email address like jane.smith@msp.example, got \"notanemail\"",
        ),
    ];
    for (params, message) in cases {
        assert_invalid(&h, node, params, message, "User", json!({})).await;
    }
    for (password, needs) in [
        ("Sh0rt!", "at least 8 characters"),
        ("alllowercase1", "an upper-case letter"),
        ("ALLUPPERCASE1", "a lower-case letter"),
        ("NoDigitsOrSymbols", "a digit (0-9) or one of the symbols !@#$%^&*"),
        ("Only-Dashes_Here", "a digit (0-9) or one of the symbols !@#$%^&*"),
    ] {
        let envelope = assert_invalid(
            &h,
            node,
            json!({"Name": "Mia", "SiteId": 1, "Password": password}),
            needs,
            "User",
            json!({}),
        )
        .await;
        assert!(
            !envelope.to_string().contains(password),
            "the password is never echoed: {envelope}"
        );
    }
    assert_eq!(users(&h).len(), count, "nothing created");
}

#[tokio::test(flavor = "multi_thread")]
async fn create_user_business_server_and_network_errors() {
    let h = harness().await;
    let node = "halopsa.user.create";
    let count = users(&h).len();
    // An unknown site.
    let envelope = h
        .invoke(
            node,
            json!({"Name": "Mia", "SiteId": 999, "Password": PASSWORD}),
        )
        .await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 400), "{envelope}");
    assert!(message.contains("site_id"), "{message}");
    assert_eq!(envelope["User"], json!({}));
    assert!(!envelope.to_string().contains(PASSWORD));
    // An email address already in use.
    let envelope = h
        .invoke(
            node,
            json!({"Name": "Jane", "SiteId": 1, "Emailaddress": "JANE.SMITH@acme-mfg.example"}),
        )
        .await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 400), "{envelope}");
    assert!(message.contains("already exists"), "{message}");
    assert_eq!(envelope["User"], json!({}));
    assert_eq!(users(&h).len(), count, "nothing created");

    let params = json!({"Name": "Mia", "SiteId": 1, "Password": PASSWORD});
    assert_server_error(&h, node, params.clone(), "User", json!({})).await;
    assert_network_error(&h, node, params, "User", json!({})).await;
    assert_eq!(users(&h).len(), count);
}

// ---------------------------------------------------------------------------------------------
// Get a User

#[tokio::test(flavor = "multi_thread")]
async fn get_user() {
    let h = harness().await;
    let node = "halopsa.user.get";
    let envelope = h.invoke(node, json!({"Id": 4})).await;
    assert_success(&envelope, 200);
    let user = &envelope["User"];
    assert_eq!(user["id"], 4);
    assert_eq!(user["surname"], "Clarke");
    assert_eq!(
        user["emailaddress"],
        "emma.clarke@brightwater-dental.example"
    );
    assert!(user["site_id"].is_i64(), "HaloPSA's 3.0 becomes 3: {user}");
    assert_eq!(user["site_id"], 3);

    // Inactive users are retrievable.
    let envelope = h.invoke(node, json!({"Id": 7})).await;
    assert_success(&envelope, 200);
    assert_eq!(envelope["User"]["inactive"], true);

    for id in [0, -9] {
        assert_invalid(
            &h,
            node,
            json!({"Id": id}),
            "Id must be a positive integer",
            "User",
            json!({}),
        )
        .await;
    }
    let envelope = h.invoke(node, json!({"Id": 99999})).await;
    assert_eq!(
        codes(&envelope),
        (200, 404, "User with ID 99999 not found".to_string()),
        "{envelope}"
    );
    assert_eq!(envelope["User"], json!({}));

    assert_server_error(&h, node, json!({"Id": 4}), "User", json!({})).await;
    assert_network_error(&h, node, json!({"Id": 4}), "User", json!({})).await;
}

// ---------------------------------------------------------------------------------------------
// Update a User

#[tokio::test(flavor = "multi_thread")]
async fn update_user_changes_only_given_fields() {
    let h = harness().await;
    let node = "halopsa.user.update";
    let before = user_record(&h, 2).unwrap();
    let envelope = h
        .invoke(
            node,
            json!({
                "Id": 2,
                "Name": "",
                "Surname": "Patel-Shah",
                "SiteId": 2,
                "Emailaddress": "  ",
                "Notes": "Moved to the warehouse",
                "Password": PASSWORD
            }),
        )
        .await;
    assert_success(&envelope, 200);
    let user = &envelope["User"];
    assert_eq!(user["id"], 2);
    assert_eq!(user["surname"], "Patel-Shah");
    assert_eq!(user["site_id"], 2);
    assert!(user["site_id"].is_i64(), "{user}");
    assert!(user.get("password").is_none(), "{user}");
    assert!(!envelope.to_string().contains(PASSWORD), "{envelope}");

    let after = user_record(&h, 2).unwrap();
    assert_eq!(after["name"], before["name"], "empty Name keeps the value");
    assert_eq!(after["emailaddress"], before["emailaddress"]);
    assert_eq!(
        after["inactive"], before["inactive"],
        "Inactive not given: kept"
    );
    assert_eq!(after["notes"], "Moved to the warehouse");
    assert_eq!(after["has_password"], true);
    assert_eq!(
        h.last_post_body(),
        json!([{"id": 2, "surname": "Patel-Shah", "notes": "Moved to the warehouse", "site_id": 2, "password": PASSWORD}])
    );

    // SiteId 0 keeps the site; Inactive is sent when given.
    let envelope = h
        .invoke(node, json!({"Id": 2, "SiteId": 0, "Inactive": true}))
        .await;
    assert_success(&envelope, 200);
    assert_eq!(h.last_post_body(), json!([{"id": 2, "inactive": true}]));
    let after = user_record(&h, 2).unwrap();
    assert_eq!(
        (after["inactive"].clone(), after["site_id"].clone()),
        (json!(true), json!(2.0))
    );
    let envelope = h.invoke(node, json!({"Id": 2, "Inactive": false})).await;
    assert_success(&envelope, 200);
    assert_eq!(user_record(&h, 2).unwrap()["inactive"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn update_user_validation_and_errors() {
    let h = harness().await;
    let node = "halopsa.user.update";
    let before = user_record(&h, 2).unwrap();
    let cases = [
        (
            json!({"Id": 0, "Name": "x"}),
            "Id must be a positive integer",
        ),
        (
            json!({"Id": -2, "Name": "x"}),
            "Id must be a positive integer",
        ),
        (json!({"Id": 2}), "Nothing to update"),
        (
            json!({"Id": 2, "Name": "", "Surname": " ", "SiteId": 0, "Emailaddress": "", "Notes": "", "Password": ""}),
            "Nothing to update",
        ),
        (
            json!({"Id": 2, "SiteId": -1}),
            "SiteId must be a positive integer",
        ),
        (
            json!({"Id": 2, "Emailaddress": "notanemail"}),
            "Emailaddress must be an email address like jane.smith@msp.example, got \"notanemail\"",
        ),
    ];
    for (params, message) in cases {
        assert_invalid(&h, node, params, message, "User", json!({})).await;
    }
    for password in ["short1A", "nocapitals1!", "NOLOWER123", "NoDigitsOrSymbols"] {
        let envelope = assert_invalid(
            &h,
            node,
            json!({"Id": 2, "Password": password}),
            "Password does not meet the password rules",
            "User",
            json!({}),
        )
        .await;
        assert!(!envelope.to_string().contains(password), "{envelope}");
    }
    assert_eq!(user_record(&h, 2).unwrap(), before, "nothing changed");

    let envelope = h.invoke(node, json!({"Id": 99999, "Name": "x"})).await;
    assert_eq!(
        codes(&envelope),
        (200, 404, "User with ID 99999 not found".to_string()),
        "{envelope}"
    );
    assert_eq!(envelope["User"], json!({}));
    let envelope = h.invoke(node, json!({"Id": 2, "SiteId": 999})).await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 400), "{envelope}");
    assert!(message.contains("site_id"), "{message}");
    assert_eq!(envelope["User"], json!({}));

    let params = json!({"Id": 2, "Notes": "x"});
    assert_server_error(&h, node, params.clone(), "User", json!({})).await;
    assert_network_error(&h, node, params, "User", json!({})).await;
    assert_eq!(user_record(&h, 2).unwrap(), before, "nothing changed");
}

// ---------------------------------------------------------------------------------------------
// Delete a User

#[tokio::test(flavor = "multi_thread")]
async fn delete_user() {
    let h = harness().await;
    let node = "halopsa.user.delete";
    let from = h.api_requests();
    let envelope = h.invoke(node, json!({"Id": 8})).await;
    assert_success(&envelope, 200);
    assert_eq!(envelope["DeletedUser"], json!({"id": 8, "deleted": true}));
    assert!(user_record(&h, 8).is_none());
    assert_eq!(
        api_calls_since(&h, from),
        vec![("DELETE".to_string(), "/api/Users/8".to_string())],
        "a normal delete needs no check"
    );

    // Not found: the requested id, deleted false.
    let envelope = h.invoke(node, json!({"Id": 8})).await;
    assert_eq!(
        codes(&envelope),
        (200, 404, "User with ID 8 not found".to_string()),
        "{envelope}"
    );
    assert_eq!(envelope["DeletedUser"], json!({}));
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_user_500_with_empty_body_but_deleted_is_a_success() {
    let h = harness().await;
    h.sandbox
        .faults()
        .user_delete_quirk(UserDeleteQuirk::Error500EmptyBodyButDeleted);
    let from = h.api_requests();
    let envelope = h.invoke("halopsa.user.delete", json!({"Id": 5})).await;
    // Success, and OriginalStatusCode keeps what HaloPSA answered to the DELETE.
    assert_eq!(codes(&envelope), (200, 500, String::new()), "{envelope}");
    assert_eq!(envelope["DeletedUser"], json!({"id": 5, "deleted": true}));
    assert!(user_record(&h, 5).is_none());
    // The node checked: DELETE, then GET of the user (404).
    assert_eq!(
        api_calls_since(&h, from),
        vec![
            ("DELETE".to_string(), "/api/Users/5".to_string()),
            ("GET".to_string(), "/api/Users/5".to_string())
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_user_500_with_empty_body_and_not_deleted_is_a_failure() {
    let h = harness().await;
    h.sandbox
        .faults()
        .user_delete_quirk(UserDeleteQuirk::Error500EmptyBodyNotDeleted);
    let envelope = h.invoke("halopsa.user.delete", json!({"Id": 5})).await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (500, 500), "{envelope}");
    assert!(message.contains("still exists"), "{message}");
    assert!(message.contains("not deleted"), "{message}");
    assert_eq!(envelope["DeletedUser"], json!({}));
    assert!(user_record(&h, 5).is_some(), "the user is still there");

    // A missing user still answers 404 under the quirk.
    let envelope = h.invoke("halopsa.user.delete", json!({"Id": 99999})).await;
    assert_eq!(
        codes(&envelope),
        (200, 404, "User with ID 99999 not found".to_string())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_user_500_that_cannot_be_confirmed() {
    let h = harness().await;
    // The DELETE and the confirming GET both fail with 500.
    let envelope = h
        .invoke_failing(500, 2, "halopsa.user.delete", json!({"Id": 5}))
        .await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (500, 500), "{envelope}");
    assert!(message.contains("could not be confirmed"), "{message}");
    assert_eq!(envelope["DeletedUser"], json!({}));
    assert!(user_record(&h, 5).is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_user_validation_and_network_error() {
    let h = harness().await;
    let node = "halopsa.user.delete";
    for id in [0, -5] {
        assert_invalid(
            &h,
            node,
            json!({"Id": id}),
            "Id must be a positive integer",
            "DeletedUser",
            json!({}),
        )
        .await;
    }
    assert_invalid(&h, node, json!({}), "Id", "DeletedUser", json!({})).await;
    assert_network_error(
        &h,
        node,
        json!({"Id": 5}),
        "DeletedUser",
        json!({}),
    )
    .await;
    assert!(user_record(&h, 5).is_some());
}

// ---------------------------------------------------------------------------------------------
// Get Many Users

#[tokio::test(flavor = "multi_thread")]
async fn get_many_users_filters() {
    let h = harness().await;
    let node = "halopsa.user.get-many";
    // Defaults: active users only; site_id as integers.
    let envelope = h.invoke(node, json!({})).await;
    assert_success(&envelope, 200);
    assert_eq!(
        ids_of(&envelope["Users"]["users"]),
        vec![1, 2, 3, 4, 5, 6, 8]
    );
    assert_eq!(envelope["Users"]["record_count"], 7);
    assert!(
        envelope["Users"]["users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["site_id"].is_i64()),
        "{envelope}"
    );

    let envelope = h.invoke(node, json!({"IncludeInactive": true})).await;
    assert_eq!(
        ids_of(&envelope["Users"]["users"]),
        (1..=8).collect::<Vec<_>>()
    );
    let envelope = h
        .invoke(
            node,
            json!({"IncludeActive": false, "IncludeInactive": true}),
        )
        .await;
    assert_eq!(ids_of(&envelope["Users"]["users"]), vec![7]);
    let envelope = h.invoke(node, json!({"Search": "brightwater"})).await;
    assert_eq!(ids_of(&envelope["Users"]["users"]), vec![4, 5]);

    // Both false: an empty list without asking HaloPSA.
    assert_empty_list_without_request(&h, node, "Users", "users").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn get_many_users_validation_and_errors() {
    let h = harness().await;
    let node = "halopsa.user.get-many";
    for (params, message) in [
        (json!({"PageNo": 0}), "PageNo must be 1 or more"),
        (json!({"PageSize": 0}), "PageSize must be 1 or more"),
        (json!({"Count": 0}), "Count must be 1 or more"),
        (
            json!({"Count": -1, "Paginate": false}),
            "Count must be 1 or more",
        ),
    ] {
        assert_invalid(&h, node, params, message, "Users", json!({})).await;
    }
    let envelope = h.invoke_failing(403, 1, node, json!({})).await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 403), "{envelope}");
    assert!(message.contains("403"), "{message}");
    assert_eq!(envelope["Users"], json!({}));

    assert_server_error(&h, node, json!({}), "Users", json!({})).await;
    assert_network_error(&h, node, json!({}), "Users", json!({})).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn get_many_users_pages_across_the_server_cap() {
    let h = harness().await;
    for i in 0..150 {
        h.sandbox.insert(
            Entity::User,
            json!({"name": format!("Bulk {i:03}"), "site_id": 1, "inactive": false}),
        );
    }
    let node = "halopsa.user.get-many";
    let envelope = h.invoke(node, json!({"Paginate": false})).await;
    assert_success(&envelope, 200);
    let all = ids_of(&envelope["Users"]["users"]);
    assert_eq!(all.len(), 157);
    assert_eq!(envelope["Users"]["record_count"], 157);
    let envelope = h.invoke(node, json!({"PageSize": 120, "PageNo": 2})).await;
    assert_eq!(ids_of(&envelope["Users"]["users"]), all[120..].to_vec());
    let envelope = h.invoke(node, json!({"PageSize": 150})).await;
    assert_eq!(ids_of(&envelope["Users"]["users"]), all[..150].to_vec());
}

// ---------------------------------------------------------------------------------------------
// What the user nodes declare

#[tokio::test(flavor = "multi_thread")]
async fn update_declares_inactive_true_a_deactivation() {
    let h = harness().await;
    let spec = h.runtime.catalog().get("halopsa.user.update").expect("loaded");
    assert_eq!(spec.effect, psaflow_core::Effect::Update);
    assert!(!spec.is_destructive());
    let given = |v: Value| v.as_object().cloned().expect("object");
    assert_eq!(
        spec.effect_of(&given(json!({"Id": 2, "Inactive": true}))),
        psaflow_core::Effect::Deactivate
    );
    assert_eq!(
        spec.effect_of(&given(json!({"Id": 2, "Inactive": false, "Notes": "x"}))),
        psaflow_core::Effect::Update
    );
    let client = h.runtime.catalog().get("halopsa.client.update").expect("loaded");
    assert!(client.may_be_destructive());
    // Creating a user disabled is not a deactivation: create declares no such value.
    let create = h.runtime.catalog().get("halopsa.user.create").expect("loaded");
    assert!(create.param_effects.is_empty());
}
