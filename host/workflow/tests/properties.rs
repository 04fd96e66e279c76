//! Property tests: whatever text a workflow author (or an attacker) writes, reading,
//! validating and evaluating it ends in a value or a clear error, never a panic, a hang or
//! an unbounded allocation; and every error points inside the file.
mod common;

use proptest::prelude::*;
use psaflow_workflow::expr::text::eval_body;
use psaflow_workflow::{MAX_DURATION, parse, parse_duration, validate};
use serde_json::json;

/// A workflow using most of the language, which the mutation test damages at random.
const VALID: &str = r#"name: onboard
description: test
inputs:
  name: { type: string, required: true }
  count: { type: integer, default: 2 }
env: [REGION]
steps:
  - id: client
    node: halopsa.client.create
    with:
      Name: ${{ inputs.name | trim }}
    retry: { max_attempts: 3, backoff: exponential }
    timeout: 30s
  - id: sites
    node: halopsa.site.create
    for_each: ${{ range(inputs.count) | list }}
    concurrency: 2
    if: ${{ index < 5 }}
    with:
      Name: "Site ${{ item }}"
      SiteClientId: ${{ steps.client.Client.id }}
  - id: summary
    set:
      made: ${{ steps.sites | select | list | length }}
on_failure:
  - id: undo
    node: halopsa.client.update
    with: { Id: "${{ steps.client.Client.id }}", Inactive: true }
outputs:
  client_id: ${{ steps.client.Client.id }}
  sites: ${{ steps.summary.made }}
"#;

fn lines(text: &str) -> usize {
    text.lines().count().max(1)
}

/// Every diagnostic is either general (line 0) or on a line of the file.
fn assert_positions_inside(source: &str, diagnostics: &psaflow_workflow::Diagnostics) {
    for d in diagnostics.iter() {
        assert!(
            d.line <= lines(source) + 1,
            "diagnostic at line {} of a {}-line file: {}",
            d.line,
            lines(source),
            d.message
        );
        assert!(!d.message.trim().is_empty(), "a diagnostic without a message");
    }
}

/// Applies `edits` (position, character, insert-or-replace) to `text`.
fn mutate(text: &str, edits: &[(usize, char, bool)]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for &(at, c, insert) in edits {
        let at = at % (chars.len() + 1);
        if insert || at == chars.len() {
            chars.insert(at, c);
        } else {
            chars[at] = c;
        }
    }
    chars.into_iter().collect()
}

/// Characters that matter to YAML and expressions, plus any character at all.
fn yaml_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(vec![
            ':', '-', '{', '}', '[', ']', '$', '\n', ' ', '"', '\'', '#', '&', '*', '!', '|', '>',
            '%', '@', '`', ',', '?', '\t', '\\',
        ]),
        1 => any::<char>(),
    ]
}

/// Jinja expression bodies built from pieces workflows use (and some they should not).
fn expression() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| format!("{n:?}")),
        "[a-z ]{0,8}".prop_map(|s| format!("\"{s}\"")),
        Just("inputs.name".to_string()),
        Just("inputs.items".to_string()),
        Just("inputs.missing".to_string()),
        Just("none".to_string()),
        Just("true".to_string()),
        (0u64..100_000_000).prop_map(|n| format!("range({n})")),
        Just("[1, 2, 3]".to_string()),
        Just("{\"a\": 1}".to_string()),
    ];
    atom.prop_recursive(4, 32, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec![
                    "+", "-", "*", "/", "//", "%", "**", "~", "==", "<", "and", "or", "in",
                ]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            (
                inner.clone(),
                prop::sample::select(vec![
                    "length", "upper", "list", "join(',')", "first", "last", "reverse",
                    "sort", "unique", "sum", "tojson", "fromjson", "default(1)", "string",
                    "int", "map('string') | list", "batch(3) | list", "trim", "lenght",
                ])
            )
                .prop_map(|(a, f)| format!("({a} | {f})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("[{a}, {b}]")),
            (inner.clone(), inner.clone(), inner).prop_map(|(a, b, c)| format!(
                "({a} if {b} else {c})"
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn any_text_reads_to_a_workflow_or_positioned_errors(source in "\\PC{0,300}") {
        if let Err(d) = parse(&source, "any.yaml") {
            assert_positions_inside(&source, &d);
        }
    }

    #[test]
    fn damaged_workflows_read_and_validate_without_panicking(
        edits in prop::collection::vec((0usize..2_000, yaml_char(), any::<bool>()), 1..6)
    ) {
        let source = mutate(VALID, &edits);
        match parse(&source, "damaged.yaml") {
            Ok(wf) => {
                if let Err(d) = validate(&wf, &common::catalog()) {
                    assert_positions_inside(&source, &d);
                }
            }
            Err(d) => assert_positions_inside(&source, &d),
        }
    }

    #[test]
    fn durations_are_none_or_within_the_limit(text in "\\PC{0,24}") {
        if let Some(d) = parse_duration(&text) {
            prop_assert!(d <= MAX_DURATION);
        }
    }

    #[test]
    fn numeric_durations_never_panic(
        n in any::<f64>(),
        unit in prop::sample::select(vec!["", "ms", "s", "m", "h", "d"])
    ) {
        // `as` saturates: any f64 gives some integer text, which is all this needs.
        #[allow(clippy::cast_possible_truncation, reason = "saturating is the point")]
        let whole = n as i64;
        for text in [format!("{n}{unit}"), format!("{n:e}{unit}"), format!("{whole}{unit}")] {
            if let Some(d) = parse_duration(&text) {
                prop_assert!(d <= MAX_DURATION, "{text}");
            }
        }
    }

    #[test]
    fn expressions_end_in_a_bounded_value_or_an_error(body in expression()) {
        let context = json!({
            "inputs": {"name": "Acme", "items": [1, 2, 3]},
            "steps": {},
        });
        if let Ok(value) = eval_body(&body, &context) {
            let size = serde_json::to_string(&value).unwrap().len();
            prop_assert!(size <= 64 << 20, "{body} gave {size} bytes");
        }
    }
}

#[test]
fn a_valid_workflow_is_the_starting_point_of_the_mutations() {
    let wf = parse(VALID, "valid.yaml").unwrap_or_else(|d| panic!("{d}"));
    validate(&wf, &common::catalog()).unwrap_or_else(|d| panic!("{d}"));
}

#[test]
fn oversized_results_are_refused_naming_the_limit() {
    let context = json!({"inputs": {}});
    for (body, limit) in [
        ("[0] * 1000000000", "more than 1000000 list items"),
        ("range(2000) | map('string') | list * 1000", "more than 1000000 list items"),
        ("'x' * 40000000", "larger than 32 MiB"),
    ] {
        let err = eval_body(body, &context).unwrap_err();
        assert!(err.contains(limit), "{body}: {err}");
    }
}

#[test]
fn a_huge_workflow_is_refused_before_it_is_read() {
    let source = format!("name: big\nsteps: []\n# {}\n", "x".repeat(psaflow_workflow::MAX_WORKFLOW_BYTES));
    let err = parse(&source, "big.yaml").unwrap_err();
    let message = &err.iter().next().unwrap().message;
    assert!(message.contains("psaflow reads workflows of up to 4 MiB"), "{message}");
}
