//! The ConnectWise transport against the embedded sandbox over real HTTP.

use psaflow_connectwise::{
    API_VERSION, ClientOptions, ConnectWiseClient, ConnectionConfig, ENV_API_URL, ENV_CLIENT_ID,
    ENV_COMPANY_ID, ENV_PRIVATE_KEY, ENV_PUBLIC_KEY,
};
use psaflow_connectwise_sandbox::{Entity, Sandbox, SandboxOptions};
use psaflow_core::{ApiRequest, Clock, Method, Transport, TransportError, VirtualClock};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

fn config_for(sandbox: &Sandbox, private_key: &str) -> ConnectionConfig {
    // Read through the variables, as psaflow does, rather than built by sandbox_config.
    let vars = [
        (ENV_API_URL, sandbox.api_url()),
        (ENV_COMPANY_ID, sandbox.company_id().to_owned()),
        (ENV_PUBLIC_KEY, sandbox.public_key().to_owned()),
        (ENV_PRIVATE_KEY, private_key.to_owned()),
        (ENV_CLIENT_ID, sandbox.client_id().to_owned()),
    ];
    ConnectionConfig::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .expect("valid")
    .expect("set")
}

struct Setup {
    sandbox: Sandbox,
    client: ConnectWiseClient,
    clock: Arc<VirtualClock>,
}

async fn setup() -> Setup {
    let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let clock = Arc::new(VirtualClock::new());
    let client = ConnectWiseClient::new(
        config_for(&sandbox, sandbox.private_key()),
        ClientOptions {
            clock: clock.clone(),
            request_timeout: Duration::from_secs(5),
            ..ClientOptions::default()
        },
    )
    .unwrap();
    Setup {
        sandbox,
        client,
        clock,
    }
}

fn request(method: Method, path: &str, body: Option<Value>) -> ApiRequest {
    ApiRequest {
        method,
        path: path.into(),
        query: vec![],
        body: body.map(|b| b.to_string()),
    }
}

#[tokio::test]
async fn every_call_carries_basic_auth_client_id_and_the_pinned_version() {
    let s = setup().await;
    let mut get = request(Method::Get, "/system/members", None);
    get.query = vec![
        (
            "conditions".into(),
            r#"identifier like "j%" and inactiveFlag = false"#.into(),
        ),
        ("pageSize".into(), "1000".into()),
    ];
    let reply = s.client.send(get).await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    let members: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(members[0]["identifier"], "jdoe");

    let patch = json!([{"op": "replace", "path": "title", "value": "Lead"}]);
    let reply = s
        .client
        .send(request(Method::Patch, "/system/members/2", Some(patch)))
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    let reply = s
        .client
        .send(request(Method::Delete, "/system/members/2", None))
        .await
        .unwrap();
    assert_eq!(reply.status, 405);

    let recorded = s.sandbox.requests();
    assert_eq!(recorded.len(), 3);
    for r in &recorded {
        assert!(r.authenticated, "{r:?}");
        assert_eq!(r.client_id.as_deref(), Some(s.sandbox.client_id()));
        assert_eq!(
            r.accept.as_deref(),
            Some(format!("application/vnd.connectwise.com+json; version={API_VERSION}").as_str())
        );
    }
    assert!(
        recorded[0].query.contains("conditions=identifier+like"),
        "{}",
        recorded[0].query
    );
}

#[tokio::test]
async fn a_wrong_private_key_gets_the_401_back_and_is_never_shown() {
    let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let config = config_for(&sandbox, "wrong-private-key");
    let client = ConnectWiseClient::new(config.clone(), ClientOptions::default()).unwrap();
    let reply = client
        .send(request(Method::Get, "/system/members", None))
        .await
        .unwrap();
    assert_eq!(reply.status, 401);
    for shown in [format!("{config:?}"), format!("{client:?}")] {
        assert!(!shown.contains("wrong-private-key"), "{shown}");
    }
}

