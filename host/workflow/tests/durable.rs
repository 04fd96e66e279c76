//! The engine's journal seam and approvals, with an in-memory journal that logs every call in
//! order beside the fake invoker's requests.
mod common;

use common::{Fake, ok, options, parse};
use psaflow_core::{BoxFuture, VirtualClock};
use psaflow_workflow::journal::{
    ApprovalAnswer, ApprovalAsk, AttemptEnd, AttemptNote, CallHistory, CallKey, FinishedCall,
    InDoubt, JournalResult, RunJournal, StepNote,
};
use psaflow_workflow::{AttemptRecord, RunOptions, RunStatus, StepStatus};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Records what the engine tells it; `log` is shared with the fake invoker.
struct MemoryJournal {
    log: Arc<Mutex<Vec<String>>>,
    history: HashMap<CallKey, CallHistory>,
    refuse_intents: bool,
    approval: ApprovalAnswer,
    asks: Mutex<Vec<ApprovalAsk>>,
    ends: Mutex<Vec<(AttemptNote, AttemptEnd)>>,
}

impl MemoryJournal {
    fn new(log: Arc<Mutex<Vec<String>>>) -> Self {
        MemoryJournal {
            log,
            history: HashMap::new(),
            refuse_intents: false,
            approval: ApprovalAnswer::Waiting,
            asks: Mutex::new(Vec::new()),
            ends: Mutex::new(Vec::new()),
        }
    }

    fn push(&self, entry: String) {
        self.log.lock().unwrap().push(entry);
    }
}

fn item(call: &CallKey) -> String {
    call.item.map_or("-".into(), |i| i.to_string())
}

impl RunJournal for MemoryJournal {
    fn history(&self, call: &CallKey) -> CallHistory {
        self.history.get(call).cloned().unwrap_or_default()
    }
    fn intent(&self, note: AttemptNote) -> BoxFuture<'_, JournalResult<()>> {
        Box::pin(async move {
            if self.refuse_intents {
                return Err("disk full".to_string());
            }
            self.push(format!(
                "intent {} {} #{}",
                note.call.step,
                item(&note.call),
                note.attempt
            ));
            Ok(())
        })
    }
    fn attempt_end(&self, note: AttemptNote, end: AttemptEnd) -> BoxFuture<'_, JournalResult<()>> {
        Box::pin(async move {
            self.push(format!(
                "end {} {} #{}",
                note.call.step,
                item(&note.call),
                note.attempt
            ));
            self.ends.lock().unwrap().push((note, end));
            Ok(())
        })
    }
    fn call_finished(&self, call: CallKey, _r: FinishedCall) -> BoxFuture<'_, JournalResult<()>> {
        Box::pin(async move {
            self.push(format!("finished {} {}", call.step, item(&call)));
            Ok(())
        })
    }
    fn step(&self, note: StepNote) -> BoxFuture<'_, JournalResult<()>> {
        Box::pin(async move {
            self.push(format!("step {} {}", note.step, note.status));
            Ok(())
        })
    }
    fn approval(&self, ask: ApprovalAsk) -> BoxFuture<'_, JournalResult<ApprovalAnswer>> {
        Box::pin(async move {
            self.asks.lock().unwrap().push(ask);
            Ok(self.approval.clone())
        })
    }
}

const CREATE_EACH: &str = r#"name: create-each
inputs:
  names: { type: list, required: true }
steps:
  - id: clients
    node: halopsa.client.create
    for_each: ${{ inputs.names }}
    with:
      Name: ${{ item }}
outputs:
  ids: ${{ steps.clients | map(attribute='Client.id') | list }}
"#;

/// A fake that logs each request into the journal's log, answering with an id per name.
fn logging_fake(log: Arc<Mutex<Vec<String>>>) -> Fake {
    Fake::new().respond(move |node, params| {
        let name = params["Name"].as_str().unwrap_or_default().to_string();
        log.lock().unwrap().push(format!("send {node} {name}"));
        ok("Client", json!({"id": 1000 + name.len(), "name": name}))
    })
}

fn journaled(journal: MemoryJournal, inputs: serde_json::Value) -> RunOptions {
    RunOptions {
        journal: Some(Arc::new(journal)),
        ..options(Arc::new(VirtualClock::new()), inputs)
    }
}

