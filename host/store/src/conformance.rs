//! What every [`RunStore`] backend must do, written once against the trait. A backend's test
//! file runs [`ALL`] with fresh stores (see `tests/sqlite.rs`), so a second backend gets
//! the same checks by adding one file.
use crate::model::*;
use crate::store::{RunStore, StoreError};
use serde_json::json;

/// One named check; it panics with a message when the backend misbehaves.
pub type Check = (&'static str, fn(&dyn RunStore));

/// Every check, by name.
pub const ALL: &[Check] = &[
    ("runs_round_trip", runs_round_trip),
    (
        "duplicate_run_ids_are_refused",
        duplicate_run_ids_are_refused,
    ),
    (
        "runs_list_newest_first_and_by_status",
        runs_list_newest_first_and_by_status,
    ),
    (
        "runs_list_by_workflow_age_and_page",
        runs_list_by_workflow_age_and_page,
    ),
    (
        "runs_list_by_creation_time_not_id_text",
        runs_list_by_creation_time_not_id_text,
    ),
    (
        "finishing_a_run_sets_finished_at",
        finishing_a_run_sets_finished_at,
    ),
    ("unknown_run_is_not_found", unknown_run_is_not_found),
    ("steps_are_upserted", steps_are_upserted),
    ("calls_round_trip_and_replace", calls_round_trip_and_replace),
    ("intent_then_result", intent_then_result),
    (
        "intent_without_result_stays_open",
        intent_without_result_stays_open,
    ),
    ("an_attempt_is_journaled_once", an_attempt_is_journaled_once),
    (
        "result_without_intent_is_an_error",
        result_without_intent_is_an_error,
    ),
    ("a_whole_attempt_in_one_go", a_whole_attempt_in_one_go),
    ("approvals_decide_once", approvals_decide_once),
    ("approval_requests_are_kept", approval_requests_are_kept),
    (
        "deciding_an_unknown_approval_fails",
        deciding_an_unknown_approval_fails,
    ),
    (
        "deciding_on_a_run_that_is_over_fails",
        deciding_on_a_run_that_is_over_fails,
    ),
    (
        "a_run_is_held_by_one_process_at_a_time",
        a_run_is_held_by_one_process_at_a_time,
    ),
    ("audit_filters", audit_filters),
    (
        "prune_keeps_audit_and_open_runs",
        prune_keeps_audit_and_open_runs,
    ),
    ("enqueue_then_claim_in_order", enqueue_then_claim_in_order),
    (
        "a_claimed_run_is_not_claimed_again",
        a_claimed_run_is_not_claimed_again,
    ),
    (
        "leases_are_renewed_only_by_their_owner",
        leases_are_renewed_only_by_their_owner,
    ),
    (
        "finish_ends_the_run_and_drops_its_secrets",
        finish_ends_the_run_and_drops_its_secrets,
    ),
    (
        "a_worker_that_lost_its_lease_cannot_finish",
        a_worker_that_lost_its_lease_cannot_finish,
    ),
    ("release_puts_the_run_back", release_puts_the_run_back),
    (
        "expired_leases_are_swept_then_the_run_fails",
        expired_leases_are_swept_then_the_run_fails,
    ),
    (
        "approval_parks_then_requeue_continues",
        approval_parks_then_requeue_continues,
    ),
    (
        "parked_runs_with_expired_approvals_are_found",
        parked_runs_with_expired_approvals_are_found,
    ),
    ("requeue_rules", requeue_rules),
    (
        "concurrent_claims_never_share_a_run",
        concurrent_claims_never_share_a_run,
    ),
    (
        "shared_budgets_keep_to_the_limit",
        shared_budgets_keep_to_the_limit,
    ),
    (
        "a_429_slows_every_user_of_a_budget",
        a_429_slows_every_user_of_a_budget,
    ),
    (
        "concurrent_takers_share_one_budget",
        concurrent_takers_share_one_budget,
    ),
];

/// A run for checks to store: created at `created_at`, with plausible values elsewhere.
pub fn new_run(id: &str, created_at: i64) -> NewRun {
    NewRun {
        id: id.to_string(),
        workflow: "onboard-client".into(),
        workflow_file: "examples/onboard-client.yaml".into(),
        workflow_hash: "ab12".into(),
        workflow_source: "name: onboard-client\nsteps: []\n".into(),
        inputs: json!({"client_name": "Contoso", "password": "***"}),
        redacted_inputs: vec!["password".into()],
        started_by: "ada".into(),
        backend: "sandbox".into(),
        created_at,
    }
}

fn audit_row(id: &str, at: i64, node: &str, target: Option<&str>) -> AuditEntry {
    AuditEntry {
        id: id.into(),
        at,
        actor: "ada".into(),
        run_id: "R1".into(),
        step_id: "client".into(),
        item: Some(3),
        node: node.into(),
        effect: "create".into(),
        target: target.map(str::to_string),
        outcome: "succeeded".into(),
        approved_by: None,
        detail: Some(json!({"Name": "Contoso"})),
    }
}

fn runs_round_trip(s: &dyn RunStore) {
    let run = new_run("R1", 1000);
    s.create_run(&run).unwrap();
    let got = s.run("R1").unwrap().expect("run stored");
    assert_eq!(got.id, "R1");
    assert_eq!(got.workflow, run.workflow);
    assert_eq!(got.workflow_file, run.workflow_file);
    assert_eq!(got.workflow_hash, run.workflow_hash);
    assert_eq!(got.workflow_source, run.workflow_source);
    assert_eq!(got.inputs, run.inputs);
    assert_eq!(got.redacted_inputs, run.redacted_inputs);
    assert_eq!(got.started_by, "ada");
    assert_eq!(got.backend, "sandbox");
    assert_eq!(got.status, RunState::Running);
    assert_eq!(got.created_at, 1000);
    assert_eq!(got.updated_at, 1000);
    assert_eq!(got.finished_at, None);
    assert_eq!(got.report, None);
}

fn duplicate_run_ids_are_refused(s: &dyn RunStore) {
    s.create_run(&new_run("R1", 1)).unwrap();
    assert!(matches!(
        s.create_run(&new_run("R1", 2)),
        Err(StoreError::Duplicate(_))
    ));
    assert_eq!(s.run("R1").unwrap().unwrap().created_at, 1);
}

fn runs_list_newest_first_and_by_status(s: &dyn RunStore) {
    for (id, at) in [("R1", 1), ("R3", 3), ("R2", 2)] {
        s.create_run(&new_run(id, at)).unwrap();
    }
    s.update_run("R2", RunState::WaitingApproval, None, None, 5)
        .unwrap();
    let ids = |f: RunFilter| -> Vec<String> {
        s.list_runs(&f).unwrap().into_iter().map(|r| r.id).collect()
    };
    assert_eq!(ids(RunFilter::default()), ["R3", "R2", "R1"]);
    assert_eq!(
        ids(RunFilter {
            status: Some(RunState::WaitingApproval),
            ..RunFilter::default()
        }),
        ["R2"]
    );
    assert_eq!(
        ids(RunFilter {
            limit: Some(1),
            ..RunFilter::default()
        }),
        ["R3"]
    );
}

fn runs_list_by_workflow_age_and_page(s: &dyn RunStore) {
    for (id, at, workflow) in [
        ("R1", 10, "onboard-client"),
        ("R2", 20, "agent-leaver"),
        ("R3", 30, "onboard-client"),
        ("R4", 40, "onboard-client"),
    ] {
        let mut run = new_run(id, at);
        run.workflow = workflow.into();
        s.create_run(&run).unwrap();
    }
    let ids = |f: RunFilter| -> Vec<String> {
        s.list_runs(&f).unwrap().into_iter().map(|r| r.id).collect()
    };
    let of = |w: &str| Some(w.to_string());
    assert_eq!(
        ids(RunFilter {
            workflow: of("onboard-client"),
            ..RunFilter::default()
        }),
        ["R4", "R3", "R1"]
    );
    assert_eq!(
        ids(RunFilter {
            created_since: Some(20),
            ..RunFilter::default()
        }),
        ["R4", "R3", "R2"]
    );
    // The page after R3, with the limit applied after the filters (not before them).
    assert_eq!(
        ids(RunFilter {
            workflow: of("onboard-client"),
            before_id: of("R3"),
            limit: Some(1),
            ..RunFilter::default()
        }),
        ["R1"]
    );
    assert!(
        ids(RunFilter {
            workflow: of("no-such-workflow"),
            ..RunFilter::default()
        })
        .is_empty()
    );
}

/// Ids chosen by callers (`PUT /v1/runs/{id}`) sort anywhere as text: newest first means
/// creation time, and paging follows the same order.
fn runs_list_by_creation_time_not_id_text(s: &dyn RunStore) {
    for (id, at) in [("zz-chosen", 1), ("01B", 2), ("01C", 3), ("T-b", 4), ("T-a", 4)] {
        s.create_run(&new_run(id, at)).unwrap();
    }
    let ids = |f: RunFilter| -> Vec<String> {
        s.list_runs(&f).unwrap().into_iter().map(|r| r.id).collect()
    };
    let before = |id: &str, limit: Option<u32>| RunFilter {
        before_id: Some(id.to_string()),
        limit,
        ..RunFilter::default()
    };
    assert_eq!(
        ids(RunFilter::default()),
        ["T-b", "T-a", "01C", "01B", "zz-chosen"]
    );
    assert_eq!(ids(before("T-b", Some(2))), ["T-a", "01C"]);
    assert_eq!(ids(before("01C", None)), ["01B", "zz-chosen"]);
    assert!(ids(before("no-such-run", None)).is_empty());
}

fn finishing_a_run_sets_finished_at(s: &dyn RunStore) {
    s.create_run(&new_run("R1", 1)).unwrap();
    let report = json!({"status": "succeeded", "steps": {}});
    s.update_run("R1", RunState::Succeeded, Some(&report), None, 9)
        .unwrap();
    let r = s.run("R1").unwrap().unwrap();
    assert_eq!(r.status, RunState::Succeeded);
    assert_eq!(r.finished_at, Some(9));
    assert_eq!(r.updated_at, 9);
    assert_eq!(r.report, Some(report.clone()));
    // A status change without a report keeps the last report.
    s.update_run("R1", RunState::Failed, None, Some("boom"), 10)
        .unwrap();
    let r = s.run("R1").unwrap().unwrap();
    assert_eq!(r.report, Some(report));
    assert_eq!(r.error.as_deref(), Some("boom"));
}

fn unknown_run_is_not_found(s: &dyn RunStore) {
    assert!(s.run("nope").unwrap().is_none());
    assert!(matches!(
        s.update_run("nope", RunState::Failed, None, None, 1),
        Err(StoreError::RunNotFound(_))
    ));
}

fn steps_are_upserted(s: &dyn RunStore) {
    s.create_run(&new_run("R1", 1)).unwrap();
    let mut step = StepRecord {
        run_id: "R1".into(),
        step_id: "users".into(),
        node: "halopsa.user.create".into(),
        status: StepState::Running,
        item_count: Some(400),
        error: None,
        started_at: 2,
        finished_at: None,
    };
    s.record_step(&step).unwrap();
    step.status = StepState::Failed;
    step.error = Some("1 of 400 items failed".into());
    step.finished_at = Some(8);
    s.record_step(&step).unwrap();
    assert_eq!(s.steps("R1").unwrap(), vec![step]);
}

fn calls_round_trip_and_replace(s: &dyn RunStore) {
    s.create_run(&new_run("R1", 1)).unwrap();
    let single = CallRecord {
        key: CallKey::new("R1", "client", None),
        succeeded: true,
        envelope: Some(json!({"StatusCode": 200, "Client": {"id": 7}})),
        params: Some(json!({"Name": "Contoso"})),
        error: None,
        attempts: 1,
        started_at: 2,
        finished_at: 3,
    };
    let mut item = CallRecord {
        key: CallKey::new("R1", "users", Some(0)),
        succeeded: false,
        envelope: None,
        params: None,
        error: Some("down".into()),
        attempts: 2,
        started_at: 4,
        finished_at: 5,
    };
    s.record_call(&single).unwrap();
    s.record_call(&item).unwrap();
    item.succeeded = true;
    item.error = None;
    item.attempts = 3;
    s.record_call(&item).unwrap();
    let calls = s.calls("R1").unwrap();
    assert_eq!(calls.len(), 2);
    assert!(calls.contains(&single));
    let stored = calls.iter().find(|c| c.key.item == Some(0)).unwrap();
    assert!(stored.succeeded);
    assert_eq!(stored.attempts, 3);
    assert!(s.calls("other").unwrap().is_empty());
}

fn intent(item: Option<u32>, attempt: u32) -> Intent {
    Intent {
        key: CallKey::new("R1", "clients", item),
        attempt,
        node: "halopsa.client.create".into(),
        effect: Effect::Create,
        params: json!({"Name": format!("Client {item:?}")}),
        at: 10,
    }
}

fn result(outcome: Outcome) -> AttemptResult {
    AttemptResult {
        outcome,
        status_code: 200,
        envelope: json!({"StatusCode": 200, "Client": {"id": 42}}),
        error: None,
        target: Some("42".into()),
        recovered: true,
        at: 12,
    }
}

fn intent_then_result(s: &dyn RunStore) {
    s.create_run(&new_run("R1", 1)).unwrap();
    let i = intent(Some(4), 1);
    s.record_intent(&i).unwrap();
    let audit = audit_row("A1", 12, "halopsa.client.create", Some("42"));
    s.record_result(&i.key, 1, &result(Outcome::Succeeded), Some(&audit))
        .unwrap();
    let attempts = s.attempts("R1").unwrap();
    assert_eq!(
        attempts,
        vec![AttemptRecord {
            intent: i,
            result: Some(result(Outcome::Succeeded))
        }]
    );
    assert_eq!(s.audit(&AuditFilter::default()).unwrap(), vec![audit]);
}

fn intent_without_result_stays_open(s: &dyn RunStore) {
    s.create_run(&new_run("R1", 1)).unwrap();
    s.record_intent(&intent(None, 1)).unwrap();
    s.record_result(&intent(None, 1).key, 1, &result(Outcome::Unknown), None)
        .unwrap();
    s.record_intent(&intent(None, 2)).unwrap();
    let attempts = s.attempts("R1").unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        attempts[0].result.as_ref().map(|r| r.outcome),
        Some(Outcome::Unknown)
    );
    assert_eq!(attempts[1].intent.attempt, 2);
    assert_eq!(attempts[1].result, None, "an open intent has no result");
}

