//! A small soak in the test suite (the full one is `psaflow bench soak`): a few hundred node
//! invocations of mixed workflows against a sandbox with random faults, then the final state
//! checked. Faults are seeded, waits are virtual. `PSAFLOW_SOAK_INVOCATIONS` makes it longer.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_soak_loses_nothing_and_duplicates_nothing() {
    let cache = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("psaflow-soak-cache");
    let invocations = std::env::var("PSAFLOW_SOAK_INVOCATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let report = psaflow::soak::soak(psaflow::soak::SoakOptions {
        invocations,
        concurrency: 4,
        seed: 7,
        token_ttl: std::time::Duration::from_secs(30),
        cache_dir: Some(cache),
    })
    .await
    .expect("the soak runs");
    println!(
        "soak: {} workflows, {} invocations, {} failed (reported), {} unknown outcomes, {} recovered; lost {}, duplicated {}, leaks {}, panics {}; p50 {:?} p99 {:?}",
        report.workflows,
        report.invocations,
        report.failed_workflows,
        report.unknown_outcome_attempts,
        report.recovered_attempts,
        report.lost,
        report.duplicated,
        report.secret_leaks,
        report.panics,
        report.percentile(0.5),
        report.percentile(0.99)
    );
    assert!(report.invocations >= invocations, "{report:?}");
    assert_eq!(report.lost, 0, "{report:?}");
    assert_eq!(report.duplicated, 0, "{report:?}");
    assert_eq!(report.secret_leaks, 0, "{report:?}");
    assert_eq!(report.panics, 0, "{report:?}");
}
