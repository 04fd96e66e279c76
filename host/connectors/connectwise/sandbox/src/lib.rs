//! An embedded, stateful, ConnectWise PSA-compatible HTTP server on loopback.
//!
//! psaflow uses it when no ConnectWise tenant is configured, and the ConnectWise tests talk to
//! it. It serves the REST base `/v4_6_release/apis/3.0` with ConnectWise's rules: Basic
//! `companyId+publicKey:privateKey` and the `clientId` header on every call; `conditions`
//! parsed for real ([`conditions`]); `page`/`pageSize` (at most 1000) with `Link` headers;
//! members created with their required fields and a unique identifier, patched with JSON
//! Patch, never deleted (DELETE is 405); tickets listed and patched; the lookups a member
//! needs. Errors have ConnectWise's shape, `{code, message, errors: [{code, message,
//! resource, field}]}`. [`Faults`] switches on latency, 429s with `Retry-After`, and
//! connections dropped before or after a change is committed.
//!
//! ```no_run
//! # async fn demo() -> Result<(), psaflow_connectwise_sandbox::SandboxError> {
//! use psaflow_connectwise_sandbox::{Entity, Sandbox, SandboxOptions};
//! let sandbox = Sandbox::start(SandboxOptions::default()).await?;
//! println!("CONNECTWISE_API_URL={}", sandbox.api_url());
//! assert!(!sandbox.records(Entity::Member).is_empty());
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

mod clock;
pub mod conditions;
mod errors;
mod faults;
mod members;
pub mod minimum;
mod patch;
mod seed;
mod server;
mod store;
mod tickets;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::Faults;
pub use store::{DEFAULT_PAGE_SIZE, Entity, MAX_PAGE_SIZE};

const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Settings for [`Sandbox::start`]. The credentials are the only ones the server accepts.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Port to bind on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The company id half of the Basic user name (`company+publicKey`).
    pub company_id: String,
    /// The API member's public key (the other half of the user name).
    pub public_key: String,
    /// The API member's private key (the Basic password).
    pub private_key: String,
    /// The integration's `clientId`, required as a header on every API call.
    pub client_id: String,
    /// Load the demo MSP (members and tickets). Lookups and the API member load regardless.
    pub seed: bool,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            port: 0,
            company_id: "psaflow".to_owned(),
            public_key: "sandbox-public".to_owned(),
            private_key: "sandbox-private".to_owned(),
            client_id: "00000000-0000-4000-8000-0000000c11e7".to_owned(),
            seed: true,
        }
    }
}

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    // The cause is the source, not in this text: `{:#}` prints the chain, so it would show twice.
    #[error("cannot listen on 127.0.0.1:{port}")]
    /// The port could not be bound.
    Bind {
        /// The port asked for.
        port: u16,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
}

/// One request as the sandbox saw it, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The HTTP method, upper case.
    pub method: String,
    /// The path as sent (original case).
    pub path: String,
    /// The raw query string without `?`.
    pub query: String,
    /// The `Accept` header, which should pin the API version.
    pub accept: Option<String>,
    /// The `clientId` header.
    pub client_id: Option<String>,
    /// Whether the Basic credentials were right.
    pub authenticated: bool,
    /// The status answered; 0 when the connection was dropped instead.
    pub status: u16,
    /// The request body, when it had one.
    pub body: Option<String>,
}

pub(crate) struct Shared {
    pub(crate) store: Mutex<store::Store>,
    pub(crate) faults: Faults,
    pub(crate) log: Mutex<Vec<RecordedRequest>>,
    pub(crate) company_id: String,
    pub(crate) public_key: String,
    pub(crate) private_key: String,
    pub(crate) client_id: String,
    pub(crate) base_url: String,
    pub(crate) stopped: AtomicBool,
}

/// Locks ignoring poisoning: a dropped-connection fault unwinds through handlers on purpose,
/// and every lock is released with its data consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running sandbox. Dropping it stops the listener; [`Sandbox::shutdown`] also waits for
/// requests in flight.
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Binds 127.0.0.1:`opts.port` and serves on a task of the current tokio runtime.
    pub async fn start(opts: SandboxOptions) -> Result<Sandbox, SandboxError> {
        let bind_error = |source| SandboxError::Bind {
            port: opts.port,
            source,
        };
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, opts.port))
            .await
            .map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let mut store = store::Store::default();
        seed::load(&mut store, opts.seed);
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            faults: Faults::default(),
            log: Mutex::new(Vec::new()),
            company_id: opts.company_id,
            public_key: opts.public_key,
            private_key: opts.private_key,
            client_id: opts.client_id,
            base_url: format!("http://{addr}"),
            stopped: AtomicBool::new(false),
        });
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let app = server::router(shared.clone());
        let task = tokio::spawn(async move {
            let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            });
            let _ = serving.await;
        });
        Ok(Sandbox {
            shared,
            addr,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The REST base, what `CONNECTWISE_API_URL` holds: `base_url()/v4_6_release/apis/3.0`.
    pub fn api_url(&self) -> String {
        format!("{}{}", self.shared.base_url, server::API_BASE)
    }

    /// The address the server listens on (127.0.0.1 and the bound port).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The company id the server accepts (what `CONNECTWISE_COMPANY_ID` must hold).
    pub fn company_id(&self) -> &str {
        &self.shared.company_id
    }

    /// The public key the server accepts.
    pub fn public_key(&self) -> &str {
        &self.shared.public_key
    }

    /// The private key the server accepts.
    pub fn private_key(&self) -> &str {
        &self.shared.private_key
    }

    /// The `clientId` header value the server requires.
    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    /// The faults to inject into coming requests (tests arm them here).
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Every request received so far, in order, faulted ones included.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.log).clone()
    }

    /// Forgets the requests recorded so far, so a test counts only what follows.
    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// The current records of `entity`, ordered by id, as the API returns them.
    pub fn records(&self, entity: Entity) -> Vec<Value> {
        lock(&self.shared.store).all(entity)
    }

    /// Stores a fixture directly, bypassing validation (for tests that need, say, 1500
    /// members). References given as `{"id": n}` are expanded, flags defaulted; a missing id
    /// is assigned. Returns the stored record.
    ///
    /// # Panics
    /// If `record` is not a JSON object.
    pub fn insert(&self, entity: Entity, record: Value) -> Value {
        let Value::Object(map) = record else {
            panic!("Sandbox::insert needs a JSON object for {entity:?}, got {record}");
        };
        let now = clock::now();
        let mut store = lock(&self.shared.store);
        let map = match entity {
            Entity::Member => members::fixture(&store, map, &now),
            Entity::Ticket => tickets::fixture(&store, map, &now),
            _ => map,
        };
        let id = store.put(entity, map);
        Value::Object(store.get(entity, id).cloned().unwrap_or_default())
    }

    /// Stops serving; requests in flight get a few seconds to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
        {
            task.abort();
            let _ = task.await;
        }
        self.shared.stopped.store(true, Ordering::SeqCst);
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
