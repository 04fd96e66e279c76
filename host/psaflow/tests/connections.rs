//! HaloPSA and ConnectWise connections are independent: a command reads, requires, starts and
//! reports only the connectors it uses (invoke: the node's; run, plan and apply: the workflow's
//! nodes'), and a connection setting it cannot use is bad usage (exit 2), never a failed node
//! (exit 1).

mod common;

use common::{SandboxProcess, text, tmp};
use serde_json::Value;
use std::process::{Command, Output};

/// `psaflow sandbox` playing the tenants; `prefix` picks whose variables a command gets.
fn tenant_env(sandbox: &SandboxProcess, prefix: &str) -> Vec<(String, String)> {
    sandbox
        .env
        .iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .cloned()
        .collect()
}

fn output(mut cmd: Command, args: &[&str]) -> Output {
    cmd.args(args).output().expect("psaflow runs")
}

fn with_env(env: &[(String, String)], extra: &[(&str, &str)]) -> Command {
    let mut cmd = common::psaflow();
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd.envs(extra.iter().copied());
    cmd
}

const CW_GET: [&str; 4] = ["invoke", "connectwise.member.get", "--with", "Id=1"];
const HALO_GET: [&str; 4] = ["invoke", "halopsa.client.get", "--with", "Id=1"];
/// A run of a workflow that uses both connectors.
const LEAVER: [&str; 10] = [
    "run",
    "examples/two-psa-leaver.yaml",
    "--input",
    "halo_email=sam.carter@msp.example",
    "--input",
    "halo_successor_email=priya.natarajan@msp.example",
    "--input",
    "cw_identifier=jdoe",
    "--input",
    "cw_successor_identifier=asmith",
];

