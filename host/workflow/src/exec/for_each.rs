//! A step with `for_each`: one call per list item, at most `concurrency` at a time, results
//! kept in input order. Without `continue_on_error`, the first failed item stops new items
//! from starting; items already running finish and are reported.
use super::Ctx;
use crate::events::RunEvent;
use super::step::{self, CallOutcome};
use crate::expr::{self, Mode, Scope};
use crate::model::Step;
use crate::report::{ItemReport, StepReport, StepStatus};
use crate::spill::Spill;
use super::in_flight::InFlight;
use serde_json::Value;

fn not_run(index: usize, reason: &str) -> ItemReport {
    ItemReport {
        index,
        status: StepStatus::Skipped,
        stored: None,
        attempts: 0,
        values: None,
        attempt_log: Vec::new(),
        error: Some(reason.to_string()),
    }
}

pub(crate) async fn run_for_each(ctx: &Ctx<'_>, step: &Step, scope: &Scope) -> StepReport {
    let spec = ctx.catalog.get(&step.node.value);
    let mut report = StepReport::skipped(&step.id.value, &step.node.value, "", true);
    report.skip_reason = None;
    report.name = step.name.clone();
    report.destructive = spec.is_some_and(|spec| step.may_destroy(spec));
    report.continue_on_error = step.continue_on_error;
    report.set = step.is_set();
    let list_template = step.for_each.as_ref().expect("for_each step");
    let items = match expr::eval_list(list_template, scope, Mode::Full) {
        Ok(Ok(items)) => items,
        Ok(Err(other)) => {
            let kind = match other {
                Value::Null => "null",
                Value::Object(_) => "an object",
                Value::String(_) => "text",
                _ => "a single value",
            };
            report.status = StepStatus::Failed;
            report.error = Some(format!(
                "{}:{}:{}: for_each must give a list, but {} gave {kind}",
                ctx.file,
                list_template.pos().line,
                list_template.pos().column,
                list_template.display()
            ));
            return report;
        }
        Err(err) => {
            report.status = StepStatus::Failed;
            report.error = Some(step::located(ctx, &err));
            return report;
        }
    };

    ctx.emit(RunEvent::StepStarted {
        id: step.id.value.clone(),
        name: step.display_name().to_string(),
        node: step.node.value.clone(),
        items: Some(items.len()),
        destructive: report.destructive,
    });
    super::durable::step_note(ctx, step, "running", Some(items.len()), None).await;

    let limit = step.concurrency.max(1);
    let mut results: Vec<Option<ItemReport>> = vec![None; items.len()];
    let mut in_flight: InFlight<'_, CallOutcome> = InFlight::new();
    let mut next = 0;
    let mut stop = false;
    let mut first_failure: Option<String> = None;
    // Past the step's allowance, outputs wait for the report in a temporary file.
    let mut spill = Spill::new(ctx.spill_after_bytes);

    loop {
        // Start items until the concurrency limit is reached.
        while !stop && next < items.len() && in_flight.len() < limit {
            let i = next;
            next += 1;
            let item_scope = items.scope_for(scope, i);
            if let Some(cond) = &step.if_ {
                match step::condition(cond, &item_scope) {
                    Ok(true) => {}
                    Ok(false) => {
                        results[i] = Some(not_run(i, "`if` is false"));
                        ctx.emit(RunEvent::ItemFinished {
                            id: step.id.value.clone(),
                            index: i,
                            status: StepStatus::Skipped,
                            requests: 0,
                        });
                        continue;
                    }
                    Err(err) => {
                        let env = step::expression_failure(ctx, &step::output_name(spec), &err);
                        let message = env.error_message.clone();
                        results[i] = Some(ItemReport {
                            index: i,
                            status: StepStatus::Failed,
                            stored: Some(env.into()),
                            attempts: 0,
                            values: None,
                            attempt_log: Vec::new(),
                            error: Some(message.clone()),
                        });
                        first_failure.get_or_insert(format!("item {i}: {message}"));
                        stop |= !step.continue_on_error;
                        ctx.emit(RunEvent::ItemFinished {
                            id: step.id.value.clone(),
                            index: i,
                            status: StepStatus::Failed,
                            requests: 0,
                        });
                        continue;
                    }
                }
            }
            in_flight.push(
                i,
                Box::pin(async move { step::call(ctx, step, &item_scope, i, Some(i)).await }),
            );
        }
        if in_flight.is_empty() {
            break;
        }
        // Wait for whichever running item finishes first.
        let (i, outcome) = in_flight.next().await;
        let status = outcome.item.status;
        if status == StepStatus::Failed {
            first_failure.get_or_insert(format!(
                "item {i}: {}",
                outcome.item.error.clone().unwrap_or_default()
            ));
            stop |= !step.continue_on_error;
        }
        report.unreconciled |= outcome.unreconciled;
        if outcome.unreconciled {
            // Never start more items after a change psaflow could not confirm.
            stop = true;
        }
        report.deleted += outcome.deleted;
        report.deactivated += outcome.deactivated;
        report.calls.add(outcome.calls);
        report.attempts += outcome.item.attempts;
        let mut item = outcome.item;
        // Kept until the run ends, once per item: no spare capacity (a pushed-to Vec has room
        // for four attempts).
        item.attempt_log.shrink_to_fit();
        if let Some(stored) = &mut item.stored {
            stored.spill(&mut spill);
        }
        results[i] = Some(item);
        ctx.emit(RunEvent::ItemFinished {
            id: step.id.value.clone(),
            index: i,
            status,
            requests: outcome.calls.requests,
        });
    }

    let items: Vec<ItemReport> = results
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.unwrap_or_else(|| not_run(i, "not started: an earlier item failed")))
        .collect();
    let failed = items
        .iter()
        .filter(|i| i.status == StepStatus::Failed)
        .count();
    if failed > 0 {
        report.status = StepStatus::Failed;
        let not_started = items
            .iter()
            .filter(|i| i.error.as_deref() == Some("not started: an earlier item failed"))
            .count();
        let mut text = format!(
            "{failed} of {} items failed; first: {}",
            items.len(),
            first_failure.unwrap_or_default()
        );
        if not_started > 0 {
            text.push_str(&format!("; {not_started} items were not started"));
        }
        report.error = Some(text);
    } else {
        report.status = StepStatus::Succeeded;
    }
    report.items = Some(std::sync::Arc::new(items));
    report
}
