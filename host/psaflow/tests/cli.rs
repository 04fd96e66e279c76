//! The `psaflow` command as scripts see it: stdout, stderr and exit codes (product contract,
//! "Commands"). Each test runs the real binary with no HALOPSA_* variables, so it uses the
//! embedded sandbox.

mod common;

use common::{SandboxProcess, halopsa_env, psaflow, repo, run, text, tmp};

#[test]
fn invoke_prints_the_envelope_and_exits_0_on_success() {
    let out = run(&["invoke", "halopsa.client.create", "--with", "Name=Acme"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let envelope: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(envelope["StatusCode"], 200);
    assert_eq!(envelope["ErrorMessage"], "");
    assert_eq!(envelope["Client"]["name"], "Acme");
    assert!(
        text(&out.stderr).contains("embedded HaloPSA sandbox"),
        "says it uses the sandbox"
    );
}

#[test]
fn invoke_exits_1_on_validation_and_business_errors() {
    let out = run(&["invoke", "halopsa.client.get", "--with", "Id=-3"]);
    assert_eq!(out.status.code(), Some(1));
    let envelope: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(envelope["StatusCode"], -1);

    let out = run(&["invoke", "halopsa.client.get", "--with", "Id=99999"]);
    assert_eq!(out.status.code(), Some(1));
    let envelope: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(envelope["StatusCode"], 200);
    assert_eq!(envelope["OriginalStatusCode"], 404);
    assert_eq!(envelope["ErrorMessage"], "Client with ID 99999 not found");
}

#[test]
fn additional_fields_that_are_not_an_object_get_an_example_of_the_nodes_own_fields() {
    for (node, required, example) in [
        (
            "halopsa.ticket.create",
            &["Summary=Printer", "Details=Jammed", "TickettypeId=1"][..],
            r#"{"client_id": 12, "impact": 2, "urgency": 2}"#,
        ),
        (
            "halopsa.client.create",
            &["Name=Acme"][..],
            r#"{"toplevel_id": 15, "taxable": true}"#,
        ),
    ] {
        let mut args = vec!["invoke", node, "--with", "AdditionalFields=[1,2]"];
        for value in required {
            args.extend(["--with", value]);
        }
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let envelope: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(envelope["StatusCode"], -1);
        assert_eq!(
            envelope["ErrorMessage"],
            format!("AdditionalFields must be a JSON object, for example {example}"),
            "{node}"
        );
    }
}

#[test]
fn invoke_exits_2_on_bad_usage_with_a_suggestion() {
    let out = run(&["invoke", "halopsa.client.craete"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("did you mean halopsa.client.create?"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["invoke", "halopsa.site.create", "--with", "SiteClientID=1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("did you mean SiteClientId?"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["invoke", "halopsa.site.create", "--with", "Name"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn nodes_lists_every_builtin_operation_and_describes_parameters_from_the_wit() {
    let out = run(&["nodes", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let nodes: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = nodes.iter().map(|n| n["id"].as_str().unwrap()).collect();
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "each node listed once: {ids:?}");
    let mut expected = Vec::new();
    for resource in ["client", "site", "ticket", "user"] {
        for op in ["create", "delete", "get", "get-many", "update"] {
            expected.push(format!("halopsa.{resource}.{op}"));
        }
    }
    for op in ["create", "get", "get-many", "update", "deactivate"] {
        expected.push(format!("halopsa.agent.{op}"));
    }
    for op in ["create", "get", "get-many"] {
        expected.push(format!("halopsa.team.{op}"));
    }
    expected.push("halopsa.ticket.add-note".to_string());
    for lookup in ["status", "tickettype", "priority"] {
        expected.push(format!("halopsa.{lookup}.get-many"));
    }
    for op in ["create", "get", "get-many", "update", "deactivate"] {
        expected.push(format!("connectwise.member.{op}"));
    }
    for op in ["get-many", "update"] {
        expected.push(format!("connectwise.ticket.{op}"));
    }
    for id in &expected {
        assert!(ids.contains(&id.as_str()), "{id} missing from {ids:?}");
    }
    assert_eq!(ids.len(), expected.len(), "{ids:?}");
    let out = run(&["nodes", "describe", "halopsa.client.create"]);
    assert_eq!(out.status.code(), Some(0));
    let described = text(&out.stdout);
    assert!(described.contains("Name (string, required)"), "{described}");
    assert!(
        described.contains("Website (string, optional)"),
        "{described}"
    );
    assert!(
        described.contains("must include the protocol"),
        "descriptions come from the WIT: {described}"
    );
    assert!(
        described.contains("AdditionalFields (json, optional)"),
        "{described}"
    );
}

#[test]
fn validate_reports_file_line_column_and_exits_2() {
    let file = tmp("broken-workflow.yaml");
    std::fs::write(
        &file,
        "name: broken\nsteps:\n  - id: client\n    node: halopsa.client.create\n    with:\n      Nmae: Acme\n",
    )
    .unwrap();
    let out = run(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("broken-workflow.yaml:6:7"), "{err}");
    assert!(err.contains("Name"), "suggests the near name: {err}");

    let out = run(&["validate", "examples/onboard-client.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn validate_warns_about_retry_around_a_create_that_cannot_recover() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ticket-retry.yaml");
    std::fs::write(
        &file,
        "name: t\nsteps:\n  - id: t\n    node: halopsa.ticket.create\n    with:\n      Summary: Printer\n      Details: Jammed\n      TickettypeId: 1\n    retry: { max_attempts: 3, retry_on: [system, unknown_outcome] }\n",
    )
    .unwrap();
    let out = run(&["validate", file.to_str().unwrap()]);
    let err = text(&out.stderr);
    // Valid (exit 0), but the author is told at the `retry` key what a retry there can do.
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(text(&out.stdout).contains("valid (1 step, 1 warning)"), "{}", text(&out.stdout));
    assert!(err.contains("warning: step 't' retries halopsa.ticket.create after unknown outcomes"), "{err}");
    assert!(err.contains("ticket-retry.yaml:9:5"), "{err}");
    assert!(err.contains("create the ticket twice"), "{err}");

    // The same retry around a create that looks its record up first is fine, and no shipped
    // example draws a warning.
    std::fs::write(
        &file,
        "name: t\nsteps:\n  - id: c\n    node: halopsa.client.create\n    with:\n      Name: Acme\n    retry: { max_attempts: 3, retry_on: [system, unknown_outcome] }\n",
    )
    .unwrap();
    let out = run(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stderr), "", "no warning for a create with recovery");
    for entry in std::fs::read_dir(repo().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".yaml") || name.ends_with(".test.yaml") || name.ends_with(".plan.yaml") {
            continue;
        }
        let out = run(&["validate", path.to_str().unwrap()]);
        assert!(
            !text(&out.stderr).contains("warning"),
            "{name} draws a warning:\n{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn strict_refuses_warnings_and_a_run_that_cannot_be_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let warned = dir.path().join("ticket-retry.yaml");
    std::fs::write(
        &warned,
        "name: t\nsteps:\n  - id: t\n    node: halopsa.ticket.create\n    with:\n      Summary: Printer\n      Details: Jammed\n      TickettypeId: 1\n    retry: { max_attempts: 3 }\n",
    )
    .unwrap();
    let warned = warned.to_str().unwrap();
    for args in [
        vec!["validate", "--strict", warned],
        vec!["run", "--strict", warned],
    ] {
        let out = run(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("warning: step 't' retries"), "{err}");
        assert!(
            err.contains("--strict: ") && err.contains("has 1 warning(s)"),
            "{err}"
        );
        assert!(!err.contains("Running"), "nothing runs: {err}");
    }

    // Without a folder for the run store (the default location cannot be made), a run goes
    // unrecorded with a warning; --strict refuses to start it.
    let clean = dir.path().join("clean.yaml");
    std::fs::write(
        &clean,
        "name: c\nsteps:\n  - id: c\n    node: halopsa.client.get\n    with:\n      Id: 1\n",
    )
    .unwrap();
    let not_a_folder = dir.path().join("data-file");
    std::fs::write(&not_a_folder, "").unwrap();
    let unrecorded = |strict: bool| {
        let mut cmd = psaflow();
        cmd.arg("run").arg(&clean);
        if strict {
            cmd.arg("--strict");
        }
        cmd.env_remove("PSAFLOW_STATE_DIR")
            .env("XDG_DATA_HOME", &not_a_folder)
            .env("HOME", &not_a_folder)
            .output()
            .unwrap()
    };
    let out = unrecorded(false);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("this run is not recorded"),
        "{}",
        text(&out.stderr)
    );
    let out = unrecorded(true);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--strict: this run cannot be recorded, so it does not start"),
        "{err}"
    );
    assert!(!err.contains("Running"), "{err}");
}

#[test]
fn run_json_prints_the_contract_report_and_dry_run_sends_nothing() {
    let out = run(&["run", "examples/client-report.yaml", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "succeeded");
    assert_eq!(report["outputs"]["total_clients"], 4);
    assert_eq!(report["steps"]["clients"]["status"], "succeeded");
    assert_eq!(report["steps"]["clients"]["envelope"]["StatusCode"], 200);

    let out = run(&[
        "run",
        "examples/offboard-user.yaml",
        "--input",
        "email=raj.patel@acme-mfg.example",
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan = text(&out.stdout);
    assert!(plan.contains("nothing will be sent"), "{plan}");

    // The plan marks what a node declares (agent.deactivate: effect deactivate), whatever
    // the step passes.
    let file = tmp("deactivate-agent.yaml");
    std::fs::write(
        &file,
        "name: leaver\nsteps:\n  - id: off\n    node: halopsa.agent.deactivate\n    with:\n      Id: 3\n",
    )
    .unwrap();
    let out = run(&["run", file.to_str().unwrap(), "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan = text(&out.stdout);
    assert!(plan.contains("[halopsa.agent.deactivate]  !! DEACTIVATES RECORDS"), "{plan}");
}

#[test]
fn run_exits_2_on_a_missing_required_input_and_1_on_a_failed_step() {
    let out = run(&["run", "examples/onboard-client.yaml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("client_name"),
        "{}",
        text(&out.stderr)
    );

    let out = run(&[
        "run",
        "examples/offboard-user.yaml",
        "--input",
        "email=nobody@nowhere.example",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "failed");
}

#[test]
fn a_partial_tenant_configuration_is_refused_naming_what_is_missing() {
    let out = psaflow()
        .args(["invoke", "halopsa.client.get", "--with", "Id=1"])
        .env("HALOPSA_API_URL", "https://acme.halopsa.com/api")
        .env("HALOPSA_CLIENT_SECRET", "super-secret-value")
        .env_remove("HALOPSA_CLIENT_ID")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert!(err.contains("HALOPSA_CLIENT_ID"), "{err}");
    assert!(
        !err.contains("super-secret-value") && !text(&out.stdout).contains("super-secret-value"),
        "secret leaked: {err}"
    );
}

#[test]
fn the_examples_pass_their_workflow_tests() {
    let junit = tmp("examples-junit.xml");
    let out = run(&["test", "examples/", "--junit", junit.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<testsuite") && xml.contains("onboard-client.test.yaml"),
        "{xml}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_uses_a_tenant_configured_by_halopsa_variables() {
    // Any HaloPSA-compatible server: here a sandbox started on its own, as `psaflow sandbox` does.
    let server = psaflow_halopsa_sandbox::Sandbox::start(psaflow_halopsa_sandbox::SandboxOptions {
        client_id: "tenant-app".into(),
        client_secret: "tenant-secret-123".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let tenant = halopsa_env(&server);
    let out = tokio::task::spawn_blocking(move || {
        psaflow()
            .args([
                "invoke",
                "halopsa.client.create",
                "--with",
                "Name=Tenant Client",
            ])
            .envs(tenant)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("embedded HaloPSA sandbox"),
        "must use the configured tenant"
    );
    let envelope: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(envelope["StatusCode"], 200);
    assert!(
        server
            .records(psaflow_halopsa_sandbox::Entity::Client)
            .iter()
            .any(|c| c["name"] == "Tenant Client")
    );
    for output in [text(&out.stdout), text(&out.stderr)] {
        assert!(
            !output.contains("tenant-secret-123"),
            "the secret must never be printed"
        );
    }
}

#[test]
fn invoke_connectwise_member_create_works_on_the_embedded_sandbox() {
    let out = run(&[
        "invoke",
        "connectwise.member.create",
        "--with",
        "Identifier=newtech",
        "--with",
        "FirstName=New",
        "--with",
        "LastName=Tech",
        "--with",
        "Email=newtech@msp.example",
        "--with",
        "SecurityRoleId=2",
        "--with",
        "LocationId=1",
        "--with",
        "DepartmentId=1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let envelope: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(envelope["StatusCode"], 200);
    assert_eq!(envelope["OriginalStatusCode"], 201);
    assert_eq!(envelope["Member"]["identifier"], "newtech");
    assert_eq!(envelope["Member"]["licenseClass"], "F");
    assert!(
        text(&out.stderr).contains("embedded ConnectWise sandbox"),
        "says it uses the sandbox: {}",
        text(&out.stderr)
    );

    let out = run(&[
        "invoke",
        "connectwise.member.create",
        "--with",
        "Identifier=far-too-long-an-id",
        "--with",
        "FirstName=New",
        "--with",
        "LastName=Tech",
        "--with",
        "Email=newtech@msp.example",
        "--with",
        "SecurityRoleId=2",
        "--with",
        "LocationId=1",
        "--with",
        "DepartmentId=1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let envelope: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(envelope["StatusCode"], -1);
}

#[test]
fn a_partial_connectwise_configuration_is_refused_naming_every_problem() {
    let out = psaflow()
        .args(["invoke", "connectwise.member.get", "--with", "Id=2"])
        .env(
            "CONNECTWISE_API_URL",
            "http://cw.example.com/v4_6_release/apis/3.0",
        )
        .env("CONNECTWISE_PRIVATE_KEY", "cw-private-key-value")
        .env_remove("CONNECTWISE_COMPANY_ID")
        .env_remove("CONNECTWISE_PUBLIC_KEY")
        .env_remove("CONNECTWISE_CLIENT_ID")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    for named in [
        "CONNECTWISE_COMPANY_ID",
        "CONNECTWISE_PUBLIC_KEY",
        "CONNECTWISE_CLIENT_ID",
        "plain http",
    ] {
        assert!(err.contains(named), "{named} not named: {err}");
    }
    assert!(
        !err.contains("cw-private-key-value"),
        "secret leaked: {err}"
    );
}

#[test]
fn sandbox_serves_both_psas_and_prints_their_variables() {
    let sandbox = SandboxProcess::start(&[]);
    let halo = sandbox.var("HALOPSA_API_URL");
    let cw = sandbox.var("CONNECTWISE_API_URL");
    assert!(
        halo.starts_with("http://127.0.0.1:") && halo.ends_with("/api"),
        "{halo}"
    );
    assert!(
        cw.starts_with("http://127.0.0.1:") && cw.ends_with("/v4_6_release/apis/3.0"),
        "{cw}"
    );
    for name in [
        "HALOPSA_AUTH_URL",
        "HALOPSA_CLIENT_ID",
        "HALOPSA_CLIENT_SECRET",
        "CONNECTWISE_COMPANY_ID",
        "CONNECTWISE_PUBLIC_KEY",
        "CONNECTWISE_PRIVATE_KEY",
        "CONNECTWISE_CLIENT_ID",
    ] {
        assert!(!sandbox.var(name).is_empty(), "{name} is empty");
    }
    // The ConnectWise sandbox really serves (a raw request: this crate has no HTTP client).
    let answer = raw_get(cw, "/v4_6_release/apis/3.0/system/members/count");
    assert!(
        answer.starts_with("HTTP/1.1 401"),
        "unauthenticated calls are refused: {answer}"
    );
}

#[test]
fn sandbox_latency_delays_every_halopsa_api_call() {
    let sandbox = SandboxProcess::start(&["--latency-ms", "400"]);
    let started = std::time::Instant::now();
    let answer = raw_get(sandbox.var("HALOPSA_API_URL"), "/api/Client");
    let took = started.elapsed();
    // Delayed before anything else, the missing token's refusal included.
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(took >= std::time::Duration::from_millis(400), "answered after {took:?}");
}

/// The raw answer to `GET path` on the server of `base_url` (`http://host:port/...`), without
/// credentials (this crate has no HTTP client).
fn raw_get(base_url: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let address = base_url.trim_start_matches("http://").split('/').next().unwrap();
    let mut stream = std::net::TcpStream::connect(address).expect("the sandbox listens");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// Every complete workflow shown in the README (a ```yaml block with `name:` and `steps:`)
/// passes `psaflow validate`: readers copy them.
#[test]
fn the_readme_workflows_validate() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let dir = tmp("readme-workflows");
    std::fs::create_dir_all(&dir).unwrap();
    let mut checked = 0;
    for (i, block) in readme.split("```yaml\n").skip(1).enumerate() {
        let block = block.split("```").next().unwrap();
        let is_workflow = block.lines().any(|l| l.starts_with("name:"))
            && block.lines().any(|l| l.starts_with("steps:"));
        if !is_workflow {
            continue;
        }
        let path = dir.join(format!("block{i}.yaml"));
        std::fs::write(&path, block).unwrap();
        let out = run(&["validate", path.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "README yaml block {} does not validate:\n{block}\n{}",
            i + 1,
            text(&out.stderr)
        );
        checked += 1;
    }
    assert!(checked >= 2, "found only {checked} workflows in the README");
}

#[test]
fn bench_requests_prints_every_example_at_its_minimum_and_exits_2_without_examples() {
    let out = run(&["bench", "requests"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let total = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("all examples"))
        .unwrap_or_else(|| panic!("no total line:\n{stdout}"));
    // all examples <cases> <sent> <minimum> <over> ...
    let columns: Vec<&str> = total.split_whitespace().collect();
    assert_eq!(columns[3], columns[4], "sent equals the minimum:\n{stdout}");
    assert_eq!(columns[5], "0", "{stdout}");
    assert!(stdout.contains("agent-joiner.yaml"), "{stdout}");
    assert!(stdout.contains("connectwise.member.get-many"), "{stdout}");

    let out = run(&["bench", "requests", "--examples", "no/such/folder"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no/such/folder is not a folder of example workflows"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

/// A for_each on a request budget estimates the time left from the budget too: while its first
/// burst lasts, the rate so far says "about 1s left" for a step the budget needs seconds for.
#[test]
fn progress_lines_count_the_request_budget_in_the_time_left() {
    let file = tmp("budgeted-each.yaml");
    std::fs::write(
        &file,
        "name: budgeted-each\nsteps:\n  - id: each\n    node: halopsa.client.get\n    for_each: ${{ range(60) | list }}\n    concurrency: 8\n    with:\n      Id: ${{ (item % 4) + 1 }}\n",
    )
    .unwrap();
    let out = psaflow()
        .args(["run", file.to_str().unwrap()])
        .env("HALOPSA_RATE_LIMIT", "20/2s")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // `    each: 6/60 items (10%), 120.5/s, about 4s left`: (done, rate, seconds left).
    let estimates: Vec<(f64, f64, f64)> = stderr
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("each: ")?;
            let (done, rest) = rest.split_once("/60 items")?;
            let (_, rest) = rest.split_once("), ")?;
            let (rate, rest) = rest.split_once("/s, about ")?;
            let left = rest.strip_suffix("s left")?;
            Some((done.parse().ok()?, rate.parse().ok()?, left.parse().ok()?))
        })
        .collect();
    assert!(
        !estimates.is_empty(),
        "no progress line with a time left: {stderr}"
    );
    // 60 requests at 20 per 2 s take at least two spans after the first burst: 4 s.
    for (done, rate, left) in &estimates {
        let elapsed = done / rate;
        assert!(
            *left >= 4.0 - elapsed - 0.1,
            "{done} done after {elapsed:.2}s, {left}s left: {stderr}"
        );
    }
    assert!(
        estimates
            .iter()
            .any(|(done, rate, left)| *left > (60.0 - done) / rate + 1.0),
        "no estimate was longer than the rate so far gives: {stderr}"
    );
}

#[test]
fn a_timed_out_approval_cannot_be_approved_and_the_resume_applies_its_on_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let wf = dir.path().join("short-wait.yaml");
    std::fs::write(
        &wf,
        "name: short-wait
steps:
  - id: check
    node: halopsa.client.get
    approval:
      message: Look client 1 up?
      timeout: 1s
    with:
      Id: 1
",
    )
    .unwrap();
    let psaflow_in = |args: &[&str]| {
        psaflow()
            .args(args)
            .arg("--state")
            .arg(&state)
            .output()
            .unwrap()
    };
    let out = psaflow_in(&["run", wf.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = report["id"].as_str().unwrap().to_string();
    std::thread::sleep(std::time::Duration::from_millis(1500));

    for args in [&["approve", &id][..], &["approve", &id, "--reject"][..]] {
        let out = psaflow_in(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("timed out at 20"), "{stderr}");
        assert!(stderr.contains("on_timeout (reject) applies"), "{stderr}");
        assert!(
            stderr.contains(&format!("psaflow runs resume {id}")),
            "{stderr}"
        );
    }
    // The resume applies the timeout's decision, whoever acted first.
    let out = psaflow_in(&["runs", "resume", &id, "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let out = psaflow_in(&["runs", "show", &id, "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["status"], "failed", "{shown}");
    assert_eq!(shown["approvals"][0]["decided_by"], "timeout", "{shown}");
}

#[test]
fn runs_list_with_a_status_no_run_has_says_so_not_that_none_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let out = run(&["run", "examples/client-report.yaml", "--state", state]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = run(&["runs", "list", "--status", "running", "--state", state]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("has the status running"), "{stdout}");
    assert!(!stdout.contains("no runs recorded"), "{stdout}");
}

#[test]
fn resuming_with_another_workflow_file_names_the_runs_own_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let state = state.to_str().unwrap();
    let waits = dir.path().join("waits.yaml");
    std::fs::write(
        &waits,
        "name: waits
steps:
  - id: check
    node: halopsa.client.get
    approval:
      message: Look client 1 up?
    with:
      Id: 1
",
    )
    .unwrap();
    let waits = waits.to_str().unwrap();
    let out = run(&["run", waits, "--state", state, "--json"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = report["id"].as_str().unwrap();

    // Another file: the run's own is named, not "changed since".
    let out = run(&[
        "run",
        "examples/client-report.yaml",
        "--resume",
        id,
        "--state",
        state,
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("run {id} was of {waits} (workflow 'waits')")),
        "{stderr}"
    );
    assert!(!stderr.contains("changed since"), "{stderr}");

    // The run's own file, edited since: that is what is said.
    std::fs::write(waits, "name: waits\nsteps: []\n").unwrap();
    let out = run(&["run", waits, "--resume", id, "--state", state]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("changed since run"), "{stderr}");
}

#[test]
fn runs_list_json_carries_the_reason_a_step_failed_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let state = state.to_str().unwrap();
    let wf = dir.path().join("fails.yaml");
    std::fs::write(
        &wf,
        "name: fails
steps:
  - id: maybe
    node: halopsa.client.get
    continue_on_error: true
    with:
      Id: 999998
  - id: missing
    node: halopsa.client.get
    with:
      Id: 999999
",
    )
    .unwrap();
    let out = run(&["run", wf.to_str().unwrap(), "--state", state]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let out = run(&["runs", "list", "--json", "--state", state]);
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let error = runs[0]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{runs}"));
    assert!(
        error.starts_with("step 'missing' failed: Client with ID 999999 not found"),
        "{error}"
    );
}

#[test]
fn sandbox_help_names_both_sandboxes_it_serves() {
    let out = run(&["sandbox", "--help"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let help = text(&out.stdout);
    assert!(help.contains("HaloPSA and ConnectWise sandboxes"), "{help}");
    let out = run(&["--help"]);
    let help = text(&out.stdout);
    let line = help
        .lines()
        .find(|l| l.trim_start().starts_with("sandbox "))
        .unwrap_or_else(|| panic!("{help}"));
    assert!(line.contains("HaloPSA and ConnectWise sandboxes"), "{line}");
}