fn an_attempt_is_journaled_once(s: &dyn RunStore) {
    s.create_run(&new_run("R1", 1)).unwrap();
    s.record_intent(&intent(Some(1), 1)).unwrap();
    assert!(matches!(
        s.record_intent(&intent(Some(1), 1)),
        Err(StoreError::Duplicate(_))
    ));
    assert_eq!(s.attempts("R1").unwrap().len(), 1);
}

fn result_without_intent_is_an_error(s: &dyn RunStore) {
    s.create_run(&new_run("R1", 1)).unwrap();
    let audit = audit_row("A1", 1, "halopsa.client.create", None);
    assert!(
        s.record_result(
            &CallKey::new("R1", "clients", Some(9)),
            1,
            &result(Outcome::Succeeded),
            Some(&audit)
        )
        .is_err()
    );
    assert!(
        s.audit(&AuditFilter::default()).unwrap().is_empty(),
        "a failed result must not leave its audit row behind"
    );
}

fn a_whole_attempt_in_one_go(s: &dyn RunStore) {
    s.create_run(&new_run("R1", 1)).unwrap();
    let read = Intent {
        effect: Effect::Read,
        node: "halopsa.client.get".into(),
        ..intent(Some(2), 1)
    };
    s.record_attempt(&read, &result(Outcome::Succeeded), None)
        .unwrap();
    assert_eq!(
        s.attempts("R1").unwrap(),
        vec![AttemptRecord {
            intent: read.clone(),
            result: Some(result(Outcome::Succeeded))
        }]
    );
    // The same attempt twice is refused and leaves no audit row.
    let audit = audit_row("A9", 1, "halopsa.client.get", None);
    assert!(
        s.record_attempt(&read, &result(Outcome::Failed), Some(&audit))
            .is_err()
    );
    assert!(s.audit(&AuditFilter::default()).unwrap().is_empty());
}

