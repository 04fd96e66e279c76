//! Fidelity: the unmodified PyPI client `connectpyse` (pinned) works against the sandbox, so
//! the sandbox answers the way real ConnectWise clients expect, not only the way psaflow asks.
//!
//! Needs python3 with pip and access to a package index; when either is missing the test says
//! so and passes without checking, except where PSAFLOW_REQUIRE_FIDELITY is set (.ci/run sets
//! it and makes sure python3 and pip are there).

use psaflow_connectwise_sandbox::{Sandbox, SandboxOptions};
use std::path::PathBuf;
use std::process::Command;

const PACKAGE: &str = "connectpyse==0.8.1";

/// Installs the client into a folder of its own; `Err` says why it could not be.
fn install() -> Result<PathBuf, String> {
    let version = Command::new("python3").arg("--version").output();
    if !version.is_ok_and(|o| o.status.success()) {
        return Err("python3 is not available".into());
    }
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("connectpyse-0.8.1");
    if target.join("connectpyse").is_dir() {
        return Ok(target);
    }
    let output = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(&target)
        .arg(PACKAGE)
        .output()
        .map_err(|e| format!("pip could not be run: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "pip could not install {PACKAGE}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectpyse_works_against_the_sandbox_unchanged() {
    let site = match install() {
        Ok(site) => site,
        // CI sets PSAFLOW_REQUIRE_FIDELITY, so there a missing client is a failure, not a skip.
        Err(reason) if std::env::var_os("PSAFLOW_REQUIRE_FIDELITY").is_some() => {
            panic!("the connectpyse fidelity test must run here: {reason}")
        }
        Err(reason) => {
            eprintln!("SKIPPED connectpyse fidelity test: {reason}");
            return;
        }
    };
    let sandbox = Sandbox::start(SandboxOptions::default()).await.unwrap();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fidelity/drive_connectpyse.py");
    let mut command = Command::new("python3");
    command
        .arg(&script)
        .env("PYTHONPATH", &site)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("CW_URL", sandbox.api_url())
        .env("CW_COMPANY", sandbox.company_id())
        .env("CW_PUBLIC", sandbox.public_key())
        .env("CW_PRIVATE", sandbox.private_key())
        .env("CW_CLIENT_ID", sandbox.client_id());
    // Blocking is fine off the runtime's threads; the sandbox keeps serving on them.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim_end().ends_with("all checks passed"),
        "connectpyse failed against the sandbox\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    // The client really went through the sandbox.
    let requests = sandbox.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.method == "PATCH" && r.path.contains("/service/tickets/1"))
    );
    assert!(requests.iter().filter(|r| r.method == "POST").count() >= 2);
}
