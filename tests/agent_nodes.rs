//! End-to-end tests of the Agent and Team nodes and of the staff-lifecycle additions to the
//! ticket list: the real components through the real host against the sandbox over HTTP. Each
//! node: success, every validation rule (-1, no request sent), the business errors seed 001
//! warns about (seat exhaustion in a 200 body, deactivation that does not take, a token without
//! `edit:agents`), and deactivation confirmed from `isactive` or from `isdisabled`.

use psaflow_halopsa_sandbox::AgentQuirk;
use psaflow_tests::{
    Entity, Harness, assert_empty_list_without_request, assert_invalid, assert_network_error,
    assert_success, codes, harness, ids_of,
};
use serde_json::{Value, json};

fn agent(h: &Harness, id: i64) -> Value {
    h.sandbox
        .records(Entity::Agent)
        .into_iter()
        .find(|a| a["id"].as_i64() == Some(id))
        .expect("agent exists")
}

fn requests_to(h: &Harness, method: &str, path_prefix: &str) -> usize {
    h.sandbox
        .requests()
        .iter()
        .filter(|r| r.method == method && r.path.to_ascii_lowercase().starts_with(path_prefix))
        .count()
}

// ---------------------------------------------------------------------------------------------
// Create an Agent

#[tokio::test(flavor = "multi_thread")]
async fn create_agent_with_team_by_name_and_role() {
    let h = harness().await;
    let envelope = h
        .invoke(
            "halopsa.agent.create",
            json!({"Name": "Ada Byron", "Email": "ada.byron@msp.example", "Team": "field engineers",
                   "Role": "Technician", "Firstname": "Ada", "Surname": "Byron", "Timezone": "Europe/London"}),
        )
        .await;
    assert_success(&envelope, 201);
    let made = &envelope["Agent"];
    let id = made["id"].as_i64().unwrap();
    assert_eq!(made["team_id"], 3);
    assert_eq!(made["team"], "Field Engineers");
    assert_eq!(made["isactive"], true);
    let body = h.last_post_body();
    assert_eq!(body[0]["team_id"], 3, "the team is sent by id ...");
    assert_eq!(body[0]["team"], "Field Engineers", "... and by name");
    assert_eq!(body[0]["role"], "Technician");
    assert_eq!(agent(&h, id)["email"], "ada.byron@msp.example");

    // By TeamId: the team is checked first.
    let by_id = h
        .invoke(
            "halopsa.agent.create",
            json!({"Name": "Bo Lin", "Email": "bo@msp.example", "TeamId": 2}),
        )
        .await;
    assert_success(&by_id, 201);
    assert_eq!(by_id["Agent"]["team"], "Projects");
}

#[tokio::test(flavor = "multi_thread")]
async fn create_agent_validation_sends_nothing() {
    let h = harness().await;
    let node = "halopsa.agent.create";
    for (params, message) in [
        (json!({"Name": " ", "Email": "a@msp.example"}), "Name is required"),
        (json!({"Name": "A", "Email": ""}), "Email is required"),
        (json!({"Name": "A", "Email": "not-an-email"}), "Email must be an email address"),
        (json!({"Name": "A", "Email": "a@msp.example", "TeamId": 1, "Team": "Projects"}), "Give TeamId or Team, not both"),
        (json!({"Name": "A", "Email": "a@msp.example", "TeamId": 0}), "TeamId must be a positive integer"),
        (json!({"Name": "A", "Email": "a@msp.example", "AdditionalFields": "[]"}), "AdditionalFields must be a JSON object"),
        (json!({"Name": "A", "Email": "a@msp.example", "AdditionalFields": {"id": 4}}), "AdditionalFields must not contain id"),
    ] {
        assert_invalid(&h, node, params, message, "Agent", json!({})).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn create_agent_for_an_unknown_team_creates_nothing() {
    let h = harness().await;
    let before = h.sandbox.records(Entity::Agent).len();
    let envelope = h
        .invoke(
            "halopsa.agent.create",
            json!({"Name": "A", "Email": "a@msp.example", "Team": "Security"}),
        )
        .await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 200), "{envelope}");
    assert!(message.contains("No HaloPSA team is called \"Security\" (teams: Service Desk, Projects, Field Engineers)"), "{message}");
    assert_eq!(envelope["Agent"], json!({}));
    assert_eq!(h.sandbox.records(Entity::Agent).len(), before);
    assert_eq!(requests_to(&h, "POST", "/api/agent"), 0);
    let missing = h
        .invoke("halopsa.agent.create", json!({"Name": "A", "Email": "a@msp.example", "TeamId": 99}))
        .await;
    assert_eq!(codes(&missing), (200, 404, "Team with ID 99 not found".into()));
}

