//! The ConnectWise sandbox over real HTTP, as a ConnectWise client sees it.

use base64::Engine;
use psaflow_connectwise_sandbox::{Entity, Sandbox, SandboxOptions};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

struct Api {
    sandbox: Sandbox,
    http: reqwest::Client,
}

struct Reply {
    status: u16,
    json: Value,
    headers: reqwest::header::HeaderMap,
}

async fn start(seed: bool) -> Api {
    let sandbox = Sandbox::start(SandboxOptions {
        seed,
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox starts");
    Api {
        sandbox,
        http: reqwest::Client::new(),
    }
}

fn basic(company: &str, public: &str, private: &str) -> String {
    let raw = format!("{company}+{public}:{private}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

impl Api {
    fn auth(&self) -> String {
        let s = &self.sandbox;
        basic(s.company_id(), s.public_key(), s.private_key())
    }

    async fn send_with(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Value>,
        authorization: Option<String>,
        client_id: Option<&str>,
    ) -> Reply {
        let url = if path_and_query.starts_with("http") {
            path_and_query.to_owned()
        } else {
            format!("{}{path_and_query}", self.sandbox.api_url())
        };
        let mut request = self.http.request(method, url).header(
            "Accept",
            "application/vnd.connectwise.com+json; version=2025.1",
        );
        if let Some(auth) = authorization {
            request = request.header("Authorization", auth);
        }
        if let Some(client_id) = client_id {
            request = request.header("clientId", client_id);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        Reply {
            status,
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
            headers,
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let client_id = self.sandbox.client_id().to_owned();
        self.send_with(method, path, body, Some(self.auth()), Some(&client_id))
            .await
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }
}

fn identifiers(reply: &Reply) -> Vec<String> {
    reply
        .json
        .as_array()
        .expect("a list")
        .iter()
        .map(|m| m["identifier"].as_str().unwrap().to_owned())
        .collect()
}

fn new_member(identifier: &str) -> Value {
    json!({
        "identifier": identifier,
        "firstName": "Ada",
        "lastName": "Lovelace",
        "licenseClass": "F",
        "officeEmail": "ada@msp.example",
        "securityRole": {"id": 2},
        "defaultLocation": {"id": 1},
        "defaultDepartment": {"id": 1},
        "timeZone": {"id": 4}
    })
}

fn error_fields(reply: &Reply) -> Vec<String> {
    reply.json["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn credentials_and_client_id_are_checked_on_every_call() {
    let api = start(true).await;
    let s = &api.sandbox;
    let client_id = s.client_id().to_owned();
    let wrong_key = basic(s.company_id(), s.public_key(), "wrong");
    let cases = [
        (None, Some(client_id.as_str()), "authentication"),
        (Some(wrong_key), Some(client_id.as_str()), "authentication"),
        (Some(api.auth()), None, "clientId header is missing"),
        (Some(api.auth()), Some("someone-else"), "clientId"),
    ];
    for (auth, client, needle) in cases {
        let reply = api
            .send_with(Method::GET, "/system/members", None, auth, client)
            .await;
        assert_eq!(reply.status, 401, "{needle}");
        assert_eq!(reply.json["code"], "Unauthorized");
        assert!(
            reply.json["message"].as_str().unwrap().contains(needle),
            "{}",
            reply.json
        );
    }
    // The company id is case-insensitive.
    let upper = basic(
        &s.company_id().to_uppercase(),
        s.public_key(),
        s.private_key(),
    );
    let reply = api
        .send_with(
            Method::GET,
            "/system/members",
            None,
            Some(upper),
            Some(&client_id),
        )
        .await;
    assert_eq!(reply.status, 200);
    let recorded = s.requests();
    assert!(recorded[..4].iter().all(|r| r.status == 401));
    assert_eq!(
        recorded[4].accept.as_deref(),
        Some("application/vnd.connectwise.com+json; version=2025.1")
    );
}

#[tokio::test]
async fn deactivating_the_api_member_stops_its_keys() {
    // Seed 003: API member tokens of a deactivated member cease to authenticate. The keys belong
    // to member 1, the API member (licenseClass A).
    let api = start(true).await;
    let me = api.get("/system/members/1").await;
    assert_eq!(me.json["licenseClass"], "A", "{}", me.json);
    let patch = |value: bool| json!([{"op": "replace", "path": "inactiveFlag", "value": value}]);
    let other = api
        .send(Method::PATCH, "/system/members/2", Some(patch(true)))
        .await;
    assert_eq!(other.status, 200, "{}", other.json);
    assert_eq!(
        api.get("/system/members").await.status,
        200,
        "another member changes nothing"
    );

    let off = api
        .send(Method::PATCH, "/system/members/1", Some(patch(true)))
        .await;
    assert_eq!(
        off.status, 200,
        "the deactivation itself is accepted: {}",
        off.json
    );
    for path in ["/system/members", "/system/members/1", "/service/tickets"] {
        let refused = api.get(path).await;
        assert_eq!(refused.status, 401, "{path}: {}", refused.json);
        assert_eq!(refused.json["code"], "Unauthorized");
    }
    let back = api
        .send(Method::PATCH, "/system/members/1", Some(patch(false)))
        .await;
    assert_eq!(back.status, 401, "nothing more is accepted with the keys");
}

#[tokio::test]
async fn conditions_filter_members_with_nested_fields_and_connectives() {
    let api = start(true).await;
    let q = |c: &str| format!("/system/members?conditions={}", urlencode(c));
    let reply = api
        .get(&q(r#"inactiveFlag = false and identifier like "%a%""#))
        .await;
    assert_eq!(identifiers(&reply), ["apiadmin", "asmith", "mgarcia"]);
    let reply = api
        .get(&q(
            r#"(securityRole/name = "technician" or licenseClass = "A") and inactiveFlag = false"#,
        ))
        .await;
    assert_eq!(identifiers(&reply), ["apiadmin", "jdoe", "asmith"]);
    let reply = api.get(&q(r#"officeEmail contains "GARCIA""#)).await;
    assert_eq!(identifiers(&reply), ["mgarcia"]);
    let reply = api.get(&q("id >= 4")).await;
    assert_eq!(identifiers(&reply), ["mgarcia", "former"]);

    let reply = api
        .get(&format!(
            "/service/tickets?conditions={}",
            urlencode(r#"owner/identifier = "jdoe" and closedFlag = false"#)
        ))
        .await;
    let ids: Vec<i64> = reply
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [1, 2, 3]);

    let reply = api.get(&q(r#"identifier = "unterminated"#)).await;
    assert_eq!(reply.status, 400);
    assert_eq!(error_fields(&reply), ["conditions"]);
    assert!(
        reply.json["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not closed")
    );
    let reply = api.get(&q("shoeSize = 3")).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.json["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("shoeSize")
    );
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("x", text)]).unwrap()[2..].to_owned()
}

#[tokio::test]
async fn paging_caps_at_1000_and_links_every_page() {
    let api = start(false).await;
    for n in 0..2100 {
        api.sandbox.insert(
            Entity::Member,
            json!({"identifier": format!("m{n:05}"), "firstName": "M", "lastName": format!("{n}"),
                   "licenseClass": "F", "officeEmail": format!("m{n}@x.example"),
                   "securityRole": {"id": 2}, "defaultLocation": {"id": 1}, "defaultDepartment": {"id": 1}}),
        );
    }
    let reply = api.get("/system/members?pageSize=1001").await;
    assert_eq!(reply.status, 400);
    assert_eq!(error_fields(&reply), ["pageSize"]);
    assert_eq!(reply.json["errors"][0]["code"], "OutOfRange");

    let reply = api.get("/system/members").await;
    assert_eq!(
        reply.json.as_array().unwrap().len(),
        25,
        "default page size"
    );

    let mut url = format!("{}/system/members?pageSize=1000", api.sandbox.api_url());
    let mut seen = 0;
    let mut pages = 0;
    loop {
        let reply = api.get(&url).await;
        assert_eq!(reply.status, 200);
        seen += reply.json.as_array().unwrap().len();
        pages += 1;
        let link = reply
            .headers
            .get("link")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        if pages > 1 {
            assert!(
                link.contains("rel=\"first\"") && link.contains("rel=\"prev\""),
                "{link}"
            );
        }
        match link
            .split(", ")
            .find(|l| l.ends_with("rel=\"next\""))
            .map(|l| l[1..l.find('>').unwrap()].to_owned())
        {
            Some(next) => url = next,
            None => break,
        }
    }
    assert_eq!((seen, pages), (2101, 3), "2100 members plus the API member");
    let count = api
        .get("/system/members/count?conditions=lastName%20like%20%221%25%22")
        .await;
    // "1", "10".."19", "100".."199", "1000".."1999": 1 + 10 + 100 + 1000
    assert_eq!(count.json, json!({"count": 1111}));
    let everything = api.get("/system/members/count").await;
    assert_eq!(everything.json["count"], 2101);
}

#[tokio::test]
async fn forward_only_paging_follows_next_links_by_page_id_until_absent() {
    let api = start(true).await;
    let client_id = api.sandbox.client_id().to_owned();
    let forward = |url: String| {
        let request = api
            .http
            .get(url)
            .header("Authorization", api.auth())
            .header("clientId", &client_id)
            .header("pagination-type", "forward-only");
        async move { request.send().await.expect("request") }
    };
    // orderBy is not followed: forward-only pages go by id.
    let mut url = format!(
        "{}/system/members?pageSize=2&orderBy=identifier%20desc&fields=identifier",
        api.sandbox.api_url()
    );
    let mut identifiers_seen = Vec::new();
    let mut links = Vec::new();
    loop {
        let response = forward(url.clone()).await;
        assert_eq!(response.status(), 200);
        let link = response
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap().to_owned());
        let page: Value = response.json().await.unwrap();
        for member in page.as_array().unwrap() {
            identifiers_seen.push(member["identifier"].as_str().unwrap().to_owned());
        }
        let Some(link) = link else { break };
        assert!(link.ends_with(">; rel=\"next\""), "only next: {link}");
        assert!(!link.contains("page="), "{link}");
        url = link[1..link.find('>').unwrap()].to_owned();
        links.push(url.clone());
        assert!(links.len() < 10, "{links:?}");
    }
    assert_eq!(
        identifiers_seen,
        ["apiadmin", "jdoe", "asmith", "mgarcia", "former"],
        "every member once, in id order"
    );
    assert_eq!(links.len(), 2, "{links:?}");
    assert!(links[0].ends_with("pageId=2"), "{links:?}");
    assert!(links[1].ends_with("pageId=4"), "{links:?}");

    // pageId alone is `id > pageId`; page-number paging keeps its links.
    let reply = api.get("/system/members?pageId=3&pageSize=1").await;
    assert_eq!(identifiers(&reply), ["mgarcia"]);
    let link = reply.headers["link"].to_str().unwrap();
    assert!(
        link.contains("page=2") && link.contains("rel=\"last\""),
        "{link}"
    );
    let reply = api.get("/system/members?pageId=-1").await;
    assert_eq!(
        (reply.status, error_fields(&reply)),
        (400, vec!["pageId".to_owned()])
    );
}

#[tokio::test]
async fn create_requires_fields_refuses_duplicates_and_answers_201() {
    let api = start(true).await;
    let reply = api
        .send(
            Method::POST,
            "/system/members",
            Some(json!({"firstName": "x"})),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json["code"], "InvalidObject");
    assert_eq!(
        error_fields(&reply),
        [
            "identifier",
            "lastName",
            "licenseClass",
            "securityRole",
            "defaultLocation",
            "defaultDepartment",
            "officeEmail"
        ]
    );
    assert_eq!(reply.json["errors"][0]["resource"], "member");

    let reply = api
        .send(
            Method::POST,
            "/system/members",
            Some(new_member("alovelace")),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.json);
    assert_eq!(reply.json["identifier"], "alovelace");
    assert_eq!(reply.json["timeZone"]["name"], "GMT Standard Time");
    let id = reply.json["id"].as_i64().unwrap();
    let fetched = api.get(&format!("/system/members/{id}")).await;
    assert_eq!(fetched.json, reply.json);

    let reply = api
        .send(
            Method::POST,
            "/system/members",
            Some(new_member("ALOVELACE")),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json["errors"][0]["code"], "ObjectExists");
    assert_eq!(error_fields(&reply), ["identifier"]);

    let mut bad = new_member("sixteen-chars-xx");
    bad["securityRole"] = json!({"id": 99});
    let reply = api.send(Method::POST, "/system/members", Some(bad)).await;
    assert_eq!(error_fields(&reply), ["identifier", "securityRole"]);
}

#[tokio::test]
async fn patch_updates_given_fields_and_delete_is_not_allowed() {
    let api = start(true).await;
    let reply = api
        .send(
            Method::PATCH,
            "/system/members/2",
            Some(json!([
                {"op": "replace", "path": "title", "value": "Lead"},
                {"op": "replace", "path": "inactiveFlag", "value": true}
            ])),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(
        (
            reply.json["title"].clone(),
            reply.json["inactiveFlag"].clone()
        ),
        (json!("Lead"), json!(true))
    );
    assert_eq!(reply.json["firstName"], "Jane", "other fields untouched");

    let reply = api.send(Method::DELETE, "/system/members/2", None).await;
    assert_eq!(reply.status, 405);
    assert_eq!(
        api.sandbox.records(Entity::Member).len(),
        5,
        "nothing deleted"
    );

    let reply = api
        .send(
            Method::PATCH,
            "/system/members/404",
            Some(json!([{"op":"replace","path":"title","value":"x"}])),
        )
        .await;
    assert_eq!(reply.status, 404);
    let reply = api
        .send(
            Method::PATCH,
            "/system/members/3",
            Some(json!({"title": "not a patch"})),
        )
        .await;
    assert_eq!(reply.status, 400);
}

#[tokio::test]
async fn tickets_are_reassigned_by_patch_and_lookups_list() {
    let api = start(true).await;
    let reply = api
        .send(
            Method::PATCH,
            "/service/tickets/1",
            Some(json!([{"op": "replace", "path": "owner", "value": {"id": 3}}])),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json["owner"]["identifier"], "asmith");
    let reply = api
        .send(
            Method::PATCH,
            "/service/tickets/1",
            Some(json!([{"op": "replace", "path": "owner", "value": {"id": 5}}])),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(error_fields(&reply), ["owner"]);
    for (path, len) in [
        ("/system/securityroles", 4),
        ("/system/locations", 2),
        ("/system/departments", 3),
    ] {
        let reply = api.get(path).await;
        assert_eq!(reply.json.as_array().unwrap().len(), len, "{path}");
    }
    let reply = api
        .get("/system/securityRoles?conditions=name%3D%22Admin%22")
        .await;
    assert_eq!(reply.json[0]["id"], 1);
    assert_eq!(api.get("/finance/invoices").await.status, 404);
}

#[tokio::test]
async fn deactivate_endpoint_deactivates_the_member_and_echoes_the_body() {
    let api = start(true).await;
    let body = json!({"activity": {"count": 2, "reAssignToMember": {"id": 3}},
                      "deleteOpenTimeSheetsFlag": true});
    let reply = api
        .send(
            Method::POST,
            "/system/members/2/deactivate",
            Some(body.clone()),
        )
        .await;
    assert_eq!((reply.status, reply.json), (200, body));
    let member = api.get("/system/members/2").await.json;
    assert_eq!(member["inactiveFlag"], true);
    assert!(member["inactiveDate"].is_string(), "{member}");
    let reply = api
        .get("/system/members/count?conditions=inactiveFlag%3Dtrue")
        .await;
    assert_eq!(reply.json["count"], 2, "jdoe and the seeded former member");
    let reply = api
        .send(
            Method::POST,
            "/system/members/99/deactivate",
            Some(json!({})),
        )
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json["message"], "Member with id 99 was not found.");
    let reply = api.get("/system/members/2/deactivate").await;
    assert_eq!(reply.status, 405);
}

#[tokio::test]
async fn member_types_list_like_the_other_lookups() {
    let api = start(false).await;
    let reply = api.get("/system/members/types").await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let types = reply.json.as_array().unwrap();
    assert_eq!(types[0]["id"], 1);
    assert_eq!(types[0]["name"], "Employee");
    assert_eq!(types[0]["_info"]["href"], "/system/members/types/1");
    assert!(types.len() >= 2, "{types:?}");
    let reply = api
        .get("/system/members/types?conditions=name%3D%22contractor%22&fields=id")
        .await;
    assert_eq!(reply.json, json!([{"id": 2}]));
    assert_eq!(
        api.get("/system/members/types/count").await.json["count"],
        types.len()
    );
    assert_eq!(
        api.get("/system/members/types/1").await.json["name"],
        "Employee"
    );
    // Members are still found by id beside the types.
    assert_eq!(
        api.get("/system/members/1").await.json["identifier"],
        "apiadmin"
    );
}

#[tokio::test]
async fn faults_429_latency_and_dropped_connections() {
    let api = start(true).await;
    api.sandbox.faults().fail_next(429, 2, Some(3));
    for _ in 0..2 {
        let reply = api.get("/system/members").await;
        assert_eq!(reply.status, 429);
        assert_eq!(reply.headers["retry-after"], "3");
        assert_eq!(reply.json["code"], "TooManyRequests");
    }
    assert_eq!(api.get("/system/members").await.status, 200);

    // Dropped before handling: no member is created.
    api.sandbox.faults().drop_next_connections(1);
    let result = api
        .http
        .post(format!("{}/system/members", api.sandbox.api_url()))
        .header("Authorization", api.auth())
        .header("clientId", api.sandbox.client_id())
        .json(&new_member("dropped1"))
        .send()
        .await;
    assert!(result.is_err());
    assert_eq!(api.sandbox.records(Entity::Member).len(), 5);

    // Dropped after commit: the member exists though the client saw no answer.
    api.sandbox.faults().drop_next_after_commit(1);
    let result = api
        .http
        .post(format!("{}/system/members", api.sandbox.api_url()))
        .header("Authorization", api.auth())
        .header("clientId", api.sandbox.client_id())
        .json(&new_member("dropped2"))
        .send()
        .await;
    assert!(result.is_err());
    let members = api.sandbox.records(Entity::Member);
    assert_eq!(members.last().unwrap()["identifier"], "dropped2");
    assert_eq!(api.sandbox.requests().last().unwrap().status, 0);

    api.sandbox.faults().set_latency(Duration::from_millis(300));
    let slow = reqwest::Client::builder()
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let result = slow
        .get(format!("{}/system/members", api.sandbox.api_url()))
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
}
