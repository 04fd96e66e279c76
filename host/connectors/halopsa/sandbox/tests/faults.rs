//! Each switchable fault, observed over real HTTP.

mod common;

use std::time::{Duration, Instant};

use common::{fetch_token, into_reply, start_seeded};
use psaflow_halopsa_sandbox::{Entity, UserDeleteQuirk};
use serde_json::json;

#[tokio::test]
async fn fail_next_answers_the_given_status_then_recovers() {
    let api = start_seeded().await;
    api.sandbox.faults().fail_next(429, 2, Some(7));

    // The token endpoint is not faulted, and discovery is not either.
    let fresh = fetch_token(&api.http, &api.sandbox).await;
    assert!(!fresh.is_empty());
    let info = reqwest::get(format!("{}/authinfo", api.sandbox.api_url()))
        .await
        .unwrap();
    assert_eq!(info.status().as_u16(), 200);

    let first = api.post("/Client", json!([{"name": "Throttled"}])).await;
    assert_eq!(first.status, 429);
    assert_eq!(first.headers["retry-after"], "7");
    assert!(first.json["message"].is_string(), "{}", first.text);
    assert!(
        api.sandbox
            .records(Entity::Client)
            .iter()
            .all(|c| c["name"] != "Throttled"),
        "a faulted request changes nothing"
    );
    assert_eq!(api.get("/Client").await.status, 429);
    assert_eq!(api.get("/Client").await.status, 200);

    api.sandbox.faults().fail_next(503, 1, None);
    let unavailable = api.get("/Tickets").await;
    assert_eq!(unavailable.status, 503);
    assert!(!unavailable.headers.contains_key("retry-after"));
    assert_eq!(api.get("/Tickets").await.status, 200);

    let statuses: Vec<u16> = api
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/"))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![200, 429, 429, 200, 503, 200]);
}

#[tokio::test]
async fn forced_status_applies_even_without_a_token() {
    let api = start_seeded().await;
    api.sandbox.faults().fail_next(500, 1, None);
    let reply = into_reply(api.http.get(api.url("/Client")).send().await.unwrap()).await;
    assert_eq!(reply.status, 500);
    let reply = into_reply(api.http.get(api.url("/Client")).send().await.unwrap()).await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn expire_tokens_forces_reauthentication() {
    let mut api = start_seeded().await;
    assert_eq!(api.get("/Client").await.status, 200);
    api.sandbox.faults().expire_tokens();
    let expired = api.get("/Client").await;
    assert_eq!(expired.status, 401);
    assert_eq!(expired.json["error"], "invalid_token");
    api.sandbox.faults().reset();
    assert_eq!(
        api.get("/Client").await.status,
        401,
        "reset does not revive old tokens"
    );

    api.token = fetch_token(&api.http, &api.sandbox).await;
    assert_eq!(api.get("/Client").await.status, 200);
}

#[tokio::test]
async fn latency_delays_resource_calls() {
    let api = start_seeded().await;
    api.sandbox.faults().set_latency(Duration::from_millis(400));
    let started = Instant::now();
    assert_eq!(api.get("/Client").await.status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );

    // A client time-out shorter than the latency fires.
    let timed_out = api
        .http
        .get(api.url("/Client"))
        .bearer_auth(&api.token)
        .timeout(Duration::from_millis(50))
        .send()
        .await;
    assert!(timed_out.unwrap_err().is_timeout());

    api.sandbox.faults().set_latency(Duration::ZERO);
    assert_eq!(api.get("/Client").await.status, 200);
}

#[tokio::test]
async fn dropped_connections_get_no_response_and_the_server_keeps_serving() {
    let api = start_seeded().await;
    assert_eq!(api.get("/Client").await.status, 200);
    api.sandbox.faults().drop_next_connections(2);

    for _ in 0..2 {
        let err = api
            .http
            .get(api.url("/Client"))
            .bearer_auth(&api.token)
            .send()
            .await
            .unwrap_err();
        assert!(!err.is_timeout(), "{err:?}");
        assert!(
            err.status().is_none(),
            "no HTTP status was received: {err:?}"
        );
    }
    // The same client (its pool) and a new one both work afterwards.
    assert_eq!(api.get("/Client").await.status, 200);
    let other = reqwest::Client::new();
    let reply = other
        .get(api.url("/Tickets/1001"))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 200);

    let dropped: Vec<_> = api
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| r.status == 0)
        .collect();
    assert_eq!(
        dropped.len(),
        2,
        "each dropped request is recorded with status 0"
    );
    assert!(
        dropped
            .iter()
            .all(|r| r.path == "/api/Client" && r.had_auth)
    );

    // A drop does not leak into the data: a dropped create may not happen, a later one does.
    api.sandbox.faults().drop_next_connections(1);
    let err = api
        .http
        .post(api.url("/Client"))
        .bearer_auth(&api.token)
        .json(&json!([{"name": "Lost"}]))
        .send()
        .await;
    assert!(err.is_err());
    assert!(
        api.sandbox
            .records(Entity::Client)
            .iter()
            .all(|c| c["name"] != "Lost")
    );
    assert_eq!(
        api.post("/Client", json!([{"name": "Kept"}])).await.status,
        201
    );
}

#[tokio::test]
async fn an_answer_dropped_after_commit_leaves_the_change_made() {
    let api = start_seeded().await;
    api.sandbox.faults().drop_next_answers_after_commit(1);
    // Reads are not affected: the drop waits for a call that changes data.
    assert_eq!(api.get("/Client").await.status, 200);
    let lost = api
        .http
        .post(api.url("/Client"))
        .bearer_auth(&api.token)
        .json(&json!([{"name": "Committed"}]))
        .send()
        .await;
    assert!(lost.is_err(), "no answer may arrive: {lost:?}");
    let made: Vec<_> = api
        .sandbox
        .records(Entity::Client)
        .into_iter()
        .filter(|c| c["name"] == "Committed")
        .collect();
    assert_eq!(made.len(), 1, "the create happened although no answer came");
    let last = api.sandbox.requests().pop().unwrap();
    assert_eq!((last.method.as_str(), last.status), ("POST", 0));
    // Only one answer was dropped.
    assert_eq!(
        api.post("/Client", json!([{"name": "Answered"}])).await.status,
        201
    );
}

#[tokio::test]
async fn user_delete_quirk_answers_500_with_an_empty_body() {
    let api = start_seeded().await;
    let faults = api.sandbox.faults();

    faults.user_delete_quirk(UserDeleteQuirk::Error500EmptyBodyButDeleted);
    let reply = api.delete("/Users/2").await;
    assert_eq!(reply.status, 500);
    assert!(reply.text.is_empty(), "{:?}", reply.text);
    assert_eq!(
        api.get("/Users/2").await.status,
        404,
        "the user is gone despite the 500"
    );
    assert_eq!(
        api.delete("/Users/2").await.status,
        404,
        "a missing user is still 404"
    );

    faults.user_delete_quirk(UserDeleteQuirk::Error500EmptyBodyNotDeleted);
    let reply = api.delete("/Users/3").await;
    assert_eq!(reply.status, 500);
    assert!(reply.text.is_empty());
    assert_eq!(
        api.get("/Users/3").await.status,
        200,
        "the user is still there"
    );

    // Other entities are not affected by the user quirk.
    let ticket = api.delete("/Tickets/1001").await;
    assert_eq!(ticket.status, 200);

    faults.reset();
    let reply = api.delete("/Users/3").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json["id"], 3);
}
