//! Durable runs through the real binary: a run killed (SIGKILL) at many points of a for_each
//! of creates and resumed each time never makes a record twice; approvals exit 4, are listed,
//! decided once, and audited with the approver; pruning keeps the audit trail.
//!
//! The tenant is a long-running `psaflow sandbox` process that outlives every killed run,
//! reached through HALOPSA_* variables exactly as a real tenant would be.

mod common;

use common::{SandboxProcess, text};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// A `psaflow sandbox` process, the tenant of every psaflow process of a test (stopped when
/// dropped).
struct Tenant(SandboxProcess);

impl Tenant {
    fn start() -> Tenant {
        Tenant(SandboxProcess::start(&[]))
    }

    /// `psaflow args --state state` on this tenant, run by user `ada`.
    fn command(&self, state: &Path, args: &[&str]) -> Command {
        let mut cmd = self.0.psaflow();
        cmd.args(args).arg("--state").arg(state).env("USER", "ada");
        cmd
    }

    fn run(&self, state: &Path, args: &[&str]) -> Output {
        self.command(state, args).output().expect("psaflow runs")
    }

    /// Clients whose name starts with `prefix`, by name.
    fn clients(&self, prefix: &str) -> Vec<String> {
        self.listed(
            &[
                "halopsa.client.get-many",
                "--with",
                &format!("Search={prefix}"),
            ],
            ("Clients", "clients", "name"),
            prefix,
        )
    }

    /// ConnectWise members (active or not) whose identifier starts with `prefix`.
    fn members(&self, prefix: &str) -> Vec<String> {
        self.listed(
            &[
                "connectwise.member.get-many",
                "--with",
                "IncludeInactive=true",
                "--with",
                &format!("Search={prefix}"),
            ],
            ("Members", "members", "identifier"),
            prefix,
        )
    }

    /// Invokes a get-many node (`invoke` + `args`) against this tenant and returns, sorted, the
    /// `field` of each record in the envelope's `output.list` that starts with `prefix`.
    fn listed(
        &self,
        args: &[&str],
        (output, list, field): (&str, &str, &str),
        prefix: &str,
    ) -> Vec<String> {
        let out = self.0.psaflow().arg("invoke").args(args).output().unwrap();
        let env: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!("get-many answered {}", String::from_utf8_lossy(&out.stderr))
        });
        let mut values: Vec<String> = env[output][list]
            .as_array()
            .unwrap_or_else(|| panic!("no {list} list in {env}"))
            .iter()
            .filter_map(|r| r[field].as_str().map(str::to_string))
            .filter(|v| v.starts_with(prefix))
            .collect();
        values.sort();
        values
    }
}

const CREATE_EACH: &str = "name: create-each
inputs:
  prefix: { type: string, required: true }
steps:
  - id: clients
    node: halopsa.client.create
    for_each: ${{ range(30) | list }}
    with:
      Name: ${{ inputs.prefix }} ${{ item }}
";