#[tokio::test(flavor = "multi_thread")]
async fn seat_exhaustion_in_a_200_body_is_a_business_error() {
    let h = harness().await;
    h.sandbox.set_agent_seats(Some(3)); // the three active demo agents use them all
    let envelope = h
        .invoke("halopsa.agent.create", json!({"Name": "One Too Many", "Email": "more@msp.example"}))
        .await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 200), "{envelope}");
    assert!(
        message.contains("Licence check failed: all 3 named agent licences are in use"),
        "the server's words are quoted: {message}"
    );
    assert_eq!(envelope["Agent"], json!({}));
    assert!(h.sandbox.records(Entity::Agent).iter().all(|a| a["email"] != "more@msp.example"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_without_edit_agents_gets_403() {
    let h = harness().await;
    let read_only = h.scoped("read:agents read:teams");
    let envelope = read_only
        .invoke(
            "halopsa.agent.create",
            [("Name".to_string(), json!("A")), ("Email".to_string(), json!("a@msp.example"))]
                .into_iter()
                .collect(),
        )
        .await
        .to_json();
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 403), "{envelope}");
    assert!(message.contains("edit:agents"), "{message}");
    // Reading is allowed with read:agents.
    let list = read_only
        .invoke("halopsa.agent.get-many", Default::default())
        .await
        .to_json();
    assert_success(&list, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn any_create_answered_200_without_an_id_is_a_business_error() {
    let h = harness().await;
    // The sandbox answers the POST (after the listing of clients with the name) 200
    // {"message": "OK"}: no record, no id.
    h.sandbox.faults().fail_next_changes(200, 1, None);
    let envelope = h
        .invoke("halopsa.client.create", json!({"Name": "Ghost Ltd"}))
        .await;
    h.sandbox.faults().reset();
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 200), "{envelope}");
    assert_eq!(message, "HaloPSA did not save the client: OK");
    assert_eq!(envelope["Client"], json!({}));
}

#[tokio::test(flavor = "multi_thread")]
async fn create_agent_network_error() {
    let h = harness().await;
    assert_network_error(&h, "halopsa.agent.create", json!({"Name": "A", "Email": "a@msp.example"}), "Agent", json!({})).await;
}

// ---------------------------------------------------------------------------------------------
// Deactivate an Agent

async fn deactivate(h: &Harness, id: i64) -> Value {
    h.invoke("halopsa.agent.deactivate", json!({"Id": id})).await
}

#[tokio::test(flavor = "multi_thread")]
async fn deactivation_is_confirmed_from_isactive_or_isdisabled() {
    let h = harness().await;
    h.sandbox.faults().agent_quirk(AgentQuirk::IsActiveOnly);
    let envelope = deactivate(&h, 4).await;
    assert_success(&envelope, 200);
    assert_eq!(envelope["Agent"]["isactive"], false);
    assert!(envelope["Agent"].get("isdisabled").is_none());

    h.sandbox.faults().agent_quirk(AgentQuirk::IsDisabledOnly);
    let envelope = deactivate(&h, 3).await;
    assert_success(&envelope, 200);
    assert_eq!(envelope["Agent"]["isdisabled"], true);
    assert!(envelope["Agent"].get("isactive").is_none());
    let body = h.last_post_body();
    assert_eq!(body, json!([{"id": 3, "isactive": false, "isdisabled": true}]));
    assert_eq!(agent(&h, 3)["isactive"], false);
    assert_eq!(requests_to(&h, "GET", "/api/agent/3"), 0, "the answer was enough");
}

