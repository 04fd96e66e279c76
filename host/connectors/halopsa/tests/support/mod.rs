//! A tiny scripted HaloPSA for the transport tests: a token endpoint and `/api/*`, both on
//! loopback, plus helpers for servers that drop connections or are not there at all.

#![allow(dead_code)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A canned answer: status, extra headers, body.
#[derive(Clone, Debug)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Canned {
    pub fn new(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: vec![],
            body: body.to_owned(),
        }
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
    fn into_response(self) -> Response {
        let mut response = (StatusCode::from_u16(self.status).unwrap(), self.body).into_response();
        for (k, v) in self.headers {
            response.headers_mut().insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                axum::http::HeaderValue::from_str(&v).unwrap(),
            );
        }
        response
    }
}

/// One request the fake API saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub accept: Option<String>,
    pub body: String,
}

/// One request the fake token endpoint saw.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    pub path: String,
    pub query: Option<String>,
    pub content_type: Option<String>,
    pub form: HashMap<String, String>,
}

#[derive(Default)]
pub struct FakeState {
    pub token_requests: Mutex<Vec<TokenRequest>>,
    /// Answers the token endpoint gives before it starts issuing tokens.
    pub token_script: Mutex<VecDeque<Canned>>,
    /// When set, every token request is refused with this answer.
    pub token_refusal: Mutex<Option<Canned>>,
    /// Real delay before the token endpoint answers.
    pub token_delay: Mutex<Duration>,
    /// `expires_in` of issued tokens.
    pub token_lifetime: Mutex<u64>,
    issued: AtomicUsize,
    /// Tokens numbered below this are refused by the API with 401.
    pub min_valid_token: AtomicUsize,
    pub api_seen: Mutex<Vec<Seen>>,
    /// Answers the API gives (in order) to authorised requests before the default 200.
    pub api_script: Mutex<VecDeque<Canned>>,
    /// Real delay before the API answers.
    pub api_delay: Mutex<Duration>,
}

impl FakeState {
    pub fn token_calls(&self) -> usize {
        self.token_requests.lock().unwrap().len()
    }
    pub fn api_calls(&self) -> Vec<Seen> {
        self.api_seen.lock().unwrap().clone()
    }
    pub fn script_api(&self, answers: impl IntoIterator<Item = Canned>) {
        self.api_script.lock().unwrap().extend(answers);
    }
    pub fn script_token(&self, answers: impl IntoIterator<Item = Canned>) {
        self.token_script.lock().unwrap().extend(answers);
    }
    /// Makes the API refuse every token issued so far (and `extra` more).
    pub fn revoke_tokens(&self, extra: usize) {
        let issued = self.issued.load(Ordering::SeqCst);
        self.min_valid_token
            .store(issued + 1 + extra, Ordering::SeqCst);
    }
}

pub struct Fake {
    pub addr: SocketAddr,
    pub state: Arc<FakeState>,
    task: JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Fake {
    pub async fn start() -> Self {
        let state = Arc::new(FakeState {
            token_lifetime: Mutex::new(3600),
            ..Default::default()
        });
        let app = Router::new()
            .route("/auth/token", post(token))
            .route("/token", post(token))
            .route("/api/{*rest}", any(api))
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, state, task }
    }

    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }
    pub fn auth_url(&self) -> String {
        format!("http://{}/auth", self.addr)
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn token(
    State(state): State<Arc<FakeState>>,
    uri: Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    state.token_requests.lock().unwrap().push(TokenRequest {
        path: uri.path().to_owned(),
        query,
        content_type: header(&headers, "content-type"),
        form: form.clone(),
    });
    let delay = *state.token_delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(canned) = state.token_script.lock().unwrap().pop_front() {
        return canned.into_response();
    }
    if let Some(refusal) = state.token_refusal.lock().unwrap().clone() {
        return refusal.into_response();
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return Canned::new(400, r#"{"error":"unsupported_grant_type"}"#).into_response();
    }
    let n = state.issued.fetch_add(1, Ordering::SeqCst) + 1;
    let lifetime = *state.token_lifetime.lock().unwrap();
    let body = serde_json::json!({
        "access_token": format!("tok-{n}"),
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": form.get("scope"),
    });
    Canned::new(200, &body.to_string())
        .header("content-type", "application/json")
        .into_response()
}

async fn api(
    State(state): State<Arc<FakeState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorization = header(&headers, "authorization");
    state.api_seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        authorization: authorization.clone(),
        content_type: header(&headers, "content-type"),
        accept: header(&headers, "accept"),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let delay = *state.api_delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let token_number = authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer tok-"))
        .and_then(|n| n.parse::<usize>().ok());
    let valid = token_number.is_some_and(|n| n >= state.min_valid_token.load(Ordering::SeqCst));
    if !valid {
        return Canned::new(401, r#"{"error":"unauthorized"}"#).into_response();
    }
    if let Some(canned) = state.api_script.lock().unwrap().pop_front() {
        return canned.into_response();
    }
    let body = serde_json::json!({ "ok": true, "path": uri.path(), "token": token_number });
    Canned::new(200, &body.to_string())
        .header("content-type", "application/json")
        .into_response()
}

/// A port on loopback with nothing listening.
pub async fn dead_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
    // dropped here: connections are refused from now on
}

/// A server whose first `drops` connections get half a response and are then closed; later
/// connections get a proper 200. Returns its address and the number of connections seen.
pub async fn dropping_server(drops: usize) -> (SocketAddr, Arc<AtomicUsize>, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::spawn(async move {
                // Read the request head (and whatever body arrived with it).
                let mut buf = vec![0u8; 16 * 1024];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => got.extend_from_slice(&buf[..k]),
                    }
                }
                if n <= drops {
                    let _ = socket
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"partial\":")
                        .await;
                    let _ = socket.shutdown().await;
                } else {
                    let body = b"{\"ok\":true}";
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(body).await;
                    let _ = socket.shutdown().await;
                }
            });
        }
    });
    (addr, connections, task)
}

/// Records everything `tracing` emits on the current thread, field by field.
pub mod capture {
    use std::fmt;
    use std::sync::{Arc, Mutex};
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    #[derive(Clone, Default)]
    pub struct Captured(pub Arc<Mutex<String>>);

    impl Captured {
        pub fn text(&self) -> String {
            self.0.lock().unwrap().clone()
        }
    }

    struct Writer<'a>(&'a Captured);

    impl Visit for Writer<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            let mut out = self.0.0.lock().unwrap();
            out.push_str(&format!("{}={:?} ", field.name(), value));
        }
    }

    impl Subscriber for Captured {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, span: &Attributes<'_>) -> Id {
            span.record(&mut Writer(self));
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, values: &Record<'_>) {
            values.record(&mut Writer(self));
        }
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            event.record(&mut Writer(self));
            self.0.lock().unwrap().push('\n');
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
}
