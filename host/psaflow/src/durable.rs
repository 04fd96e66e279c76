//! Durable runs: the workflow engine's journal backed by a [`RunStore`]. One
//! [`StoreJournal`] per run process: it loads what earlier processes of the run recorded
//! (for resume), writes intents before effects, results, finished calls, step statuses,
//! approval requests, and the audit row of every change.
//!
//! Store calls are blocking (see `psaflow_store::RunStore`), so they run on tokio's blocking
//! threads and never stall the for_each loop's other items.
use psaflow_core::BoxFuture;
use psaflow_core::Envelope;
use psaflow_store::{
    ApprovalRequest, AttemptResult, AuditEntry, CallRecord, Decision, DecisionRecord, Effect,
    Intent, Outcome, RunStore, StepRecord, StepState, StoreError, new_id, now_ms,
};
use psaflow_workflow::journal::{
    ApprovalAnswer, ApprovalAsk, AttemptEnd, AttemptNote, CallHistory, CallKey, FinishedCall,
    InDoubt, JournalResult, RunJournal, StepNote,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Who is running psaflow: the OS user (`USER`, `USERNAME` on Windows, `LOGNAME`), else on
/// Unix the name /etc/passwd gives the process's user id, else `uid <n>`.
pub fn os_user(lookup: impl Fn(&str) -> Option<String>) -> String {
    if let Some(name) = ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|k| lookup(k))
    {
        return name;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = std::fs::metadata("/proc/self") {
            let uid = meta.uid();
            let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
            let name = passwd.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                (fields.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
            });
            return name.unwrap_or_else(|| format!("uid {uid}"));
        }
    }
    "unknown".to_string()
}

/// The workflow engine's [`RunJournal`](psaflow_workflow::RunJournal) over a run store: what
/// makes `psaflow run` resumable and its changes audited.
pub struct StoreJournal {
    store: Arc<dyn RunStore>,
    run_id: String,
    /// Who this process acts for (audit rows name them).
    actor: String,
    history: HashMap<CallKey, CallHistory>,
    /// Step id -> who approved it, for the audit rows of that step's changes.
    approved_by: Mutex<HashMap<String, String>>,
}

fn to_store_key(run_id: &str, key: &CallKey) -> psaflow_store::CallKey {
    psaflow_store::CallKey::new(run_id, key.step.clone(), key.item)
}

/// Runs a store call on a blocking thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> JournalResult<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(e) => Err(format!("the run store call did not finish: {e}")),
    }
}

fn in_doubt(intent: &Intent) -> InDoubt {
    InDoubt {
        attempt: intent.attempt,
        params: intent.params.clone(),
    }
}

/// What a stored attempt did, as the run report's `attempt_log` shows it. An attempt with no
/// result was in flight when its process stopped (the resume records it so, as unknown).
fn logged(attempt: &psaflow_store::AttemptRecord) -> psaflow_workflow::AttemptRecord {
    match &attempt.result {
        Some(r) => psaflow_workflow::AttemptRecord {
            succeeded: r.outcome == Outcome::Succeeded,
            outcome_unknown: r.outcome == Outcome::Unknown,
            recovered: r.recovered,
            error: r.error.clone(),
        },
        None => psaflow_workflow::AttemptRecord {
            succeeded: false,
            outcome_unknown: true,
            recovered: false,
            error: Some(psaflow_workflow::journal::STOPPED_IN_FLIGHT.to_string()),
        },
    }
}