#[tokio::test]
async fn every_change_is_journaled_before_it_is_sent_and_its_result_after() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let fake = logging_fake(log.clone());
    let opts = journaled(
        MemoryJournal::new(log.clone()),
        json!({"names": ["a", "bb"]}),
    );
    let report = psaflow_workflow::run(&parse(CREATE_EACH), &fake, opts).await;
    assert!(report.succeeded(), "{:?}", report.error);
    assert_eq!(
        *log.lock().unwrap(),
        vec![
            "step clients running",
            "intent clients 0 #1",
            "send halopsa.client.create a",
            "end clients 0 #1",
            "finished clients 0",
            "intent clients 1 #1",
            "send halopsa.client.create bb",
            "end clients 1 #1",
            "finished clients 1",
            "step clients succeeded",
        ]
    );
}

#[tokio::test]
async fn a_change_whose_intent_cannot_be_recorded_is_not_sent() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let fake = logging_fake(log.clone());
    let mut journal = MemoryJournal::new(log.clone());
    journal.refuse_intents = true;
    let opts = journaled(journal, json!({"names": ["a"]}));
    let report = psaflow_workflow::run(&parse(CREATE_EACH), &fake, opts).await;
    assert_eq!(report.status, RunStatus::Failed);
    assert!(fake.calls().is_empty(), "nothing may be sent");
    let error = report.step("clients").unwrap().error.clone().unwrap();
    assert!(
        error.contains("not sent") && error.contains("disk full"),
        "{error}"
    );
}

#[tokio::test]
async fn calls_an_earlier_process_finished_are_replayed_not_sent_again() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let fake = logging_fake(log.clone());
    let mut journal = MemoryJournal::new(log.clone());
    journal.history.insert(
        CallKey::new("clients", Some(0)),
        CallHistory {
            finished: Some(FinishedCall {
                succeeded: true,
                envelope: Some(ok("Client", json!({"id": 77, "name": "a"}))),
                params: Some(json!({"Name": "a"}).as_object().unwrap().clone()),
                error: None,
                attempts: 2,
            }),
            in_doubt: None,
            attempts_made: 2,
            earlier: vec![
                AttemptRecord {
                    succeeded: false,
                    outcome_unknown: false,
                    recovered: false,
                    error: Some("HaloPSA answered 503".into()),
                },
                AttemptRecord {
                    succeeded: true,
                    outcome_unknown: false,
                    recovered: false,
                    error: None,
                },
            ],
        },
    );
    let opts = journaled(journal, json!({"names": ["a", "bb"]}));
    let report = psaflow_workflow::run(&parse(CREATE_EACH), &fake, opts).await;
    assert!(report.succeeded(), "{:?}", report.error);
    let sent: Vec<String> = fake
        .calls()
        .iter()
        .map(|(_, p)| p["Name"].to_string())
        .collect();
    assert_eq!(sent, vec!["\"bb\""], "only the unfinished item is sent");
    // The replayed envelope feeds later expressions like a fresh one.
    assert_eq!(report.outputs["ids"], json!([77, 1002]));
    let items = report.step("clients").unwrap().items.clone().unwrap();
    assert_eq!(items[0].attempts, 2);
    // Its report shows what those attempts did, from the journal.
    assert_eq!(items[0].attempt_log.len(), 2);
    assert!(!items[0].attempt_log[0].succeeded && items[0].attempt_log[1].succeeded);
}

#[tokio::test]
async fn a_create_left_in_doubt_stops_the_run_and_names_the_record() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let fake = logging_fake(log.clone());
    let mut journal = MemoryJournal::new(log.clone());
    journal.history.insert(
        CallKey::new("clients", Some(0)),
        CallHistory {
            finished: None,
            in_doubt: Some(InDoubt {
                attempt: 1,
                params: json!({"Name": "a"}),
            }),
            attempts_made: 1,
            earlier: Vec::new(),
        },
    );
    let journal = Arc::new(journal);
    let opts = RunOptions {
        journal: Some(journal.clone()),
        ..options(Arc::new(VirtualClock::new()), json!({"names": ["a", "bb"]}))
    };
    let report = psaflow_workflow::run(&parse(CREATE_EACH), &fake, opts).await;
    assert_eq!(report.status, RunStatus::Failed);
    assert!(
        fake.calls().is_empty(),
        "neither the doubtful create nor later items are sent"
    );
    let error = report.error.clone().unwrap();
    assert!(error.contains("item 0"), "{error}");
    assert!(error.contains("halopsa.client.create"), "{error}");
    assert!(error.contains("Name=\"a\""), "{error}");
    assert!(error.contains("Check in the PSA"), "{error}");
    // The lost attempt is closed as unknown so the journal says what happened.
    let ends = journal.ends.lock().unwrap();
    assert_eq!(ends.len(), 1);
    assert_eq!(ends[0].0.attempt, 1);
    assert!(ends[0].1.outcome_unknown);
}