fn approval(step: &str) -> ApprovalRequest {
    ApprovalRequest {
        run_id: "R1".into(),
        step_id: step.into(),
        message: "Delete 12 stale sites?".into(),
        approvers: vec!["grace".into(), "alan".into()],
        on_timeout: Decision::Rejected,
        requested_at: 5,
        expires_at: Some(5 + 72 * 3_600_000),
    }
}

fn decision(d: Decision, by: &str) -> DecisionRecord {
    DecisionRecord {
        decision: d,
        by: by.into(),
        comment: Some("checked the list".into()),
        at: 20,
    }
}

fn approvals_decide_once(s: &dyn RunStore) {
    s.create_run(&new_run("R1", 1)).unwrap();
    s.request_approval(&approval("cleanup")).unwrap();
    let waiting = s.approvals("R1").unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].request, approval("cleanup"));
    assert_eq!(waiting[0].decided, None);

    let audit = AuditEntry {
        effect: "approve".into(),
        ..audit_row("A1", 20, "approval", None)
    };
    let first = s
        .decide(
            "R1",
            "cleanup",
            &decision(Decision::Approved, "grace"),
            &audit,
        )
        .unwrap();
    assert_eq!(first, DecideOutcome::Recorded);
    // The same decision again changes nothing and writes no second audit row.
    let again = AuditEntry {
        id: "A2".into(),
        ..audit.clone()
    };
    let second = s
        .decide(
            "R1",
            "cleanup",
            &decision(Decision::Approved, "alan"),
            &again,
        )
        .unwrap();
    assert_eq!(
        second,
        DecideOutcome::AlreadyDecided(decision(Decision::Approved, "grace"))
    );
    let conflict = s.decide(
        "R1",
        "cleanup",
        &decision(Decision::Rejected, "alan"),
        &again,
    );
    match conflict {
        Err(StoreError::ConflictingDecision { existing, .. }) => {
            assert_eq!(existing.by, "grace")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        s.approvals("R1").unwrap()[0].decided,
        Some(decision(Decision::Approved, "grace"))
    );
    assert_eq!(s.audit(&AuditFilter::default()).unwrap(), vec![audit]);
}

