//! End-to-end tests of the Site nodes: the real components through the real host against the
//! sandbox over HTTP. Each operation: success, every validation rule (-1 and no request sent),
//! a business error (200 + message + the original status), a network error (500, 0); site
//! create's duplicate check both ways and disabled; paging across the server's 100-record cap.

use psaflow_tests::{
    Entity, Harness, assert_empty_list_without_request, assert_invalid, assert_network_error,
    assert_success, codes, harness, ids_of, status,
};
use serde_json::{Value, json};

fn sites(h: &Harness) -> Vec<Value> {
    h.sandbox.records(Entity::Site)
}

fn site_record(h: &Harness, id: i64) -> Option<Value> {
    sites(h).into_iter().find(|s| s["id"].as_i64() == Some(id))
}

// ---------------------------------------------------------------------------------------------
// Create a Site

#[tokio::test(flavor = "multi_thread")]
async fn create_site_success() {
    let h = harness().await;
    let count = sites(&h).len();
    let envelope = h
        .invoke(
            "halopsa.site.create",
            json!({
                "Name": " Bristol Office ",
                "SiteClientId": 2,
                "MaincontactName": "Amy Lee",
                "Notes": "Second floor",
                "Phonenumber": "+44-117-496-0300"
            }),
        )
        .await;
    assert_success(&envelope, 201);
    let site = &envelope["Site"];
    let id = site["id"].as_i64().expect("integer id");
    assert_eq!(site["name"], "Bristol Office");
    assert!(
        site["client_id"].is_i64(),
        "client_id is an integer: {site}"
    );
    assert_eq!(site["client_id"], 2);
    assert_eq!(site["maincontact_name"], "Amy Lee");
    assert_eq!(site["phonenumber"], "+44-117-496-0300");
    assert_eq!(sites(&h).len(), count + 1);
    assert_eq!(site_record(&h, id).unwrap()["notes"], "Second floor");
    // The create went out as a JSON array.
    let post = h
        .sandbox
        .requests()
        .into_iter()
        .rfind(|r| r.method == "POST")
        .expect("a POST");
    assert!(
        post.body
            .as_deref()
            .unwrap_or("")
            .trim_start()
            .starts_with('['),
        "{post:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn create_site_validation() {
    let h = harness().await;
    let node = "halopsa.site.create";
    let cases = [
        (json!({"Name": "", "SiteClientId": 1}), "Name is required"),
        (json!({"Name": "  ", "SiteClientId": 1}), "Name is required"),
        (
            json!({"Name": "Depot", "SiteClientId": 0}),
            "SiteClientId must be a positive integer",
        ),
        (
            json!({"Name": "Depot", "SiteClientId": -3}),
            "SiteClientId must be a positive integer",
        ),
    ];
    for (params, message) in cases {
        assert_invalid(&h, node, params, message, "Site", json!({})).await;
    }
    let before = h.api_requests();
    let envelope = h
        .invoke(
            node,
            json!({"Name": "Depot", "SiteClientId": 1, "DuplicateCheckFields": ["name", "colour"]}),
        )
        .await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (-1, 0), "{envelope}");
    assert!(message.contains("colour"), "{message}");
    for allowed in [
        "name",
        "client_id",
        "maincontact_name",
        "notes",
        "phonenumber",
    ] {
        assert!(message.contains(allowed), "{message} lists {allowed}");
    }
    assert_eq!(envelope["Site"], json!({}));
    assert_eq!(h.api_requests(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_check_fields_description_lists_the_allowed_fields() {
    // `psaflow nodes describe halopsa.site.create` must say which fields are allowed, not only
    // the refusal: every field the node's own refusal lists is in the parameter's description.
    let h = harness().await;
    let envelope = h
        .invoke(
            "halopsa.site.create",
            json!({"Name": "Depot", "SiteClientId": 1, "DuplicateCheckFields": ["colour"]}),
        )
        .await;
    let refusal = envelope["ErrorMessage"].as_str().unwrap();
    let allowed = refusal
        .split("allowed fields are: ")
        .nth(1)
        .unwrap_or_else(|| panic!("the refusal lists the allowed fields: {refusal}"));
    let catalog = psaflow_tests::built_in_nodes();
    let spec = catalog
        .catalog()
        .get("halopsa.site.create")
        .expect("built in");
    let description = &spec.param("DuplicateCheckFields").unwrap().description;
    let fields: Vec<&str> = allowed.split(", ").collect();
    assert_eq!(fields.len(), 5, "{allowed}");
    for field in fields {
        assert!(
            description.contains(field),
            "{field} missing from {description:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn create_site_duplicate_is_returned_instead_of_created() {
    let h = harness().await;
    let count = sites(&h).len();
    // Site 1 "Head Office" of client 1; the check ignores case and spaces around.
    let envelope = h
        .invoke(
            "halopsa.site.create",
            json!({"Name": "  head OFFICE ", "SiteClientId": 1}),
        )
        .await;
    assert_eq!(codes(&envelope), (200, 200, String::new()), "{envelope}");
    assert_eq!(envelope["Site"]["id"], 1);
    assert_eq!(envelope["Site"]["name"], "Head Office");
    assert_eq!(sites(&h).len(), count, "nothing created");

    // An inactive (archived) site is not a duplicate: handing it back as "the existing site"
    // would attach a workflow's users to an archived site. Site 4 "Harbour Street Clinic" of
    // client 2 is inactive, so a new active site is created beside it.
    let envelope = h
        .invoke(
            "halopsa.site.create",
            json!({"Name": "Harbour Street Clinic", "SiteClientId": 2}),
        )
        .await;
    assert_success(&envelope, 201);
    assert_ne!(envelope["Site"]["id"], 4, "{envelope}");
    assert_ne!(envelope["Site"]["inactive"], true, "{envelope}");
    assert_eq!(
        site_record(&h, 4).unwrap()["inactive"],
        true,
        "site 4 untouched"
    );
    assert_eq!(sites(&h).len(), count + 1);
    let count = count + 1;

    // The same name under another client is not a duplicate with the default fields.
    let envelope = h
        .invoke(
            "halopsa.site.create",
            json!({"Name": "Head Office", "SiteClientId": 3}),
        )
        .await;
    assert_success(&envelope, 201);
    assert_eq!(envelope["Site"]["client_id"], 3);
    assert_eq!(sites(&h).len(), count + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn create_site_duplicate_allowed_or_unchecked() {
    let h = harness().await;
    let count = sites(&h).len();
    let envelope = h
        .invoke(
            "halopsa.site.create",
            json!({"Name": "Head Office", "SiteClientId": 1, "BlockIfDuplicate": false}),
        )
        .await;
    assert_success(&envelope, 201);
    assert_ne!(envelope["Site"]["id"], 1);
    assert_eq!(sites(&h).len(), count + 1);

    let envelope = h
        .invoke(
            "halopsa.site.create",
            json!({"Name": "Head Office", "SiteClientId": 1, "DuplicateCheckFields": []}),
        )
        .await;
    assert_success(&envelope, 201);
    assert_eq!(sites(&h).len(), count + 2);

    // Checking on another field set: same name but a different phone number is not a duplicate.
    let envelope = h
        .invoke(
            "halopsa.site.create",
            json!({"Name": "Leeds Warehouse", "SiteClientId": 1, "Phonenumber": "+44 000",
                   "DuplicateCheckFields": ["name", "phonenumber"]}),
        )
        .await;
    assert_success(&envelope, 201);
    assert_eq!(sites(&h).len(), count + 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_duplicate_of_another_client_is_refused_not_handed_back() {
    let h = harness().await;
    let count = sites(&h).len();
    // Client 1 has "Head Office"; client 2 has none. Checking on the name alone compares every
    // client's sites: client 1's site is a duplicate, but not client 2's site to return.
    let envelope = h
        .invoke(
            "halopsa.site.create",
            json!({"Name": "Head Office", "SiteClientId": 2, "DuplicateCheckFields": ["name"]}),
        )
        .await;
    assert_eq!(status(&envelope), (200, 200), "{envelope}");
    let message = envelope["ErrorMessage"].as_str().unwrap();
    assert!(message.starts_with("site 1 of client 1 matches"), "{message}");
    assert_eq!(envelope["Site"], json!({}));
    assert_eq!(sites(&h).len(), count, "nothing created");
    // With client_id among the fields, client 2's sites are compared: created.
    let envelope = h
        .invoke(
            "halopsa.site.create",
            json!({"Name": "Head Office", "SiteClientId": 2, "DuplicateCheckFields": ["name", "client_id"]}),
        )
        .await;
    assert_success(&envelope, 201);
    assert_eq!(envelope["Site"]["client_id"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn create_site_duplicate_check_pages_through_every_site_of_the_client() {
    let h = harness().await;
    for i in 0..260 {
        h.sandbox.insert(
            Entity::Site,
            json!({"name": format!("Depot {i:03}"), "client_id": 3, "inactive": i % 2 == 1}),
        );
    }
    let count = sites(&h).len();
    let existing = sites(&h)
        .into_iter()
        .find(|s| s["name"] == "Depot 250")
        .unwrap();
    // Depot 250 is active (odd ones are inactive, and never duplicates) and on the third page.
    let envelope = h
        .invoke(
            "halopsa.site.create",
            json!({"Name": "depot 250", "SiteClientId": 3}),
        )
        .await;
    assert_eq!(codes(&envelope), (200, 200, String::new()), "{envelope}");
    assert_eq!(envelope["Site"]["id"], existing["id"]);
    assert_eq!(sites(&h).len(), count);
}

#[tokio::test(flavor = "multi_thread")]
async fn create_site_business_and_network_errors() {
    let h = harness().await;
    let envelope = h
        .invoke(
            "halopsa.site.create",
            json!({"Name": "Nowhere", "SiteClientId": 99999}),
        )
        .await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 400), "{envelope}");
    assert!(message.contains("99999"), "{message}");
    assert_eq!(envelope["Site"], json!({}));

    assert_network_error(
        &h,
        "halopsa.site.create",
        json!({"Name": "Depot", "SiteClientId": 1}),
        "Site",
        json!({}),
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Get a Site

#[tokio::test(flavor = "multi_thread")]
async fn get_site() {
    let h = harness().await;
    let node = "halopsa.site.get";
    let envelope = h.invoke(node, json!({"Id": 3})).await;
    assert_success(&envelope, 200);
    assert_eq!(envelope["Site"]["name"], "Main Clinic");
    assert!(envelope["Site"]["client_id"].is_i64());
    assert_eq!(envelope["Site"]["client_id"], 2);

    for id in [0, -2] {
        assert_invalid(
            &h,
            node,
            json!({"Id": id}),
            "Id must be a positive integer",
            "Site",
            json!({}),
        )
        .await;
    }

    let envelope = h.invoke(node, json!({"Id": 99999})).await;
    assert_eq!(
        codes(&envelope),
        (200, 404, "Site with ID 99999 not found".to_string()),
        "{envelope}"
    );
    assert_eq!(envelope["Site"], json!({}));

    assert_network_error(&h, node, json!({"Id": 3}), "Site", json!({})).await;
}

// ---------------------------------------------------------------------------------------------
// Update a Site

#[tokio::test(flavor = "multi_thread")]
async fn update_site_is_patch_like() {
    let h = harness().await;
    let before = site_record(&h, 2).unwrap();
    let envelope = h
        .invoke(
            "halopsa.site.update",
            json!({"Id": 2, "Name": "", "SiteClientId": 0, "Notes": "Racking replaced", "MaincontactName": ""}),
        )
        .await;
    assert_success(&envelope, 200);
    assert_eq!(envelope["Site"]["notes"], "Racking replaced");
    let after = site_record(&h, 2).unwrap();
    assert_eq!(after["name"], before["name"]);
    assert_eq!(after["client_id"], before["client_id"]);
    assert_eq!(after["maincontact_name"], before["maincontact_name"]);

    // Moving the site to another client.
    let envelope = h
        .invoke("halopsa.site.update", json!({"Id": 2, "SiteClientId": 3}))
        .await;
    assert_success(&envelope, 200);
    assert_eq!(envelope["Site"]["client_id"], 3);
    // The sandbox stores it the way HaloPSA answers it (possibly 3.0); the node output is 3.
    assert_eq!(site_record(&h, 2).unwrap()["client_id"].as_f64(), Some(3.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn update_site_validation_and_errors() {
    let h = harness().await;
    let node = "halopsa.site.update";
    let cases = [
        (
            json!({"Id": 0, "Name": "X"}),
            "Id must be a positive integer",
        ),
        (json!({"Id": 2}), "Nothing to update"),
        (
            json!({"Id": 2, "Name": "", "SiteClientId": 0, "Notes": " ", "Phonenumber": ""}),
            "Nothing to update",
        ),
        (json!({"Id": 2, "SiteClientId": -1}), "SiteClientId"),
    ];
    for (params, message) in cases {
        assert_invalid(&h, node, params, message, "Site", json!({})).await;
    }

    // Business: moving the site to a client that does not exist.
    let envelope = h
        .invoke(node, json!({"Id": 2, "SiteClientId": 99999}))
        .await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 400), "{envelope}");
    assert!(message.contains("99999"), "{message}");
    assert_eq!(envelope["Site"], json!({}));

    let envelope = h.invoke(node, json!({"Id": 99999, "Name": "Ghost"})).await;
    assert_eq!(
        codes(&envelope),
        (200, 404, "Site with ID 99999 not found".to_string()),
        "{envelope}"
    );

    assert_network_error(&h, node, json!({"Id": 2, "Name": "X"}), "Site", json!({})).await;
}

// ---------------------------------------------------------------------------------------------
// Delete a Site

#[tokio::test(flavor = "multi_thread")]
async fn delete_site() {
    let h = harness().await;
    // Site 4 has no users.
    let envelope = h.invoke("halopsa.site.delete", json!({"Id": 4})).await;
    assert_success(&envelope, 200);
    assert_eq!(
        envelope["DeletedSite"],
        json!({"success": true, "deleted_id": 4})
    );
    assert!(site_record(&h, 4).is_none());

    let envelope = h.invoke("halopsa.site.delete", json!({"Id": 4})).await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 404), "{envelope}");
    assert!(message.starts_with("Site with ID 4 not found"), "{message}");
    assert_eq!(
        envelope["DeletedSite"],
        json!({"success": false, "deleted_id": 4})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_site_validation_and_errors() {
    let h = harness().await;
    let node = "halopsa.site.delete";
    for id in [0, -9] {
        assert_invalid(
            &h,
            node,
            json!({"Id": id}),
            "Id must be a positive integer",
            "DeletedSite",
            json!({}),
        )
        .await;
    }
    // Site 1 has users: HaloPSA refuses; the requested id is echoed.
    let envelope = h.invoke(node, json!({"Id": 1})).await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 400), "{envelope}");
    assert!(message.contains("cannot be deleted"), "{message}");
    assert_eq!(
        envelope["DeletedSite"],
        json!({"success": false, "deleted_id": 1})
    );
    assert!(site_record(&h, 1).is_some());

    assert_network_error(
        &h,
        node,
        json!({"Id": 6}),
        "DeletedSite",
        json!({"success": false, "deleted_id": 6}),
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Get Many Sites

#[tokio::test(flavor = "multi_thread")]
async fn get_many_sites_filters() {
    let h = harness().await;
    let node = "halopsa.site.get-many";
    let envelope = h.invoke(node, json!({})).await;
    assert_success(&envelope, 200);
    assert_eq!(
        ids_of(&envelope["Sites"]["sites"]),
        vec![1, 2, 3, 5, 6],
        "active only by default"
    );
    assert_eq!(envelope["Sites"]["record_count"], 5);
    for site in envelope["Sites"]["sites"].as_array().unwrap() {
        assert!(site["client_id"].is_i64(), "{site}");
    }

    let envelope = h.invoke(node, json!({"IncludeInactive": true})).await;
    assert_eq!(ids_of(&envelope["Sites"]["sites"]), vec![1, 2, 3, 4, 5, 6]);
    let envelope = h
        .invoke(
            node,
            json!({"IncludeActive": false, "IncludeInactive": true}),
        )
        .await;
    assert_eq!(ids_of(&envelope["Sites"]["sites"]), vec![4]);
    let envelope = h
        .invoke(node, json!({"Search": "clinic", "IncludeInactive": true}))
        .await;
    assert_eq!(ids_of(&envelope["Sites"]["sites"]), vec![3, 4]);

    assert_empty_list_without_request(&h, node, "Sites", "sites").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn get_many_sites_validation_and_errors() {
    let h = harness().await;
    let node = "halopsa.site.get-many";
    for (params, message) in [
        (json!({"PageNo": 0}), "PageNo must be 1 or more"),
        (json!({"PageSize": -1}), "PageSize must be 1 or more"),
        (json!({"Count": 0}), "Count must be 1 or more"),
    ] {
        assert_invalid(&h, node, params, message, "Sites", json!({})).await;
    }

    let envelope = h.invoke_failing(400, 1, node, json!({})).await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 400), "{envelope}");
    assert!(!message.is_empty());
    assert_eq!(envelope["Sites"], json!({}));

    assert_network_error(&h, node, json!({}), "Sites", json!({})).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn get_many_sites_pages_across_the_server_cap() {
    let h = harness().await;
    for i in 0..300 {
        h.sandbox.insert(
            Entity::Site,
            json!({"name": format!("Kiosk {i:03}"), "client_id": 2, "inactive": false}),
        );
    }
    let node = "halopsa.site.get-many";
    let envelope = h.invoke(node, json!({"Paginate": false})).await;
    assert_success(&envelope, 200);
    let all = ids_of(&envelope["Sites"]["sites"]);
    assert_eq!(all.len(), 305);
    assert_eq!(envelope["Sites"]["record_count"], 305);

    let envelope = h.invoke(node, json!({"PageSize": 250, "PageNo": 2})).await;
    assert_success(&envelope, 200);
    assert_eq!(ids_of(&envelope["Sites"]["sites"]), all[250..].to_vec());
    let envelope = h.invoke(node, json!({"PageSize": 150})).await;
    assert_eq!(ids_of(&envelope["Sites"]["sites"]), all[..150].to_vec());
    // Count caps what one call returns from the page PageNo and PageSize select.
    let envelope = h
        .invoke(node, json!({"PageSize": 120, "PageNo": 2, "Count": 80}))
        .await;
    assert_eq!(ids_of(&envelope["Sites"]["sites"]), all[120..200].to_vec());
    let envelope = h
        .invoke(node, json!({"PageSize": 120, "PageNo": 2, "Count": 200}))
        .await;
    assert_eq!(ids_of(&envelope["Sites"]["sites"]), all[120..240].to_vec());
    // A Count below the page's offset does not empty the page (it used to).
    let envelope = h
        .invoke(node, json!({"PageSize": 100, "PageNo": 4, "Count": 200}))
        .await;
    assert_eq!(ids_of(&envelope["Sites"]["sites"]), all[300..].to_vec());
    assert_eq!(envelope["Sites"]["record_count"], 305);
    let envelope = h
        .invoke(node, json!({"Paginate": false, "Count": 220}))
        .await;
    assert_eq!(ids_of(&envelope["Sites"]["sites"]), all[..220].to_vec());
}