fn newest_run(tenant: &Tenant, state: &Path) -> Option<Value> {
    let out = tenant.run(state, &["runs", "list", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let runs: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    runs.into_iter().next()
}

#[test]
fn a_killed_run_resumes_without_making_any_record_twice() {
    let tenant = Tenant::start();
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("create-each.yaml");
    std::fs::write(&wf, CREATE_EACH).unwrap();
    let wf = wf.to_str().unwrap().to_string();
    let mut completed = 0;
    let mut stopped_in_doubt = 0;
    // Kill points spread over start-up, the loop and its end; which item each one lands on
    // does not matter: every outcome must keep the invariant.
    let points = [
        (250u64, true),
        (450, true),
        (650, true),
        (850, true),
        (1050, true),
        (200, false),
        (260, false),
        (320, false),
        (380, false),
    ];
    for (round, (delay_ms, budget)) in points.iter().enumerate() {
        let state = dir.path().join(format!("state-{round}"));
        let prefix = format!("Crash{round}x");
        // A request budget spreads the creates over about a second, so the kill points land
        // inside the loop (the budget is the client's own; the sandbox answers at once). It
        // waits inside the request, so those kills fall between an intent and its result;
        // rounds without it are killed between calls as often as during one.
        let mut cmd = tenant.command(
            &state,
            &["run", &wf, "--input", &format!("prefix={prefix}")],
        );
        if *budget {
            cmd.env("HALOPSA_RATE_LIMIT", "5/200ms");
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(*delay_ms));
        let _ = child.kill(); // SIGKILL on Unix: no cleanup runs
        let _ = child.wait();

        let before = tenant.clients(&prefix);
        assert_no_duplicates(&before);
        let Some(run) = newest_run(&tenant, &state) else {
            eprintln!("kill at {delay_ms} ms: before the run was recorded");
            assert!(
                before.is_empty(),
                "a run that was never recorded sent nothing"
            );
            continue;
        };
        let id = run["id"].as_str().unwrap().to_string();
        if run["status"] != "running" {
            eprintln!("kill at {delay_ms} ms: after the run finished");
            continue;
        }
        eprintln!("kill at {delay_ms} ms: {} of 30 records made", before.len());
        let out = tenant.run(&state, &["runs", "resume", &id, "--json"]);
        let after = tenant.clients(&prefix);
        assert_no_duplicates(&after);
        match out.status.code() {
            Some(0) => {
                completed += 1;
                let expected: Vec<String> = {
                    let mut v: Vec<String> = (0..30).map(|i| format!("{prefix} {i}")).collect();
                    v.sort();
                    v
                };
                assert_eq!(
                    after, expected,
                    "every record exactly once after the resume"
                );
                let report: Value = serde_json::from_slice(&out.stdout).unwrap();
                assert_eq!(report["id"], id.as_str());
                assert_eq!(report["status"], "succeeded");
                assert_attempt_logs_complete(&report["steps"]["clients"]);
            }
            Some(1) => {
                // The kill fell between a create's intent and its result: psaflow cannot tell
                // whether it happened and says which record to check, sending nothing more.
                stopped_in_doubt += 1;
                let err = text(&out.stderr);
                assert!(err.contains("Check in the PSA"), "{err}");
                assert!(
                    err.contains(&format!("Name=\"{prefix} ")),
                    "names the record: {err}"
                );
                assert_eq!(after.len(), before.len(), "nothing more was sent");
            }
            other => panic!("resume exited {other:?}: {}", text(&out.stderr)),
        }
    }
    eprintln!(
        "resumed to completion: {completed}, stopped on an in-doubt create: {stopped_in_doubt}"
    );
}

/// A second process is refused the run while the first still executes it: both would find the
/// first's calls in flight "in doubt" in the journal and send them again.
#[test]
fn a_run_is_not_resumed_while_its_process_still_executes_it() {
    let tenant = Tenant::start();
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("create-each.yaml");
    std::fs::write(&wf, CREATE_EACH).unwrap();
    let state = dir.path().join("state");
    let prefix = "Busy";
    // The budget spreads the 30 creates over more than a second.
    let mut child = tenant
        .command(
            &state,
            &["run", wf.to_str().unwrap(), "--input", &format!("prefix={prefix}")],
        )
        .env("HALOPSA_RATE_LIMIT", "5/200ms")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let id = loop {
        if let Some(run) = newest_run(&tenant, &state) {
            assert_eq!(run["status"], "running", "the run ended before it could be resumed");
            break run["id"].as_str().unwrap().to_string();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the run was never recorded");
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = tenant.run(&state, &["run", "--resume", &id]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "run {id} is being executed by another psaflow process on this machine (pid {})",
            child.id()
        )),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "nothing ran");

    assert!(child.wait().unwrap().success());
    let mut expected: Vec<String> = (0..30).map(|i| format!("{prefix} {i}")).collect();
    expected.sort();
    assert_eq!(tenant.clients(prefix), expected, "every record exactly once");
    // Once it ended, the hold is gone: a resume is refused only because nothing is left.
    let out = tenant.run(&state, &["run", "--resume", &id]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("there is nothing to resume"), "{err}");
}

/// A read's attempt is journaled whole once it ended; its record still says how long it
/// took (from when it began), as a change's does.
#[test]
fn a_read_attempt_records_the_time_it_took() {
    let tenant = Tenant(SandboxProcess::start(&["--latency-ms", "40"]));
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let wf = dir.path().join("read.yaml");
    std::fs::write(
        &wf,
        "name: read\nsteps:\n  - id: client\n    node: halopsa.client.get\n    with: { Id: 1 }\n",
    )
    .unwrap();
    let out = tenant.run(&state, &["run", wf.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let id = serde_json::from_slice::<Value>(&out.stdout).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let show = tenant.run(&state, &["runs", "show", &id, "--json"]);
    let shown: Value = serde_json::from_slice(&show.stdout).unwrap();
    let read = &shown["attempt_log"][0];
    assert_eq!(read["effect"], "read", "{shown:#}");
    // The sandbox answers no sooner than its latency: the attempt took at least that.
    assert!(read["duration_ms"].as_i64().unwrap() >= 40, "{read}");
}

/// Every item's `attempt_log` has one entry per attempt it counts, numbered from 1, the
/// attempts of the killed process included (they come from the journal).
fn assert_attempt_logs_complete(step: &Value) {
    let attempts = step["attempts"].as_array().expect("attempts per item");
    let logs = step["attempt_log"].as_array().expect("attempt_log per item");
    assert_eq!(attempts.len(), logs.len());
    for (item, (count, log)) in attempts.iter().zip(logs).enumerate() {
        let log = log.as_array().unwrap();
        assert_eq!(
            Some(log.len() as u64),
            count.as_u64(),
            "item {item}: {count} attempts, log {log:?}"
        );
        for (i, entry) in log.iter().enumerate() {
            assert_eq!(entry["attempt"], i + 1, "item {item}: {log:?}");
        }
        if let Some(last) = log.last() {
            assert_eq!(last["status"], "succeeded", "item {item}: {log:?}");
        }
    }
}

const CREATE_MEMBERS: &str = "name: create-members
inputs:
  prefix: { type: string, required: true }
steps:
  - id: members
    node: connectwise.member.create
    for_each: ${{ range(20) | list }}
    with:
      Identifier: ${{ inputs.prefix }}${{ item }}
      FirstName: Test
      LastName: Member ${{ item }}
      Email: ${{ inputs.prefix }}${{ item }}@msp.example
      SecurityRoleId: 2
      LocationId: 1
      DepartmentId: 1
";

/// The same for ConnectWise creates. `connectwise.member.create` declares its natural key
/// (Identifier), so a create left in doubt by the kill is looked up on resume instead of being
/// sent again or stopping the run: every resume completes.
#[test]
fn a_killed_connectwise_run_resumes_without_making_any_member_twice() {
    let tenant = Tenant::start();
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join("create-members.yaml");
    std::fs::write(&wf, CREATE_MEMBERS).unwrap();
    let wf = wf.to_str().unwrap().to_string();
    let mut resumed = 0;
    for (round, delay_ms) in [300u64, 400, 500, 600, 700, 900].into_iter().enumerate() {
        let state = dir.path().join(format!("cw-state-{round}"));
        let prefix = format!("cw{round}x");
        let mut child = tenant
            .command(
                &state,
                &["run", &wf, "--input", &format!("prefix={prefix}")],
            )
            .env("CONNECTWISE_RATE_LIMIT", "5/200ms")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();

        let before = tenant.members(&prefix);
        assert_no_duplicates(&before);
        let Some(run) = newest_run(&tenant, &state) else {
            assert!(
                before.is_empty(),
                "a run that was never recorded sent nothing"
            );
            continue;
        };
        if run["status"] != "running" {
            continue;
        }
        let id = run["id"].as_str().unwrap().to_string();
        eprintln!("kill at {delay_ms} ms: {} of 20 members made", before.len());
        let out = tenant.run(&state, &["runs", "resume", &id, "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        resumed += 1;
        let after = tenant.members(&prefix);
        let mut expected: Vec<String> = (0..20).map(|i| format!("{prefix}{i}")).collect();
        expected.sort();
        assert_eq!(
            after, expected,
            "every member exactly once after the resume"
        );
    }
    eprintln!("ConnectWise runs resumed to completion: {resumed}");
}

fn assert_no_duplicates(names: &[String]) {
    let mut seen = std::collections::HashSet::new();
    for n in names {
        assert!(seen.insert(n), "{n} exists twice: {names:?}");
    }
}

const APPROVAL: &str = "name: approve-rename
inputs:
  prefix: { type: string, required: true }
steps:
  - id: client
    node: halopsa.client.create
    with:
      Name: ${{ inputs.prefix }}
  - id: rename
    node: halopsa.client.update
    approval:
      message: Rename client ${{ steps.client.Client.id }}?
      timeout: 72h
    with:
      Id: ${{ steps.client.Client.id }}
      Name: ${{ inputs.prefix }} renamed
outputs:
  id: ${{ steps.client.Client.id }}
";

#[test]
fn an_approval_waits_exit_4_then_approve_completes_it_and_the_audit_names_the_approver() {
    let tenant = Tenant::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let wf = dir.path().join("approve.yaml");
    std::fs::write(&wf, APPROVAL).unwrap();
    let wf = wf.to_str().unwrap();

    let out = tenant.run(
        &state,
        &["run", wf, "--input", "prefix=Approved Co", "--json"],
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "waiting_approval");
    let id = report["id"].as_str().unwrap().to_string();
    assert!(
        report["waiting_approval"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Rename client ")
    );

    let out = tenant.run(
        &state,
        &["runs", "list", "--status", "waiting_approval", "--json"],
    );
    let waiting: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0]["id"], id.as_str());
    let timing = |step: &str| -> Value {
        let show = tenant.run(&state, &["runs", "show", &id, "--json"]);
        let shown: Value = serde_json::from_slice(&show.stdout).unwrap();
        shown["step_timings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == step)
            .cloned()
            .unwrap_or_else(|| panic!("no timing of {step}: {shown:#}"))
    };
    let client_before = timing("client");
    assert_eq!(client_before["status"], "succeeded");

    // grace approves; the run resumes in the same command and finishes.
    let out = tenant
        .command(&state, &["approve", &id, "--comment", "looked fine"])
        .env("USER", "grace")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(tenant.clients("Approved Co renamed").len(), 1);
    // The step that ran before the wait keeps the time it took: the resume replays it.
    assert_eq!(timing("client"), client_before);

    // The same decision again changes nothing; the opposite one is refused.
    let again = tenant
        .command(&state, &["approve", &id])
        .env("USER", "alan")
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert!(text(&again.stderr).contains("already approved by grace"));
    let reject = tenant.run(&state, &["approve", &id, "--reject"]);
    assert_eq!(reject.status.code(), Some(2));
    assert!(
        text(&reject.stderr).contains("cannot replace"),
        "{}",
        text(&reject.stderr)
    );

    let out = tenant.run(&state, &["audit", "--json"]);
    let audit: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let effects: Vec<(&str, &str, &str)> = audit
        .iter()
        .map(|e| {
            (
                e["step_id"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
                e["approved_by"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        effects,
        vec![
            ("client", "ada", "-"),
            ("rename", "grace", "grace"),
            ("rename", "grace", "grace")
        ],
        "{audit:#?}"
    );
    assert_eq!(audit[1]["effect"], "approve");
    assert_eq!(audit[2]["outcome"], "succeeded");

    let show = tenant.run(&state, &["runs", "show", &id, "--json"]);
    let shown: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(shown["id"], id.as_str());
    assert_eq!(shown["status"], "succeeded");
    assert_eq!(shown["steps"]["rename"]["status"], "succeeded");
    assert_eq!(shown["approvals"][0]["decided_by"], "grace");
    assert!(shown["attempt_log"].as_array().unwrap().len() >= 2);

    // Pruning removes the finished run and keeps every audit row.
    let prune = tenant.run(&state, &["runs", "prune", "--older-than", "1ms"]);
    assert_eq!(prune.status.code(), Some(0), "{}", text(&prune.stderr));
    let gone = tenant.run(&state, &["runs", "show", &id]);
    assert_eq!(gone.status.code(), Some(2));
    let out = tenant.run(&state, &["audit", "--json"]);
    let kept: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(kept.len(), audit.len());
}

#[test]
fn dry_runs_show_approval_points_and_record_nothing() {
    let tenant = Tenant::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let wf = dir.path().join("approve.yaml");
    std::fs::write(&wf, APPROVAL).unwrap();
    let out = tenant.run(
        &state,
        &[
            "run",
            wf.to_str().unwrap(),
            "--input",
            "prefix=Dry",
            "--dry-run",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan = text(&out.stdout);
    assert!(plan.contains("WAITS FOR APPROVAL: Rename client"), "{plan}");
    assert!(
        plan.contains("after 3d without a decision: reject"),
        "{plan}"
    );
    assert!(newest_run(&tenant, &state).is_none());
}

/// The audit rows in `state`.
fn audit_rows(tenant: &Tenant, state: &Path) -> Vec<Value> {
    let out = tenant.run(state, &["audit", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_change_made_with_invoke_is_audited_and_a_read_is_not() {
    let tenant = Tenant::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = tenant.run(
        &state,
        &[
            "invoke",
            "halopsa.client.create",
            "--with",
            "Name=Invoked Co",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let envelope: Value = serde_json::from_slice(&out.stdout).unwrap();
    let out = tenant.run(&state, &["invoke", "halopsa.client.get", "--with", "Id=1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let audit = audit_rows(&tenant, &state);
    assert_eq!(audit.len(), 1, "{audit:#?}");
    let row = &audit[0];
    assert_eq!(row["node"], "halopsa.client.create");
    assert_eq!(row["effect"], "create");
    assert_eq!(row["actor"], "ada");
    assert_eq!(row["outcome"], "succeeded");
    assert_eq!(row["target"], envelope["Client"]["id"].to_string().as_str());
    assert!(
        row["run_id"].as_str().unwrap().starts_with("invoke-"),
        "{row}"
    );
    assert_eq!(row["detail"]["params"]["Name"], "Invoked Co");
}

const RENAME: &str = "name: rename-client
inputs:
  id: { type: integer, required: true }
  name: { type: string, required: true }
steps:
  - id: rename
    node: halopsa.client.update
    with:
      Id: ${{ inputs.id }}
      Name: ${{ inputs.name }}
";

/// A client made on `tenant` for a test, by id.
fn new_client(tenant: &Tenant, name: &str) -> String {
    let out = tenant
        .0
        .psaflow()
        .args([
            "invoke",
            "halopsa.client.create",
            "--with",
            &format!("Name={name}"),
        ])
        .output()
        .unwrap();
    let envelope: Value = serde_json::from_slice(&out.stdout).unwrap();
    envelope["Client"]["id"].to_string()
}

#[test]
fn apply_is_recorded_as_a_run_and_its_changes_are_audited() {
    let tenant = Tenant::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let wf = dir.path().join("rename.yaml");
    std::fs::write(&wf, RENAME).unwrap();
    let plan = dir.path().join("plan.json");
    let id = new_client(&tenant, "Planned Co");
    let (wf, plan) = (wf.to_str().unwrap(), plan.to_str().unwrap());
    let name = "name=Planned Co renamed";
    let out = tenant
        .0
        .psaflow()
        .args([
            "plan",
            wf,
            "--input",
            &format!("id={id}"),
            "--input",
            name,
            "--out",
            plan,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let out = tenant.run(&state, &["apply", plan, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let run_id = report["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id: {report}"));
    assert_eq!(report["backend"], "tenant");
    assert_eq!(tenant.clients("Planned Co renamed").len(), 1);

    let show = tenant.run(&state, &["runs", "show", run_id, "--json"]);
    assert_eq!(show.status.code(), Some(0), "{}", text(&show.stderr));
    let shown: Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(shown["status"], "succeeded");
    assert_eq!(shown["applied_plan"], plan);

    let audit = audit_rows(&tenant, &state);
    assert_eq!(audit.len(), 1, "{audit:#?}");
    assert_eq!(audit[0]["run_id"], run_id);
    assert_eq!(audit[0]["step_id"], "rename");
    assert_eq!(audit[0]["target"], id.as_str());
}

/// A plan reviewed against one tenant is never applied to another: apply refuses before
/// sending anything, whatever the records there look like.
#[test]
fn apply_refuses_a_plan_made_against_another_tenant() {
    let tenant = Tenant::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let wf = dir.path().join("rename.yaml");
    std::fs::write(&wf, RENAME).unwrap();
    let plan = dir.path().join("plan.json");
    let (wf, plan) = (wf.to_str().unwrap(), plan.to_str().unwrap());
    let out = tenant
        .0
        .psaflow()
        .args(["plan", wf, "--input", "id=1", "--input", "name=Elsewhere", "--out", plan])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(plan).unwrap()).unwrap();
    assert!(
        Path::new(saved["workflow"].as_str().unwrap()).is_absolute(),
        "applied from any folder: {saved}"
    );
    // The same plan on the embedded sandbox (no HALOPSA_* variables).
    let out = common::psaflow()
        .args(["apply", plan, "--state"])
        .arg(&state)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("the plan was made against HaloPSA at"), "{err}");
    assert!(err.contains("this apply would send its changes to sandbox"), "{err}");
    assert!(tenant.clients("Elsewhere").is_empty());
}

/// An apply that fails runs the workflow's on_failure steps, as a failed run does: they are
/// not in the plan (planning does not fail), but the plan says they may run.
#[test]
fn a_failed_apply_runs_its_on_failure_steps() {
    let tenant = Tenant::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let id = new_client(&tenant, "Rollback Co");
    let wf = dir.path().join("compensate.yaml");
    std::fs::write(
        &wf,
        format!(
            "name: compensate
steps:
  - id: mark
    node: halopsa.client.update
    with: {{ Id: {id}, Notes: changed }}
  - id: gone
    node: halopsa.client.get
    with: {{ Id: 999999 }}
on_failure:
  - id: undo
    node: halopsa.client.update
    with: {{ Id: {id}, Notes: rolled back }}
"
        ),
    )
    .unwrap();
    let plan = dir.path().join("plan.json");
    let (wf, plan) = (wf.to_str().unwrap(), plan.to_str().unwrap());
    let out = tenant.0.psaflow().args(["plan", wf, "--out", plan]).output().unwrap();
    // The read of a missing client fails while planning too: the plan says so, exit 1.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("If the apply fails, its on_failure step(s) run and may change records: undo (halopsa.client.update)"),
        "{shown}"
    );
    let out = tenant.run(&state, &["apply", plan, "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["steps"]["undo"]["status"], "succeeded", "{report:#}");
    let env = tenant
        .0
        .psaflow()
        .args(["invoke", "halopsa.client.get", "--with", &format!("Id={id}")])
        .output()
        .unwrap();
    let env: Value = serde_json::from_slice(&env.stdout).unwrap();
    assert_eq!(env["Client"]["notes"], "rolled back", "{env}");
}

#[test]
fn apply_refuses_a_plan_that_passes_an_approval_before_sending_anything() {
    let tenant = Tenant::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let wf = dir.path().join("rename.yaml");
    std::fs::write(
        &wf,
        RENAME.replace(
            "    node: halopsa.client.update\n",
            "    node: halopsa.client.update\n    approval:\n      message: Rename?\n",
        ),
    )
    .unwrap();
    let plan = dir.path().join("plan.json");
    let id = new_client(&tenant, "Gated Co");
    let (wf, plan) = (wf.to_str().unwrap(), plan.to_str().unwrap());
    let id = format!("id={id}");
    let out = tenant
        .0
        .psaflow()
        .args([
            "plan",
            wf,
            "--input",
            &id,
            "--input",
            "name=Gated Co renamed",
            "--out",
            plan,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let out = tenant.run(&state, &["apply", plan]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(
        said.contains("approval step(s) rename") && said.contains("psaflow run"),
        "{said}"
    );
    assert!(tenant.clients("Gated Co renamed").is_empty());
    assert!(newest_run(&tenant, &state).is_none());
}

/// Renames a client when its name says so; the rename waits for an approval.
const RENAME_IF_ASKED: &str = "name: rename-if-asked
inputs:
  id: { type: integer, required: true }
steps:
  - id: current
    node: halopsa.client.get
    with:
      Id: ${{ inputs.id }}
  - id: rename
    node: halopsa.client.update
    if: ${{ steps.current.Client.name == 'Please rename' }}
    approval:
      message: Rename?
    with:
      Id: ${{ inputs.id }}
      Name: Renamed
";

#[test]
fn an_apply_that_meets_an_approval_the_plan_did_not_is_never_continued() {
    let tenant = Tenant::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let wf = dir.path().join("rename.yaml");
    std::fs::write(&wf, RENAME_IF_ASKED).unwrap();
    let plan = dir.path().join("plan.json");
    let id = new_client(&tenant, "Left alone");
    let (wf, plan) = (wf.to_str().unwrap(), plan.to_str().unwrap());
    let input = format!("id={id}");
    let out = tenant
        .0
        .psaflow()
        .args(["plan", wf, "--input", &input, "--out", plan])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // The record changes after the plan: the apply now reaches the approval step.
    let out = tenant
        .0
        .psaflow()
        .args([
            "invoke",
            "halopsa.client.update",
            "--with",
            &format!("Id={id}"),
        ])
        .args(["--with", "Name=Please rename"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = tenant.run(&state, &["apply", plan]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let run = newest_run(&tenant, &state).expect("the apply is recorded");
    let run_id = run["id"].as_str().unwrap();

    for args in [vec!["approve", run_id], vec!["run", "--resume", run_id]] {
        let out = tenant.run(&state, &args);
        let said = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {said}");
        assert!(said.contains(&format!("applied the plan {plan}")), "{said}");
    }
    assert!(
        tenant.clients("Renamed").is_empty(),
        "nothing beyond the plan was sent"
    );
    let out = tenant.run(&state, &["runs", "show", run_id, "--json"]);
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        shown["approvals"].as_array().map(Vec::len),
        Some(1),
        "{shown}"
    );
    assert_eq!(shown["approvals"][0]["decided_by"], Value::Null, "{shown}");
}
