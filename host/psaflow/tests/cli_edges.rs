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

#[test]
fn validate_errors_end_with_one_newline() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("syntax.yaml", "name: x\nsteps: [\n"),
        ("empty.yaml", ""),
        ("no-steps.yaml", "name: x\n"),
        (
            "unknown-node.yaml",
            "name: x\nsteps:\n  - id: a\n    node: nope.x\n",
        ),
    ];
    let mut paths: Vec<_> = files
        .iter()
        .map(|(name, content)| {
            let path = dir.path().join(name);
            std::fs::write(&path, content).unwrap();
            path
        })
        .collect();
    paths.push(dir.path().join("missing.yaml"));
    for path in paths {
        let out = psaflow().arg("validate").arg(&path).output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", path.display());
        assert!(
            stderr.ends_with('\n') && !stderr.ends_with("\n\n"),
            "{}: {stderr:?}",
            path.display()
        );
    }
}

#[test]
fn invoke_hints_name_the_right_node_and_parameter() {
    let out = psaflow()
        .args(["invoke", "halopsa.agent.delete"])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("did you mean halopsa.agent.deactivate?"),
        "{stderr}"
    );

    let out = psaflow()
        .args(["invoke", "halopsa.client.get", "--with", "=1"])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("a parameter name is empty (nothing before '=')"),
        "{stderr}"
    );
    assert!(!stderr.contains("did you mean"), "{stderr}");
}

#[test]
fn a_virtual_memory_limit_is_named_with_how_to_lift_it() {
    // Through a shell: `ulimit -v` is how users meet this, and it needs no unsafe pre_exec.
    let binary = psaflow();
    let mut cmd = std::process::Command::new("sh");
    cmd.current_dir(common::repo())
        .args(["-c", "ulimit -v 4000000 && exec \"$@\"", "sh"])
        .arg(binary.get_program())
        .args(["validate", "examples/client-report.yaml"]);
    for (name, value) in binary.get_envs() {
        match value {
            Some(value) => cmd.env(name, value),
            None => cmd.env_remove(name),
        };
    }
    let out = cmd.output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("address space (not memory"), "{stderr}");
    assert!(stderr.contains("ulimit -v unlimited"), "{stderr}");
}

#[test]
fn a_sandbox_port_in_use_is_said_once() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    for flag in ["--port", "--connectwise-port"] {
        let out = psaflow().args(["sandbox", flag, &port]).output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
            "{stderr}"
        );
        assert_eq!(
            stderr.matches("(os error").count(),
            1,
            "the cause once: {stderr}"
        );
    }
}

#[test]
fn a_zero_worker_lease_or_grace_is_refused_as_zero() {
    for flag in ["--lease", "--grace", "--poll"] {
        let out = psaflow().args(["worker", flag, "0s"]).output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {stderr}");
        assert!(
            stderr.contains("must be longer than zero"),
            "{flag}: {stderr}"
        );
        assert!(!stderr.contains("is not a duration"), "{flag}: {stderr}");
    }
}

#[test]
fn a_duration_flag_without_a_unit_is_refused_and_nothing_is_pruned() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().to_str().unwrap();
    let cases: [&[&str]; 6] = [
        &["runs", "prune", "--older-than", "10", "--state", dir],
        &["audit", "--since", "10", "--state", dir],
        &["worker", "--lease", "10", "--state", dir],
        &["worker", "--grace", "10", "--state", dir],
        &["worker", "--poll", "1", "--state", dir],
        &["serve", "--shutdown-grace", "10", "--state", dir],
    ];
    for args in cases {
        let out = psaflow().args(args).output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("has no unit; add one"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("d (days)"), "{args:?}: {stderr}");
        assert!(!stderr.contains("pruned"), "{args:?}: {stderr}");
    }
}

