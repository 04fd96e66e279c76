//! `psaflow approve RUN_ID [--step ID] [--reject] [--comment TEXT] [--no-resume]`: records a
//! decision on a run waiting for approval, with who made it, then resumes the run. The same
//! decision twice is a no-op; a different one is refused.
use super::run::{Resume, resume};
use super::state::StateArgs;
use super::{Cli, EXIT_USAGE};
use psaflow::durable::{decision_audit, os_user};
use psaflow_store::{
    ApprovalRecord, DecideOutcome, Decision, DecisionRecord, RunState, StoreError, now_ms,
};

#[derive(clap::Args, Debug)]
pub struct Args {
    pub run_id: String,
    /// The step to decide (needed only when several wait).
    #[arg(long, value_name = "ID")]
    pub step: Option<String>,
    /// Reject instead of approve: the step and the ones after it do not run.
    #[arg(long)]
    pub reject: bool,
    #[arg(long, value_name = "TEXT")]
    pub comment: Option<String>,
    /// Record the decision only; leave the run for a later resume or a worker.
    #[arg(long)]
    pub no_resume: bool,
    /// A masked input (a secret) of the run, given again for the resume: name=value.
    #[arg(long = "input", value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// Print the run report of the resumed run as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub state: StateArgs,
}

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<u8> {
    let store = match args.state.open() {
        Ok(store) => store,
        Err(err) => {
            eprintln!("psaflow: {err:#}");
            return Ok(EXIT_USAGE);
        }
    };
    let Some(run) = store.run(&args.run_id)? else {
        eprintln!(
            "psaflow: no run with id {} in the run store at {}",
            args.run_id,
            store.location()
        );
        return Ok(EXIT_USAGE);
    };
    if let Some(plan) = psaflow::durable::applied_plan(&run) {
        eprintln!(
            "psaflow: run {} applied the plan {plan}; an apply does not continue after a decision (it would not keep to the plan), so none was recorded. Make a new plan",
            run.id
        );
        return Ok(EXIT_USAGE);
    }
    let approvals = store.approvals(&run.id)?;
    let chosen = match &args.step {
        Some(step) => approvals.iter().find(|a| &a.request.step_id == step),
        None => {
            let open: Vec<_> = approvals.iter().filter(|a| a.decided.is_none()).collect();
            match open.as_slice() {
                [one] => Some(*one),
                [] => approvals.last(),
                _ => {
                    let ids: Vec<&str> = open.iter().map(|a| a.request.step_id.as_str()).collect();
                    eprintln!(
                        "psaflow: run {} waits at several steps ({}); say which with --step",
                        run.id,
                        ids.join(", ")
                    );
                    return Ok(EXIT_USAGE);
                }
            }
        }
    };
    let Some(approval) = chosen else {
        match &args.step {
            Some(step) => eprintln!("psaflow: run {} has no approval at step '{step}'", run.id),
            None => eprintln!(
                "psaflow: run {} ({}) is not waiting for an approval",
                run.id, run.status
            ),
        }
        return Ok(EXIT_USAGE);
    };
    if let Some(expired) = timed_out(&run.id, approval, now_ms()) {
        eprintln!(
            "psaflow: {expired}; `psaflow runs resume {}` continues it",
            run.id
        );
        return Ok(EXIT_USAGE);
    }
    let user = os_user(super::env_lookup);
    let approvers = &approval.request.approvers;
    if !approvers.is_empty() && !approvers.iter().any(|a| a == &user) {
        eprintln!(
            "psaflow: {user} may not decide step '{}' of run {}; its approvers are {}",
            approval.request.step_id,
            run.id,
            approvers.join(", ")
        );
        return Ok(EXIT_USAGE);
    }
    let decision = DecisionRecord {
        decision: if args.reject {
            Decision::Rejected
        } else {
            Decision::Approved
        },
        by: user.clone(),
        comment: args.comment.clone(),
        at: now_ms(),
    };
    let step = approval.request.step_id.clone();
    let audit = decision_audit(store.as_ref(), &run.id, &step, &decision, &user)?;
    match store.decide(&run.id, &step, &decision, &audit) {
        Ok(DecideOutcome::Recorded) => eprintln!(
            "psaflow: step '{step}' of run {} {} by {user}",
            run.id,
            decision.decision.as_str()
        ),
        Ok(DecideOutcome::AlreadyDecided(earlier)) => eprintln!(
            "psaflow: step '{step}' of run {} was already {} by {}; nothing changed",
            run.id,
            earlier.decision.as_str(),
            earlier.by
        ),
        Err(err @ (StoreError::ConflictingDecision { .. } | StoreError::RunOver { .. })) => {
            eprintln!("psaflow: {err}");
            return Ok(EXIT_USAGE);
        }
        Err(err) => return Err(err.into()),
    }
    if args.no_resume || run.status != RunState::WaitingApproval {
        return Ok(0);
    }
    // A run from the run queue continues through it: its queue row kept the inputs (secrets
    // included) while it waited, and a worker (or `psaflow serve`) picks it up.
    let parked = store
        .queue_entries()?
        .into_iter()
        .any(|e| e.work.run_id == run.id && e.parked);
    if parked {
        store.requeue(&run.id, None, now_ms())?;
        eprintln!(
            "psaflow: run {} is queued again; a worker on the {} store at {} continues it",
            run.id,
            store.kind(),
            store.location()
        );
        if args.json {
            println!("{}", serde_json::json!({"id": run.id, "status": "queued"}));
        }
        return Ok(0);
    }
    let inputs = match super::run::raw_inputs(&args.inputs) {
        Ok(inputs) => inputs,
        Err(code) => return Ok(code),
    };
    let request = Resume {
        run_id: run.id.clone(),
        file: None,
        inputs,
        json: args.json,
    };
    resume(cli, &args.state, &request).await
}