impl StoreJournal {
    /// A journal for `run_id`, loaded with what the store already holds for it.
    pub fn open(
        store: Arc<dyn RunStore>,
        run_id: &str,
        actor: &str,
    ) -> Result<StoreJournal, StoreError> {
        let mut history: HashMap<CallKey, CallHistory> = HashMap::new();
        let key_of = |k: &psaflow_store::CallKey| CallKey {
            step: k.step_id.clone(),
            item: k.item,
        };
        for attempt in store.attempts(run_id)? {
            let h = history.entry(key_of(&attempt.intent.key)).or_default();
            h.attempts_made = h.attempts_made.max(attempt.intent.attempt);
            h.earlier.push(logged(&attempt));
            // Attempts come in order, so the last one decides where the call stands.
            let changes = attempt.intent.effect != Effect::Read;
            h.in_doubt = None;
            h.finished = None;
            match &attempt.result {
                // Sent, answer never recorded, or the answer was lost on the way back.
                None if changes => h.in_doubt = Some(in_doubt(&attempt.intent)),
                Some(r) if r.outcome == Outcome::Unknown && changes => {
                    h.in_doubt = Some(in_doubt(&attempt.intent))
                }
                // It succeeded, but the process stopped before the call was closed: the call
                // is done (sending it again would repeat the change).
                Some(r) if r.outcome == Outcome::Succeeded => {
                    h.finished = Some(FinishedCall {
                        succeeded: true,
                        envelope: Some(Envelope::from_json(&r.envelope).map_err(|e| {
                            StoreError::Corrupt(format!("envelope of {}: {e}", attempt.intent.key))
                        })?),
                        params: attempt.intent.params.as_object().cloned(),
                        error: None,
                        attempts: attempt.intent.attempt,
                    })
                }
                // A failed attempt (or an unfinished read) is tried again, as the retry loop
                // would have.
                _ => {}
            }
        }
        for call in store.calls(run_id)? {
            let envelope = call
                .envelope
                .as_ref()
                .map(Envelope::from_json)
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("envelope of {}: {e}", call.key)))?;
            let h = history.entry(key_of(&call.key)).or_default();
            h.in_doubt = None;
            h.finished = Some(FinishedCall {
                succeeded: call.succeeded,
                envelope,
                params: call.params.and_then(|p| p.as_object().cloned()),
                error: call.error,
                attempts: call.attempts,
            });
        }
        let mut approved_by = HashMap::new();
        for a in store.approvals(run_id)? {
            if let Some(d) = a.decided
                && d.decision == Decision::Approved
            {
                approved_by.insert(a.request.step_id, d.by);
            }
        }
        Ok(StoreJournal {
            store,
            run_id: run_id.to_string(),
            actor: actor.to_string(),
            history,
            approved_by: Mutex::new(approved_by),
        })
    }

    /// Calls an earlier process finished (what a resume will not send again).
    pub fn finished_calls(&self) -> usize {
        self.history
            .values()
            .filter(|h| h.finished.is_some())
            .count()
    }

    /// Calls whose last change was sent without its answer being recorded.
    pub fn calls_in_doubt(&self) -> Vec<CallKey> {
        let mut keys: Vec<CallKey> = self
            .history
            .iter()
            .filter(|(_, h)| h.finished.is_none() && h.in_doubt.is_some())
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort();
        keys
    }

    fn intent_row(&self, note: &AttemptNote) -> Intent {
        let took = i64::try_from(note.started.elapsed().as_millis()).unwrap_or(i64::MAX);
        Intent {
            key: to_store_key(&self.run_id, &note.call),
            attempt: note.attempt,
            node: note.node.clone(),
            effect: Effect::parse(&note.effect).unwrap_or(Effect::Create),
            params: note.params.clone(),
            // When the attempt began: a read's whole attempt is written after it ended.
            at: now_ms().saturating_sub(took),
        }
    }
}

impl RunJournal for StoreJournal {
    fn history(&self, call: &CallKey) -> CallHistory {
        self.history.get(call).cloned().unwrap_or_default()
    }

