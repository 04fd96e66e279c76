//! `psaflow bench requests`: every example workflow's test cases on fresh embedded sandboxes,
//! with the API requests they sent against the fewest their steps need. The measurement and the
//! minimum model are in [`psaflow::request_economy`]; this prints them.

use std::path::Path;
use std::sync::Arc;

/// Measures and prints; exit status 0 whatever the numbers (the tests hold the examples to
/// their minimum), 1 when the measurement itself could not run.
pub async fn run(examples: &Path, detail: bool) -> anyhow::Result<u8> {
    let nodes = Arc::new(psaflow::runtime::NodeCatalog::builder().load()?);
    println!(
        "psaflow bench requests: each example's test cases (mocked ones left out) on fresh embedded sandboxes, {}",
        examples.display()
    );
    println!(
        "  sent = API requests the sandboxes received; minimum = the fewest the steps need (pages of at most 100 on HaloPSA, 1000 on ConnectWise); tokens apart"
    );
    let measured = psaflow::request_economy::measure_examples(examples, nodes.clone()).await?;
    print!("{}", psaflow::request_economy::render(&measured, detail));
    println!();
    println!("The same rules on lists that page (the demo data never fills a page):");
    let scenarios = psaflow::request_economy::measure_scenarios(nodes).await?;
    print!("{}", psaflow::request_economy::render_scenarios(&scenarios));
    Ok(0)
}
