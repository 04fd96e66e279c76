//! The host's HaloPSA transport as nodes see it, over real HTTP: expired tokens are refreshed,
//! 429 is waited out (on a virtual clock), and an unreachable API is a 500 with
//! OriginalStatusCode 0.

use psaflow_halopsa_sandbox::{Sandbox, SandboxOptions};
use psaflow_tests::{harness, harness_with, status};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn an_expired_token_is_refreshed_and_the_request_retried_once() {
    let h = harness().await;
    let first = h.invoke("halopsa.client.get", json!({"Id": 1})).await;
    assert_eq!(status(&first), (200, 200), "{first}");
    h.sandbox.faults().expire_tokens();
    let second = h.invoke("halopsa.client.get", json!({"Id": 1})).await;
    assert_eq!(status(&second), (200, 200), "{second}");
    assert_eq!(second["ErrorMessage"], "");
    let stats = h.client.stats();
    assert_eq!(stats.token_fetches, 2, "{stats:?}");
    assert_eq!(stats.refreshes_after_401, 1, "{stats:?}");
}

#[tokio::test]
async fn a_token_that_expires_by_time_is_renewed_before_use() {
    let h = harness_with(SandboxOptions {
        token_ttl: Duration::from_secs(90),
        ..SandboxOptions::default()
    })
    .await;
    assert_eq!(
        status(&h.invoke("halopsa.client.get", json!({"Id": 1})).await),
        (200, 200)
    );
    // The transport's clock is virtual: move it past the refresh point (90 s - 60 s margin).
    psaflow_core::Clock::sleep(h.clock.as_ref(), Duration::from_secs(45)).await;
    assert_eq!(
        status(&h.invoke("halopsa.client.get", json!({"Id": 1})).await),
        (200, 200)
    );
    assert_eq!(h.client.stats().token_fetches, 2);
    assert_eq!(h.client.stats().refreshes_after_401, 0);
}

#[tokio::test]
async fn rate_limited_requests_wait_for_retry_after_and_then_succeed() {
    let h = harness().await;
    h.sandbox.faults().fail_next(429, 2, Some(7));
    let env = h.invoke("halopsa.client.get", json!({"Id": 1})).await;
    assert_eq!(status(&env), (200, 200), "{env}");
    assert_eq!(
        h.clock.sleeps(),
        vec![Duration::from_secs(7), Duration::from_secs(7)]
    );
}

