//! `approval:` on a step: before the step runs, ask the journal (or, without one, the
//! decisions given in `RunOptions`) whether a person approved it. No decision yet means the
//! run stops here, saved as waiting; a rejection stops the run without running the step.
use super::Ctx;
use super::step::located;
use crate::expr::{self, Mode, Scope};
use crate::journal::{ApprovalAnswer, ApprovalAsk};
use crate::model::Step;
use crate::report::WaitingApproval;
use std::collections::BTreeMap;

/// What the approval of a step decided.
pub(crate) enum Gate {
    /// No approval needed, or approved.
    Go,
    /// Nobody decided yet: the run stops and waits.
    Wait(WaitingApproval),
    /// Rejected: the step does not run, and neither do the ones after it.
    Rejected(String),
    /// The approval could not be asked (bad message expression, journal failure).
    Failed(String),
}

pub(crate) async fn gate(
    ctx: &Ctx<'_>,
    step: &Step,
    scope: &Scope,
    decisions: &BTreeMap<String, ApprovalAnswer>,
) -> Gate {
    let Some(approval) = &step.approval else {
        return Gate::Go;
    };
    let message = match expr::eval(&approval.message, scope, Mode::Full) {
        Ok(v) => ctx.redactor.text(&expr::as_text(&v)),
        Err(err) => return Gate::Failed(located(ctx, &err)),
    };
    let answer = match &ctx.journal {
        Some(journal) => {
            let ask = ApprovalAsk {
                step: step.id().to_string(),
                message: message.clone(),
                approvers: approval.approvers.clone(),
                timeout: approval.timeout,
                on_timeout: approval.on_timeout.as_str(),
            };
            match journal.approval(ask).await {
                Ok(answer) => answer,
                Err(e) => {
                    return Gate::Failed(format!("cannot record the approval request: {e}"));
                }
            }
        }
        None => decisions
            .get(step.id())
            .cloned()
            .unwrap_or(ApprovalAnswer::Waiting),
    };
    match answer {
        ApprovalAnswer::Approved { .. } => Gate::Go,
        ApprovalAnswer::Rejected { by, comment } => Gate::Rejected(match comment {
            Some(c) if !c.is_empty() => format!("rejected by {by}: {c}"),
            _ => format!("rejected by {by}"),
        }),
        ApprovalAnswer::Waiting => Gate::Wait(WaitingApproval {
            step: step.id().to_string(),
            message,
            approvers: approval.approvers.clone(),
        }),
    }
}
