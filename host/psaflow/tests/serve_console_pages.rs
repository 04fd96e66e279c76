//! The web console's pages fetched over plain HTTP (no browser; `serve_console.rs` drives
//! one): what they prefill and where they link.
mod common;
mod serve_support;

use serde_json::{Value, json};
use serve_support::*;

const DEFAULTS: &str = "name: with-defaults
inputs:
  id: { type: integer, required: true }
  days: { type: integer, default: 90 }
  label: { type: string, default: hello }
  note: { type: string }
steps:
  - id: client
    node: halopsa.client.get
    with:
      Id: ${{ inputs.id }}
";

/// A console page as the logged-in `token` sees it.
async fn page(server: &Server, token: &str, path: &str) -> String {
    let r = client()
        .get(server.url(path))
        .header("cookie", format!("psaflow_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{path}");
    r.text().await.unwrap()
}

fn unescape(html: &str) -> String {
    html.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_start_form_prefills_declared_defaults_with_their_types() {
    let server = Server::start(&[]);
    let workflows = server.state.parent().unwrap().join("workflows");
    std::fs::write(workflows.join("with-defaults.yaml"), DEFAULTS).unwrap();
    let admin = create_token(&server.state, "ops", "admin");

    let html = page(&server, &admin, "/workflows").await;
    let start = html
        .find("data-workflow=\"with-defaults\">")
        .expect("a start form for the workflow");
    let rest = &html[start..];
    let text = &rest[rest.find('>').unwrap() + 1..rest.find("</textarea>").unwrap()];
    let prefilled: Value = serde_json::from_str(&unescape(text)).unwrap();
    assert_eq!(
        prefilled,
        json!({"id": null, "days": 90, "label": "hello"}),
        "{text}"
    );

    // The API lists the defaults too.
    let (_, list) = get(&server, &admin, "/v1/workflows").await;
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "with-defaults")
        .unwrap();
    assert_eq!(entry["inputs"][1]["default"], 90, "{entry}");
    assert!(entry["inputs"][3].get("default").is_none(), "{entry}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_page_links_runs_but_not_single_invocations() {
    let server = Server::start(&[]);
    let admin = create_token(&server.state, "ops", "admin");
    let (status, envelope) = post(
        &server,
        &admin,
        "/v1/nodes/halopsa.client.create/invoke",
        &json!({"Name": "Audited Ltd"}),
    )
    .await;
    assert_eq!(status, 200, "{envelope}");
    let (_, audit) = get(&server, &admin, "/v1/audit").await;
    let invoke_id = audit[0]["run_id"].as_str().unwrap().to_string();
    assert!(invoke_id.starts_with("invoke-"), "{audit}");

    let html = page(&server, &admin, "/audit").await;
    assert!(html.contains(&invoke_id), "{html}");
    assert!(
        !html.contains(&format!("href=\"/runs/{invoke_id}\"")),
        "an invocation has no run page: {html}"
    );
}
