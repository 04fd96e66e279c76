//! What every test of the `psaflow` command shares: the repository, the real binary in an
//! environment of the test's own making, and `psaflow sandbox` as a process.
//!
//! Each test binary uses a part of this module, so what one leaves unused is not dead code.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

/// The repository root (examples, README, components).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A path under the target directory's scratch folder (never in the user's folders).
pub fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// Output bytes as text, for assertions and failure messages.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The real binary, run from the repository root, seeing none of the test process's
/// HALOPSA_*, CONNECTWISE_* or PSAFLOW_* variables: with nothing added it uses the embedded
/// sandboxes, as a user's first run does.
///
/// Compiled components are cached in one folder for every test binary (compiling them is the
/// slow part of a first run), with the cache's integrity key under the target directory; runs
/// are recorded in a state folder of this test binary's own. A test sets either again to get
/// one of its own.
pub fn psaflow() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_psaflow"));
    cmd.current_dir(repo());
    for (name, _) in std::env::vars() {
        if ["HALOPSA_", "CONNECTWISE_", "PSAFLOW_"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
        {
            cmd.env_remove(name);
        }
    }
    cmd.env("PSAFLOW_CACHE_DIR", tmp("psaflow-test-cache"))
        .env("XDG_CONFIG_HOME", tmp("psaflow-test-config"))
        .env(
            "PSAFLOW_STATE_DIR",
            tmp(&format!("psaflow-state-{}", env!("CARGO_CRATE_NAME"))),
        );
    cmd
}

/// Runs `psaflow args` (see [`psaflow`]) to the end.
pub fn run(args: &[&str]) -> Output {
    psaflow().args(args).output().expect("psaflow runs")
}

/// The variables that make psaflow use `sandbox` as its HaloPSA tenant, the way an operator
/// configures one.
pub fn halopsa_env(sandbox: &psaflow::sandbox::Sandbox) -> Vec<(String, String)> {
    vec![
        ("HALOPSA_API_URL".into(), sandbox.api_url()),
        ("HALOPSA_AUTH_URL".into(), sandbox.auth_url()),
        ("HALOPSA_CLIENT_ID".into(), sandbox.client_id().into()),
        (
            "HALOPSA_CLIENT_SECRET".into(),
            sandbox.client_secret().into(),
        ),
    ]
}

/// `psaflow sandbox` as a process of its own (both PSAs on free ports), killed when dropped,
/// also when a test fails.
pub struct SandboxProcess {
    child: Child,
    /// The `export` lines it printed, as they were printed.
    pub exports: Vec<String>,
    /// The same as (name, value) pairs, to hand to another psaflow process.
    pub env: Vec<(String, String)>,
}

/// `psaflow sandbox` prints four HALOPSA_* and five CONNECTWISE_* variables.
const SANDBOX_VARIABLES: usize = 9;

impl SandboxProcess {
    /// Starts `psaflow sandbox --port 0` with `extra` arguments and reads the variables it
    /// prints; what it prints afterwards is read and dropped, so it never writes into a
    /// closed pipe (which would stop it).
    pub fn start(extra: &[&str]) -> SandboxProcess {
        let mut child = psaflow()
            .args(["sandbox", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("psaflow sandbox starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut exports, mut env) = (Vec::new(), Vec::new());
        while env.len() < SANDBOX_VARIABLES {
            let line = match lines.next() {
                Some(Ok(line)) => line,
                _ => panic!("psaflow sandbox stopped after printing {exports:?}"),
            };
            if let Some((name, value)) = line
                .strip_prefix("export ")
                .and_then(|rest| rest.split_once('='))
            {
                env.push((name.to_string(), value.to_string()));
                exports.push(line);
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        SandboxProcess {
            child,
            exports,
            env,
        }
    }

    /// The value it printed for `name`.
    pub fn var(&self, name: &str) -> &str {
        self.env
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{name} not printed: {:?}", self.exports))
    }

    /// A `psaflow` command (see [`psaflow`]) whose tenants are this sandbox's.
    pub fn psaflow(&self) -> Command {
        let mut cmd = psaflow();
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
