//! Hostile workflows through the real binary: every limit fails `psaflow validate` with exit 2
//! and an error that names the limit, never a panic (exit 101).

mod common;

use common::{run, tmp};
use std::process::Output;

fn validate(name: &str, yaml: &str) -> Output {
    run(&["validate", &write(name, yaml)])
}

fn assert_refused(name: &str, yaml: &str, expected: &str) {
    let out = validate(name, yaml);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{name}: {err}");
    assert!(
        err.contains(expected),
        "{name}: expected {expected:?} in {err}"
    );
    assert!(!err.contains("panicked"), "{name}: {err}");
}

fn step(extra: &str) -> String {
    format!(
        "name: hostile\nsteps:\n  - id: get\n    node: halopsa.client.get\n    with: {{ Id: 1 }}\n{extra}"
    )
}

#[test]
fn a_timeout_of_1e20_seconds_is_refused_naming_the_limit() {
    assert_refused(
        "float-timeout.yaml",
        &step("    timeout: 1.0e+20\n"),
        "`timeout` is longer than the longest duration psaflow accepts (365d)",
    );
}

#[test]
fn a_duration_of_twenty_nines_hours_is_refused_naming_the_limit() {
    assert_refused(
        "huge-hours.yaml",
        &step("    timeout: \"99999999999999999999h\"\n"),
        "longer than the longest duration psaflow accepts",
    );
    assert_refused(
        "huge-interval.yaml",
        &step("    retry: { max_attempts: 2, initial_interval: 99999999999999999999h }\n"),
        "`initial_interval` is longer than the longest duration",
    );
}

#[test]
fn for_each_concurrency_is_capped_at_64() {
    let yaml = "name: hostile\nsteps:\n  - id: get\n    node: halopsa.client.get\n    for_each: [1, 2]\n    concurrency: 100000\n    with: { Id: \"${{ item }}\" }\n";
    assert_refused(
        "concurrency.yaml",
        yaml,
        "`concurrency` is 100000, more than the most psaflow runs at once (64)",
    );
}

fn write(name: &str, text: &str) -> String {
    let dir = tmp("bounds");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    file.to_str().unwrap().to_string()
}

#[test]
fn a_workflow_over_4_mib_is_refused_before_it_is_read() {
    let huge = format!("{}\n# {}\n", step(""), "x".repeat(5 << 20));
    assert_refused("huge.yaml", &huge, "psaflow reads workflows of up to 4 MiB");
}

#[test]
fn an_alias_bomb_is_refused() {
    let mut yaml = String::from("name: bomb\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        yaml.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    yaml.push_str("steps: []\n");
    assert_refused("bomb.yaml", &yaml, "expands to too much data once its aliases");
}

/// `[0] * 1000000000` made the process abort on a 72 GB allocation; now the step fails,
/// naming the limit, in a real run and in a dry run.
#[test]
fn a_billion_item_list_fails_the_step_naming_the_limit() {
    let file = write(
        "billion.yaml",
        "name: billion\nsteps:\n  - id: each\n    node: halopsa.client.get\n    for_each: ${{ [0] * 1000000000 }}\n    with:\n      Id: ${{ item }}\n",
    );
    for args in [vec!["run", &file], vec!["run", "--dry-run", &file]] {
        let out = run(&args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "{args:?}: {text}");
        assert!(
            text.contains("more than 1000000 list items or map entries"),
            "{args:?}: {text}"
        );
    }
}