/// Why a person may no longer decide `approval` at `now`: its timeout passed with no decision,
/// so its `on_timeout` decision is the one that applies, taken when the run continues. The
/// outcome must not depend on whether a person or the resume acts first. `None` while it may
/// be decided (and once decided: repeating that decision stays a no-op). Shared with the API
/// and the console.
pub fn timed_out(run_id: &str, approval: &ApprovalRecord, now: i64) -> Option<String> {
    if approval.decided.is_some() {
        return None;
    }
    let at = approval.request.expires_at.filter(|at| *at <= now)?;
    let on_timeout = match approval.request.on_timeout {
        Decision::Approved => "approve",
        Decision::Rejected => "reject",
    };
    Some(format!(
        "the approval of step '{}' of run {run_id} timed out at {}; its on_timeout ({on_timeout}) \
         applies when the run continues, so no decision was recorded",
        approval.request.step_id,
        psaflow_core::dates::utc_seconds_text(at)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use psaflow_store::ApprovalRequest;

    fn approval(expires_at: Option<i64>, decided: Option<DecisionRecord>) -> ApprovalRecord {
        ApprovalRecord {
            request: ApprovalRequest {
                run_id: "r1".into(),
                step_id: "remove".into(),
                message: "go?".into(),
                approvers: vec![],
                on_timeout: Decision::Rejected,
                requested_at: 0,
                expires_at,
            },
            decided,
        }
    }

    #[test]
    fn an_expired_undecided_approval_is_no_longer_a_persons_to_decide() {
        let at = 1_796_024_304_000;
        let message = timed_out("r1", &approval(Some(at), None), at + 500).unwrap();
        assert!(
            message.contains("timed out at 2026-11-30T07:38:24Z"),
            "{message}"
        );
        assert!(message.contains("on_timeout (reject) applies"), "{message}");
        // Before the timeout, without one, or once decided, a person's decision goes ahead.
        assert_eq!(timed_out("r1", &approval(Some(at), None), at - 1), None);
        assert_eq!(timed_out("r1", &approval(None, None), at), None);
        let decided = DecisionRecord {
            decision: Decision::Rejected,
            by: "timeout".into(),
            comment: None,
            at,
        };
        assert_eq!(
            timed_out("r1", &approval(Some(at), Some(decided)), at + 1),
            None
        );
    }
}
