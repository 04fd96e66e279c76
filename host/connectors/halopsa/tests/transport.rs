//! HaloClient against a local fake HaloPSA (tests/support). Waits go through a VirtualClock,
//! so no test sleeps for real except where a real timeout is the point, and no assertion
//! depends on tight timing.

mod support;

use psaflow_core::{
    ApiRequest, ApiResponse, Clock, Method, Transport, TransportError, VirtualClock,
};
use psaflow_halopsa::{ClientOptions, ConnectionConfig, HaloClient, ProblemKind, Secret};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use support::{Canned, Fake};
use url::Url;

const SECRET: &str = "zq-client-secret-7731-do-not-print";

fn config(api: &str, auth: &str) -> ConnectionConfig {
    ConnectionConfig {
        api_url: Url::parse(api).unwrap(),
        auth_url: Url::parse(auth).unwrap(),
        tenant: Some("acme".into()),
        client_id: "client-1".into(),
        client_secret: Secret::new(SECRET),
        scope: "all".into(),
        rate_limit: None,
    }
}

fn options(clock: &Arc<VirtualClock>) -> ClientOptions {
    ClientOptions {
        clock: clock.clone(),
        ..ClientOptions::default()
    }
}

fn client_for(fake: &Fake, clock: &Arc<VirtualClock>) -> HaloClient {
    HaloClient::new(config(&fake.api_url(), &fake.auth_url()), options(clock)).unwrap()
}

fn get(path: &str) -> ApiRequest {
    ApiRequest {
        method: Method::Get,
        path: path.into(),
        query: vec![],
        body: None,
    }
}

fn post(path: &str, body: &str) -> ApiRequest {
    ApiRequest {
        method: Method::Post,
        path: path.into(),
        query: vec![],
        body: Some(body.into()),
    }
}