#[test]
fn an_empty_store_url_is_refused_not_replaced_by_the_default_store() {
    let home = tempfile::tempdir().unwrap();
    let from_flag = psaflow()
        .args(["runs", "list", "--store", ""])
        .env("HOME", home.path())
        .env_remove("PSAFLOW_STATE_DIR")
        .env_remove("XDG_DATA_HOME")
        .output()
        .unwrap();
    let from_env = psaflow()
        .args(["worker"])
        .env("PSAFLOW_DATABASE_URL", "")
        .env("HOME", home.path())
        .env_remove("PSAFLOW_STATE_DIR")
        .env_remove("XDG_DATA_HOME")
        .output()
        .unwrap();
    for out in [from_flag, from_env] {
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("--store / PSAFLOW_DATABASE_URL is empty"),
            "{stderr}"
        );
    }
    // Nothing was opened in the user's data directory.
    assert_eq!(std::fs::read_dir(home.path()).unwrap().count(), 0);
}

#[test]
fn reading_commands_do_not_create_a_run_store_or_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("not-yet");
    let file = dir.path().join("not-either.db");
    let sqlite = format!("sqlite:{}", file.display());
    let state_arg = state.to_str().unwrap();
    let cases: [(&[&str], Option<i32>, &str); 5] = [
        (
            &["runs", "list", "--state", state_arg],
            Some(0),
            "no runs recorded: there is no run store at",
        ),
        (
            &["runs", "list", "--store", &sqlite],
            Some(0),
            "no runs recorded: there is no run store at",
        ),
        (
            &["runs", "show", "01ABC", "--state", state_arg],
            Some(2),
            "there is no run store at",
        ),
        (
            &["audit", "--state", state_arg],
            Some(0),
            "no changes recorded (there is no run store at",
        ),
        (
            &["runs", "prune", "--older-than", "30d", "--state", state_arg],
            Some(0),
            "pruned 0 run(s): there is no run store at",
        ),
    ];
    for (args, code, says) in cases {
        let out = psaflow().args(args).output().unwrap();
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), code, "{args:?}: {said}");
        assert!(said.contains(says), "{args:?}: {said}");
        assert!(!state.exists(), "{args:?} created {}", state.display());
        assert!(!file.exists(), "{args:?} created {}", file.display());
    }
    let out = psaflow()
        .args(["runs", "list", "--json", "--state", state_arg])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout).trim(), "[]");
    assert!(!state.exists());
}

/// `--input` is checked before anything runs: a name far from every input lists the inputs
/// (no far-fetched "did you mean"), an input given twice and a JSON object naming a key twice
/// are refused instead of keeping the last value silently.
#[test]
fn inputs_given_twice_or_far_from_any_name_are_refused_plainly() {
    let dir = common::tmp("inputs-given-twice");
    std::fs::create_dir_all(&dir).unwrap();
    let wf = dir.join("wf.yaml");
    std::fs::write(
        &wf,
        "name: t\ninputs:\n  n: { type: integer, default: 1 }\n  j: { type: json, required: false }\nsteps:\n  - id: s\n    set:\n      a: ${{ inputs.n }}\n",
    )
    .unwrap();
    std::fs::write(dir.join("dup.json"), "{\"a\": 1,\n \"a\": 2}").unwrap();
    let wf = wf.to_str().unwrap();
    let run = |extra: &[&str]| {
        let out = psaflow()
            .args(["run", wf, "--dry-run"])
            .args(extra)
            .output()
            .unwrap();
        (out.status.code(), text(&out.stderr))
    };
    let (code, err) = run(&["--input", "zz=1"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(!err.contains("did you mean"), "{err}");
    assert!(err.contains("declared inputs: n, j"), "{err}");
    let (code, err) = run(&["--input", "n=1", "--input", "n=2"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--input n is given twice"), "{err}");
    let json = format!("j=@{}", dir.join("dup.json").display());
    let (code, err) = run(&["--input", &json]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("key 'a' appears twice"), "{err}");
    assert!(err.contains(":2:"), "the line of the second key: {err}");
    let (code, err) = run(&["--input", "j={\"a\":1,\"a\":2}"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("key 'a' appears twice"), "{err}");
}