fn approval_requests_are_kept(s: &dyn RunStore) {
    s.create_run(&new_run("R1", 1)).unwrap();
    s.request_approval(&approval("cleanup")).unwrap();
    let changed = ApprovalRequest {
        message: "another".into(),
        requested_at: 99,
        ..approval("cleanup")
    };
    s.request_approval(&changed).unwrap();
    assert_eq!(s.approvals("R1").unwrap()[0].request, approval("cleanup"));
}

fn deciding_an_unknown_approval_fails(s: &dyn RunStore) {
    s.create_run(&new_run("R1", 1)).unwrap();
    let audit = audit_row("A1", 1, "approval", None);
    assert!(matches!(
        s.decide("R1", "nope", &decision(Decision::Approved, "grace"), &audit),
        Err(StoreError::ApprovalNotFound { .. })
    ));
    assert!(s.audit(&AuditFilter::default()).unwrap().is_empty());
}

fn deciding_on_a_run_that_is_over_fails(s: &dyn RunStore) {
    s.create_run(&new_run("R1", 1)).unwrap();
    s.request_approval(&approval("cleanup")).unwrap();
    s.request_approval(&approval("notify")).unwrap();
    let audit = audit_row("A1", 20, "approval", None);
    s.decide(
        "R1",
        "notify",
        &decision(Decision::Approved, "grace"),
        &audit,
    )
    .unwrap();
    s.update_run("R1", RunState::Failed, None, Some("cancelled by ops"), 30)
        .unwrap();
    let late = AuditEntry {
        id: "A2".into(),
        ..audit.clone()
    };
    match s.decide(
        "R1",
        "cleanup",
        &decision(Decision::Approved, "grace"),
        &late,
    ) {
        Err(err @ StoreError::RunOver { .. }) => assert_eq!(
            err.to_string(),
            "run R1 was cancelled by ops: step 'cleanup' will never run, so no decision was recorded"
        ),
        other => panic!("expected RunOver, got {other:?}"),
    }
    // A decision made before the run ended still answers as made (the same one again).
    assert!(matches!(
        s.decide("R1", "notify", &decision(Decision::Approved, "alan"), &late),
        Ok(DecideOutcome::AlreadyDecided(_))
    ));
    // Nothing was written: the step stays undecided, no second audit row.
    let cleanup = s.approvals("R1").unwrap();
    assert!(
        cleanup
            .iter()
            .any(|a| a.request.step_id == "cleanup" && a.decided.is_none())
    );
    assert_eq!(s.audit(&AuditFilter::default()).unwrap(), vec![audit]);

    // A run that simply failed says so.
    s.create_run(&new_run("R2", 2)).unwrap();
    s.request_approval(&ApprovalRequest {
        run_id: "R2".into(),
        ..approval("cleanup")
    })
    .unwrap();
    s.update_run(
        "R2",
        RunState::Failed,
        None,
        Some("step 'client' failed"),
        30,
    )
    .unwrap();
    let refused = s.decide(
        "R2",
        "cleanup",
        &decision(Decision::Rejected, "grace"),
        &late,
    );
    assert_eq!(
        refused.unwrap_err().to_string(),
        "run R2 already failed: step 'cleanup' will never run, so no decision was recorded"
    );
}

