//! Nodes as plugins, through the real binary: what a node declares is what it may do.
//! A hostile node that calls outside its declaration is refused, reported and counted; it
//! cannot take a built-in id without --allow-override; a third-party node of a kind psaflow
//! has no built-in for (the template, `helpdesk.ticket.close`) runs with no host change.

mod common;

use common::{repo, run, text, tmp};
use std::path::{Path, PathBuf};

/// A folder holding one built test component (and its WIT, for docs).
fn nodes_folder(name: &str, crate_name: &str, wit: &Path) -> PathBuf {
    let dir = tmp(&format!("plugins-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let wasm = Path::new(psaflow::runtime::BUILT_COMPONENTS_DIR).join(format!("{crate_name}.wasm"));
    std::fs::copy(&wasm, dir.join(format!("{crate_name}.wasm")))
        .unwrap_or_else(|e| panic!("{} was not built: {e}", wasm.display()));
    for entry in std::fs::read_dir(wit).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    dir
}

fn hostile() -> PathBuf {
    hostile_in("hostile")
}

/// The hostile node in a folder of its own (`plugins-<name>`): tests that run at the same time
/// each remake their folder, so each needs its own.
fn hostile_in(name: &str) -> PathBuf {
    nodes_folder(name, "hostile", &repo().join("components/testing/hostile/wit"))
}

fn template() -> PathBuf {
    nodes_folder("template", "helpdesk_ticket_close", &repo().join("components/template/wit"))
}

#[test]
fn a_third_party_node_cannot_take_a_built_in_id_without_the_flag() {
    let dir = hostile();
    let out = run(&["--nodes", dir.to_str().unwrap(), "nodes"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("halopsa.client.get") && stderr.contains("--allow-override"),
        "{stderr}"
    );
}

#[test]
fn benchmarks_measure_the_node_that_nodes_loads() {
    // The hostile node replaces halopsa.client.get and is refused at its first undeclared
    // call, so a benchmark that ran it fails; one that ran the built-in node would pass.
    let dir = hostile_in("hostile-bench");
    let out = run(&[
        "--nodes",
        dir.to_str().unwrap(),
        "--allow-override",
        "bench",
        "for-each",
        "--items",
        "2",
        "--concurrency",
        "1",
    ]);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("halopsa.client.get from"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("benchmark run failed") && stderr.contains("DELETE /Client/1"),
        "{stderr}"
    );
}

#[test]
fn calls_outside_the_declaration_are_refused_named_and_counted() {
    let dir = hostile();
    let out = run(&[
        "--nodes",
        dir.to_str().unwrap(),
        "--allow-override",
        "invoke",
        "halopsa.client.get",
        "--with",
        "Id=1",
    ]);
    let stderr = text(&out.stderr);
    // Loading a third-party node prints what it declares.
    assert!(
        stderr.contains("halopsa.client.get from") && stderr.contains("may call GET /Client"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let envelope: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(envelope["StatusCode"], 500, "{envelope}");
    let message = envelope["ErrorMessage"].as_str().unwrap();
    assert!(
        message.contains("DELETE /Client/1")
            && message.contains("halopsa.client.get")
            && message.contains("1 more"),
        "{message}"
    );
}

#[test]
fn the_run_report_counts_refused_calls_and_deletes_sent() {
    let dir = hostile();
    let workflow = tmp("plugins-report.yaml");
    std::fs::write(
        &workflow,
        r#"name: hostile-then-honest
steps:
  - id: sneaky
    node: halopsa.client.get
    with: { Id: 1 }
    continue_on_error: true
  - id: still_there
    node: halopsa.client.update
    with: { Id: 1, Notes: "not deleted" }
  - id: temp
    node: halopsa.client.create
    with: { Name: Temporary }
  - id: remove
    node: halopsa.client.delete
    with: { Id: "${{ steps.temp.Client.id }}" }
"#,
    )
    .unwrap();
    let out = run(&[
        "--nodes",
        dir.to_str().unwrap(),
        "--allow-override",
        "run",
        workflow.to_str().unwrap(),
        "--json",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = &report["steps"];
    assert_eq!(steps["sneaky"]["status"], "failed", "{report}");
    assert_eq!(steps["sneaky"]["refused_calls"], 2, "{report}");
    assert_eq!(steps["sneaky"]["deletes_sent"], 0, "the refused DELETE never left");
    assert_eq!(steps["still_there"]["status"], "succeeded", "client 1 survived");
    assert_eq!(steps["remove"]["deletes_sent"], 1, "{report}");
    assert_eq!(steps["remove"]["destructive"], true);
    assert_eq!((report["refused_calls"].clone(), report["deletes_sent"].clone()), (2.into(), 1.into()));
    assert!(
        stderr.contains("DELETE requests sent: 1, calls refused by the host: 2"),
        "{stderr}"
    );
}

#[test]
fn a_node_of_a_new_kind_runs_with_no_host_change() {
    let dir = template();
    let nodes = dir.to_str().unwrap();
    let out = run(&["--nodes", nodes, "nodes", "describe", "helpdesk.ticket.close"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let described = text(&out.stdout);
    for expected in [
        "Closes a HaloPSA ticket",
        "output: Ticket",
        "effect: update",
        "idempotent: yes",
        "POST /Tickets",
        "StatusId (integer, optional)",
        "The HaloPSA status that means closed",
    ] {
        assert!(described.contains(expected), "{expected:?} missing:\n{described}");
    }
    let out = run(&["--nodes", nodes, "invoke", "helpdesk.ticket.close", "--with", "Id=1001"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let envelope: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(envelope["Ticket"]["status_id"], 9, "{envelope}");
    // Validation is the node's own: nothing sent.
    let out = run(&["--nodes", nodes, "invoke", "helpdesk.ticket.close", "--with", "Id=0"]);
    let envelope: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(envelope["StatusCode"], -1, "{envelope}");
}

#[test]
fn the_catalog_shows_what_every_node_declares() {
    let out = run(&["nodes", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let nodes: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let node = |id: &str| {
        nodes
            .iter()
            .find(|n| n["id"] == id)
            .unwrap_or_else(|| panic!("{id} listed"))
    };
    let site_create = node("halopsa.site.create");
    assert_eq!(site_create["effect"], "create");
    assert_eq!(site_create["idempotent"], false);
    assert_eq!(site_create["output_key"], "Site");
    assert_eq!(site_create["natural_key"], serde_json::json!(["Name", "SiteClientId"]));
    assert_eq!(
        site_create["capabilities"],
        serde_json::json!([{"method": "POST", "path_prefix": "/Site"}, {"method": "GET", "path_prefix": "/Site"}])
    );
    let user_delete = node("halopsa.user.delete");
    assert_eq!(user_delete["effect"], "delete");
    assert_eq!(user_delete["destructive"], true);
    assert_eq!(user_delete["output_key"], "DeletedUser");
    let halopsa: Vec<_> = nodes.iter().filter(|n| n["connector"] == "halopsa").collect();
    assert!(halopsa.len() >= 20, "{}", halopsa.len());
    for n in halopsa {
        assert!(
            !n["capabilities"].as_array().unwrap().is_empty() && n["output_key"] != "",
            "{n}"
        );
    }
}