fn json(response: &ApiResponse) -> serde_json::Value {
    serde_json::from_str(&response.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", response.body))
}

#[tokio::test]
async fn sends_token_form_headers_path_and_query() {
    let fake = Fake::start().await;
    let clock = Arc::new(VirtualClock::new());
    let client = client_for(&fake, &clock);

    let mut request = post("/Client", r#"[{"name":"Acme"}]"#);
    request.query = vec![
        ("search".into(), "a b&c".into()),
        ("pageinate".into(), "true".into()),
    ];
    let response = client.send(request).await.unwrap();
    assert_eq!(response.status, 200, "{}", response.body);
    client.send(get("Client/7")).await.unwrap();

    let tokens = fake.state.token_requests.lock().unwrap().clone();
    assert_eq!(tokens.len(), 1);
    let t = &tokens[0];
    assert_eq!(t.path, "/auth/token");
    assert_eq!(t.query.as_deref(), Some("tenant=acme"));
    assert_eq!(
        t.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        t.form.get("grant_type").map(String::as_str),
        Some("client_credentials")
    );
    assert_eq!(
        t.form.get("client_id").map(String::as_str),
        Some("client-1")
    );
    assert_eq!(
        t.form.get("client_secret").map(String::as_str),
        Some(SECRET)
    );
    assert_eq!(t.form.get("scope").map(String::as_str), Some("all"));

    let seen = fake.state.api_calls();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/api/Client");
    assert_eq!(
        seen[0].query.as_deref(),
        Some("search=a+b%26c&pageinate=true")
    );
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer tok-1"));
    assert_eq!(seen[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(seen[0].accept.as_deref(), Some("application/json"));
    assert_eq!(seen[0].body, r#"[{"name":"Acme"}]"#);
    assert_eq!(seen[1].method, "GET");
    assert_eq!(seen[1].path, "/api/Client/7");
    assert_eq!(seen[1].content_type, None);
    assert_eq!(seen[1].accept.as_deref(), Some("application/json"));

    let stats = client.stats();
    assert_eq!(
        (
            stats.requests,
            stats.token_fetches,
            stats.retries,
            stats.refreshes_after_401
        ),
        (2, 1, 0, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_requests_share_one_token_fetch() {
    let fake = Fake::start().await;
    // A slow token endpoint makes the requests overlap while the token is being fetched.
    *fake.state.token_delay.lock().unwrap() = Duration::from_millis(200);
    let clock = Arc::new(VirtualClock::new());
    let client = client_for(&fake, &clock);

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let client = client.clone();
        tasks.spawn(async move { client.send(get(&format!("/Client/{i}"))).await });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap().unwrap().status, 200);
    }

    assert_eq!(fake.state.token_calls(), 1);
    assert_eq!(client.stats().token_fetches, 1);
    assert_eq!(client.stats().requests, 50);
    let seen = fake.state.api_calls();
    assert_eq!(seen.len(), 50);
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some("Bearer tok-1"))
    );
}

#[tokio::test]
async fn token_is_refreshed_refresh_margin_before_expiry() {
    let fake = Fake::start().await;
    *fake.state.token_lifetime.lock().unwrap() = 3600;
    let clock = Arc::new(VirtualClock::new());
    let client = client_for(&fake, &clock); // refresh_margin: 60 s

    client.send(get("/Client/1")).await.unwrap();
    clock.sleep(Duration::from_secs(3539)).await; // 61 s left: still good
    client.send(get("/Client/2")).await.unwrap();
    assert_eq!(fake.state.token_calls(), 1);
    clock.sleep(Duration::from_secs(2)).await; // 59 s left: inside the margin
    client.send(get("/Client/3")).await.unwrap();
    assert_eq!(fake.state.token_calls(), 2);

    let auth: Vec<String> = fake
        .state
        .api_calls()
        .into_iter()
        .map(|s| s.authorization.unwrap())
        .collect();
    assert_eq!(auth, vec!["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]);
    assert_eq!(client.stats().refreshes_after_401, 0);
}

#[tokio::test]
async fn api_401_refreshes_the_token_and_retries_once() {
    let fake = Fake::start().await;
    let clock = Arc::new(VirtualClock::new());
    let client = client_for(&fake, &clock);
    client.send(get("/Client/1")).await.unwrap();

    fake.state.revoke_tokens(0); // tok-1 is now refused
    let response = client.send(get("/Client/2")).await.unwrap();
    assert_eq!(response.status, 200, "{}", response.body);

    let auth: Vec<String> = fake
        .state
        .api_calls()
        .into_iter()
        .map(|s| s.authorization.unwrap())
        .collect();
    assert_eq!(auth, vec!["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]);
    let stats = client.stats();
    assert_eq!(
        (
            stats.token_fetches,
            stats.refreshes_after_401,
            stats.requests
        ),
        (2, 1, 3)
    );
}

#[tokio::test]
async fn second_401_is_returned_as_is() {
    let fake = Fake::start().await;
    let clock = Arc::new(VirtualClock::new());
    let client = client_for(&fake, &clock);
    fake.state.min_valid_token.store(1000, Ordering::SeqCst); // the API refuses every token

    let response = client.send(get("/Client/2")).await.unwrap();
    assert_eq!(response.status, 401);
    assert_eq!(json(&response)["error"], "unauthorized");
    assert_eq!(fake.state.api_calls().len(), 2);
    assert_eq!(fake.state.token_calls(), 2);
    assert_eq!(client.stats().refreshes_after_401, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_401s_cause_one_refresh_fetch() {
    let fake = Fake::start().await;
    let clock = Arc::new(VirtualClock::new());
    let client = client_for(&fake, &clock);
    client.send(get("/Client/0")).await.unwrap();
    fake.state.revoke_tokens(0);

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let client = client.clone();
        tasks.spawn(async move { client.send(get(&format!("/Client/{i}"))).await });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap().unwrap().status, 200);
    }
    assert_eq!(
        fake.state.token_calls(),
        2,
        "one initial fetch, one refresh shared by all"
    );
}

#[tokio::test]
async fn rejected_credentials_become_an_api_response() {
    let fake = Fake::start().await;
    *fake.state.token_refusal.lock().unwrap() =
        Some(Canned::new(401, r#"{"error":"invalid_client"}"#));
    let clock = Arc::new(VirtualClock::new());
    let client = client_for(&fake, &clock);

    let response = client
        .send(get("/Client/7"))
        .await
        .expect("a refusal is an API answer, not a transport error");
    assert_eq!(response.status, 401);
    let body = json(&response);
    assert_eq!(body["error"], "invalid_client");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("rejected the client credentials"),
        "{message}"
    );
    assert!(
        message.contains("HALOPSA_CLIENT_ID") && message.contains("HALOPSA_CLIENT_SECRET"),
        "{message}"
    );
    assert!(
        fake.state.api_calls().is_empty(),
        "nothing may reach the API without a token"
    );

    // The refusal is not cached: fixing the credentials on the server side is picked up.
    *fake.state.token_refusal.lock().unwrap() = None;
    assert_eq!(client.send(get("/Client/7")).await.unwrap().status, 200);
    assert_eq!(fake.state.token_calls(), 2);
}

#[tokio::test]
async fn token_endpoint_400_with_error_keeps_its_status() {
    let fake = Fake::start().await;
    *fake.state.token_refusal.lock().unwrap() =
        Some(Canned::new(400, r#"{"error":"invalid_scope"}"#));
    let clock = Arc::new(VirtualClock::new());
    let client = client_for(&fake, &clock);
    let response = client.send(get("/Client/7")).await.unwrap();
    assert_eq!(response.status, 400);
    assert_eq!(json(&response)["error"], "invalid_scope");
    assert!(
        json(&response)["message"]
            .as_str()
            .unwrap()
            .contains("HALOPSA_SCOPE")
    );
}

#[tokio::test]
async fn token_endpoint_busy_is_retried_then_used() {
    let fake = Fake::start().await;
    fake.state.script_token([Canned::new(503, "busy")]);
    let clock = Arc::new(VirtualClock::new());
    let client = client_for(&fake, &clock);
    let response = client.send(get("/Client/7")).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(1)]);
    assert_eq!(client.stats().token_fetches, 2);
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test]
async fn too_many_requests_waits_retry_after_on_the_virtual_clock() {
    let fake = Fake::start().await;
    fake.state
        .script_api([Canned::new(429, r#"{"message":"slow down"}"#).header("Retry-After", "7")]);
    let clock = Arc::new(VirtualClock::new());
    let client = client_for(&fake, &clock);

    let response = client.send(get("/Tickets")).await.unwrap();
    assert_eq!(response.status, 200, "{}", response.body);
    // The wait went through the virtual clock (which never sleeps for real), so no real-time
    // bound is needed to show the client did not block for 7 s.
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(7)]);
    assert_eq!(clock.elapsed(), Duration::from_secs(7));
    assert_eq!(fake.state.api_calls().len(), 2);
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test]
async fn retry_after_as_http_date_is_honoured() {
    let fake = Fake::start().await;
    let when = httpdate_in(Duration::from_secs(30));
    fake.state
        .script_api([Canned::new(503, "maintenance").header("Retry-After", &when)]);
    let clock = Arc::new(VirtualClock::new());
    let client = client_for(&fake, &clock);
    assert_eq!(client.send(get("/Tickets")).await.unwrap().status, 200);
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 1);
    // HTTP dates have whole seconds; the exchange itself takes a moment.
    assert!(
        sleeps[0] >= Duration::from_secs(20) && sleeps[0] <= Duration::from_secs(30),
        "{sleeps:?}"
    );
}

fn httpdate_in(d: Duration) -> String {
    // Formats an IMF-fixdate without pulling in a date crate.
    let secs = psaflow_core::dates::unix_now() + i64::try_from(d.as_secs()).unwrap();
    let days = secs.div_euclid(86_400);
    let (h, m, s) = ((secs % 86_400) / 3600, (secs % 3600) / 60, secs % 60);
    // 1970-01-01 was a Thursday.
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][usize::try_from(days % 7).unwrap()];
    let (year, month, day) = psaflow_core::dates::civil_from_days(days);
    let month_name = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][usize::try_from(month - 1).unwrap()];
    format!("{weekday}, {day:02} {month_name} {year} {h:02}:{m:02}:{s:02} GMT")
}

#[tokio::test]
async fn service_unavailable_exhausts_attempts_and_returns_the_last_503() {
    let fake = Fake::start().await;
    fake.state
        .script_api((1..=4).map(|i| Canned::new(503, &format!("busy {i}"))));
    fake.state.script_api([Canned::new(200, "too late")]);
    let clock = Arc::new(VirtualClock::new());
    let client = client_for(&fake, &clock); // max_attempts 4

    let response = client.send(get("/Tickets")).await.unwrap();
    assert_eq!(
        response,
        ApiResponse::new(503, "busy 4")
    );
    assert_eq!(
        clock.sleeps(),
        vec![
            Duration::from_secs(1),
            Duration::from_secs(2),
            Duration::from_secs(4)
        ]
    );
    assert_eq!(fake.state.api_calls().len(), 4);
    assert_eq!(client.stats().retries, 3);
}

#[tokio::test]
async fn backoff_is_capped_at_max_backoff() {
    let fake = Fake::start().await;
    fake.state.script_api((1..=6).map(|_| Canned::new(429, "")));
    let clock = Arc::new(VirtualClock::new());
    let options = ClientOptions {
        max_attempts: 6,
        max_backoff: Duration::from_secs(5),
        ..options(&clock)
    };
    let client = HaloClient::new(config(&fake.api_url(), &fake.auth_url()), options).unwrap();
    assert_eq!(client.send(get("/Tickets")).await.unwrap().status, 429);
    let s = Duration::from_secs;
    assert_eq!(clock.sleeps(), vec![s(1), s(2), s(4), s(5), s(5)]);
}

#[tokio::test]
async fn retry_after_beyond_max_backoff_returns_the_429_at_once() {
    let fake = Fake::start().await;
    fake.state
        .script_api([Canned::new(429, "come back in an hour").header("Retry-After", "3600")]);
    let clock = Arc::new(VirtualClock::new());
    let client = client_for(&fake, &clock);
    let response = client.send(get("/Tickets")).await.unwrap();
    assert_eq!(response.status, 429);
    assert!(clock.sleeps().is_empty());
    assert_eq!(fake.state.api_calls().len(), 1);
}

#[tokio::test]
async fn token_endpoint_down_is_unreachable() {
    let port = support::dead_port().await;
    let clock = Arc::new(VirtualClock::new());
    let base = format!("http://127.0.0.1:{port}");
    let client = HaloClient::new(
        config(&format!("{base}/api"), &format!("{base}/auth")),
        options(&clock),
    )
    .unwrap();
    let err = client.send(get("/Client/7")).await.unwrap_err();
    let TransportError::Unreachable(message) = &err else {
        panic!("expected Unreachable, got {err:?}")
    };
    assert!(
        message.contains("token endpoint") && message.contains(&port.to_string()),
        "{message}"
    );
    assert!(!message.contains(SECRET));
}

#[tokio::test]
async fn api_down_is_unreachable_and_not_retried() {
    let fake = Fake::start().await;
    let port = support::dead_port().await;
    let clock = Arc::new(VirtualClock::new());
    let client = HaloClient::new(
        config(&format!("http://127.0.0.1:{port}/api"), &fake.auth_url()),
        options(&clock),
    )
    .unwrap();
    let err = client.send(get("/Client/7")).await.unwrap_err();
    assert!(matches!(err, TransportError::Unreachable(_)), "{err:?}");
    assert_eq!(
        client.stats().requests,
        1,
        "a refused connection is not retried"
    );
}

#[tokio::test]
async fn slow_api_times_out() {
    let fake = Fake::start().await;
    *fake.state.api_delay.lock().unwrap() = Duration::from_secs(30);
    let clock = Arc::new(VirtualClock::new());
    let options = ClientOptions {
        request_timeout: Duration::from_millis(300),
        ..options(&clock)
    };
    let client = HaloClient::new(config(&fake.api_url(), &fake.auth_url()), options).unwrap();
    // The fake answers 200 after 30 s: a Timeout error shows the 300 ms timeout cut the wait
    // short, without a real-time bound that a loaded machine could break.
    let err = client.send(get("/Client/7")).await.unwrap_err();
    assert!(matches!(err, TransportError::Timeout(_)), "{err:?}");
}

#[tokio::test]
async fn slow_token_endpoint_times_out() {
    let fake = Fake::start().await;
    *fake.state.token_delay.lock().unwrap() = Duration::from_secs(30);
    let clock = Arc::new(VirtualClock::new());
    let options = ClientOptions {
        request_timeout: Duration::from_millis(300),
        ..options(&clock)
    };
    let client = HaloClient::new(config(&fake.api_url(), &fake.auth_url()), options).unwrap();
    let err = client.send(get("/Client/7")).await.unwrap_err();
    let TransportError::Timeout(message) = &err else {
        panic!("expected Timeout, got {err:?}")
    };
    assert!(message.contains("token endpoint"), "{message}");
}

#[tokio::test]
async fn dropped_connection_is_retried_once_for_get() {
    let fake = Fake::start().await;
    let (addr, connections, _server) = support::dropping_server(1).await;
    let clock = Arc::new(VirtualClock::new());
    let client = HaloClient::new(
        config(&format!("http://{addr}/api"), &fake.auth_url()),
        options(&clock),
    )
    .unwrap();
    let response = client.send(get("/Client/7")).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test]
async fn dropped_connection_twice_is_unreachable_for_get() {
    let fake = Fake::start().await;
    let (addr, connections, _server) = support::dropping_server(usize::MAX).await;
    let clock = Arc::new(VirtualClock::new());
    let client = HaloClient::new(
        config(&format!("http://{addr}/api"), &fake.auth_url()),
        options(&clock),
    )
    .unwrap();
    let err = client.send(get("/Client/7")).await.unwrap_err();
    assert!(matches!(err, TransportError::Unreachable(_)), "{err:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn dropped_connection_is_not_retried_for_post() {
    let fake = Fake::start().await;
    let (addr, connections, _server) = support::dropping_server(1).await;
    let clock = Arc::new(VirtualClock::new());
    let client = HaloClient::new(
        config(&format!("http://{addr}/api"), &fake.auth_url()),
        options(&clock),
    )
    .unwrap();
    let err = client
        .send(post("/Tickets", r#"[{"summary":"x"}]"#))
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::UnknownOutcome(_)), "{err:?}");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "a POST may have been applied; it must not be resent"
    );
}

#[tokio::test]
async fn dropped_connection_is_not_retried_for_delete() {
    let fake = Fake::start().await;
    let (addr, connections, _server) = support::dropping_server(1).await;
    let clock = Arc::new(VirtualClock::new());
    let client = HaloClient::new(
        config(&format!("http://{addr}/api"), &fake.auth_url()),
        options(&clock),
    )
    .unwrap();
    let delete = ApiRequest {
        method: Method::Delete,
        path: "/Client/7".into(),
        query: vec![],
        body: None,
    };
    let err = client.send(delete).await.unwrap_err();
    assert!(matches!(err, TransportError::UnknownOutcome(_)), "{err:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_post_that_times_out_has_an_unknown_outcome() {
    let fake = Fake::start().await;
    *fake.state.api_delay.lock().unwrap() = Duration::from_secs(30);
    let clock = Arc::new(VirtualClock::new());
    let options = ClientOptions {
        request_timeout: Duration::from_millis(300),
        ..options(&clock)
    };
    let client = HaloClient::new(config(&fake.api_url(), &fake.auth_url()), options).unwrap();
    let err = client
        .send(post("/Client", r#"[{"name":"x"}]"#))
        .await
        .unwrap_err();
    let TransportError::UnknownOutcome(message) = &err else {
        panic!("expected UnknownOutcome, got {err:?}")
    };
    assert!(message.contains("did not answer within"), "{message}");
}

#[tokio::test]
async fn escaping_paths_are_denied_before_anything_is_sent() {
    let fake = Fake::start().await;
    let clock = Arc::new(VirtualClock::new());
    let client = client_for(&fake, &clock);
    for path in [
        "/../auth/token",
        "https://evil.example/x",
        "//evil.example/x",
        "/Client/%2e%2e/x",
    ] {
        let err = client.send(get(path)).await.unwrap_err();
        assert!(matches!(err, TransportError::Denied(_)), "{path}: {err:?}");
    }
    assert_eq!(fake.state.token_calls(), 0);
    assert!(fake.state.api_calls().is_empty());
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let remote = config(
        "http://acme.halopsa.com/api",
        "https://acme.halopsa.com/auth",
    );
    let err = remote.validate().unwrap_err();
    assert_eq!(err.problems()[0].kind, ProblemKind::Insecure);
    let err = HaloClient::new(remote, ClientOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("http://acme.halopsa.com/api"),
        "{err}"
    );

    let remote_auth = config(
        "https://acme.halopsa.com/api",
        "http://acme.halopsa.com/auth",
    );
    assert!(HaloClient::new(remote_auth, ClientOptions::default()).is_err());

    let err = ConnectionConfig::from_env(|name| match name {
        "HALOPSA_API_URL" => Some("http://10.1.2.3/api".into()),
        "HALOPSA_CLIENT_ID" => Some("c".into()),
        "HALOPSA_CLIENT_SECRET" => Some(SECRET.into()),
        _ => None,
    })
    .unwrap_err();
    // Both the API URL and the auth URL derived from it are refused.
    assert_eq!(err.problems().len(), 1, "{err}");
    assert_eq!(err.problems()[0].field, "HALOPSA_API_URL");

    for local in [
        "http://127.0.0.1:8080/api",
        "http://localhost:8080/api",
        "http://[::1]:8080/api",
    ] {
        let ok = config(local, &local.replace("/api", "/auth"));
        HaloClient::new(ok, ClientOptions::default()).unwrap();
    }
}

#[test]
fn zero_attempts_is_a_configuration_error() {
    let c = config(
        "https://acme.halopsa.com/api",
        "https://acme.halopsa.com/auth",
    );
    let err = HaloClient::new(
        c,
        ClientOptions {
            max_attempts: 0,
            ..ClientOptions::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("max_attempts"), "{err}");
}

/// Formats every error, Debug output, response body and log line this crate produces in the
/// scenarios above and checks the secret is in none of them.
#[tokio::test]
async fn the_secret_is_never_printed() {
    let captured = support::capture::Captured::default();
    let _guard = tracing::subscriber::set_default(captured.clone());
    let mut outputs: Vec<String> = Vec::new();
    let clock = Arc::new(VirtualClock::new());

    // Configuration values and errors.
    let cfg = config(
        "https://acme.halopsa.com/api",
        "https://acme.halopsa.com/auth",
    );
    outputs.push(format!("{cfg:?}"));
    outputs.push(format!("{:#?}", cfg.client_secret));
    outputs.push(format!("{}", cfg.client_secret));
    let env = |pairs: Vec<(&'static str, String)>| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        }
    };
    for pairs in [
        vec![("HALOPSA_CLIENT_SECRET", SECRET.to_string())],
        vec![
            ("HALOPSA_CLIENT_SECRET", SECRET.to_string()),
            ("HALOPSA_API_URL", SECRET.to_string()),
        ],
        vec![
            ("HALOPSA_CLIENT_SECRET", SECRET.to_string()),
            ("HALOPSA_API_URL", format!("http://remote.example/{SECRET}")),
        ],
        vec![
            ("HALOPSA_CLIENT_SECRET", SECRET.to_string()),
            (
                "HALOPSA_AUTH_URL",
                format!("https://u:{SECRET}@x.example/auth"),
            ),
        ],
    ] {
        let err = ConnectionConfig::from_env(env(pairs)).unwrap_err();
        outputs.push(format!("{err}"));
        outputs.push(format!("{err:?}"));
    }
    let dir = std::env::temp_dir().join(format!(
        "psaflow-halopsa-secret-test-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("conn.toml");
    std::fs::write(
        &file,
        "api_url = \"ftp://x\"\nclient_id = 1\nclient_secret_env = \"MY_SECRET\"\n",
    )
    .unwrap();
    let err = ConnectionConfig::from_file(&file, env(vec![("MY_SECRET", SECRET.to_string())]))
        .unwrap_err();
    outputs.push(format!("{err}"));
    outputs.push(format!("{err:?}"));
    std::fs::remove_dir_all(&dir).unwrap();

    // A client and its options.
    let fake = Fake::start().await;
    let client = client_for(&fake, &clock);
    outputs.push(format!("{client:?}"));
    outputs.push(format!("{:?}", options(&clock)));

    // A token endpoint that quotes the secret back in its refusal.
    *fake.state.token_refusal.lock().unwrap() = Some(Canned::new(
        401,
        &format!(r#"{{"error":"invalid_client","error_description":"bad secret {SECRET}"}}"#),
    ));
    let refused = client.send(get("/Client/1")).await.unwrap();
    assert_eq!(
        fake.state.token_requests.lock().unwrap()[0].form["client_secret"],
        SECRET,
        "the secret was sent"
    );
    assert!(refused.body.contains("***"), "{}", refused.body);
    outputs.push(format!("{refused:?}"));
    *fake.state.token_refusal.lock().unwrap() = None;

    // Successful traffic, retries and 401 refreshes (these log).
    fake.state
        .script_api([Canned::new(429, "").header("Retry-After", "1")]);
    outputs.push(format!("{:?}", client.send(get("/Client/1")).await));
    fake.state.revoke_tokens(0);
    outputs.push(format!("{:?}", client.send(post("/Client", "[]")).await));

    // Transport errors of every kind.
    let port = support::dead_port().await;
    let dead = HaloClient::new(
        config(
            &format!("http://127.0.0.1:{port}/api"),
            &format!("http://127.0.0.1:{port}/auth"),
        ),
        options(&clock),
    )
    .unwrap();
    let err = dead.send(get("/Client/1")).await.unwrap_err();
    outputs.push(format!("{err}"));
    outputs.push(format!("{err:?}"));
    *fake.state.token_delay.lock().unwrap() = Duration::from_secs(30);
    let slow = HaloClient::new(
        config(&fake.api_url(), &fake.auth_url()),
        ClientOptions {
            request_timeout: Duration::from_millis(200),
            ..options(&clock)
        },
    )
    .unwrap();
    let err = slow.send(get("/Client/1")).await.unwrap_err();
    assert!(matches!(err, TransportError::Timeout(_)));
    outputs.push(format!("{err} {err:?}"));
    let err = client.send(get("/../x")).await.unwrap_err();
    outputs.push(format!("{err} {err:?}"));

    let logs = captured.text();
    assert!(
        logs.contains("refreshing it"),
        "the log capture saw nothing: {logs}"
    );
    outputs.push(logs);
    for (i, out) in outputs.iter().enumerate() {
        assert!(
            !out.contains(SECRET),
            "output #{i} contains the secret: {out}"
        );
    }
}

#[tokio::test]
async fn a_rate_limit_paces_api_requests_but_not_token_requests() {
    let fake = Fake::start().await;
    let clock = Arc::new(VirtualClock::new());
    let mut config = config(&fake.api_url(), &fake.auth_url());
    config.rate_limit = Some("3/10s".parse().unwrap());
    let client = HaloClient::new(config, options(&clock)).unwrap();
    for id in 1..=7 {
        let response = client.send(get(&format!("/Client/{id}"))).await.unwrap();
        assert_eq!(response.status, 200, "{}", response.body);
    }
    assert_eq!(fake.state.api_calls().len(), 7);
    assert_eq!(fake.state.token_calls(), 1);
    // Three at once, three after one span, the seventh after two (plus the jitter margin).
    let waited: std::time::Duration = clock.sleeps().iter().sum();
    assert!(waited >= std::time::Duration::from_secs(20), "{waited:?}");
    assert!(waited < std::time::Duration::from_secs(21), "{waited:?}");
}

#[tokio::test]
async fn a_429_shrinks_the_budget_and_its_retry_after_holds_every_request() {
    let fake = Fake::start().await;
    let clock = Arc::new(VirtualClock::new());
    let mut config = config(&fake.api_url(), &fake.auth_url());
    config.rate_limit = Some("8/1s".parse().unwrap());
    let client = HaloClient::new(config, options(&clock)).unwrap();
    fake.state
        .script_api([Canned::new(429, r#"{"message":"slow down"}"#).header("Retry-After", "7")]);
    let response = client.send(get("/Client/1")).await.unwrap();
    assert_eq!(response.status, 200, "retried after the 429: {}", response.body);
    let budget = client.budget().expect("a rate limit gives a budget");
    // Halved by the 429, then one success added back.
    assert_eq!(budget.current_requests(), 5);
    assert!(
        clock.elapsed() >= std::time::Duration::from_secs(7),
        "Retry-After honoured: {:?}",
        clock.elapsed()
    );
}