fn a_run_is_held_by_one_process_at_a_time(s: &dyn RunStore) {
    s.create_run(&new_run("R1", 1)).unwrap();
    assert_eq!(s.hold_run("R1", "host:1", 100, 10, None).unwrap(), None);
    // Renewing is holding again.
    assert_eq!(s.hold_run("R1", "host:1", 200, 50, None).unwrap(), None);
    // A second process is told who holds it, until when, and nothing changes.
    let held = RunHold {
        holder: "host:1".into(),
        until: 200,
    };
    assert_eq!(
        s.hold_run("R1", "host:2", 300, 60, None).unwrap(),
        Some(held.clone())
    );
    assert_eq!(
        s.hold_run("R1", "host:2", 300, 60, Some("host:9")).unwrap(),
        Some(held.clone()),
        "taking over from a process that no longer holds it takes nothing"
    );
    // It may take over from a holder it knows is gone, or once the hold ran out.
    assert_eq!(
        s.hold_run("R1", "host:2", 300, 60, Some("host:1")).unwrap(),
        None
    );
    assert_eq!(
        s.hold_run("R1", "host:1", 400, 60, None).unwrap(),
        Some(RunHold {
            holder: "host:2".into(),
            until: 300,
        })
    );
    assert_eq!(s.hold_run("R1", "host:3", 500, 300, None).unwrap(), None);
    // Letting go frees it; letting go of someone else's hold does nothing.
    s.let_go_of_run("R1", "host:2").unwrap();
    assert!(s.hold_run("R1", "host:4", 600, 310, None).unwrap().is_some());
    s.let_go_of_run("R1", "host:3").unwrap();
    assert_eq!(s.hold_run("R1", "host:4", 600, 310, None).unwrap(), None);
    s.let_go_of_run("R1", "host:4").unwrap();
    s.let_go_of_run("R1", "host:4").unwrap();
}

fn audit_filters(s: &dyn RunStore) {
    let rows = [
        audit_row("A1", 100, "halopsa.client.create", Some("7")),
        audit_row("A2", 200, "halopsa.user.update", Some("8")),
        audit_row("A3", 300, "connectwise.member.create", Some("7")),
        audit_row("A4", 400, "halopsa_client_x", None),
    ];
    for r in &rows {
        s.append_audit(r).unwrap();
    }
    let ids = |f: AuditFilter| -> Vec<String> {
        s.audit(&f).unwrap().into_iter().map(|e| e.id).collect()
    };
    assert_eq!(ids(AuditFilter::default()), ["A1", "A2", "A3", "A4"]);
    assert_eq!(
        ids(AuditFilter {
            since: Some(200),
            ..Default::default()
        }),
        ["A2", "A3", "A4"]
    );
    assert_eq!(
        ids(AuditFilter {
            node_glob: Some("*.create".into()),
            ..Default::default()
        }),
        ["A1", "A3"]
    );
    // `_` in a glob is a plain character, not LIKE's wildcard; `?` is one character.
    assert_eq!(
        ids(AuditFilter {
            node_glob: Some("halopsa_client?x".into()),
            ..Default::default()
        }),
        ["A4"]
    );
    assert_eq!(
        ids(AuditFilter {
            node_glob: Some("halopsa.?lient.*".into()),
            ..Default::default()
        }),
        ["A1"]
    );
    assert_eq!(
        ids(AuditFilter {
            target: Some("7".into()),
            ..Default::default()
        }),
        ["A1", "A3"]
    );
    let first = &s.audit(&AuditFilter::default()).unwrap()[0];
    assert_eq!(first, &rows[0]);
}

fn prune_keeps_audit_and_open_runs(s: &dyn RunStore) {
    for (id, at) in [("OLD", 10), ("OLDWAIT", 11), ("NEW", 1000)] {
        s.create_run(&new_run(id, at)).unwrap();
    }
    s.update_run("OLD", RunState::Succeeded, None, None, 20)
        .unwrap();
    s.update_run("NEW", RunState::Succeeded, None, None, 1001)
        .unwrap();
    s.update_run("OLDWAIT", RunState::WaitingApproval, None, None, 20)
        .unwrap();
    let i = Intent {
        key: CallKey::new("OLD", "c", None),
        ..intent(None, 1)
    };
    s.record_intent(&i).unwrap();
    let audit = AuditEntry {
        run_id: "OLD".into(),
        ..audit_row("A1", 15, "halopsa.client.create", Some("42"))
    };
    s.record_result(&i.key, 1, &result(Outcome::Succeeded), Some(&audit))
        .unwrap();
    s.record_call(&CallRecord {
        key: i.key.clone(),
        succeeded: true,
        envelope: None,
        params: None,
        error: None,
        attempts: 1,
        started_at: 12,
        finished_at: 13,
    })
    .unwrap();
    s.record_step(&StepRecord {
        run_id: "OLD".into(),
        step_id: "c".into(),
        node: "n".into(),
        status: StepState::Succeeded,
        item_count: None,
        error: None,
        started_at: 12,
        finished_at: Some(13),
    })
    .unwrap();

    let counts = s.prune(500).unwrap();
    assert_eq!(
        counts,
        PruneCounts {
            runs: 1,
            steps: 1,
            items: 1,
            attempts: 1,
            approvals: 0
        }
    );
    assert!(s.run("OLD").unwrap().is_none());
    assert!(s.attempts("OLD").unwrap().is_empty());
    assert!(s.run("OLDWAIT").unwrap().is_some(), "waiting runs stay");
    assert!(s.run("NEW").unwrap().is_some());
    assert_eq!(s.audit(&AuditFilter::default()).unwrap(), vec![audit]);
}

