//! The `psaflow` command at its edges: output into a pipe that closes early, and the wording
//! of errors a user meets first (each must say what is wrong and how to fix it).

mod common;

use common::{psaflow, text};
use std::process::Stdio;

/// Runs `psaflow args` with stdout a pipe whose reader is already gone, as in
/// `psaflow args | head -1` once `head` has read its line.
fn run_into_closed_pipe(args: &[&str]) -> std::process::Output {
    let mut child = psaflow()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psaflow starts");
    drop(child.stdout.take());
    child.wait_with_output().expect("psaflow ends")
}

#[test]
fn a_closed_stdout_ends_the_command_quietly_with_141() {
    for args in [
        &["nodes", "--json"][..],
        &["run", "examples/client-report.yaml", "--dry-run", "--json"][..],
    ] {
        let out = run_into_closed_pipe(args);
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("internal error"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
    }
}
