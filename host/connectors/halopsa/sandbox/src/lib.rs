//! An embedded, stateful, HaloPSA-compatible HTTP server on loopback.
//!
//! psaflow uses it when no tenant is configured, and every integration test talks to it. It speaks
//! real HTTP and real OAuth2 client_credentials, and it reproduces the quirks integrations trip
//! over: case-insensitive paths, `pageinate` paging with the 100-per-page cap, ids returned as
//! decimals, the ticket-approval 400, soft-deleted tickets, priorities listed with a GUID `id` and
//! their number in `priorityid`, ticket actions (notes) that need an existing ticket and an
//! outcome and are listed one ticket at a time. [`Faults`] switches on transport and
//! server failures (latency, status codes, expired tokens, dropped connections, the delete-user
//! 500) so that retry and error paths can be exercised deterministically.
//!
//! ```no_run
//! # async fn demo() -> Result<(), psaflow_halopsa_sandbox::SandboxError> {
//! use psaflow_halopsa_sandbox::{Entity, Sandbox, SandboxOptions};
//! let sandbox = Sandbox::start(SandboxOptions::default()).await?;
//! println!("token URL: {}/token", sandbox.auth_url());
//! assert!(!sandbox.records(Entity::Client).is_empty());
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

mod auth;
mod clock;
mod faults;
mod latency;
mod minimum;
mod model;
mod ops;
mod rules;
mod seed;
mod server;
mod state;
mod store;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{AgentQuirk, Faults, RandomFaults, UserDeleteQuirk};
pub use minimum::{Minimum, Pending, fewest_pages};
pub use model::Entity;

/// How long [`Sandbox::shutdown`] lets in-flight requests finish before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Settings for [`Sandbox::start`].
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Port to bind on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The only client_id the token endpoint accepts.
    pub client_id: String,
    /// The secret that goes with `client_id`.
    pub client_secret: String,
    /// A hosted tenant name. When set, token requests naming a different tenant are refused and
    /// `/api/authinfo` reports it; when unset the server behaves like an on-premise install and
    /// ignores whatever tenant a client sends.
    pub tenant: Option<String>,
    /// Lifetime of issued access tokens (reported as `expires_in`).
    pub token_ttl: Duration,
    /// Load the demo MSP (clients, sites, users, tickets, agents, teams). Lookups every Halo
    /// instance has (ticket types, statuses, priorities, the API agent) are loaded regardless.
    pub seed: bool,
    /// Keep the data in this file across restarts: read at start when it exists (instead of
    /// seeding), rewritten after every change (atomically: a temporary file renamed over it).
    pub state_file: Option<std::path::PathBuf>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            port: 0,
            client_id: "psaflow-sandbox".to_owned(),
            client_secret: "sandbox-secret".to_owned(),
            tenant: None,
            token_ttl: Duration::from_secs(3600),
            seed: true,
            state_file: None,
        }
    }
}

/// Why the sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The loopback port could not be bound (already in use, or not permitted).
    // The cause is the source, not in this text: `{:#}` prints the chain, so it would show twice.
    #[error("cannot listen on 127.0.0.1:{port}")]
    Bind {
        /// The port asked for.
        port: u16,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The state file could not be read or written.
    #[error("sandbox state file {path}: {message}")]
    State {
        /// The state file.
        path: String,
        /// What went wrong with it.
        message: String,
    },
}

/// One request as the sandbox saw it, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method, upper case.
    pub method: String,
    /// The path exactly as sent (original case).
    pub path: String,
    /// The raw query string without `?`; empty when there was none.
    pub query: String,
    /// Whether an `Authorization` header was present (valid or not).
    pub had_auth: bool,
    /// The status answered; 0 when the connection was dropped without a response.
    pub status: u16,
    /// The request body of `/api` calls as text; `None` for token requests, whose bodies carry
    /// the client secret, and for empty bodies.
    pub body: Option<String>,
}

/// State shared between the handle and the serving task.
pub(crate) struct Shared {
    pub(crate) store: Mutex<store::Store>,
    pub(crate) tokens: Mutex<auth::Tokens>,
    pub(crate) faults: Faults,
    /// Times the latency fault's wait (see `latency.rs`).
    pub(crate) latency_clock: latency::LatencyClock,
    /// The latest requests, oldest first, at most [`REQUEST_LOG_CAPACITY`].
    pub(crate) log: Mutex<VecDeque<RecordedRequest>>,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) tenant: Option<String>,
    pub(crate) token_ttl: Duration,
    pub(crate) base_url: String,
    /// Set once the server is stopped, so that a keep-alive connection that outlived the
    /// listener cannot still reach the data.
    pub(crate) stopped: AtomicBool,
    /// Where the data is kept across restarts (`psaflow sandbox --state FILE`).
    pub(crate) state_file: Option<std::path::PathBuf>,
}

/// How many requests the sandbox remembers: a long-running sandbox (`psaflow sandbox`, a
/// soak) keeps the latest ones and forgets the oldest, so its memory stays bounded.
pub const REQUEST_LOG_CAPACITY: usize = 10_000;

impl Shared {
    /// Saves the data to the state file, if there is one. Called after every change; a failure
    /// is reported on stderr and the sandbox goes on (the data is still served from memory).
    pub(crate) fn persist(&self) {
        if let Some(path) = &self.state_file {
            let store = lock(&self.store);
            if let Err(err) = state::save(path, &store) {
                eprintln!("psaflow sandbox: {err}");
            }
        }
    }

