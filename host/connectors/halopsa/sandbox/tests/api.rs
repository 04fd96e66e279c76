//! The sandbox over real HTTP: OAuth, routing, listing and paging, and each entity's lifecycle.

mod common;

use std::time::Duration;

use common::{into_reply, start, start_empty, start_seeded};
use psaflow_halopsa_sandbox::{Entity, Sandbox, SandboxOptions};
use serde_json::{Value, json};

async fn token_reply(sandbox: &Sandbox, path: &str, form: &[(&str, &str)]) -> common::Reply {
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{}{path}", sandbox.base_url()))
        .form(form)
        .send()
        .await
        .unwrap();
    into_reply(response).await
}

#[tokio::test]
async fn token_flow_issues_distinct_bearer_tokens() {
    let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "psaflow-sandbox"),
        ("client_secret", "sandbox-secret"),
        ("scope", "all"),
    ];
    let first = token_reply(&sandbox, "/auth/token", &form).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.json["token_type"], "Bearer");
    assert_eq!(first.json["expires_in"], 3600);
    assert_eq!(first.json["scope"], "all");
    let token = first.json["access_token"].as_str().unwrap();
    assert!(token.len() >= 32, "{token}");
    assert_eq!(first.headers["cache-control"], "no-store");

    // The trial-tenant shape: /token at the root, tenant in the query.
    let second = token_reply(&sandbox, "/token?tenant=anything", &form).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_ne!(second.json["access_token"], first.json["access_token"]);

    // HTTP Basic client authentication instead of form fields.
    let basic = reqwest::Client::new()
        .post(format!("{}/token", sandbox.auth_url()))
        .basic_auth("psaflow-sandbox", Some("sandbox-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let basic = into_reply(basic).await;
    assert_eq!(basic.status, 200, "{}", basic.text);
    assert_eq!(basic.json["scope"], "all", "scope defaults to all");
}

#[tokio::test]
async fn token_endpoint_rejects_bad_clients_and_grants() {
    let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let wrong_secret = [
        ("grant_type", "client_credentials"),
        ("client_id", "psaflow-sandbox"),
        ("client_secret", "guess"),
    ];
    let reply = token_reply(&sandbox, "/auth/token", &wrong_secret).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json["error"], "invalid_client");

    let unknown_client = [
        ("grant_type", "client_credentials"),
        ("client_id", "nobody"),
        ("client_secret", "sandbox-secret"),
    ];
    assert_eq!(
        token_reply(&sandbox, "/auth/token", &unknown_client)
            .await
            .status,
        401
    );

    let password_grant = [
        ("grant_type", "password"),
        ("client_id", "psaflow-sandbox"),
        ("client_secret", "sandbox-secret"),
    ];
    let reply = token_reply(&sandbox, "/auth/token", &password_grant).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json["error"], "unsupported_grant_type");

    let missing = [
        ("grant_type", "client_credentials"),
        ("client_id", "psaflow-sandbox"),
    ];
    let reply = token_reply(&sandbox, "/auth/token", &missing).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json["error"], "invalid_request");

    let reply = into_reply(
        reqwest::get(format!("{}/token", sandbox.auth_url()))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 405);

    // Token requests are recorded, but never with their body: it carries the secret.
    let requests = sandbox.requests();
    assert!(requests.iter().all(|r| r.body.is_none()));
    assert_eq!(requests.len(), 5);
}