#[tokio::test(flavor = "multi_thread")]
async fn deactivation_reads_the_agent_back_when_the_answer_does_not_say() {
    let h = harness().await;
    h.sandbox.faults().agent_quirk(AgentQuirk::SparseSaveAnswer);
    let envelope = deactivate(&h, 2).await;
    assert_success(&envelope, 200);
    assert_eq!(envelope["Agent"]["isactive"], false);
    assert_eq!(requests_to(&h, "GET", "/api/agent/2"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deactivation_the_server_ignores_is_not_confirmed() {
    let h = harness().await;
    h.sandbox.faults().agent_quirk(AgentQuirk::IgnoresDeactivation);
    let envelope = deactivate(&h, 2).await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 200), "{envelope}");
    assert!(message.starts_with("deactivation not confirmed: HaloPSA still reports agent 2 as active"), "{message}");
    assert_eq!(envelope["Agent"], json!({}));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_connections_own_agent_is_never_deactivated() {
    let h = harness().await;
    // Agent 1 is the API agent the sandbox's application logs in as (GET /Agent/me).
    let envelope = deactivate(&h, 1).await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (200, 200), "{envelope}");
    assert!(message.starts_with("agent 1 is the agent this connection's API application acts as"), "{message}");
    assert_eq!(envelope["Agent"], json!({}));
    assert_eq!(requests_to(&h, "POST", "/api/agent"), 0, "nothing sent");
    // The connection still works, and another agent is deactivated as before.
    assert_success(&deactivate(&h, 4).await, 200);
    assert_eq!(requests_to(&h, "GET", "/api/agent/me"), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn deactivation_is_idempotent_and_never_deletes() {
    let h = harness().await;
    assert_success(&deactivate(&h, 5).await, 200); // Lena is already inactive
    assert_eq!(agent(&h, 5)["isactive"], false);
    assert_eq!(requests_to(&h, "DELETE", "/api/"), 0);
    let missing = deactivate(&h, 999).await;
    assert_eq!(codes(&missing), (200, 404, "Agent with ID 999 not found".into()));
    assert_invalid(&h, "halopsa.agent.deactivate", json!({"Id": 0}), "Id must be a positive integer", "Agent", json!({})).await;
    assert!(
        h.runtime.catalog().get("halopsa.agent.delete").is_none(),
        "there is no agent delete node"
    );
}

// ---------------------------------------------------------------------------------------------
// Get, Get Many, Update

#[tokio::test(flavor = "multi_thread")]
async fn get_agent_and_not_found() {
    let h = harness().await;
    let envelope = h.invoke("halopsa.agent.get", json!({"Id": 2})).await;
    assert_success(&envelope, 200);
    assert_eq!(envelope["Agent"]["email"], "sam.carter@msp.example");
    assert_eq!(envelope["Agent"]["team"], "Service Desk");
    assert!(envelope["Agent"]["lastlogindate"].is_string());
    let missing = h.invoke("halopsa.agent.get", json!({"Id": 404})).await;
    assert_eq!(codes(&missing), (200, 404, "Agent with ID 404 not found".into()));
    assert_invalid(&h, "halopsa.agent.get", json!({"Id": -1}), "Id must be a positive integer", "Agent", json!({})).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn get_many_agents_by_email_team_and_status() {
    let h = harness().await;
    let node = "halopsa.agent.get-many";
    let active = h.invoke(node, json!({})).await;
    assert_success(&active, 200);
    assert_eq!(ids_of(&active["Agents"]["agents"]), vec![2, 3, 4], "active, API agent excluded");
    assert_eq!(active["Agents"]["record_count"], 3);
    let all = h.invoke(node, json!({"IncludeInactive": true, "Paginate": false})).await;
    assert_eq!(ids_of(&all["Agents"]["agents"]), vec![2, 3, 4, 5], "a bare array answer");
    let by_email = h.invoke(node, json!({"Email": "SAM.Carter@MSP.example"})).await;
    assert_eq!(ids_of(&by_email["Agents"]["agents"]), vec![2], "email matched ignoring case");
    let nobody = h.invoke(node, json!({"Email": "nobody@msp.example"})).await;
    assert_eq!(nobody["Agents"], json!({"agents": [], "record_count": 0}));
    let team = h.invoke(node, json!({"TeamId": 1, "IncludeInactive": true})).await;
    assert_eq!(ids_of(&team["Agents"]["agents"]), vec![2, 5]);
    assert!(h.sandbox.requests().iter().any(|r| r.query.contains("team_id=1")));
    let paged = h.invoke(node, json!({"PageSize": 2, "PageNo": 2})).await;
    assert_eq!(ids_of(&paged["Agents"]["agents"]), vec![4]);
    assert_eq!(paged["Agents"]["record_count"], 3);
    assert_empty_list_without_request(&h, node, "Agents", "agents").await;
    assert_invalid(&h, node, json!({"Email": "x"}), "Email must be an email address", "Agents", json!({})).await;
    assert_invalid(&h, node, json!({"TeamId": -2}), "TeamId must be a positive integer", "Agents", json!({})).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_team_name_several_teams_have_is_refused_naming_their_ids() {
    let h = harness().await;
    // Team names are not unique in HaloPSA: a second "Service Desk" beside team 1.
    let second = h.invoke("halopsa.team.create", json!({"Name": "Service Desk"})).await;
    assert_success(&second, 201);
    let second_id = second["Team"]["id"].as_i64().expect("team id");
    assert_ne!(second_id, 1);
    let agents_before = h.sandbox.records(Entity::Agent);
    let expected = format!("2 HaloPSA teams are called \"Service Desk\" (IDs 1, {second_id}): give TeamId to say which one");
    let created = h
        .invoke("halopsa.agent.create", json!({"Name": "A", "Email": "a@msp.example", "Team": "Service Desk"}))
        .await;
    assert_eq!(codes(&created), (200, 200, expected.clone()), "{created}");
    assert_eq!(created["Agent"], json!({}));
    let updated = h.invoke("halopsa.agent.update", json!({"Id": 4, "Team": "service desk"})).await;
    assert_eq!(
        codes(&updated),
        (200, 200, expected.replace("Service Desk", "service desk")),
        "the name as written: {updated}"
    );
    assert_eq!(requests_to(&h, "POST", "/api/agent"), 0, "nothing sent to the agents");
    assert_eq!(h.sandbox.records(Entity::Agent), agents_before);
    // TeamId picks one of them.
    let by_id = h.invoke("halopsa.agent.update", json!({"Id": 4, "TeamId": second_id})).await;
    assert_success(&by_id, 200);
    assert_eq!(agent(&h, 4)["team_id"], second_id);
}

#[tokio::test(flavor = "multi_thread")]
async fn update_agent_moves_team_and_changes_only_what_is_given() {
    let h = harness().await;
    let envelope = h
        .invoke("halopsa.agent.update", json!({"Id": 4, "Team": "Service Desk", "Role": "Technician"}))
        .await;
    assert_success(&envelope, 200);
    assert_eq!(envelope["Agent"]["team_id"], 1);
    let stored = agent(&h, 4);
    assert_eq!((stored["team_id"].clone(), stored["role"].clone(), stored["name"].clone()), (json!(1), json!("Technician"), json!("Tom Becker")));
    assert_eq!(h.last_post_body()[0]["id"], 4, "the id makes it an update, not a duplicate");
    let missing = h.invoke("halopsa.agent.update", json!({"Id": 999, "Role": "X"})).await;
    assert_eq!(codes(&missing), (200, 404, "Agent with ID 999 not found".into()));
    for (params, message) in [
        (json!({"Id": 4}), "Nothing to update"),
        (json!({"Id": 4, "AdditionalFields": {"isactive": false}}), "use halopsa.agent.deactivate"),
        (json!({"Id": 4, "Email": "nope"}), "Email must be an email address"),
        (json!({"Id": 0, "Role": "X"}), "Id must be a positive integer"),
    ] {
        assert_invalid(&h, "halopsa.agent.update", params, message, "Agent", json!({})).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Teams

#[tokio::test(flavor = "multi_thread")]
async fn team_nodes() {
    let h = harness().await;
    let all = h.invoke("halopsa.team.get-many", json!({})).await;
    assert_success(&all, 200);
    assert_eq!(ids_of(&all["Teams"]["teams"]), vec![1, 2, 3]);
    assert_eq!(all["Teams"]["record_count"], 3);
    let some = h.invoke("halopsa.team.get-many", json!({"Search": "desk"})).await;
    assert_eq!(ids_of(&some["Teams"]["teams"]), vec![1]);
    let one = h.invoke("halopsa.team.get", json!({"Id": 2})).await;
    assert_eq!(one["Team"]["name"], "Projects");
    let missing = h.invoke("halopsa.team.get", json!({"Id": 77})).await;
    assert_eq!(codes(&missing), (200, 404, "Team with ID 77 not found".into()));
    let made = h.invoke("halopsa.team.create", json!({"Name": " Security "})).await;
    assert_success(&made, 201);
    assert_eq!(made["Team"]["name"], "Security");
    assert_invalid(&h, "halopsa.team.create", json!({"Name": ""}), "Name is required", "Team", json!({})).await;
    assert_invalid(&h, "halopsa.team.get", json!({"Id": 0}), "Id must be a positive integer", "Team", json!({})).await;
}

// ---------------------------------------------------------------------------------------------
// Tickets by agent, server-side

#[tokio::test(flavor = "multi_thread")]
async fn ticket_get_many_filters_by_agent_on_the_server() {
    let h = harness().await;
    let envelope = h
        .invoke("halopsa.ticket.get-many", json!({"AgentId": 2, "Paginate": false}))
        .await;
    assert_success(&envelope, 200);
    assert_eq!(ids_of(&envelope["Tickets"]["tickets"]), vec![1001, 1002], "Sam's open tickets");
    assert!(h.sandbox.requests().iter().any(|r| r.query.contains("agent_id=2")));
    let team = h
        .invoke("halopsa.ticket.get-many", json!({"TeamId": 2, "StatusId": 2, "IncludeInactive": true}))
        .await;
    assert_eq!(ids_of(&team["Tickets"]["tickets"]), vec![1006, 1007]);
    assert_invalid(&h, "halopsa.ticket.get-many", json!({"UserId": 0}), "UserId must be a positive integer", "Tickets", json!({})).await;
}

// ---------------------------------------------------------------------------------------------
// Envelopes the host builds itself keep each operation's documented failure shape (seed 004)

#[tokio::test(flavor = "multi_thread")]
async fn host_built_failures_keep_the_documented_output() {
    let h = harness().await;
    // A parameter the host cannot convert: the node never runs.
    let client = h.invoke("halopsa.client.delete", json!({"Id": "seven"})).await;
    assert_eq!(codes(&client).0, -1, "{client}");
    assert_eq!(client["DeleteResult"], json!({"success": false, "deleted_id": 0}));
    let missing = h.invoke("halopsa.client.delete", json!({})).await;
    assert_eq!(missing["DeleteResult"], json!({"success": false, "deleted_id": 0}));
    // DeletedSite and DeletedTicket are {} only when the request stops at validation.
    let site = h.invoke("halopsa.site.delete", json!({"Id": "seven"})).await;
    assert_eq!((codes(&site).0, site["DeletedSite"].clone()), (-1, json!({})));
    // HaloPSA unreachable: the node reports it in the same shapes.
    let down = h.invoke_down("halopsa.ticket.delete", json!({"Id": 1004})).await;
    assert_eq!(down["DeletedTicket"], json!({"success": false, "deleted_id": 1004}));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_agent_create_whose_answer_is_lost_finds_the_agent_by_email() {
    let h = harness().await;
    h.sandbox.faults().drop_next_answers_after_commit(1);
    let envelope = h
        .invoke("halopsa.agent.create", json!({"Name": "Lost Answer", "Email": "lost@msp.example"}))
        .await;
    assert_eq!(codes(&envelope).0, 200, "{envelope}");
    assert_eq!(codes(&envelope).2, "", "{envelope}");
    let made: Vec<Value> = h
        .sandbox
        .records(Entity::Agent)
        .into_iter()
        .filter(|a| a["email"] == "lost@msp.example")
        .collect();
    assert_eq!(made.len(), 1, "exactly one agent");
    assert_eq!(envelope["Agent"]["id"], made[0]["id"]);
    assert_eq!(requests_to(&h, "POST", "/api/agent"), 1, "the POST is never sent again");
}
