//! Warnings: things a workflow may do that are valid but probably not what its author expects.
//! They never stop a run; `psaflow validate` prints them after the errors (if any).
//!
//! Every warning reads the node's declared semantics from the catalog (effect, natural key),
//! never its id.

use crate::diagnostics::Diagnostics;
use crate::model::{RetryOn, Step, Workflow};
use psaflow_core::{Catalog, Effect};

/// The warnings for `wf`, in source order. Unknown nodes are skipped (`validate` reports them).
pub fn warnings(wf: &Workflow, catalog: &Catalog) -> Diagnostics {
    let mut found = Diagnostics::new();
    for step in wf.all_steps() {
        retry_around_unrecoverable_create(wf, catalog, step, &mut found);
    }
    found.sort();
    found
}

/// `retry` on a create that cannot look for the record it may have made (its node declares no
/// natural key, e.g. a ticket). The retry only repeats attempts that surely sent nothing; when an
/// answer is lost the step fails, because a repeat could create the record twice. With
/// `retry_on: [unknown_outcome]` the author asked for that repeat, and duplicates can happen.
fn retry_around_unrecoverable_create(
    wf: &Workflow,
    catalog: &Catalog,
    step: &Step,
    found: &mut Diagnostics,
) {
    let Some(retry) = &step.retry else { return };
    let Some(spec) = catalog.get(step.node()) else {
        return;
    };
    if spec.effect != Effect::Create || !spec.natural_key.is_empty() || retry.max_attempts < 2 {
        return;
    }
    let node = step.node();
    let record = spec.output_key.to_lowercase();
    let warning = if retry.retry_on.contains(&RetryOn::UnknownOutcome) {
        wf.diag(
            step.retry_pos,
            format!(
                "step '{}' retries {node} after unknown outcomes: {node} cannot look for a {record} it may have made, so a lost answer followed by a retry can create the {record} twice",
                step.id()
            ),
        )
        .with_help(format!(
            "remove `unknown_outcome` from `retry_on` unless a duplicate {record} is acceptable; the step then fails instead, saying the {record} may exist"
        ))
    } else {
        wf.diag(
            step.retry_pos,
            format!(
                "step '{}' retries {node}, which cannot look for a {record} it may have made: only attempts that surely sent nothing are repeated, and a lost answer fails the step (the {record} may or may not exist)",
                step.id()
            ),
        )
        .with_help(format!(
            "the connection already repeats requests refused with 429/503; keep this `retry` only if you also want repeats after 'could not be reached', and check for the {record} after an unknown outcome (e.g. in `on_failure`)"
        ))
    };
    found.push(
        warning
            .with_label("retry around a create without recovery")
            .into_warning(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use psaflow_core::{Capability, NodeSpec};

    fn create(id: &str, output_key: &str, natural_key: &[&str]) -> NodeSpec {
        NodeSpec {
            id: id.into(),
            output_key: output_key.into(),
            effect: Effect::Create,
            idempotent: false,
            natural_key: natural_key.iter().map(|s| s.to_string()).collect(),
            capabilities: vec![Capability {
                method: "POST".into(),
                path_prefix: "/Thing".into(),
            }],
            ..NodeSpec::default()
        }
    }

    fn catalog() -> Catalog {
        let mut catalog = Catalog::new();
        catalog.insert(create("demo.ticket.create", "Ticket", &[]));
        catalog.insert(create("demo.client.create", "Client", &["Name"]));
        catalog
    }

    fn warn(src: &str) -> Vec<String> {
        let wf = crate::parse(src, "wf.yaml").expect("parses");
        warnings(&wf, &catalog())
            .iter()
            .map(|d| format!("{}: {}", d.location(), d.message))
            .collect()
    }

    const HEAD: &str = "name: w\nsteps:\n";

    #[test]
    fn warns_at_the_retry_key_of_a_create_without_natural_key() {
        let found = warn(&format!(
            "{HEAD}  - id: t\n    node: demo.ticket.create\n    retry: {{ max_attempts: 3 }}\n"
        ));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with(
                "wf.yaml:5:5: step 't' retries demo.ticket.create, which cannot look for a ticket"
            ),
            "{found:?}"
        );
    }

    #[test]
    fn says_duplicates_can_happen_when_unknown_outcomes_are_retried() {
        let found = warn(&format!(
            "{HEAD}  - id: t\n    node: demo.ticket.create\n    retry: {{ max_attempts: 2, retry_on: [system, unknown_outcome] }}\n"
        ));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("can create the ticket twice"),
            "{found:?}"
        );
    }

    #[test]
    fn quiet_for_creates_that_recover_for_single_attempts_and_without_retry() {
        for step in [
            "  - id: c\n    node: demo.client.create\n    retry: { max_attempts: 3, retry_on: [unknown_outcome] }\n",
            "  - id: t\n    node: demo.ticket.create\n    retry: { max_attempts: 1 }\n",
            "  - id: t\n    node: demo.ticket.create\n",
            "  - id: x\n    node: demo.nothing.here\n    retry: { max_attempts: 3 }\n",
        ] {
            assert_eq!(
                warn(&format!("{HEAD}{step}")),
                Vec::<String>::new(),
                "{step}"
            );
        }
    }
}