    fn intent(&self, note: AttemptNote) -> BoxFuture<'_, JournalResult<()>> {
        let store = self.store.clone();
        let intent = self.intent_row(&note);
        Box::pin(blocking(move || store.record_intent(&intent)))
    }

    fn attempt_end(&self, note: AttemptNote, end: AttemptEnd) -> BoxFuture<'_, JournalResult<()>> {
        let store = self.store.clone();
        let intent = self.intent_row(&note);
        let is_read = intent.effect == Effect::Read;
        let outcome = if end.outcome_unknown {
            Outcome::Unknown
        } else if end.succeeded {
            Outcome::Succeeded
        } else {
            Outcome::Failed
        };
        let result = AttemptResult {
            outcome,
            status_code: i64::from(end.envelope.status_code),
            envelope: end.envelope.to_json(),
            error: end.error.clone(),
            target: end.target.clone(),
            recovered: end.recovered,
            at: now_ms(),
        };
        let audit = (!is_read).then(|| AuditEntry {
            id: new_id(),
            at: result.at,
            actor: self.actor.clone(),
            run_id: self.run_id.clone(),
            step_id: note.call.step.clone(),
            item: note.call.item,
            node: note.node.clone(),
            effect: note.effect.clone(),
            target: end.target.clone(),
            outcome: outcome.as_str().to_string(),
            approved_by: self
                .approved_by
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&note.call.step)
                .cloned(),
            detail: Some(json!({
                "attempt": note.attempt,
                "params": note.params,
                "status_code": end.envelope.status_code,
                "error": end.error,
                "recovered": end.recovered,
            })),
        });
        Box::pin(blocking(move || {
            // A read has no intent row yet: its attempt is written whole, after the fact.
            if is_read {
                store.record_attempt(&intent, &result, audit.as_ref())
            } else {
                store.record_result(&intent.key, intent.attempt, &result, audit.as_ref())
            }
        }))
    }

    fn call_finished(&self, call: CallKey, r: FinishedCall) -> BoxFuture<'_, JournalResult<()>> {
        let store = self.store.clone();
        let now = now_ms();
        let record = CallRecord {
            key: to_store_key(&self.run_id, &call),
            succeeded: r.succeeded,
            envelope: r.envelope.as_ref().map(Envelope::to_json),
            params: r.params.map(Value::Object),
            error: r.error,
            attempts: r.attempts,
            started_at: now,
            finished_at: now,
        };
        Box::pin(blocking(move || store.record_call(&record)))
    }

    fn step(&self, note: StepNote) -> BoxFuture<'_, JournalResult<()>> {
        let store = self.store.clone();
        let run_id = self.run_id.clone();
        Box::pin(blocking(move || {
            let now = now_ms();
            let status = StepState::parse(note.status).unwrap_or(StepState::Running);
            let earlier = store
                .steps(&run_id)?
                .into_iter()
                .find(|s| s.step_id == note.step);
            // A step an earlier process finished is replayed from the journal when the run is
            // resumed: its record keeps the time it really took, unless it now ends otherwise
            // (a failed step tried again).
            if let Some(done) = &earlier
                && done.finished_at.is_some()
                && (status == StepState::Running || status == done.status)
            {
                return Ok(());
            }
            let started_at = earlier.map_or(now, |s| s.started_at);
            let finished = !matches!(status, StepState::Running | StepState::WaitingApproval);
            store.record_step(&StepRecord {
                run_id,
                step_id: note.step,
                node: note.node,
                status,
                item_count: note.items.map(|n| n as u64),
                error: note.error,
                started_at,
                finished_at: finished.then_some(now),
            })
        }))
    }

    fn approval(&self, ask: ApprovalAsk) -> BoxFuture<'_, JournalResult<ApprovalAnswer>> {
        let store = self.store.clone();
        let run_id = self.run_id.clone();
        Box::pin(async move {
            let step = ask.step.clone();
            let answer = blocking(move || approval_answer(store.as_ref(), &run_id, &ask)).await?;
            if let ApprovalAnswer::Approved { by, .. } = &answer {
                self.approved_by
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(step, by.clone());
            }
            Ok(answer)
        })
    }
}

/// Registers the request (once), applies `on_timeout` when it expired undecided, and says
/// where it stands.
fn approval_answer(
    store: &dyn RunStore,
    run_id: &str,
    ask: &ApprovalAsk,
) -> Result<ApprovalAnswer, StoreError> {
    let now = now_ms();
    store.request_approval(&ApprovalRequest {
        run_id: run_id.to_string(),
        step_id: ask.step.clone(),
        message: ask.message.clone(),
        approvers: ask.approvers.clone(),
        on_timeout: if ask.on_timeout == "approve" {
            Decision::Approved
        } else {
            Decision::Rejected
        },
        requested_at: now,
        expires_at: ask.timeout.map(|t| now.saturating_add(psaflow_store::duration_ms(t))),
    })?;
    let Some(record) = store
        .approvals(run_id)?
        .into_iter()
        .find(|a| a.request.step_id == ask.step)
    else {
        return Err(StoreError::ApprovalNotFound {
            run_id: run_id.to_string(),
            step_id: ask.step.clone(),
        });
    };
    let decided = match record.decided {
        Some(d) => Some(d),
        None => match record.request.expires_at {
            Some(at) if at <= now => {
                let d = DecisionRecord {
                    decision: record.request.on_timeout,
                    by: "timeout".to_string(),
                    comment: Some("no decision before the approval's timeout".to_string()),
                    at: now,
                };
                let audit = decision_audit(store, run_id, &ask.step, &d, "psaflow")?;
                store.decide(run_id, &ask.step, &d, &audit)?;
                store
                    .approvals(run_id)?
                    .into_iter()
                    .find(|a| a.request.step_id == ask.step)
                    .and_then(|a| a.decided)
            }
            _ => None,
        },
    };
    Ok(match decided {
        None => ApprovalAnswer::Waiting,
        Some(d) if d.decision == Decision::Approved => ApprovalAnswer::Approved {
            by: d.by,
            comment: d.comment,
        },
        Some(d) => ApprovalAnswer::Rejected {
            by: d.by,
            comment: d.comment,
        },
    })
}