fn work(run_id: &str, at: i64) -> QueuedWork {
    QueuedWork {
        run_id: run_id.into(),
        inputs: json!({"client_name": "Contoso", "password": "hunter2-unmasked"}),
        connection: Some("acme-halo".into()),
        dry_run: false,
        lost_leases: 0,
        enqueued_at: at,
    }
}

fn end(status: RunState, at: i64) -> RunEnd {
    RunEnd {
        status,
        report: Some(json!({"status": status.as_str()})),
        error: (status == RunState::Failed).then(|| "step 'x' failed".to_string()),
        at,
    }
}

fn status(s: &dyn RunStore, id: &str) -> RunState {
    s.run(id).unwrap().expect("run exists").status
}

fn enqueue_then_claim_in_order(s: &dyn RunStore) {
    for (id, at) in [("Q2", 20), ("Q1", 10), ("Q3", 30)] {
        s.enqueue(&new_run(id, at), &work(id, at)).unwrap();
    }
    assert_eq!(status(s, "Q1"), RunState::Queued);
    let queued = s
        .list_runs(&RunFilter {
            status: Some(RunState::Queued),
            ..RunFilter::default()
        })
        .unwrap();
    assert_eq!(queued.len(), 3);
    let first = s.claim("w1", 30_000, 100).unwrap().expect("work");
    assert_eq!(first, work("Q1", 10), "the oldest first, inputs unmasked");
    assert_eq!(status(s, "Q1"), RunState::Running);
    let entry = s
        .queue_entries()
        .unwrap()
        .into_iter()
        .find(|e| e.work.run_id == "Q1")
        .unwrap();
    assert_eq!(entry.lease_owner.as_deref(), Some("w1"));
    assert_eq!(entry.lease_until, Some(30_100));
    assert!(!entry.parked);
    assert_eq!(s.claim("w2", 30_000, 101).unwrap().unwrap().run_id, "Q2");
    assert_eq!(s.claim("w1", 30_000, 102).unwrap().unwrap().run_id, "Q3");
    assert_eq!(s.claim("w3", 30_000, 103).unwrap(), None);
    // An id already used is refused, and leaves no queue row behind.
    assert!(matches!(
        s.enqueue(&new_run("Q1", 1), &work("Q1", 1)),
        Err(StoreError::Duplicate(_))
    ));
    assert_eq!(s.queue_entries().unwrap().len(), 3);
}

fn a_claimed_run_is_not_claimed_again(s: &dyn RunStore) {
    s.enqueue(&new_run("Q1", 1), &work("Q1", 1)).unwrap();
    assert!(s.claim("w1", 1_000, 10).unwrap().is_some());
    // Not even after the lease ran out: only the sweeper hands it on (and counts the loss).
    assert_eq!(s.claim("w2", 1_000, 5_000).unwrap(), None);
}

fn leases_are_renewed_only_by_their_owner(s: &dyn RunStore) {
    s.enqueue(&new_run("Q1", 1), &work("Q1", 1)).unwrap();
    s.claim("w1", 1_000, 10).unwrap().unwrap();
    assert!(s.renew_lease("Q1", "w1", 5_000).unwrap());
    assert!(!s.renew_lease("Q1", "w2", 9_000).unwrap());
    assert!(!s.renew_lease("nope", "w1", 9_000).unwrap());
    assert_eq!(s.queue_entries().unwrap()[0].lease_until, Some(5_000));
    // Renewed, the lease is not expired at 4,000.
    assert_eq!(s.sweep_expired(4_000, 3).unwrap(), Sweep::default());
}

fn finish_ends_the_run_and_drops_its_secrets(s: &dyn RunStore) {
    s.enqueue(&new_run("Q1", 1), &work("Q1", 1)).unwrap();
    s.enqueue(&new_run("Q2", 2), &work("Q2", 2)).unwrap();
    s.claim("w1", 1_000, 10).unwrap().unwrap();
    s.claim("w1", 1_000, 10).unwrap().unwrap();
    assert!(s.finish("Q1", "w1", &end(RunState::Succeeded, 50)).unwrap());
    assert!(s.finish("Q2", "w1", &end(RunState::Failed, 60)).unwrap());
    let r = s.run("Q1").unwrap().unwrap();
    assert_eq!(r.status, RunState::Succeeded);
    assert_eq!(r.finished_at, Some(50));
    assert_eq!(r.report, Some(json!({"status": "succeeded"})));
    let r = s.run("Q2").unwrap().unwrap();
    assert_eq!(r.status, RunState::Failed);
    assert_eq!(r.error.as_deref(), Some("step 'x' failed"));
    assert!(
        s.queue_entries().unwrap().is_empty(),
        "finished runs leave the queue, with their unmasked inputs"
    );
    // Finishing twice changes nothing.
    assert!(!s.finish("Q1", "w1", &end(RunState::Failed, 70)).unwrap());
    assert_eq!(status(s, "Q1"), RunState::Succeeded);
}

fn a_worker_that_lost_its_lease_cannot_finish(s: &dyn RunStore) {
    s.enqueue(&new_run("Q1", 1), &work("Q1", 1)).unwrap();
    s.claim("w1", 1_000, 10).unwrap().unwrap();
    let swept = s.sweep_expired(2_000, 3).unwrap();
    assert_eq!(swept.requeued, ["Q1"]);
    s.claim("w2", 1_000, 2_001).unwrap().unwrap();
    // The first worker comes back from a stall: it may neither renew nor finish.
    assert!(!s.renew_lease("Q1", "w1", 9_000).unwrap());
    assert!(!s.finish("Q1", "w1", &end(RunState::Failed, 2_100)).unwrap());
    assert_eq!(status(s, "Q1"), RunState::Running);
    assert!(
        s.finish("Q1", "w2", &end(RunState::Succeeded, 2_200))
            .unwrap()
    );
    assert_eq!(status(s, "Q1"), RunState::Succeeded);
}