#[tokio::test]
async fn answers_429_are_waited_out_with_retry_after() {
    let s = setup().await;
    s.sandbox.faults().fail_next(429, 2, Some(7));
    let reply = s
        .client
        .send(request(Method::Get, "/system/members/count", None))
        .await
        .unwrap();
    assert_eq!((reply.status, reply.body.as_str()), (200, r#"{"count":5}"#));
    assert_eq!(s.clock.sleeps(), [Duration::from_secs(7); 2]);
    assert_eq!(s.client.stats().retries, 2);

    // Past max_attempts, the last 429 is returned as it is.
    s.sandbox.faults().fail_next(429, 10, None);
    let reply = s
        .client
        .send(request(Method::Get, "/system/members/count", None))
        .await
        .unwrap();
    assert_eq!(reply.status, 429);
    assert_eq!(
        s.clock.sleeps()[2..],
        [
            Duration::from_secs(1),
            Duration::from_secs(2),
            Duration::from_secs(4)
        ]
    );
}

#[tokio::test]
async fn a_dropped_get_is_retried_once_and_a_dropped_post_is_not() {
    let s = setup().await;
    s.sandbox.faults().drop_next_connections(1);
    let reply = s
        .client
        .send(request(Method::Get, "/system/members/2", None))
        .await
        .unwrap();
    assert_eq!(reply.status, 200);

    s.sandbox.faults().drop_next_after_commit(1);
    let member = json!({
        "identifier": "newbie", "firstName": "N", "lastName": "B", "licenseClass": "F",
        "officeEmail": "n@x.example", "securityRole": {"id": 2},
        "defaultLocation": {"id": 1}, "defaultDepartment": {"id": 1}
    });
    let err = s
        .client
        .send(request(Method::Post, "/system/members", Some(member)))
        .await
        .unwrap_err();
    // The POST may have been applied (here it was): its outcome is unknown, not "unreachable".
    assert!(matches!(err, TransportError::UnknownOutcome(_)), "{err:?}");
    let posts = s
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1, "a POST is never repeated by the transport");
    assert!(
        s.sandbox
            .records(Entity::Member)
            .iter()
            .any(|m| m["identifier"] == "newbie"),
        "the create happened though no answer came"
    );
}

#[tokio::test]
async fn time_outs_and_unreachable_servers_are_reported() {
    let s = setup().await;
    s.sandbox.faults().set_latency(Duration::from_millis(400));
    let client = ConnectWiseClient::new(
        config_for(&s.sandbox, s.sandbox.private_key()),
        ClientOptions {
            request_timeout: Duration::from_millis(100),
            ..ClientOptions::default()
        },
    )
    .unwrap();
    let err = client
        .send(request(Method::Get, "/system/members", None))
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Timeout(_)), "{err:?}");
    let config = config_for(&s.sandbox, s.sandbox.private_key());
    s.sandbox.shutdown().await;
    let client = ConnectWiseClient::new(config, ClientOptions::default()).unwrap();
    let err = client
        .send(request(Method::Get, "/system/members", None))
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Unreachable(_)), "{err:?}");
}

#[tokio::test]
async fn paths_outside_the_rest_base_are_refused_before_sending() {
    let s = setup().await;
    for path in [
        "system/members",
        "/../../login/companyinfo/x",
        "/system/members?x=1",
        "/https://evil.example/",
    ] {
        let err = s
            .client
            .send(request(Method::Get, path, None))
            .await
            .unwrap_err();
        assert!(matches!(err, TransportError::Denied(_)), "{path}: {err:?}");
    }
    assert!(s.sandbox.requests().is_empty());
}

#[tokio::test]
async fn a_rate_limit_paces_requests_on_the_clock() {
    let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let mut config = config_for(&sandbox, sandbox.private_key());
    config.rate_limit = Some("2/10s".parse().unwrap());
    let clock = Arc::new(VirtualClock::new());
    let client = ConnectWiseClient::new(
        config,
        ClientOptions {
            clock: clock.clone(),
            ..ClientOptions::default()
        },
    )
    .unwrap();
    for _ in 0..5 {
        let reply = client
            .send(request(Method::Get, "/system/members/2", None))
            .await
            .unwrap();
        assert_eq!(reply.status, 200);
    }
    // Five requests at two per ten seconds: the last batch waits two spans.
    assert!(
        clock.elapsed() >= Duration::from_secs(20),
        "{:?}",
        clock.elapsed()
    );
    assert_eq!(sandbox.requests().len(), 5);
}