#[tokio::test]
async fn rate_limit_that_never_clears_is_a_retryable_500_with_the_original_status() {
    let h = harness().await;
    h.sandbox.faults().fail_next(429, 10, Some(1));
    let env = h.invoke("halopsa.client.get", json!({"Id": 1})).await;
    assert_eq!(status(&env), (500, 429), "{env}");
    assert!(!env["ErrorMessage"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn an_unreachable_api_is_a_500_with_original_status_0() {
    let h = harness().await;
    let down = h.down();
    let mut params = serde_json::Map::new();
    params.insert("Name".into(), json!("Acme"));
    let env = down.invoke("halopsa.client.create", params).await.to_json();
    assert_eq!(status(&env), (500, 0), "{env}");
    assert!(
        env["ErrorMessage"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("could not reach"),
        "{env}"
    );
    assert_eq!(env["Client"], json!({}));
}

#[tokio::test]
async fn a_dropped_connection_on_create_is_a_system_error_and_not_resent() {
    let h = harness().await;
    // The POST (the create lists the clients with its name first).
    h.sandbox.faults().drop_next_change_connections(1);
    let env = h
        .invoke("halopsa.client.create", json!({"Name": "Dropped Ltd"}))
        .await;
    // A POST is never re-sent after a dropped connection (it may have been applied): the
    // node reports a retryable system error and the workflow decides.
    assert_eq!(status(&env), (500, 0), "{env}");
    let creates = h
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.to_lowercase().starts_with("/api/"))
        .count();
    assert_eq!(creates, 1, "the create was sent exactly once");
}

#[tokio::test]
async fn wrong_credentials_are_an_api_error_with_the_token_endpoint_status() {
    let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let client = psaflow_halopsa::HaloClient::new(
        psaflow_tests::connection(&sandbox.base_url(), "wrong-id", "wrong-secret"),
        psaflow_halopsa::ClientOptions::default(),
    )
    .unwrap();
    let rt = psaflow_tests::runtime_for(std::sync::Arc::new(client));
    let mut params = serde_json::Map::new();
    params.insert("Id".into(), json!(1));
    let env = rt.invoke("halopsa.client.get", params).await.to_json();
    assert_eq!(status(&env), (200, 401), "{env}");
    let msg = env["ErrorMessage"].as_str().unwrap();
    assert!(msg.contains("HALOPSA_CLIENT_ID"), "{msg}");
    assert!(
        !msg.contains("wrong-secret"),
        "the secret must never be printed: {msg}"
    );
}

/// A virtual clock on which a token lives `lifetime`: every wait that reaches the end of the
/// current token's life makes the sandbox refuse it, as a real tenant would.
struct ExpiringTokens {
    clock: psaflow_core::VirtualClock,
    sandbox: std::sync::Arc<Sandbox>,
}

impl psaflow_core::Clock for ExpiringTokens {
    fn elapsed(&self) -> Duration {
        self.clock.elapsed()
    }
    fn sleep(&self, duration: Duration) -> psaflow_core::BoxFuture<'_, ()> {
        Box::pin(async move {
            self.clock.sleep(duration).await;
            // Every wait below is at least the 1 s the tokens live.
            self.sandbox.faults().expire_tokens();
        })
    }
    fn is_virtual(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn a_get_many_with_a_one_second_token_survives_three_busy_answers_in_a_row() {
    let sandbox = std::sync::Arc::new(
        Sandbox::start(SandboxOptions {
            token_ttl: Duration::from_secs(1),
            ..SandboxOptions::default()
        })
        .await
        .unwrap(),
    );
    let clock = std::sync::Arc::new(ExpiringTokens {
        clock: psaflow_core::VirtualClock::new(),
        sandbox: sandbox.clone(),
    });
    let client = psaflow_halopsa::HaloClient::new(
        psaflow_tests::connection(&sandbox.base_url(), sandbox.client_id(), sandbox.client_secret()),
        psaflow_halopsa::ClientOptions {
            clock: clock.clone(),
            ..psaflow_halopsa::ClientOptions::default()
        },
    )
    .unwrap();
    let runtime = psaflow_tests::runtime_for(std::sync::Arc::new(client.clone()));
    sandbox.faults().fail_next(503, 3, None);
    let env = runtime
        .invoke(
            "halopsa.client.get-many",
            json!({"Count": 5}).as_object().unwrap().clone(),
        )
        .await
        .to_json();
    assert_eq!(status(&env), (200, 200), "{env}");
    assert!(!env["Clients"]["clients"].as_array().unwrap().is_empty(), "{env}");
    // A new token before each attempt after a wait (at least; a slow machine may also see
    // the sandbox expire a token by real time, which a 401 refresh then handles).
    let stats = client.stats();
    assert!(stats.token_fetches >= 4, "{stats:?}");
}

/// A wrong auth URL (its token endpoint answers 404) is said to be one by every node, never
/// reported as the record missing: a "missing means gone" workflow would take that as done.
#[tokio::test]
async fn a_wrong_auth_url_is_not_a_missing_record() {
    let h = harness().await;
    let mut config = psaflow_tests::connection(
        &h.sandbox.base_url(),
        h.sandbox.client_id(),
        h.sandbox.client_secret(),
    );
    config.auth_url = format!("{}/nope", h.sandbox.base_url()).parse().unwrap();
    let client = psaflow_halopsa::HaloClient::new(config, psaflow_halopsa::ClientOptions::default())
        .expect("client config is valid");
    let runtime = psaflow_tests::runtime_for(std::sync::Arc::new(client));
    for (node, params) in [
        ("halopsa.client.get", json!({"Id": 1})),
        ("halopsa.ticket.delete", json!({"Id": 1003})),
        ("halopsa.agent.deactivate", json!({"Id": 3})),
        ("halopsa.user.delete", json!({"Id": 2})),
    ] {
        let envelope = runtime
            .invoke(node, params.as_object().cloned().expect("an object"))
            .await
            .to_json();
        let message = envelope["ErrorMessage"].as_str().unwrap_or_default();
        assert!(message.contains("check HALOPSA_AUTH_URL"), "{node}: {envelope}");
        assert!(!message.contains("not found"), "{node}: {envelope}");
    }
}
