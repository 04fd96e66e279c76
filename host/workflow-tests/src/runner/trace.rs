//! The step trace printed under a failed case.
use super::checker::plural;
use crate::invoker::Call;
use crate::matching::{self};
use psaflow_core::{Clock, VirtualClock};
use psaflow_workflow::{RunEvent, RunReport, StepStatus, format_duration};
use serde_json::Value;

/// Each step with status, attempts and envelope; secrets masked with the run's redactor.
pub(super) fn trace(
    run: &RunReport,
    calls: &[Call],
    events: &[RunEvent],
    clock: &VirtualClock,
) -> String {
    let r = run.redactor();
    let mut out = format!(
        "run {} (virtual time {})\n",
        run.status.as_str(),
        format_duration(clock.elapsed())
    );
    if let Some(e) = &run.error {
        out.push_str(&format!("error: {}\n", r.text(e)));
    }
    for s in &run.steps {
        let mocked = calls
            .iter()
            .any(|c| c.step.as_deref() == Some(s.id.as_str()) && c.mocked);
        let mut line = format!("step {} [{}]: {}", s.id, s.node, s.status.as_str());
        match &s.items {
            // A for_each step: its items, and the attempts of the item that needed most (the
            // step's own count is the sum over items, which says nothing about retries).
            Some(items) => {
                let most = items.iter().map(|i| i.attempts).max().unwrap_or(0);
                line.push_str(&format!(
                    ", {}, at most {} per item",
                    plural(items.len() as u64, "item"),
                    plural(most.into(), "attempt")
                ));
            }
            None if s.status != StepStatus::Skipped => {
                line.push_str(&format!(", {}", plural(s.attempts.into(), "attempt")));
            }
            None => {}
        }
        if mocked {
            line.push_str(" (mocked)");
        }
        out.push_str(&r.text(&line));
        out.push('\n');
        if let Some(reason) = &s.skip_reason {
            out.push_str(&format!("  skipped: {}\n", r.text(reason)));
        }
        for ev in events {
            if let RunEvent::AttemptFailed {
                id,
                index,
                attempt,
                message,
                retry_in,
            } = ev
                && id == &s.id
            {
                let item = index.map(|i| format!(" (item {i})")).unwrap_or_default();
                let next = retry_in
                    .map(|d| format!("; retry in {}", format_duration(d)))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "  attempt {attempt}{item} failed: {}{next}\n",
                    r.text(message)
                ));
            }
        }
        if let Some(e) = &s.error {
            out.push_str(&format!("  error: {}\n", r.text(e)));
        }
        let value = s.context_value();
        if !value.is_null() {
            let key = if s.items.is_some() {
                "envelopes"
            } else {
                "envelope"
            };
            out.push_str(&format!(
                "  {key}: {}\n",
                matching::shorten(&r.value(&value).to_string(), 400)
            ));
        }
    }
    if !run.outputs.is_empty() {
        out.push_str(&format!(
            "outputs: {}\n",
            matching::shorten(&Value::Object(r.map(&run.outputs)).to_string(), 400)
        ));
    }
    let waits = clock.sleeps();
    if !waits.is_empty() {
        out.push_str(&format!(
            "waits: {}\n",
            waits
                .iter()
                .map(|d| format_duration(*d))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::checker::tests::{Canned, node};
    use psaflow_core::{Catalog, Effect};

    #[tokio::test]
    async fn a_for_each_step_shows_its_items_and_the_most_attempts_of_one() {
        let mut catalog = Catalog::new();
        catalog.insert(node("demo.thing.get", Effect::Read, &["Id"]));
        let wf = psaflow_workflow::parse(
            "name: t\nsteps:\n  - id: each\n    node: demo.thing.get\n    for_each: ${{ [1, 2, 3] }}\n    with:\n      Id: ${{ item }}\n",
            "t.yaml",
        )
        .unwrap();
        let run = psaflow_workflow::run(&wf, &Canned(catalog), Default::default()).await;
        let text = trace(&run, &[], &[], &VirtualClock::new());
        assert!(
            text.contains("step each [demo.thing.get]: succeeded, 3 items, at most 1 attempt per item"),
            "{text}"
        );
    }
}