    /// Remembers a request, forgetting the oldest beyond [`REQUEST_LOG_CAPACITY`].
    pub(crate) fn record(&self, request: RecordedRequest) {
        push_bounded(&mut lock(&self.log), request, REQUEST_LOG_CAPACITY);
    }
}

fn push_bounded<T>(log: &mut VecDeque<T>, item: T, capacity: usize) {
    while log.len() >= capacity.max(1) {
        log.pop_front();
    }
    log.push_back(item);
}

#[cfg(test)]
mod log_tests {
    use super::*;

    #[test]
    fn the_request_log_keeps_the_latest_entries() {
        let mut log = VecDeque::new();
        for i in 0..10 {
            push_bounded(&mut log, i, 3);
        }
        assert_eq!(log.into_iter().collect::<Vec<_>>(), vec![7, 8, 9]);
    }
}

/// Locks a mutex, ignoring poisoning: a dropped-connection fault unwinds through handlers on
/// purpose, and the data behind every lock is left consistent at each unlock.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running sandbox. Dropping it stops the listener too; [`Sandbox::shutdown`] also waits for
/// in-flight requests.
pub struct Sandbox {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Alias for code that prefers to call the running server a handle.
pub type SandboxHandle = Sandbox;

impl Sandbox {
    /// Binds 127.0.0.1:`opts.port` and serves on a task of the current tokio runtime.
    pub async fn start(opts: SandboxOptions) -> Result<Sandbox, SandboxError> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, opts.port))
            .await
            .map_err(|source| SandboxError::Bind {
                port: opts.port,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            port: opts.port,
            source,
        })?;
        let base_url = format!("http://{addr}");

        let store = match &opts.state_file {
            Some(path) if path.exists() => state::load(path)?,
            _ => {
                let mut store = store::Store::default();
                seed::load(&mut store, opts.seed);
                if let Some(path) = &opts.state_file {
                    state::save(path, &store)?;
                }
                store
            }
        };
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            tokens: Mutex::new(auth::Tokens::default()),
            faults: Faults::default(),
            latency_clock: Default::default(),
            log: Mutex::new(VecDeque::new()),
            client_id: opts.client_id,
            client_secret: opts.client_secret,
            tenant: opts.tenant,
            token_ttl: opts.token_ttl,
            base_url,
            stopped: AtomicBool::new(false),
            state_file: opts.state_file,
        });

        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let app = server::router(shared.clone());
        let task = tokio::spawn(async move {
            let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            });
            // An accept error here means the listener itself broke; nothing can be served then.
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

    /// The resource server: `base_url() + "/api"`.
    pub fn api_url(&self) -> String {
        format!("{}/api", self.shared.base_url)
    }

    /// The authorisation server: `base_url() + "/auth"`; the token URL is this + `/token`.
    pub fn auth_url(&self) -> String {
        format!("{}/auth", self.shared.base_url)
    }

    /// The socket address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OAuth client id the sandbox accepts (what `HALOPSA_CLIENT_ID` must hold).
    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    /// The client secret the sandbox accepts.
    pub fn client_secret(&self) -> &str {
        &self.shared.client_secret
    }

    /// The tenant given in the options, if any.
    pub fn tenant(&self) -> Option<&str> {
        self.shared.tenant.as_deref()
    }

    /// Switchable faults; see [`Faults`].
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// The requests received so far, in order, including token requests and faulted ones: the
    /// latest [`REQUEST_LOG_CAPACITY`] of them.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.log).iter().cloned().collect()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// The current records of `entity`, ordered by id, as the API would return them (derived
    /// fields included). Soft-deleted tickets are included with `deleted: true`.
    pub fn records(&self, entity: Entity) -> Vec<Value> {
        lock(&self.shared.store).all(entity)
    }

    /// Sets how many named agent licences the tenant has (`None`: unlimited). A create or
    /// reactivation that needs a seat when none is free is answered HTTP 200 with the error in
    /// the body, as Halo's licence check does. The demo data has 10.
    pub fn set_agent_seats(&self, seats: Option<usize>) {
        lock(&self.shared.store).agent_seats = seats;
        self.shared.persist();
    }

    /// Stores a fixture directly, bypassing validation. An id that is missing, 0 or -1 is
    /// assigned; an existing id is replaced. Users' passwords are reduced to `has_password`.
    /// Returns the stored record as the API would return it.
    ///
    /// # Panics
    /// If `record` is not a JSON object.
    pub fn insert(&self, entity: Entity, record: Value) -> Value {
        let Value::Object(map) = record else {
            panic!("Sandbox::insert needs a JSON object for {entity:?}, got {record}");
        };
        let stored = lock(&self.shared.store).insert_fixture(entity, map, &clock::now());
        self.shared.persist();
        stored
    }

    /// Stops serving: new connections are refused, and requests still in flight get up to a
    /// few seconds to finish.
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
        // Aborting drops the listener at once, so a dropped sandbox refuses connections.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Callers keep the sandbox in shared state across tasks.
    #[test]
    fn handle_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Sandbox>();
        assert_send_sync::<Faults>();
    }

    #[test]
    fn defaults_match_the_documented_credentials() {
        let opts = SandboxOptions::default();
        assert_eq!(
            (opts.client_id.as_str(), opts.client_secret.as_str()),
            ("psaflow-sandbox", "sandbox-secret")
        );
        assert_eq!(
            (opts.port, opts.seed, opts.token_ttl),
            (0, true, Duration::from_secs(3600))
        );
        assert_eq!(opts.tenant, None);
    }
}
