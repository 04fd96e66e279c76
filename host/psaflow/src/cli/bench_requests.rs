//! `psaflow bench requests`: every example workflow's test cases on fresh embedded sandboxes,
//! with the API requests they sent against the fewest their steps need. The measurement and the
//! minimum model are in [`psaflow::request_economy`]; this prints them.

use super::EXIT_USAGE;
use std::path::Path;
use std::sync::Arc;

/// Measures and prints. Exit status 0 whatever the numbers (the tests hold the examples to
/// their minimum); 2 when the folder does not exist or holds no test files; 1 when the
/// measurement itself fails.
pub async fn run(examples: &Path, detail: bool) -> anyhow::Result<u8> {
    let has_tests = std::fs::read_dir(examples).is_ok_and(|entries| {
        entries.filter_map(Result::ok).any(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.ends_with(".test.yaml") || n.ends_with(".test.yml"))
        })
    });
    if !has_tests {
        eprintln!(
            "psaflow: {} is not a folder of example workflows with *.test.yaml files (run from the repository root, or pass --examples DIR)",
            examples.display()
        );
        return Ok(EXIT_USAGE);
    }
    let nodes = Arc::new(psaflow::runtime::NodeCatalog::builder().load()?);
    let measured = psaflow::request_economy::measure_examples(examples, nodes.clone()).await?;
    let scenarios = psaflow::request_economy::measure_scenarios(nodes).await?;
    let text = format!(
        "psaflow bench requests: each example's test cases (mocked ones left out) on fresh embedded sandboxes, {}\n  \
         sent = API requests the sandboxes received; minimum = the fewest the steps need (pages of at most 100 on HaloPSA, 1000 on ConnectWise); tokens apart\n\
         {}\nThe same rules on lists that page (the demo data never fills a page):\n{}",
        examples.display(),
        psaflow::request_economy::render(&measured, detail),
        psaflow::request_economy::render_scenarios(&scenarios)
    );
    // A closed pipe (`psaflow bench requests | head`) is not an error of the bench.
    let mut stdout = std::io::stdout().lock();
    let _ = std::io::Write::write_all(&mut stdout, text.as_bytes());
    Ok(0)
}
