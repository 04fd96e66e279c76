//! Request economy: every example sends exactly the fewest API requests its steps need (the
//! model of psaflow::request_economy), measured on the sandboxes' request logs over real HTTP;
//! and the over-requests that were fixed stay fixed.

use psaflow::request_economy::{self, ExampleRequests};
use std::path::Path;

async fn measured() -> Vec<ExampleRequests> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    request_economy::measure_examples(&dir, psaflow_tests::built_in_nodes())
        .await
        .expect("the examples can be measured")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_sends_exactly_its_minimum() {
    let examples = measured().await;
    let table = request_economy::render(&examples, true);
    assert!(examples.len() >= 13, "{table}");
    for example in &examples {
        assert!(
            !example.cases.is_empty(),
            "{} has no case that can be measured:\n{table}",
            example.workflow
        );
        for case in &example.cases {
            let at = format!("{} case {:?}", example.workflow, case.name);
            assert!(
                case.as_expected,
                "{at} did not end as its test expects ({}):\n{table}",
                case.outcome
            );
            assert!(
                case.unmodelled.is_empty(),
                "{at}: no minimum for {:?}:\n{table}",
                case.unmodelled
            );
            for (psa, c) in [("HaloPSA", case.halopsa), ("ConnectWise", case.connectwise)] {
                assert!(
                    c.sent <= c.minimum && c.tokens <= c.token_minimum,
                    "{at} sent {psa} {} requests and {} tokens, the minimum is {} and {}:\n{table}",
                    c.sent,
                    c.tokens,
                    c.minimum,
                    c.token_minimum
                );
                // The other way round the model would be wrong: no client can send less than
                // the fewest requests the API needs.
                assert!(
                    c.sent >= c.minimum && c.tokens >= c.token_minimum,
                    "{at}: the {psa} minimum ({} requests, {} tokens) is above what was sent ({}, {}), so the model overstates it:\n{table}",
                    c.minimum,
                    c.token_minimum,
                    c.sent,
                    c.tokens
                );
            }
            for step in &case.steps {
                assert_eq!(step.sent, step.minimum, "{at} step {}:\n{table}", step.step);
            }
        }
    }
}
