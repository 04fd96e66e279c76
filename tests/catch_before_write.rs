//! Every knowable mistake is found before the first write: the static checks plus each node's
//! own input checks run in check mode (through the real components), with positions, and
//! nothing reaches the sandbox.

use psaflow_tests::harness;
use psaflow_workflow::{Diagnostic, check_node_inputs, parse, validate};
use serde_json::json;

const MISTAKES: &str = r#"name: onboard
inputs:
  client_name: { type: string, required: true }
steps:
  - id: c
    node: halopsa.client.create
    with:
      Name: ${{ inputs.client_name }}
      Website: initech.com
  - id: s
    node: halopsa.site.create
    with:
      Name: Head office
      SiteClientId: ${{ steps.c.Clients.id }}
  - id: u
    node: halopsa.user.create
    with:
      Name: Ada Lovelace
      SiteId: ${{ steps.s.Site.id }}
      Password: abc
  - id: t
    node: halopsa.ticket.create
    with:
      TickettypeId: 1
      Summary: Welcome
      Details: ${{ inputs.client_name }}
      AdditionalFields: { Startdate: tomorrow }
  - id: t2
    node: halopsa.ticket.create
    with:
      TickettypeId: 1
      Summary: Second
      Details: x
      AdditionalFields: "site_id=1"
outputs:
  n: ${{ inputs.client_name | lenght }}
"#;

fn at<'a>(diags: &'a [Diagnostic], line: usize, starts: &str) -> &'a Diagnostic {
    diags
        .iter()
        .find(|d| d.line == line && d.message.contains(starts))
        .unwrap_or_else(|| {
            panic!(
                "no error at line {line} containing {starts:?}; got:\n{}",
                diags
                    .iter()
                    .map(|d| format!("{}:{} {}", d.line, d.column, d.message))
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })
}

#[tokio::test]
async fn each_listed_mistake_is_found_with_its_position_and_nothing_is_sent() {
    let h = harness().await;
    h.sandbox.clear_requests();
    let wf = parse(MISTAKES, "onboard.yaml").unwrap();
    let mut diags = validate(&wf, h.runtime.catalog()).err().map_or(Vec::new(), |d| d.0);
    diags.extend(
        check_node_inputs(&wf, &h.runtime, None, &json!({}))
            .await
            .err()
            .map_or(Vec::new(), |d| d.0),
    );

    let website = at(&diags, 9, "Website");
    assert_eq!(website.column, 16);
    assert!(website.message.contains("refuses this input"), "{}", website.message);
    let clients = at(&diags, 14, "steps.c.Clients");
    assert!(clients.message.contains("did you mean Client"), "{}", clients.message);
    let password = at(&diags, 20, "Password");
    assert!(!password.message.contains("abc"), "the password is never echoed: {}", password.message);
    at(&diags, 27, "AdditionalFields");
    at(&diags, 34, "AdditionalFields must be JSON");
    at(&diags, 36, "unknown filter 'lenght'");
    assert_eq!(diags.len(), 6, "{diags:#?}");

    assert!(h.sandbox.requests().is_empty(), "nothing was sent: {:?}", h.sandbox.requests());
}

#[tokio::test]
async fn values_from_inputs_are_checked_once_the_inputs_are_known() {
    let h = harness().await;
    let yaml = "name: t\ninputs:\n  site: { type: string, required: true }\nsteps:\n  - id: c\n    node: halopsa.client.create\n    with:\n      Name: Initech\n      Website: ${{ inputs.site }}\n";
    let wf = parse(yaml, "t.yaml").unwrap();
    // Before the inputs are known there is nothing to judge.
    assert!(check_node_inputs(&wf, &h.runtime, None, &json!({})).await.is_ok());
    let bad = check_node_inputs(&wf, &h.runtime, Some(&json!({"site": "initech.com"})), &json!({}))
        .await
        .unwrap_err();
    assert_eq!((bad.0[0].line, bad.0[0].column), (9, 16));
    let good = json!({"site": "https://initech.com"});
    assert!(check_node_inputs(&wf, &h.runtime, Some(&good), &json!({})).await.is_ok());
    // A run with the bad input sends nothing and says why.
    h.sandbox.clear_requests();
    let report = psaflow_workflow::run(
        &wf,
        &h.runtime,
        psaflow_workflow::RunOptions {
            inputs: json!({"site": "initech.com"}).as_object().unwrap().clone(),
            ..Default::default()
        },
    )
    .await;
    assert!(!report.succeeded());
    assert!(report.error.as_deref().unwrap().contains("Website"), "{:?}", report.error);
    assert!(h.sandbox.requests().is_empty());
}