fn release_puts_the_run_back(s: &dyn RunStore) {
    s.enqueue(&new_run("Q1", 1), &work("Q1", 1)).unwrap();
    s.claim("w1", 1_000, 10).unwrap().unwrap();
    assert!(!s.release("Q1", "w2", 20).unwrap(), "not w2's lease");
    assert!(s.release("Q1", "w1", 20).unwrap());
    assert_eq!(status(s, "Q1"), RunState::Queued);
    let again = s.claim("w2", 1_000, 30).unwrap().expect("claimable again");
    assert_eq!(again.lost_leases, 0, "a release is not a lost lease");
    assert_eq!(again.inputs, work("Q1", 1).inputs);
}

fn expired_leases_are_swept_then_the_run_fails(s: &dyn RunStore) {
    s.enqueue(&new_run("Q1", 1), &work("Q1", 1)).unwrap();
    s.enqueue(&new_run("Q2", 2), &work("Q2", 2)).unwrap();
    let mut now = 10;
    for lost in 1..=2u32 {
        let w = s.claim(&format!("w{lost}"), 1_000, now).unwrap().unwrap();
        assert_eq!(w.run_id, "Q1");
        assert_eq!(w.lost_leases, lost - 1);
        now += 1_001;
        let swept = s.sweep_expired(now, 3).unwrap();
        assert_eq!(swept.requeued, ["Q1"]);
        assert!(swept.failed.is_empty());
        assert_eq!(status(s, "Q1"), RunState::Queued);
    }
    s.claim("w3", 1_000, now).unwrap().unwrap();
    now += 1_001;
    let swept = s.sweep_expired(now, 3).unwrap();
    assert_eq!(swept.failed, ["Q1"]);
    let r = s.run("Q1").unwrap().unwrap();
    assert_eq!(r.status, RunState::Failed);
    assert_eq!(r.finished_at, Some(now));
    let reason = r.error.unwrap();
    assert!(
        reason.contains("3 workers") && reason.contains("lost their lease"),
        "{reason}"
    );
    assert!(reason.contains("w3"), "names the last worker: {reason}");
    // The other run was never leased and is untouched.
    assert_eq!(s.queue_entries().unwrap().len(), 1);
    assert_eq!(s.claim("w4", 1_000, now).unwrap().unwrap().run_id, "Q2");
}

fn approval_parks_then_requeue_continues(s: &dyn RunStore) {
    s.enqueue(&new_run("Q1", 1), &work("Q1", 1)).unwrap();
    s.claim("w1", 1_000, 10).unwrap().unwrap();
    assert!(
        s.finish("Q1", "w1", &end(RunState::WaitingApproval, 20))
            .unwrap()
    );
    let r = s.run("Q1").unwrap().unwrap();
    assert_eq!(r.status, RunState::WaitingApproval);
    assert_eq!(r.finished_at, None);
    let parked = &s.queue_entries().unwrap()[0];
    assert!(parked.parked);
    assert_eq!(parked.lease_owner, None);
    assert_eq!(s.claim("w2", 1_000, 30).unwrap(), None, "parked runs wait");
    // Nothing expires while parked.
    assert_eq!(s.sweep_expired(1_000_000, 3).unwrap(), Sweep::default());
    s.requeue("Q1", None, 40).unwrap();
    assert_eq!(status(s, "Q1"), RunState::Queued);
    let again = s
        .claim("w2", 1_000, 50)
        .unwrap()
        .expect("claimable after requeue");
    assert_eq!(
        again.inputs,
        work("Q1", 1).inputs,
        "inputs kept while parked"
    );
}

/// Enqueues run `id` at `at`, has a worker claim it and ask for approval at step `go`
/// (expiring at `expires_at`), and, with `park`, stop there as a waiting run does.
fn run_waiting_for_approval(
    s: &dyn RunStore,
    id: &str,
    at: i64,
    expires_at: Option<i64>,
    park: bool,
) {
    s.enqueue(&new_run(id, at), &work(id, at)).unwrap();
    let claimed = s.claim("w1", 1_000_000, at).unwrap().expect("claimable");
    assert_eq!(claimed.run_id, id);
    s.request_approval(&ApprovalRequest {
        run_id: id.into(),
        step_id: "go".into(),
        expires_at,
        ..approval("go")
    })
    .unwrap();
    if park {
        assert!(
            s.finish(id, "w1", &end(RunState::WaitingApproval, at))
                .unwrap()
        );
    }
}