/// The audit row of an approval decision.
pub fn decision_audit(
    store: &dyn RunStore,
    run_id: &str,
    step_id: &str,
    d: &DecisionRecord,
    actor: &str,
) -> Result<AuditEntry, StoreError> {
    let node = store
        .steps(run_id)?
        .into_iter()
        .find(|s| s.step_id == step_id)
        .map_or_else(String::new, |s| s.node);
    Ok(AuditEntry {
        id: new_id(),
        at: d.at,
        actor: actor.to_string(),
        run_id: run_id.to_string(),
        step_id: step_id.to_string(),
        item: None,
        node,
        effect: match d.decision {
            Decision::Approved => "approve".into(),
            Decision::Rejected => "reject".into(),
        },
        target: None,
        outcome: d.decision.as_str().to_string(),
        approved_by: (d.decision == Decision::Approved).then(|| d.by.clone()),
        detail: Some(json!({"decided_by": d.by, "comment": d.comment})),
    })
}

/// The report key naming the plan an apply's run made the changes of (`psaflow apply`).
pub const APPLIED_PLAN: &str = "applied_plan";

/// The plan a recorded run applied, which its stored report names. Such a run is never
/// resumed: a resume runs the workflow without the plan's limits on what it may change.
pub fn applied_plan(run: &psaflow_store::RunRecord) -> Option<&str> {
    run.report.as_ref()?.get(APPLIED_PLAN)?.as_str()
}

/// Queues again every parked run (waiting for an approval in the run queue) whose approval
/// has timed out undecided, so a worker continues it and its `on_timeout` decides; without
/// this, a run started through the queue would wait for ever once nobody decided in time.
/// Called by the sweepers of `psaflow worker` and `psaflow serve` every few seconds, so the
/// store finds those runs in one query instead of this reading the whole queue and every
/// parked run's approvals. Returns the runs queued.
pub fn requeue_timed_out_approvals(
    store: &dyn RunStore,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    let queued = store.parked_runs_with_expired_approvals(now)?;
    for run_id in &queued {
        store.requeue(run_id, None, now)?;
    }
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;
    use psaflow_store::{NewRun, QueuedWork, RunEnd, RunState, SqliteStore};

    fn parked_run(store: &dyn RunStore, id: &str, expires_at: Option<i64>) {
        let run = NewRun {
            id: id.into(),
            workflow: "w".into(),
            workflow_file: "w.yaml".into(),
            workflow_hash: "h".into(),
            workflow_source: "name: w\nsteps: []\n".into(),
            inputs: json!({}),
            redacted_inputs: Vec::new(),
            started_by: "ada".into(),
            backend: "sandbox".into(),
            created_at: 1,
        };
        let work = QueuedWork {
            run_id: id.into(),
            inputs: json!({}),
            connection: None,
            dry_run: false,
            lost_leases: 0,
            enqueued_at: 1,
        };
        store.enqueue(&run, &work).unwrap();
        assert!(store.claim("w1", 60_000, 2).unwrap().is_some());
        store
            .request_approval(&ApprovalRequest {
                run_id: id.into(),
                step_id: "go".into(),
                message: "go?".into(),
                approvers: Vec::new(),
                on_timeout: Decision::Rejected,
                requested_at: 3,
                expires_at,
            })
            .unwrap();
        let end = RunEnd {
            status: RunState::WaitingApproval,
            report: None,
            error: None,
            at: 4,
        };
        assert!(store.finish(id, "w1", &end).unwrap());
    }

    #[test]
    fn only_runs_whose_approval_timed_out_are_queued_again() {
        let store = SqliteStore::open_in_memory().unwrap();
        parked_run(&store, "late", Some(100));
        parked_run(&store, "later", Some(10_000));
        parked_run(&store, "never", None);
        assert_eq!(requeue_timed_out_approvals(&store, 50).unwrap(), Vec::<String>::new());
        assert_eq!(requeue_timed_out_approvals(&store, 100).unwrap(), vec!["late".to_string()]);
        let parked: Vec<(String, bool)> = store
            .queue_entries()
            .unwrap()
            .into_iter()
            .map(|e| (e.work.run_id, e.parked))
            .collect();
        assert!(parked.contains(&("late".into(), false)), "{parked:?}");
        assert!(parked.contains(&("later".into(), true)), "{parked:?}");
        assert!(parked.contains(&("never".into(), true)), "{parked:?}");
    }
}