#[tokio::test]
async fn hosted_tenant_is_checked_and_discoverable() {
    let sandbox = Sandbox::start(SandboxOptions {
        tenant: Some("acme".to_owned()),
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "psaflow-sandbox"),
        ("client_secret", "sandbox-secret"),
    ];
    assert_eq!(
        token_reply(&sandbox, "/auth/token?tenant=acme", &form)
            .await
            .status,
        200
    );
    assert_eq!(
        token_reply(&sandbox, "/auth/token?tenant=other", &form)
            .await
            .status,
        401
    );
    let in_body = [form.as_slice(), &[("tenant", "acme")]].concat();
    assert_eq!(
        token_reply(&sandbox, "/auth/token", &in_body).await.status,
        200
    );

    let info = into_reply(
        reqwest::get(format!("{}/authinfo", sandbox.api_url()))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(info.status, 200);
    assert_eq!(info.json["auth_url"], json!(sandbox.auth_url()));
    assert_eq!(info.json["tenant_id"], "acme");
}

#[tokio::test]
async fn api_requires_a_valid_bearer_token() {
    let api = start_seeded().await;
    let url = api.url("/Client");
    let anonymous = into_reply(api.http.get(&url).send().await.unwrap()).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.json["error"], "invalid_token");
    assert!(anonymous.headers.contains_key("www-authenticate"));

    let forged = into_reply(
        api.http
            .get(&url)
            .bearer_auth("0123456789abcdef")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(forged.status, 401);
    let basic = api
        .http
        .get(&url)
        .basic_auth("psaflow-sandbox", Some("sandbox-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status().as_u16(), 401);
    // A rejected request changes nothing.
    let before = api.sandbox.records(Entity::Client).len();
    let post = api
        .http
        .post(&url)
        .json(&json!([{"name": "Sneaky"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status().as_u16(), 401);
    assert_eq!(api.sandbox.records(Entity::Client).len(), before);

    assert_eq!(api.get("/Client").await.status, 200);

    let recorded = api.sandbox.requests();
    let api_calls: Vec<_> = recorded
        .iter()
        .filter(|r| r.path.starts_with("/api"))
        .collect();
    let summary: Vec<(bool, u16)> = api_calls.iter().map(|r| (r.had_auth, r.status)).collect();
    assert_eq!(
        summary,
        vec![
            (false, 401),
            (true, 401),
            (true, 401),
            (false, 401),
            (true, 200)
        ]
    );
}

#[tokio::test]
async fn deactivating_the_api_agent_stops_its_credentials() {
    // Seed 000: API tokens and credentials tied to a deactivated agent stop functioning. The
    // application logs in as the API agent (`/api/Agent/me`), so once it is deactivated the
    // token already issued is refused (401 invalid_token) and no new one is issued (401
    // invalid_client, the reference's answer for a client Halo does not accept).
    let api = start_seeded().await;
    let me = api.get("/Agent/me").await;
    assert_eq!(
        (me.status, me.json["is_api_agent"].clone()),
        (200, json!(true))
    );
    let other = api
        .post("/Agent", json!([{"id": 2, "isactive": false}]))
        .await;
    assert_eq!(other.status, 200, "{}", other.text);
    assert_eq!(
        api.get("/Client").await.status,
        200,
        "another agent's deactivation changes nothing"
    );

    let off = api
        .post("/Agent", json!([{"id": me.json["id"], "isactive": false}]))
        .await;
    assert_eq!(
        off.status, 200,
        "the deactivation itself is accepted: {}",
        off.text
    );
    let refused = api.get("/Client").await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert_eq!(refused.json["error"], "invalid_token");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", api.sandbox.client_id()),
        ("client_secret", api.sandbox.client_secret()),
    ];
    let token = token_reply(&api.sandbox, "/auth/token", &form).await;
    assert_eq!(token.status, 401, "{}", token.text);
    assert_eq!(token.json["error"], "invalid_client");
    assert!(token.json.get("access_token").is_none());
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let api = start(SandboxOptions {
        token_ttl: Duration::ZERO,
        ..SandboxOptions::default()
    })
    .await;
    let reply = api.get("/Client").await;
    assert_eq!(
        reply.status, 401,
        "a token with no lifetime is already expired"
    );
}

#[tokio::test]
async fn paths_are_case_insensitive() {
    let api = start_seeded().await;
    for path in [
        "/client",
        "/CLIENT",
        "/Client/",
        "/site",
        "/TICKETS",
        "/users",
        "/agent",
        "/team",
        "/tickettype",
        "/STATUS",
        "/priority",
    ] {
        assert_eq!(api.get(path).await.status, 200, "{path}");
    }
    assert_eq!(
        api.get("/client/1").await.json["name"],
        "Acme Manufacturing Ltd"
    );
    assert_eq!(api.get("/TiCkEtS/1001").await.json["id"], 1001);
    let info = into_reply(
        reqwest::get(format!("{}/AUTHINFO", api.sandbox.api_url()))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(info.status, 200);
    assert_eq!(api.get("/Invoice").await.status, 404);
    assert_eq!(
        api.get("/Ticket").await.status,
        404,
        "the resource is plural: /Tickets"
    );
    let outside = reqwest::get(format!("{}/nothing/here", api.sandbox.base_url()))
        .await
        .unwrap();
    assert_eq!(outside.status().as_u16(), 404);
    // The recorded path keeps the case the client sent.
    assert!(
        api.sandbox
            .requests()
            .iter()
            .any(|r| r.path == "/api/TiCkEtS/1001")
    );
}

#[tokio::test]
async fn page_size_is_capped_at_100_and_record_count_is_reachable() {
    let api = start_empty().await;
    for i in 1..=250 {
        api.sandbox
            .insert(Entity::Client, json!({"name": format!("Client {i:03}")}));
    }
    let first = api
        .get("/Client?pageinate=true&page_size=1000&page_no=1")
        .await;
    assert_eq!(first.status, 200);
    assert_eq!(first.json["record_count"], 250);
    assert_eq!(first.json["clients"].as_array().unwrap().len(), 100);
    assert_eq!(first.json["page_no"], 1);
    assert_eq!(first.json["page_size"], 1000);

    let third = api
        .list_ids("/Client?pageinate=true&page_size=1000&page_no=3", "clients")
        .await;
    assert_eq!(third, (201..=250).collect::<Vec<_>>());
    assert!(
        api.list_ids("/Client?pageinate=true&page_size=1000&page_no=4", "clients")
            .await
            .is_empty()
    );

    // A client that pages by the number of items received collects everything exactly once.
    let mut seen = Vec::new();
    for page_no in 1..=10 {
        let page = api
            .get(&format!(
                "/Client?pageinate=true&page_size=1000&page_no={page_no}"
            ))
            .await;
        let items = page.json["clients"].as_array().unwrap();
        seen.extend(items.iter().map(|c| c["id"].as_i64().unwrap()));
        if seen.len() as u64 >= page.json["record_count"].as_u64().unwrap() {
            break;
        }
    }
    assert_eq!(seen, (1..=250).collect::<Vec<_>>());

    let small = api
        .list_ids("/Client?pageinate=true&page_size=7&page_no=2", "clients")
        .await;
    assert_eq!(small, (8..=14).collect::<Vec<_>>());

    // Without pageinate, page_size and page_no are ignored; count limits.
    let all = api.get("/Client?page_size=5&page_no=2").await;
    assert_eq!(all.json["clients"].as_array().unwrap().len(), 250);
    assert!(all.json.get("page_no").is_none());
    let counted = api.get("/Client?count=10").await;
    assert_eq!(counted.json["clients"].as_array().unwrap().len(), 10);
    assert_eq!(counted.json["record_count"], 250);

    assert_eq!(
        api.get("/Client?page_size=lots&pageinate=true")
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn list_filters_follow_halo() {
    let api = start_seeded().await;
    assert_eq!(api.list_ids("/Client", "clients").await, vec![1, 2, 3]);
    assert_eq!(
        api.list_ids("/Client?includeinactive=true", "clients")
            .await,
        vec![1, 2, 3, 4]
    );
    assert_eq!(
        api.list_ids(
            "/Client?includeactive=false&includeinactive=true",
            "clients"
        )
        .await,
        vec![4]
    );
    assert!(
        api.list_ids(
            "/Client?includeactive=false&includeinactive=false",
            "clients"
        )
        .await
        .is_empty()
    );
    assert_eq!(
        api.list_ids("/Client?search=ACME", "clients").await,
        vec![1]
    );
    assert_eq!(
        api.list_ids("/Client?search=cobalt-logistics.example", "clients")
            .await,
        vec![3]
    );
    assert_eq!(
        api.list_ids("/Client?toplevel_id=2", "clients").await,
        vec![3]
    );

    assert_eq!(api.list_ids("/Site?client_id=1", "sites").await, vec![1, 2]);
    assert_eq!(
        api.list_ids("/Site?client_id=2", "sites").await,
        vec![3],
        "site 4 is inactive"
    );
    assert_eq!(
        api.list_ids("/Site?client_id=2&includeinactive=true", "sites")
            .await,
        vec![3, 4]
    );

    assert_eq!(
        api.list_ids("/Users?client_id=1", "users").await,
        vec![1, 2, 3]
    );
    assert_eq!(api.list_ids("/Users?site_id=5", "users").await, vec![6]);
    assert_eq!(
        api.list_ids("/Users?site_id=5&includeinactive=true", "users")
            .await,
        vec![6, 7]
    );
    assert_eq!(
        api.list_ids("/Users?search=jane smith", "users").await,
        vec![1]
    );

    let open = api.list_ids("/Tickets?open_only=true", "tickets").await;
    let closed = api.list_ids("/Tickets?closed_only=true", "tickets").await;
    assert_eq!(closed, vec![1004, 1005, 1009, 1010]);
    assert_eq!(open, vec![1001, 1002, 1003, 1006, 1007, 1008]);
    assert_eq!(
        api.list_ids("/Tickets", "tickets").await.len(),
        10,
        "tickets have no active filter"
    );
    assert_eq!(
        api.list_ids("/Tickets?agent_id=2", "tickets").await,
        vec![1001, 1002, 1005, 1009]
    );
    assert_eq!(
        api.list_ids("/Tickets?agent_id=2&open_only=true", "tickets")
            .await,
        vec![1001, 1002]
    );
    assert_eq!(
        api.list_ids("/Tickets?client_id=3", "tickets").await,
        vec![1006, 1007]
    );
    assert_eq!(
        api.list_ids("/Tickets?user_id=1", "tickets").await,
        vec![1001, 1009]
    );
    assert_eq!(
        api.list_ids("/Tickets?search=vpn", "tickets").await,
        vec![1007]
    );
    // Tickets filter by team id with `team` (a comma-separated list, halopsa-api.md §4.3);
    // `team_id` is not a ticket-list parameter, so HaloPSA ignores it and lists every ticket.
    assert_eq!(
        api.list_ids("/Tickets?team=2", "tickets").await,
        vec![1006, 1007]
    );
    assert_eq!(
        api.list_ids("/Tickets?team=2,3", "tickets").await,
        vec![1003, 1004, 1006, 1007, 1010]
    );
    assert_eq!(
        api.list_ids("/Tickets?team_id=2", "tickets").await.len(),
        10
    );
    // A filter the entity does not have is ignored, not applied as "match nothing".
    assert_eq!(
        api.list_ids("/Client?agent_id=2", "clients").await,
        vec![1, 2, 3]
    );

    let tickets = api.get("/Tickets?closed_only=true").await;
    assert_eq!(tickets.json["record_count"], 4);
    assert_eq!(tickets.json["tickets"][0]["status_name"], "Closed");
}

#[tokio::test]
async fn clients_are_created_updated_and_deleted() {
    let api = start_seeded().await;
    let created = api
        .post(
            "/Client",
            json!([{"name": "Northwind Traders", "notes": "new", "customfield_x": {"a": 1}}]),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(created.json.is_object(), "one object in, one object out");
    let id = created.json["id"].as_i64().unwrap();
    assert!(id > 4);
    assert_eq!(created.json["inactive"], false);

    let fetched = api.get(&format!("/Client/{id}")).await;
    assert_eq!(fetched.json["name"], "Northwind Traders");
    assert_eq!(
        fetched.json["customfield_x"],
        json!({"a": 1}),
        "unknown fields are kept"
    );

    let updated = api
        .post(
            "/Client",
            json!([{"id": id, "name": "Northwind Ltd", "_validate_updates": true}]),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.json["name"], "Northwind Ltd");
    assert_eq!(
        updated.json["notes"], "new",
        "fields not sent keep their values"
    );
    assert!(
        updated.json.get("_validate_updates").is_none(),
        "control flags are not stored"
    );

    let missing_name = api.post("/Client", json!([{"notes": "no name"}])).await;
    assert_eq!(missing_name.status, 400);
    assert_eq!(
        missing_name.json,
        json!({"name": "The name field is required."})
    );

    let unknown = api
        .post("/Client", json!([{"id": 9999, "name": "Ghost"}]))
        .await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.json["message"].as_str().unwrap().contains("9999"));

    let batch = api
        .post("/Client", json!([{"name": "One"}, {"name": "Two"}]))
        .await;
    assert_eq!(batch.status, 201);
    assert_eq!(
        batch.json.as_array().unwrap().len(),
        2,
        "several objects in, an array out"
    );

    // One bad object leaves the store untouched.
    let before = api.sandbox.records(Entity::Client).len();
    let mixed = api
        .post("/Client", json!([{"name": "Three"}, {"notes": "nameless"}]))
        .await;
    assert_eq!(mixed.status, 400);
    assert_eq!(api.sandbox.records(Entity::Client).len(), before);

    let deleted = api.delete(&format!("/Client/{id}")).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.json["id"], id);
    assert_eq!(api.get(&format!("/Client/{id}")).await.status, 404);
    let again = api.delete(&format!("/Client/{id}")).await;
    assert_eq!(again.status, 404);
    assert!(again.json["message"].is_string());

    let refused = api.delete("/Client/1").await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.json["message"]
            .as_str()
            .unwrap()
            .contains("2 site(s)"),
        "{}",
        refused.text
    );
    assert_eq!(api.get("/Client/1").await.status, 200);

    // The inactive client is still readable by id.
    assert_eq!(api.get("/Client/4").await.json["inactive"], true);
}

#[tokio::test]
async fn sites_carry_decimal_client_ids_and_guard_their_users() {
    let api = start_seeded().await;
    let created = api
        .post(
            "/Site",
            json!([{"name": "Bradford Office", "client_id": 1, "phonenumber": "+44 1274 496 000"}]),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(
        created.text.contains("\"client_id\":1.0"),
        "{}",
        created.text
    );
    assert!(created.json["client_id"].is_f64());
    assert_eq!(created.json["client_name"], "Acme Manufacturing Ltd");
    assert_eq!(
        created.json["clientsite_name"],
        "Acme Manufacturing Ltd / Bradford Office"
    );
    let id = created.json["id"].as_i64().unwrap();
    assert!(created.json["id"].is_i64(), "only client_id is a decimal");

    let listed = api.get("/Site?client_id=1").await;
    assert!(listed.text.contains("\"client_id\":1.0"));
    assert_eq!(listed.json["record_count"], 3);

    let renamed = api
        .post("/Site", json!([{"id": id, "client_id": 2.0}]))
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(
        renamed.json["clientsite_name"],
        "Brightwater Dental Group / Bradford Office"
    );

    let no_client = api.post("/Site", json!([{"name": "Orphan"}])).await;
    assert_eq!(no_client.status, 400);
    assert_eq!(
        no_client.json["client_id"],
        "The client_id field is required."
    );
    let bad_client = api
        .post("/Site", json!([{"name": "Orphan", "client_id": 999}]))
        .await;
    assert_eq!(bad_client.status, 400);
    assert!(
        bad_client.json["client_id"]
            .as_str()
            .unwrap()
            .contains("999")
    );

    let with_users = api.delete("/Site/1").await;
    assert_eq!(with_users.status, 400);
    assert!(
        with_users.json["message"]
            .as_str()
            .unwrap()
            .contains("user(s)")
    );

    assert_eq!(api.delete(&format!("/Site/{id}")).await.status, 200);
    assert_eq!(api.get(&format!("/Site/{id}")).await.status, 404);
}

#[tokio::test]
async fn users_keep_passwords_write_only_and_emails_unique() {
    let api = start_seeded().await;
    let created = api
        .post("/Users", json!([{"name": "Mia Turner", "site_id": 1, "emailaddress": "mia.turner@acme-mfg.example", "password": "Welcome#2025"}]))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(created.json.get("password").is_none());
    assert!(!created.text.contains("Welcome#2025"));
    assert_eq!(created.json["has_password"], true);
    assert!(created.text.contains("\"site_id\":1.0"), "{}", created.text);
    assert_eq!(created.json["client_id"], 1);
    assert_eq!(created.json["client_name"], "Acme Manufacturing Ltd");
    assert_eq!(created.json["site_name"], "Head Office");
    let id = created.json["id"].as_i64().unwrap();
    let stored = serde_json::to_string(&api.sandbox.records(Entity::User)).unwrap();
    assert!(!stored.contains("Welcome#2025"));

    let duplicate = api.post("/Users", json!([{"name": "Other Mia", "site_id": 3, "emailaddress": "MIA.TURNER@acme-mfg.example"}])).await;
    assert_eq!(duplicate.status, 400);
    assert!(
        duplicate.json["emailaddress"].is_string(),
        "{}",
        duplicate.text
    );

    let weak = api
        .post(
            "/Users",
            json!([{"name": "Weak", "site_id": 1, "password": "password"}]),
        )
        .await;
    assert_eq!(weak.status, 400);
    let no_site = api.post("/Users", json!([{"name": "Nowhere"}])).await;
    assert_eq!(no_site.status, 400);
    assert_eq!(no_site.json["site_id"], "The site_id field is required.");
    let bad_site = api
        .post("/Users", json!([{"name": "Nowhere", "site_id": 77}]))
        .await;
    assert_eq!(bad_site.status, 400);

    let moved = api
        .post(
            "/Users",
            json!([{"id": id, "site_id": 5, "surname": "Turner"}]),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.json["client_name"], "Cobalt Logistics");
    assert_eq!(moved.json["emailaddress"], "mia.turner@acme-mfg.example");

    assert_eq!(api.delete(&format!("/Users/{id}")).await.status, 200);
    assert_eq!(api.get(&format!("/Users/{id}")).await.status, 404);
}

#[tokio::test]
async fn tickets_follow_halo_rules_and_soft_delete() {
    let api = start_seeded().await;
    let created = api
        .post("/Tickets", json!([{"summary": "Laptop screen flickering", "tickettype_id": 1, "user_id": 4, "agent_id": 3, "startdate": "2025-01-15T10:00:00Z"}]))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let ticket = &created.json;
    assert_eq!(ticket["status_id"], 1);
    assert_eq!(ticket["status_name"], "New");
    assert_eq!(ticket["tickettype_name"], "Incident");
    assert_eq!(ticket["agent_name"], "Priya Natarajan");
    assert_eq!(ticket["user_name"], "Emma Clarke");
    assert_eq!(ticket["site_id"], 3, "site comes from the user");
    assert_eq!(ticket["client_id"], 2, "client comes from the site");
    assert_eq!(ticket["client_name"], "Brightwater Dental Group");
    assert_eq!(
        ticket["startdate"], "2025-01-15T10:00:00Z",
        "dates are stored as given"
    );
    let occurred = ticket["dateoccurred"].as_str().unwrap();
    assert_eq!(occurred.len(), 19, "{occurred}");
    assert_eq!(&occurred[10..11], "T");
    let id = ticket["id"].as_i64().unwrap();
    assert!(id > 1010);

    let approval = api
        .post(
            "/Tickets",
            json!([{"summary": "Upgrade firewall", "tickettype_id": 2}]),
        )
        .await;
    assert_eq!(approval.status, 400);
    assert_eq!(
        approval.text,
        "CODE:APP03/2 Please select the CAB members to approve"
    );

    let untyped = api
        .post("/Tickets", json!([{"summary": "No type", "details": "d"}]))
        .await;
    assert_eq!(untyped.status, 400);
    assert_eq!(
        untyped.json["tickettype_id"],
        "The tickettype_id field is required."
    );

    let closed = api
        .post(
            "/Tickets",
            json!([{"id": id, "status_id": 9, "_force": true}]),
        )
        .await;
    assert_eq!(closed.status, 200, "{}", closed.text);
    assert_eq!(closed.json["status_name"], "Closed");
    assert_eq!(closed.json["summary"], "Laptop screen flickering");
    assert!(
        api.list_ids("/Tickets?closed_only=true", "tickets")
            .await
            .contains(&id)
    );

    let deleted = api.delete(&format!("/Tickets/{id}?reason=duplicate")).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(deleted.json["id"], id);
    assert_eq!(deleted.json["deleted"], true);
    assert_eq!(api.get(&format!("/Tickets/{id}")).await.status, 404);
    assert!(!api.list_ids("/Tickets", "tickets").await.contains(&id));
    assert_eq!(
        api.list_ids("/Tickets?deleted=true", "tickets").await,
        vec![id]
    );
    let record = api
        .sandbox
        .records(Entity::Ticket)
        .into_iter()
        .find(|t| t["id"] == id)
        .unwrap();
    assert_eq!(record["deleted"], true);
    assert_eq!(api.delete(&format!("/Tickets/{id}")).await.status, 404);
    assert_eq!(
        api.post("/Tickets", json!([{"id": id, "summary": "edit"}]))
            .await
            .status,
        404
    );

    let recovered = api
        .post(
            "/Tickets",
            json!([{"id": id, "_recover": true, "_validate_updates": true}]),
        )
        .await;
    assert_eq!(recovered.status, 200, "{}", recovered.text);
    assert_eq!(
        api.get(&format!("/Tickets/{id}")).await.json["deleted"],
        false
    );
}

#[tokio::test]
async fn lookups_are_bare_arrays_and_agents_can_be_managed() {
    let api = start_seeded().await;
    // Agents: a bare array (API agents only on request); `{record_count, agents}` when paging.
    let agents = api.get("/Agent").await;
    assert!(agents.json.is_array());
    assert_eq!(agents.json[0]["name"], "Sam Carter");
    assert_eq!(agents.json[0]["isactive"], true);
    assert_eq!(agents.json[0]["isdisabled"], false);
    assert_eq!(agents.json[0]["team"], "Service Desk");
    assert_eq!(agents.json[0]["team_id"], 1);
    assert!(agents.json[0]["lastlogindate"].is_string());
    let with_api = api.get("/Agent?includeapiagents=true").await.json;
    assert_eq!(with_api[0]["name"], "API User");
    assert_eq!(api.get("/Agent/me").await.json["id"], 1);
    let paged = api
        .get("/Agent?pageinate=true&page_size=2&page_no=1")
        .await
        .json;
    assert_eq!(paged["record_count"], 4);
    assert_eq!(paged["agents"].as_array().unwrap().len(), 2);
    let active = api
        .get("/Agent?includeenabled=true&includedisabled=false")
        .await
        .json;
    assert_eq!(active.as_array().unwrap().len(), 3);
    assert_eq!(
        api.get("/Agent?team_id=1")
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Teams: a bare array (halopsa-api.md §3, §4.6, §7); `{record_count, teams}` when paging.
    let teams = api.get("/Team").await.json;
    assert!(teams.is_array(), "{teams}");
    assert_eq!(teams.as_array().unwrap().len(), 3);
    let paged = api
        .get("/Team?pageinate=true&page_size=2&page_no=1")
        .await
        .json;
    assert_eq!(
        (
            paged["record_count"].clone(),
            paged["teams"].as_array().unwrap().len()
        ),
        (json!(3), 2)
    );
    let types = api.get("/TicketType").await.json;
    let ids: Vec<i64> = types
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 16, 17]);
    assert_eq!(types[1]["requires_approval"], true);
    let statuses = api.get("/Status").await.json;
    assert_eq!(
        statuses
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].clone())
            .collect::<Vec<_>>(),
        vec![
            json!("New"),
            json!("In Progress"),
            json!("Waiting on Customer"),
            json!("Closed")
        ]
    );
    assert!(api.get("/Priority").await.json.is_array());

    let agent = api
        .post(
            "/Agent",
            json!([{"name": "Dana Lee", "email": "dana@msp.example"}]),
        )
        .await;
    assert_eq!(agent.status, 201, "{}", agent.text);
    assert!(agent.json["colour"].is_string(), "colour is assigned");
    let id = agent.json["id"].as_i64().unwrap();
    assert_eq!(
        api.post("/Agent", json!([{"id": id, "team": "Projects"}]))
            .await
            .json["team"],
        "Projects"
    );
    assert_eq!(
        api.post("/Agent", json!([{"email": "x@msp.example"}]))
            .await
            .status,
        400
    );
    assert_eq!(api.delete(&format!("/Agent/{id}")).await.json["id"], id);
    assert_eq!(api.get(&format!("/Agent/{id}")).await.status, 404);

    let team = api.post("/Team", json!([{"name": "Security"}])).await;
    assert_eq!(team.status, 201);
    assert_eq!(api.get("/Team").await.json.as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let api = start_seeded().await;
    assert_eq!(
        api.post("/Client", json!({"name": "Not in an array"}))
            .await
            .status,
        400
    );
    assert_eq!(api.post("/Client", json!([])).await.status, 400);
    assert_eq!(
        api.post("/Client", json!(["just a string"])).await.status,
        400
    );
    let garbage = api
        .http
        .post(api.url("/Client"))
        .bearer_auth(&api.token)
        .body("[{")
        .send()
        .await
        .unwrap();
    let garbage = into_reply(garbage).await;
    assert_eq!(garbage.status, 400);
    assert!(garbage.json["message"].is_string());
    assert_eq!(
        api.post("/Client", json!([{"name": "X", "toplevel_id": "abc"}]))
            .await
            .status,
        400
    );
    assert_eq!(api.get("/Client/abc").await.status, 404);
    assert_eq!(
        api.call(reqwest::Method::PUT, "/Client/1", Some(json!({})))
            .await
            .status,
        405
    );
}

#[tokio::test]
async fn fixtures_and_request_log_are_visible_to_tests() {
    let api = start_empty().await;
    assert!(api.sandbox.records(Entity::Client).is_empty());
    let client = api
        .sandbox
        .insert(Entity::Client, json!({"name": "Fixture Co"}));
    let site = api.sandbox.insert(
        Entity::Site,
        json!({"id": 40, "name": "Depot", "client_id": client["id"]}),
    );
    assert_eq!(site["id"], 40);
    assert_eq!(site["client_name"], "Fixture Co");
    let user = api.sandbox.insert(
        Entity::User,
        json!({"name": "Fix", "site_id": 40, "password": "Secret#123"}),
    );
    assert_eq!(user["has_password"], true);
    assert!(user.get("password").is_none());
    // The next created site continues after the highest id.
    let next = api
        .post(
            "/Site",
            json!([{"name": "Next", "client_id": client["id"]}]),
        )
        .await;
    assert_eq!(next.json["id"], 41);

    api.sandbox.clear_requests();
    assert!(api.sandbox.requests().is_empty());
    api.get("/Site?client_id=1&pageinate=true").await;
    api.post("/Client", json!([{"name": "Logged"}])).await;
    let log = api.sandbox.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(
        (
            log[0].method.as_str(),
            log[0].path.as_str(),
            log[0].query.as_str()
        ),
        ("GET", "/api/Site", "client_id=1&pageinate=true")
    );
    assert_eq!((log[0].had_auth, log[0].status), (true, 200));
    assert_eq!(log[1].method, "POST");
    assert_eq!(log[1].status, 201);
    assert_eq!(log[1].body.as_deref(), Some(r#"[{"name":"Logged"}]"#));
    let value: Value = serde_json::from_str(log[1].body.as_deref().unwrap()).unwrap();
    assert_eq!(value[0]["name"], "Logged");
}

#[tokio::test]
async fn shutdown_refuses_later_connections() {
    let api = start_seeded().await;
    let url = api.url("/Client");
    assert_eq!(api.get("/Client").await.status, 200);
    let common::Api {
        sandbox,
        http,
        token,
    } = api;
    sandbox.shutdown().await;
    // Both a pooled keep-alive connection and a fresh one must fail.
    assert!(http.get(&url).bearer_auth(&token).send().await.is_err());
    assert!(
        reqwest::Client::new()
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn two_sandboxes_are_independent() {
    let a = start_seeded().await;
    let b = start_seeded().await;
    assert_ne!(a.sandbox.base_url(), b.sandbox.base_url());
    a.post("/Client", json!([{"name": "Only in A"}])).await;
    assert_eq!(a.sandbox.records(Entity::Client).len(), 5);
    assert_eq!(b.sandbox.records(Entity::Client).len(), 4);
    // A token from one sandbox means nothing to the other.
    let foreign = b
        .http
        .get(b.url("/Client"))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status().as_u16(), 401);
}

#[tokio::test]
async fn agents_carry_their_status_team_and_seat_and_are_never_deleted_with_history() {
    let api = start_seeded().await;
    // Team by name, status by either field.
    let made = api
        .post("/Agent", json!([{"name": "Ada Byron", "email": "ada@msp.example", "team": "field engineers", "role": "Technician"}]))
        .await;
    assert_eq!(made.status, 201, "{}", made.text);
    assert_eq!(made.json["team_id"], 3);
    assert_eq!(made.json["team"], "Field Engineers");
    assert_eq!(made.json["isactive"], true);
    let id = made.json["id"].as_i64().unwrap();
    let off = api
        .post("/Agent", json!([{"id": id, "isdisabled": true}]))
        .await;
    assert_eq!(
        (off.json["isactive"].clone(), off.json["isdisabled"].clone()),
        (json!(false), json!(true))
    );
    let on = api
        .post("/Agent", json!([{"id": id, "isactive": true}]))
        .await;
    assert_eq!(on.json["isdisabled"], false);
    // Same email twice is refused; an unknown team name too.
    let dup = api
        .post(
            "/Agent",
            json!([{"name": "Other", "email": "ADA@msp.example"}]),
        )
        .await;
    assert_eq!(dup.status, 400, "{}", dup.text);
    let bad = api
        .post(
            "/Agent",
            json!([{"name": "X", "email": "x@msp.example", "team": "Nope"}]),
        )
        .await;
    assert_eq!(bad.status, 400);
    // Agents with tickets cannot be deleted.
    let refused = api.delete("/Agent/2").await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused.text.contains("deactivate the agent instead"),
        "{}",
        refused.text
    );
}

#[tokio::test]
async fn a_full_licence_pool_refuses_in_a_200_body() {
    let api = start_seeded().await;
    // The demo has 10 seats and 3 active agents.
    for n in 0..7 {
        let ok = api
            .post(
                "/Agent",
                json!([{"name": format!("Temp {n}"), "email": format!("t{n}@msp.example")}]),
            )
            .await;
        assert_eq!(ok.status, 201, "{}", ok.text);
    }
    let full = api
        .post(
            "/Agent",
            json!([{"name": "One Too Many", "email": "more@msp.example"}]),
        )
        .await;
    assert_eq!(full.status, 200, "the seat check answers 200");
    assert!(
        full.json["errorMessage"]
            .as_str()
            .unwrap()
            .contains("licences are in use"),
        "{}",
        full.text
    );
    assert_eq!(full.json["id"], 0);
    // Reactivating Lena (inactive) needs a seat too.
    let back = api
        .post("/Agent", json!([{"id": 5, "isactive": true}]))
        .await;
    assert_eq!(back.status, 200);
    assert!(back.json["errorMessage"].is_string(), "{}", back.text);
    // Deactivating frees one.
    api.post("/Agent", json!([{"id": 4, "isactive": false}]))
        .await;
    let now = api
        .post(
            "/Agent",
            json!([{"name": "One Too Many", "email": "more@msp.example"}]),
        )
        .await;
    assert_eq!(now.status, 201, "{}", now.text);
}

#[tokio::test]
async fn actions_are_notes_on_existing_tickets_listed_per_ticket() {
    let api = start_seeded().await;
    let note = api
        .post(
            "/actions",
            json!([{"ticket_id": 1001, "outcome": "Note", "note": "Rebooted the printer.", "hiddenfromuser": true, "timetaken": 0.25}]),
        )
        .await;
    assert_eq!(note.status, 201, "{}", note.text);
    let id = note.json["id"].as_i64().expect("an id");
    assert_eq!(note.json["ticket_id"], 1001);
    assert_eq!(note.json["actionnumber"], 1);
    assert_eq!(note.json["who"], "API User");
    assert_eq!(note.json["timetaken"], 0.25);
    let second = api
        .post(
            "/Actions",
            json!([{"ticket_id": "1001", "outcome_id": 7, "note": "Back online.", "timetaken": "0.5"}]),
        )
        .await;
    assert_eq!(second.status, 201, "{}", second.text);
    assert_eq!(second.json["actionnumber"], 2, "numbered per ticket");
    assert_eq!(second.json["hiddenfromuser"], false);
    assert_eq!(second.json["timetaken"], 0.5);
    // The ticket's latest activity moves with its actions.
    assert!(api.get("/Tickets/1001").await.json["lastactiondate"].is_string());

    // Listed one ticket at a time, wrapped like the other lists.
    let listed = api.get("/Actions?ticket_id=1001").await;
    assert_eq!(listed.json["record_count"], 2);
    assert_eq!(listed.json["actions"][0]["id"], id);
    let public = api.get("/Actions?ticket_id=1001&excludeprivate=true").await;
    assert_eq!(public.json["record_count"], 1);
    assert_eq!(public.json["actions"][0]["note"], "Back online.");
    assert_eq!(
        api.get("/Actions?ticket_id=1002").await.json["record_count"],
        0
    );
    let unfiltered = api.get("/Actions").await;
    assert_eq!(unfiltered.status, 400);
    assert_eq!(
        unfiltered.json["ticket_id"],
        "The ticket_id field is required."
    );
    assert_eq!(
        api.get(&format!("/Actions/{id}")).await.json["note"],
        "Rebooted the printer."
    );
    assert_eq!(api.get("/Actions/9999").await.status, 404);

    // HaloAPI's E2E refusals: no ticket, no outcome; and a ticket that does not exist (or was
    // deleted) is named.
    let no_ticket = api
        .post("/Actions", json!([{"outcome": "Note", "note": "x"}]))
        .await;
    assert_eq!(no_ticket.status, 400);
    assert_eq!(
        no_ticket.json["ticket_id"],
        "The ticket_id field is required."
    );
    let no_outcome = api
        .post("/Actions", json!([{"ticket_id": 1001, "note": "x"}]))
        .await;
    assert_eq!(no_outcome.status, 400);
    assert_eq!(no_outcome.json["outcome"], "The outcome field is required.");
    let missing = api
        .post(
            "/Actions",
            json!([{"ticket_id": 4242, "outcome": "Note", "note": "x"}]),
        )
        .await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json["ticket_id"], "Ticket 4242 does not exist.");
    assert_eq!(api.delete("/Tickets/1003").await.status, 200);
    let deleted = api
        .post(
            "/Actions",
            json!([{"ticket_id": 1003, "outcome": "Note", "note": "x"}]),
        )
        .await;
    assert_eq!(deleted.json["ticket_id"], "Ticket 1003 does not exist.");
    let negative = api
        .post(
            "/Actions",
            json!([{"ticket_id": 1001, "outcome": "Note", "timetaken": -1}]),
        )
        .await;
    assert_eq!(negative.status, 400);
    assert!(negative.json["timetaken"].is_string(), "{}", negative.text);
    assert_eq!(
        api.get("/Actions?ticket_id=1001").await.json["record_count"],
        2,
        "refusals add nothing"
    );
}

#[tokio::test]
async fn priorities_have_a_guid_id_and_a_priorityid() {
    let api = start_seeded().await;
    let priorities = api.get("/Priority").await.json;
    let rows = priorities.as_array().expect("a bare array");
    assert_eq!(rows.len(), 4);
    for row in rows {
        let guid = row["id"].as_str().expect("a GUID string id");
        assert_eq!(guid.len(), 36, "{guid}");
        assert!(row["priorityid"].is_i64(), "{row}");
    }
    let high = rows.iter().find(|r| r["name"] == "High").unwrap();
    assert_eq!(high["priorityid"], 2);
    // Tickets use the number.
    assert_eq!(api.get("/Tickets/1003").await.json["priority_name"], "High");
}

/// The ticket list's documented filters (halopsa-api.md §4.3): each narrows the list, and
/// `record_count` is the filtered total. Without them the sandbox listed every ticket.
#[tokio::test]
async fn ticket_list_filters_by_id_lists_searches_and_dates() {
    let api = start_seeded().await;
    let ids = |query: &'static str| {
        let api = &api;
        async move { api.list_ids(&format!("/Tickets?{query}"), "tickets").await }
    };
    assert_eq!(ids("priority=2").await, vec![1003, 1007]);
    assert_eq!(ids("priority=2,1").await, vec![1003, 1007, 1009]);
    assert_eq!(ids("requesttype_id=1").await, vec![1001, 1003, 1004, 1009]);
    assert_eq!(ids("requesttype=3,4").await, vec![1007, 1008, 1010]);
    assert_eq!(ids("status=1,2").await, vec![1001, 1002, 1006, 1007, 1008]);
    assert_eq!(
        ids("agent=2,4").await,
        vec![1001, 1002, 1005, 1006, 1007, 1009]
    );
    assert_eq!(ids("client_ids=3,4").await, vec![1006, 1007, 1010]);
    assert_eq!(ids("ticketids=1001,1003").await, vec![1001, 1003]);
    assert_eq!(
        ids("excludethese=1001").await,
        vec![1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010]
    );
    assert_eq!(
        ids("excludethese=1001,1002&ticketids=1001,1003").await,
        vec![1003]
    );
    assert_eq!(ids("search_summary=vpn").await, vec![1007]);
    // "depot" is in the details of 1006 and 1007, not in their summaries.
    assert!(ids("search_summary=depot").await.is_empty());
    assert_eq!(ids("search_details=DEPOT").await, vec![1006, 1007]);
    assert_eq!(ids("search_user_name=sofia").await, vec![1006, 1007]);
    assert!(ids("sla=1").await.is_empty(), "no seed ticket has an SLA");
    assert_eq!(
        ids("datesearch=dateoccured&startdate=2025-01-08&enddate=2025-01-10").await,
        vec![1003, 1006, 1007]
    );
    assert_eq!(
        ids("datesearch=dateoccured&startdate=2025-01-08T08:00:00&enddate=2025-01-10T11:00:00")
            .await,
        vec![1006]
    );
    // Filters combine, and an empty value is no filter.
    assert_eq!(ids("status=1,2&agent=2").await, vec![1001, 1002]);
    assert_eq!(ids("priority=").await.len(), 10);

    let sla = api.sandbox.insert(
        Entity::Ticket,
        json!({"summary": "SLA ticket", "tickettype_id": 1, "status_id": 1, "sla_id": 1, "deleted": false}),
    );
    assert_eq!(ids("sla=1,2").await, vec![sla["id"].as_i64().unwrap()]);

    let page = api
        .get("/Tickets?status=1,2&pageinate=true&page_size=2&page_no=1")
        .await;
    assert_eq!(page.json["record_count"], 6, "{}", page.text);
    assert_eq!(page.json["tickets"].as_array().unwrap().len(), 2);
    let counted = api.get("/Tickets?agent=2,4&count=1").await;
    assert_eq!(counted.json["record_count"], 6, "{}", counted.text);

    // A value that is not a number (or a date) is a 400 naming the parameter, like client_id.
    for (query, key) in [
        ("priority=abc", "priority"),
        ("status=1,x", "status"),
        ("agent=two", "agent"),
        ("requesttype=a", "requesttype"),
        ("requesttype_id=a", "requesttype_id"),
        ("sla=high", "sla"),
        ("client_ids=3;4", "client_ids"),
        ("ticketids=10o1", "ticketids"),
        ("excludethese=all", "excludethese"),
        ("datesearch=dateoccured&startdate=yesterday", "startdate"),
        ("datesearch=dateoccured&enddate=2025-13", "enddate"),
    ] {
        let reply = api.get(&format!("/Tickets?{query}")).await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.text);
        assert!(reply.json[key].is_string(), "{query}: {}", reply.text);
    }
    let client = api.get("/Tickets?client_id=abc").await;
    assert_eq!(
        (client.status, client.json["client_id"].is_string()),
        (400, true)
    );
}

/// `search_name_only` (clients) and `order`/`orderdesc` (clients, sites, users, tickets;
/// halopsa-api.md §3, §4.1): before, the search still matched emails and the order never moved.
#[tokio::test]
async fn client_search_by_name_only_and_lists_ordered_by_a_field() {
    let api = start_seeded().await;
    assert_eq!(
        api.list_ids("/Client?search=it@acme", "clients").await,
        vec![1]
    );
    assert!(
        api.list_ids("/Client?search_name_only=true&search=it@acme", "clients")
            .await
            .is_empty()
    );
    assert_eq!(
        api.list_ids("/Client?search_name_only=true&search=ACME", "clients")
            .await,
        vec![1]
    );
    assert_eq!(
        api.list_ids("/Client?search_name_only=false&search=it@acme", "clients")
            .await,
        vec![1]
    );

    assert_eq!(
        api.list_ids("/Client?order=name&orderdesc=true", "clients")
            .await,
        vec![3, 2, 1]
    );
    assert_eq!(
        api.list_ids("/Client?order=NAME&orderdesc=false", "clients")
            .await,
        vec![1, 2, 3]
    );
    assert_eq!(
        api.list_ids("/Site?order=name", "sites").await,
        vec![6, 5, 1, 2, 3]
    );
    assert_eq!(
        api.list_ids("/Users?order=surname", "users").await,
        vec![4, 3, 8, 5, 2, 6, 1]
    );
    assert_eq!(
        api.list_ids("/Tickets?order=dateoccurred", "tickets").await,
        vec![1009, 1010, 1004, 1005, 1001, 1002, 1003, 1006, 1007, 1008]
    );
    // A second key breaks ties, each key with its own direction.
    assert_eq!(
        api.list_ids(
            "/Tickets?order=priority_id&order2=dateoccurred&orderdesc2=true",
            "tickets"
        )
        .await,
        vec![1009, 1007, 1003, 1006, 1002, 1001, 1004, 1008, 1005, 1010]
    );
    // orderdesc alone reverses the default (id) order.
    assert_eq!(
        api.list_ids("/Tickets?orderdesc=true&status=1", "tickets")
            .await,
        vec![1008, 1002]
    );

    // Paging and record_count follow the ordered set.
    let first = api
        .get("/Client?order=name&orderdesc=true&pageinate=true&page_size=2&page_no=1")
        .await;
    assert_eq!(first.json["record_count"], 3, "{}", first.text);
    assert_eq!(
        api.list_ids(
            "/Client?order=name&orderdesc=true&pageinate=true&page_size=2&page_no=2",
            "clients"
        )
        .await,
        vec![1]
    );
    assert_eq!(
        first.json["clients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        vec![3, 2]
    );
    assert_eq!(
        api.list_ids("/Users?order=surname&count=2", "users").await,
        vec![4, 3]
    );

    for (query, key) in [
        (
            "/Client?search_name_only=maybe&search=x",
            "search_name_only",
        ),
        ("/Client?order=name&orderdesc=backwards", "orderdesc"),
        ("/Tickets?order2=id&orderdesc2=2", "orderdesc2"),
    ] {
        let reply = api.get(query).await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.text);
        assert!(reply.json[key].is_string(), "{query}: {}", reply.text);
    }
}

/// Agents: `activeinactive` is "active, inactive" (halopsa-api.md §3) on the agents' status;
/// before, `false,true` still listed the active agents. Teams: `ids`, `type`/`domain` and
/// `includeenabled`/`includedisabled` (§4.6) were ignored.
#[tokio::test]
async fn agents_by_activeinactive_and_teams_by_ids_domain_and_status() {
    let api = start_seeded().await;
    let bare_ids = |path: &'static str| {
        let api = &api;
        async move {
            let reply = api.get(path).await;
            assert_eq!(reply.status, 200, "{path}: {}", reply.text);
            reply
                .json
                .as_array()
                .unwrap_or_else(|| panic!("{path}: {}", reply.text))
                .iter()
                .map(|r| r["id"].as_i64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(bare_ids("/Agent").await, vec![2, 3, 4, 5]);
    assert_eq!(bare_ids("/Agent?activeinactive=false,true").await, vec![5]);
    assert_eq!(
        bare_ids("/Agent?activeinactive=true,false").await,
        vec![2, 3, 4]
    );
    assert_eq!(
        bare_ids("/Agent?activeinactive=true,true").await,
        vec![2, 3, 4, 5]
    );
    assert!(
        bare_ids("/Agent?activeinactive=false,false")
            .await
            .is_empty()
    );
    let bad = api.get("/Agent?activeinactive=yes,no").await;
    assert_eq!(
        (bad.status, bad.json["activeinactive"].is_string()),
        (400, true)
    );

    api.sandbox.insert(
        Entity::Team,
        json!({"id": 4, "name": "Sales", "inactive": true, "foropps": true}),
    );
    assert_eq!(bare_ids("/Team").await, vec![1, 2, 3, 4]);
    assert_eq!(bare_ids("/Team?ids=1,3").await, vec![1, 3]);
    assert_eq!(bare_ids("/Team?domain=opps").await, vec![4]);
    assert_eq!(bare_ids("/Team?type=reqs").await, vec![1, 2, 3]);
    assert!(bare_ids("/Team?type=prjs").await.is_empty());
    assert_eq!(bare_ids("/Team?includedisabled=false").await, vec![1, 2, 3]);
    assert_eq!(bare_ids("/Team?includeenabled=false").await, vec![4]);
    let page = api
        .get("/Team?ids=1,3,4&includedisabled=false&pageinate=true")
        .await;
    assert_eq!(page.json["record_count"], 2, "{}", page.text);
    // Other lists' `type` is theirs (statuses of tickets, say): never refused as a team domain.
    assert!(!bare_ids("/Status?type=ticket").await.is_empty());
    for (query, key) in [("/Team?ids=one", "ids"), ("/Team?domain=tickets", "domain")] {
        let reply = api.get(query).await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.text);
        assert!(reply.json[key].is_string(), "{query}: {}", reply.text);
    }
}