fn parked_runs_with_expired_approvals_are_found(s: &dyn RunStore) {
    run_waiting_for_approval(s, "LATE2", 2, Some(90), true);
    run_waiting_for_approval(s, "LATE1", 1, Some(100), true);
    run_waiting_for_approval(s, "DECIDED", 3, Some(50), true);
    run_waiting_for_approval(s, "NOTYET", 4, Some(101), true);
    run_waiting_for_approval(s, "NOEXPIRY", 5, None, true);
    // Executing (leased, not parked): its worker handles the timeout itself.
    run_waiting_for_approval(s, "RUNNING", 6, Some(50), false);
    // Started outside the queue (psaflow run): no queue row at all.
    s.create_run(&new_run("UNQUEUED", 7)).unwrap();
    s.request_approval(&ApprovalRequest {
        run_id: "UNQUEUED".into(),
        expires_at: Some(50),
        ..approval("go")
    })
    .unwrap();
    let audit = AuditEntry {
        run_id: "DECIDED".into(),
        step_id: "go".into(),
        effect: "approve".into(),
        ..audit_row("A1", 20, "approval", None)
    };
    s.decide(
        "DECIDED",
        "go",
        &decision(Decision::Approved, "grace"),
        &audit,
    )
    .unwrap();
    assert_eq!(
        s.queue_entries()
            .unwrap()
            .iter()
            .filter(|e| e.parked)
            .count(),
        5
    );

    assert!(s.parked_runs_with_expired_approvals(89).unwrap().is_empty());
    // Expiring at `now` counts as expired; oldest queue row first.
    assert_eq!(
        s.parked_runs_with_expired_approvals(100).unwrap(),
        ["LATE1", "LATE2"]
    );
    assert_eq!(
        s.parked_runs_with_expired_approvals(i64::MAX - 1).unwrap(),
        ["LATE1", "LATE2", "NOTYET"]
    );
    // A requeued run is no longer parked.
    s.requeue("LATE1", None, 200).unwrap();
    assert_eq!(
        s.parked_runs_with_expired_approvals(200).unwrap(),
        ["LATE2", "NOTYET"]
    );
}

fn requeue_rules(s: &dyn RunStore) {
    // A run started without the queue (psaflow run) has no queued inputs.
    s.create_run(&new_run("R1", 1)).unwrap();
    assert!(matches!(
        s.requeue("R1", None, 5),
        Err(StoreError::NotQueued(_))
    ));
    s.requeue("R1", Some(&work("ignored-id", 6)), 6).unwrap();
    let w = s
        .claim("w1", 1_000, 7)
        .unwrap()
        .expect("requeued with inputs");
    assert_eq!(w.run_id, "R1");
    assert!(s.finish("R1", "w1", &end(RunState::Succeeded, 8)).unwrap());
    assert!(matches!(
        s.requeue("R1", Some(&work("R1", 9)), 9),
        Err(StoreError::RunFinished { .. })
    ));
    assert!(matches!(
        s.requeue("nope", None, 9),
        Err(StoreError::RunNotFound(_))
    ));
    assert!(s.queue_entries().unwrap().is_empty());
}

fn concurrent_claims_never_share_a_run(s: &dyn RunStore) {
    for i in 0..40 {
        let id = format!("Q{i:02}");
        s.enqueue(&new_run(&id, i), &work(&id, i)).unwrap();
    }
    let claimed = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for w in 0..4 {
            let claimed = &claimed;
            scope.spawn(move || {
                while let Some(work) = s.claim(&format!("w{w}"), 60_000, 100).unwrap() {
                    claimed.lock().unwrap().push(work.run_id);
                }
            });
        }
    });
    let mut claimed = claimed.into_inner().unwrap();
    claimed.sort();
    let before = claimed.len();
    claimed.dedup();
    assert_eq!(before, claimed.len(), "a run was claimed twice");
    assert_eq!(claimed.len(), 40);
}

/// A span far longer than any test, so nothing leaves the window while it runs.
const TEN_MINUTES: i64 = 600_000;

fn shared_budgets_keep_to_the_limit(s: &dyn RunStore) {
    let limit = SharedLimit {
        requests: 3,
        per_ms: TEN_MINUTES,
    };
    for _ in 0..3 {
        let answer = s.take_request_slot("acme", limit).unwrap();
        assert_eq!(answer.wait_ms, None);
        assert_eq!(answer.allowed, 3);
    }
    let full = s.take_request_slot("acme", limit).unwrap();
    let wait = full.wait_ms.expect("the fourth request in the span waits");
    assert!(wait > 0 && wait <= TEN_MINUTES, "{wait}");
    // Another connection has its own budget.
    assert_eq!(s.take_request_slot("globex", limit).unwrap().wait_ms, None);
}

fn a_429_slows_every_user_of_a_budget(s: &dyn RunStore) {
    let limit = SharedLimit {
        requests: 8,
        per_ms: TEN_MINUTES,
    };
    assert_eq!(s.take_request_slot("acme", limit).unwrap().wait_ms, None);
    s.budget_throttled("acme", limit, 300_000).unwrap();
    let paused = s.take_request_slot("acme", limit).unwrap();
    assert_eq!(paused.allowed, 4, "halved");
    let wait = paused.wait_ms.expect("paused after a 429");
    assert!(wait > 200_000 && wait <= 300_000, "{wait}");
    for _ in 0..10 {
        s.budget_succeeded("acme", limit).unwrap();
    }
    assert_eq!(
        s.take_request_slot("acme", limit).unwrap().allowed,
        8,
        "grown back, not beyond"
    );
}

fn concurrent_takers_share_one_budget(s: &dyn RunStore) {
    let limit = SharedLimit {
        requests: 25,
        per_ms: TEN_MINUTES,
    };
    let taken = std::sync::atomic::AtomicU32::new(0);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let taken = &taken;
            scope.spawn(move || {
                for _ in 0..20 {
                    if s.take_request_slot("acme", limit)
                        .unwrap()
                        .wait_ms
                        .is_none()
                    {
                        taken.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(taken.into_inner(), 25, "80 attempts, 25 allowed");
}