/// A one-step workflow that uses only ConnectWise.
fn connectwise_only_workflow() -> String {
    let path = tmp("connections-cw-only.yaml");
    std::fs::write(
        &path,
        "name: cw-only\nsteps:\n  - id: member\n    node: connectwise.member.get\n    with:\n      Id: 1\n",
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn no_sandbox_refuses_only_the_connectors_a_command_uses_that_have_no_tenant() {
    let sandbox = SandboxProcess::start(&[]);
    let cw = tenant_env(&sandbox, "CONNECTWISE_");
    let no_sandbox = [("PSAFLOW_NO_SANDBOX", "1")];

    // A ConnectWise-only CI job: no HALOPSA_* at all.
    let out = output(with_env(&cw, &no_sandbox), &CW_GET);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let envelope: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(envelope["backend"], "tenant");
    let wf = connectwise_only_workflow();
    let out = output(with_env(&cw, &no_sandbox), &["run", &wf]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Plan and apply the same job: they too need only its connector.
    let plan = tmp("connections-cw-only.plan.json").display().to_string();
    let out = output(with_env(&cw, &no_sandbox), &["plan", &wf, "--out", &plan]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = output(with_env(&cw, &no_sandbox), &["apply", &plan, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["backend"], "tenant", "{report}");

    // A HaloPSA node, or a workflow with one, is still refused.
    for args in [&HALO_GET[..], &LEAVER] {
        let out = output(with_env(&cw, &no_sandbox), args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("no tenant configured: set the HALOPSA_*"),
            "{stderr}"
        );
        assert!(!stderr.contains("CONNECTWISE_* variables"), "{stderr}");
    }
    // And the reverse: no ConnectWise tenant for a ConnectWise node.
    let halo = tenant_env(&sandbox, "HALOPSA_");
    let out = output(with_env(&halo, &no_sandbox), &CW_GET);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no ConnectWise tenant configured"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing ran: {}", text(&out.stdout));
    let out = output(with_env(&halo, &no_sandbox), &HALO_GET);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn a_connector_a_command_does_not_use_is_neither_read_nor_started() {
    let sandbox = SandboxProcess::start(&[]);
    // An incomplete HaloPSA configuration does not stop a ConnectWise node...
    let mut cw = tenant_env(&sandbox, "CONNECTWISE_");
    cw.push((
        "HALOPSA_API_URL".into(),
        "https://acme.halopsa.com/api".into(),
    ));
    let out = output(with_env(&cw, &[]), &CW_GET);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // ...but stops a HaloPSA node, as bad usage.
    let out = output(with_env(&cw, &[]), &HALO_GET);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("HALOPSA_CLIENT_ID"), "{stderr}");

    // An incomplete ConnectWise configuration does not stop a HaloPSA node...
    let mut halo = tenant_env(&sandbox, "HALOPSA_");
    halo.extend(
        tenant_env(&sandbox, "CONNECTWISE_")
            .into_iter()
            .filter(|(name, _)| name != "CONNECTWISE_CLIENT_ID"),
    );
    let out = output(with_env(&halo, &[]), &HALO_GET);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // ...but stops a ConnectWise node and a workflow with one, as bad usage.
    for args in [&CW_GET[..], &LEAVER] {
        let out = output(with_env(&halo, &[]), args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("CONNECTWISE_CLIENT_ID: is not set"),
            "{stderr}"
        );
    }

    // On the sandboxes, a ConnectWise node starts (and announces) only ConnectWise's.
    let out = output(common::psaflow(), &CW_GET);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("embedded ConnectWise sandbox"), "{stderr}");
    assert!(!stderr.contains("HaloPSA"), "{stderr}");
}

#[test]
fn a_run_or_invoke_that_reached_a_tenant_is_not_reported_as_the_sandbox() {
    let sandbox = SandboxProcess::start(&[]);
    // A real ConnectWise tenant, no HaloPSA one: the HaloPSA steps use the sandbox.
    let cw = tenant_env(&sandbox, "CONNECTWISE_");
    let out = output(with_env(&cw, &[]), &CW_GET);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let envelope: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(envelope["backend"], "tenant");

    let state = tmp("connections-mixed-state");
    let _ = std::fs::remove_dir_all(&state);
    let mut cmd = with_env(&cw, &[]);
    cmd.env("PSAFLOW_STATE_DIR", &state);
    let out = output(cmd, &[&LEAVER[..], &["--json"]].concat());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["backend"], "tenant");
    assert_eq!(
        report["backends"],
        serde_json::json!({"halopsa": "sandbox", "connectwise": "tenant"})
    );
    let first = stderr
        .lines()
        .find(|l| l.starts_with("Run "))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        first.contains("on the tenant (connectwise) and the embedded SANDBOX (halopsa, fake data)"),
        "{first}"
    );
    // The run store records the tenant it reached, not "sandbox".
    let out = output(
        common::psaflow(),
        &["runs", "list", "--json", "--state", state.to_str().unwrap()],
    );
    let listed = text(&out.stdout);
    assert!(
        listed.contains("ConnectWise PSA at http://127.0.0.1:"),
        "{listed}"
    );
    // runs show --json says `backend` as the run report does, the tenant apart.
    let id = report["id"].as_str().unwrap_or_else(|| panic!("{report}"));
    let out = output(
        common::psaflow(),
        &["runs", "show", id, "--json", "--state", state.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["backend"], "tenant", "{shown}");
    assert_eq!(shown["backends"], report["backends"], "{shown}");
    assert!(
        shown["backend_description"]
            .as_str()
            .is_some_and(|d| d.starts_with("ConnectWise PSA at http://127.0.0.1:")),
        "{shown}"
    );
    // The list says it the same way.
    let out = output(
        common::psaflow(),
        &["runs", "list", "--json", "--state", state.to_str().unwrap()],
    );
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = listed
        .as_array()
        .and_then(|runs| runs.iter().find(|r| r["id"] == id))
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(row["backend"], "tenant", "{row}");
    assert_eq!(row["backend_description"], shown["backend_description"], "{row}");
}

#[test]
fn a_connection_setting_that_cannot_be_used_exits_2() {
    let sandbox = SandboxProcess::start(&[]);
    let cw = tenant_env(&sandbox, "CONNECTWISE_");
    let bad_cw = |name: &str, value: &str| {
        let mut env: Vec<(String, String)> =
            cw.iter().filter(|(n, _)| n != name).cloned().collect();
        if !value.is_empty() {
            env.push((name.to_string(), value.to_string()));
        }
        env
    };
    let none: Vec<(String, String)> = Vec::new();
    for (env, args, named) in [
        // The HaloPSA sandbox is paced by HALOPSA_RATE_LIMIT, so a bad one is refused.
        (
            vec![("HALOPSA_RATE_LIMIT".to_string(), "abc".to_string())],
            &HALO_GET,
            "HALOPSA_RATE_LIMIT",
        ),
        (
            bad_cw("CONNECTWISE_RATE_LIMIT", "abc"),
            &CW_GET,
            "CONNECTWISE_RATE_LIMIT",
        ),
        (
            bad_cw(
                "CONNECTWISE_API_URL",
                "http://cw.example.com/v4_6_release/apis/3.0",
            ),
            &CW_GET,
            "plain http",
        ),
        (
            bad_cw("CONNECTWISE_API_URL", "https://cw.example.com/v4_6_release"),
            &CW_GET,
            "ending in /apis/3.0",
        ),
        (
            bad_cw("CONNECTWISE_CLIENT_ID", ""),
            &CW_GET,
            "CONNECTWISE_CLIENT_ID",
        ),
        // So is the ConnectWise sandbox by CONNECTWISE_RATE_LIMIT.
        (
            vec![("CONNECTWISE_RATE_LIMIT".to_string(), "abc".to_string())],
            &CW_GET,
            "CONNECTWISE_RATE_LIMIT",
        ),
    ] {
        let out = output(with_env(&env, &[]), args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{env:?}: {stderr}");
        assert!(stderr.contains(named), "{named}: {stderr}");
        if named.ends_with("RATE_LIMIT") {
            assert!(stderr.contains("or off"), "{stderr}");
        }
        assert!(out.stdout.is_empty(), "nothing ran: {}", text(&out.stdout));
    }
    // A good CONNECTWISE_RATE_LIMIT is the ConnectWise sandbox's request budget.
    let mut cmd = with_env(&none, &[("CONNECTWISE_RATE_LIMIT", "1/400ms")]);
    cmd.args(["run", &paced_workflow(), "--dry-run"]);
    let out = cmd.output().unwrap();
    let plan = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(plan.contains("connectwise: 3 node calls"), "{plan}");
    assert!(
        plan.contains("the request budget of 1/400ms allows them"),
        "{plan}"
    );
}

/// Three ConnectWise reads.
fn paced_workflow() -> String {
    let path = tmp("connections-cw-paced.yaml");
    let step = |id: u32| {
        format!("  - id: m{id}\n    node: connectwise.member.get\n    with:\n      Id: 1\n")
    };
    std::fs::write(
        &path,
        format!("name: cw-paced\nsteps:\n{}{}{}", step(1), step(2), step(3)),
    )
    .unwrap();
    path.display().to_string()
}