const APPROVAL: &str = r#"name: approval
inputs:
  name: { type: string, required: true }
steps:
  - id: client
    node: halopsa.client.create
    with:
      Name: ${{ inputs.name }}
  - id: rename
    node: halopsa.client.update
    approval:
      message: "Rename client ${{ steps.client.Client.id }}?"
      timeout: 72h
      approvers: [grace]
    with:
      Id: ${{ steps.client.Client.id }}
      Name: renamed
  - id: after
    node: halopsa.client.get
    with:
      Id: ${{ steps.client.Client.id }}
"#;

fn decisions(answer: Option<ApprovalAnswer>) -> RunOptions {
    let mut decisions = BTreeMap::new();
    if let Some(a) = answer {
        decisions.insert("rename".to_string(), a);
    }
    RunOptions {
        decisions,
        ..options(Arc::new(VirtualClock::new()), json!({"name": "Acme"}))
    }
}

#[tokio::test]
async fn without_a_decision_the_run_waits_before_the_step() {
    let fake = Fake::new();
    let report = psaflow_workflow::run(&parse(APPROVAL), &fake, decisions(None)).await;
    assert_eq!(report.status, RunStatus::WaitingApproval);
    assert_eq!(report.to_json()["status"], "waiting_approval");
    let waiting = report.waiting.clone().unwrap();
    assert_eq!(waiting.step, "rename");
    assert_eq!(waiting.message, "Rename client 101?");
    assert_eq!(waiting.approvers, vec!["grace"]);
    assert_eq!(fake.calls_of("halopsa.client.update").len(), 0);
    assert_eq!(fake.calls_of("halopsa.client.get").len(), 0);
    assert_eq!(report.step("after").unwrap().status, StepStatus::Skipped);
}

#[tokio::test]
async fn an_approved_step_runs_and_a_rejected_one_stops_the_run() {
    let fake = Fake::new();
    let approved = ApprovalAnswer::Approved {
        by: "grace".into(),
        comment: None,
    };
    let report = psaflow_workflow::run(&parse(APPROVAL), &fake, decisions(Some(approved))).await;
    assert!(report.succeeded(), "{:?}", report.error);
    assert_eq!(fake.calls_of("halopsa.client.update").len(), 1);

    let fake = Fake::new();
    let rejected = ApprovalAnswer::Rejected {
        by: "grace".into(),
        comment: Some("wrong client".into()),
    };
    let report = psaflow_workflow::run(&parse(APPROVAL), &fake, decisions(Some(rejected))).await;
    assert_eq!(report.status, RunStatus::Failed);
    assert!(fake.calls_of("halopsa.client.update").is_empty());
    assert!(fake.calls_of("halopsa.client.get").is_empty());
    let error = report.error.unwrap();
    assert!(error.contains("rejected by grace: wrong client"), "{error}");
}

#[tokio::test]
async fn the_journal_is_asked_with_the_evaluated_message() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let journal = Arc::new(MemoryJournal::new(log));
    let fake = Fake::new();
    let opts = RunOptions {
        journal: Some(journal.clone()),
        ..options(Arc::new(VirtualClock::new()), json!({"name": "Acme"}))
    };
    let report = psaflow_workflow::run(&parse(APPROVAL), &fake, opts).await;
    assert_eq!(report.status, RunStatus::WaitingApproval);
    let asks = journal.asks.lock().unwrap();
    assert_eq!(asks.len(), 1);
    assert_eq!(asks[0].message, "Rename client 101?");
    assert_eq!(
        asks[0].timeout,
        Some(std::time::Duration::from_secs(72 * 3600))
    );
    assert_eq!(asks[0].on_timeout, "reject");
}

#[test]
fn approval_blocks_are_checked() {
    let wf = psaflow_workflow::parse(
        r#"name: x
steps:
  - id: a
    node: halopsa.client.get
    approval: { timeout: soon, on_timeout: maybe, approvers: grace, colour: red }
    with: { Id: 1 }
"#,
        "wf.yaml",
    )
    .unwrap();
    let problems: Vec<String> = wf.problems().iter().map(|d| d.render(false)).collect();
    let all = problems.join("\n");
    assert!(all.contains("needs a `message`"), "{all}");
    assert!(all.contains("approval.timeout"), "{all}");
    assert!(all.contains("unknown on_timeout"), "{all}");
    assert!(all.contains("approval.approvers"), "{all}");
    assert!(all.contains("unknown key 'colour'"), "{all}");
}
