//! End-to-end tests of the ticket note node (`halopsa.ticket.add-note`) and the lookups
//! (`halopsa.status.get-many`, `halopsa.tickettype.get-many`, `halopsa.priority.get-many`): the
//! real components through the real host against the sandbox over HTTP. The note: success (read
//! back with `GET /Actions?ticket_id=` over HTTP), every validation rule (-1, no request), the API
//! errors (a missing ticket named, a server error, HaloPSA down) and its declared semantics. The
//! lookups: the seeded records, Search, and the failure paths.

use psaflow_core::{ApiRequest, Effect, InputCheck, Method, Transport};
use psaflow_tests::{
    Entity, Harness, assert_invalid, assert_network_error, assert_server_error, assert_success,
    codes, harness, ids_of,
};
use serde_json::{Value, json};

const ADD_NOTE: &str = "halopsa.ticket.add-note";

/// The actions of `ticket` as HaloPSA lists them: `GET /Actions?ticket_id=` over real HTTP with
/// the harness's own token, not a peek at the sandbox's tables.
async fn actions_of(h: &Harness, ticket: i64, extra: &[(&str, &str)]) -> Value {
    let mut query = vec![("ticket_id".to_string(), ticket.to_string())];
    query.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let response = h
        .client
        .send(ApiRequest {
            method: Method::Get,
            path: "/Actions".into(),
            query,
            body: None,
        })
        .await
        .expect("the sandbox answers");
    assert_eq!(response.status, 200, "{}", response.body);
    serde_json::from_str(&response.body).expect("JSON")
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|r| r["name"].as_str().expect("a name").to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Add a note to a ticket

#[tokio::test(flavor = "multi_thread")]
async fn add_note_success_is_read_back_from_the_ticket() {
    let h = harness().await;
    let envelope = h
        .invoke(
            ADD_NOTE,
            json!({"TicketId": 1001, "Note": "  Called the user; printer power-cycled.  "}),
        )
        .await;
    assert_success(&envelope, 201);
    let action = &envelope["Action"];
    let id = action["id"].as_i64().expect("an integer id");
    assert_eq!(action["ticket_id"], 1001);
    assert_eq!(action["note"], "Called the user; printer power-cycled.");
    assert_eq!(
        action["hiddenfromuser"], true,
        "private unless told otherwise"
    );
    assert_eq!(action["outcome"], "Note");
    assert_eq!(action["timetaken"], 0.0);
    // What went over the wire: one action in a JSON array, HaloPSA's field names.
    assert_eq!(
        h.last_post_body(),
        json!([{"ticket_id": 1001, "outcome": "Note", "note": "Called the user; printer power-cycled.",
                "hiddenfromuser": true, "timetaken": 0.0}])
    );

    // A note the end user may see, with time spent and an outcome of the workflow's choosing.
    let visible = h
        .invoke(
            ADD_NOTE,
            json!({"TicketId": 1001, "Note": "Your printer is working again.", "HiddenFromUser": false,
                   "TimeSpentMinutes": 45, "Outcome": "Email User"}),
        )
        .await;
    assert_success(&visible, 201);
    assert_eq!(visible["Action"]["hiddenfromuser"], false);
    assert_eq!(
        visible["Action"]["timetaken"], 0.75,
        "45 minutes are sent as hours"
    );
    assert_eq!(visible["Action"]["outcome"], "Email User");
    assert_ne!(
        visible["Action"]["id"], action["id"],
        "each run adds a note"
    );

    // Both notes are on the ticket, in order, and only there.
    let listed = actions_of(&h, 1001, &[]).await;
    assert_eq!(listed["record_count"], 2);
    let notes: Vec<&str> = listed["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["note"].as_str().unwrap())
        .collect();
    assert_eq!(
        notes,
        [
            "Called the user; printer power-cycled.",
            "Your printer is working again."
        ]
    );
    assert_eq!(listed["actions"][0]["id"], id);
    // The end user's view leaves the private note out.
    let public = actions_of(&h, 1001, &[("excludeprivate", "true")]).await;
    assert_eq!(public["record_count"], 1);
    assert_eq!(
        public["actions"][0]["note"],
        "Your printer is working again."
    );
    assert_eq!(actions_of(&h, 1002, &[]).await["record_count"], 0);
    assert_eq!(h.sandbox.records(Entity::Action).len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn add_note_validation_sends_nothing() {
    let h = harness().await;
    let base = json!({"TicketId": 1001, "Note": "Checked the logs."});
    let with = |changes: Value| {
        let mut params = base.clone();
        for (k, v) in changes.as_object().unwrap() {
            params[k] = v.clone();
        }
        params
    };
    let cases = [
        (
            json!({"TicketId": 0}),
            "TicketId must be a positive integer",
        ),
        (
            json!({"TicketId": -7}),
            "TicketId must be a positive integer",
        ),
        (json!({"Note": ""}), "Note is required"),
        (json!({"Note": " \n\t "}), "Note is required"),
        (
            json!({"TimeSpentMinutes": -1}),
            "TimeSpentMinutes must be 0 or more, got -1",
        ),
    ];
    for (changes, message) in cases {
        assert_invalid(&h, ADD_NOTE, with(changes), message, "Action", json!({})).await;
    }
    // Required parameters left out, and values of the wrong type, are refused by the host.
    for missing in ["TicketId", "Note"] {
        let mut params = base.clone();
        params.as_object_mut().unwrap().remove(missing);
        assert_invalid(&h, ADD_NOTE, params, missing, "Action", json!({})).await;
    }
    assert_invalid(
        &h,
        ADD_NOTE,
        with(json!({"HiddenFromUser": "maybe"})),
        "HiddenFromUser",
        "Action",
        json!({}),
    )
    .await;
    assert_invalid(
        &h,
        ADD_NOTE,
        with(json!({"TimeSpentMinutes": 1.5})),
        "TimeSpentMinutes",
        "Action",
        json!({}),
    )
    .await;
    assert!(
        h.sandbox.records(Entity::Action).is_empty(),
        "no note added"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn add_note_api_errors_name_the_ticket() {
    let h = harness().await;
    // A ticket that does not exist: HaloPSA's 400 names it.
    let missing = h
        .invoke(
            ADD_NOTE,
            json!({"TicketId": 999999, "Note": "Anyone there?"}),
        )
        .await;
    let (status, original, message) = codes(&missing);
    assert_eq!((status, original), (200, 400), "{missing}");
    assert!(message.contains("999999"), "{message}");
    assert!(message.contains("ticket_id"), "{message}");
    assert_eq!(missing["Action"], json!({}));

    // A deleted ticket takes no new notes either.
    let deleted = h.invoke("halopsa.ticket.delete", json!({"Id": 1003})).await;
    assert_success(&deleted, 200);
    let late = h
        .invoke(ADD_NOTE, json!({"TicketId": 1003, "Note": "Too late."}))
        .await;
    assert_eq!(codes(&late).0, 200);
    assert_eq!(codes(&late).1, 400);
    assert!(codes(&late).2.contains("1003"), "{late}");
    assert!(h.sandbox.records(Entity::Action).is_empty());

    // Server and network errors: 500, nothing to show.
    let params = json!({"TicketId": 1001, "Note": "x"});
    assert_server_error(&h, ADD_NOTE, params.clone(), "Action", json!({})).await;
    assert_network_error(&h, ADD_NOTE, params, "Action", json!({})).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn add_note_declares_a_create_that_cannot_be_found_again() {
    let h = harness().await;
    let spec = h.runtime.catalog().get(ADD_NOTE).expect("a built-in node");
    assert_eq!(spec.output_key, "Action");
    assert_eq!(spec.effect, Effect::Create);
    assert!(!spec.idempotent, "a second run adds a second note");
    assert!(spec.natural_key.is_empty(), "identical notes are normal");
    assert!(spec.allowed_by("POST", "/Actions").is_some());
    assert!(spec.allowed_by("GET", "/Actions").is_none());
    assert!(spec.allowed_by("POST", "/Tickets").is_none());
    // A token that may only read tickets cannot add a note: the 403 says so.
    let read_only = h.scoped("read:tickets");
    let refused = read_only
        .invoke(
            ADD_NOTE,
            json!({"TicketId": 1001, "Note": "x"})
                .as_object()
                .unwrap()
                .clone(),
        )
        .await
        .to_json();
    assert_eq!(codes(&refused).1, 403, "{refused}");
    assert!(h.sandbox.records(Entity::Action).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Lookups

#[tokio::test(flavor = "multi_thread")]
async fn statuses_are_the_seeded_ones_and_searchable() {
    let h = harness().await;
    let all = h.invoke("halopsa.status.get-many", json!({})).await;
    assert_success(&all, 200);
    assert_eq!(
        names(&all["Statuses"]["statuses"]),
        ["New", "In Progress", "Waiting on Customer", "Closed"]
    );
    assert_eq!(ids_of(&all["Statuses"]["statuses"]), vec![1, 2, 3, 9]);
    assert_eq!(all["Statuses"]["record_count"], 4);
    let closed = h
        .invoke("halopsa.status.get-many", json!({"Search": " CLOSED "}))
        .await;
    assert_eq!(
        closed["Statuses"],
        json!({"statuses": [{"id": 9, "name": "Closed", "type": "closed"}], "record_count": 1})
    );
    let none = h
        .invoke(
            "halopsa.status.get-many",
            json!({"Search": "no such status"}),
        )
        .await;
    assert_success(&none, 200);
    assert_eq!(none["Statuses"], json!({"statuses": [], "record_count": 0}));
    let spec = h.runtime.catalog().get("halopsa.status.get-many").unwrap();
    assert_eq!((spec.effect, spec.idempotent), (Effect::Read, true));
}

#[tokio::test(flavor = "multi_thread")]
async fn ticket_types_are_the_seeded_ones_and_searchable() {
    let h = harness().await;
    let all = h.invoke("halopsa.tickettype.get-many", json!({})).await;
    assert_success(&all, 200);
    let types = &all["TicketTypes"]["tickettypes"];
    assert_eq!(ids_of(types), vec![1, 2, 3, 4, 16, 17]);
    assert_eq!(
        names(types),
        [
            "Incident",
            "Change Request",
            "Service Request",
            "Problem",
            "Leaver Request",
            "New Starter Request"
        ]
    );
    assert_eq!(all["TicketTypes"]["record_count"], 6);
    let requests = h
        .invoke("halopsa.tickettype.get-many", json!({"Search": "request"}))
        .await;
    assert_eq!(
        ids_of(&requests["TicketTypes"]["tickettypes"]),
        vec![2, 3, 16, 17]
    );
    assert_eq!(requests["TicketTypes"]["record_count"], 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn priorities_come_with_the_number_tickets_use_as_id() {
    let h = harness().await;
    let all = h.invoke("halopsa.priority.get-many", json!({})).await;
    assert_success(&all, 200);
    let priorities = &all["Priorities"]["priorities"];
    assert_eq!(names(priorities), ["Critical", "High", "Medium", "Low"]);
    assert_eq!(ids_of(priorities), vec![1, 2, 3, 4]);
    // HaloPSA's own id for a priority row is a GUID; it is kept, not lost.
    let high = &priorities[1];
    assert_eq!(high["priorityid"], 2);
    assert!(
        high["guid"].as_str().is_some_and(|g| g.len() == 36),
        "{high}"
    );
    assert_eq!(all["Priorities"]["record_count"], 4);

    // The id found by name is the one a ticket takes as PriorityId.
    let found = h
        .invoke("halopsa.priority.get-many", json!({"Search": "high"}))
        .await;
    let high_id = found["Priorities"]["priorities"][0]["id"].as_i64().unwrap();
    let ticket = h
        .invoke(
            "halopsa.ticket.create",
            json!({"TickettypeId": 1, "Summary": "Server room too warm", "Details": "28C", "PriorityId": high_id}),
        )
        .await;
    assert_success(&ticket, 201);
    assert_eq!(ticket["Ticket"]["priority_name"], "High");
}

#[tokio::test(flavor = "multi_thread")]
async fn lookups_fail_like_every_list() {
    let h = harness().await;
    for (node, key) in [
        ("halopsa.status.get-many", "Statuses"),
        ("halopsa.tickettype.get-many", "TicketTypes"),
        ("halopsa.priority.get-many", "Priorities"),
    ] {
        assert_server_error(&h, node, json!({}), key, json!({})).await;
        assert_network_error(&h, node, json!({}), key, json!({})).await;
        let spec = h.runtime.catalog().get(node).unwrap();
        assert_eq!(spec.output_key, key);
        assert_eq!(spec.effect, Effect::Read);
        assert_eq!(spec.capabilities.len(), 1, "{node} makes one kind of call");
        assert_eq!(spec.capabilities[0].method, "GET");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn add_note_mistakes_are_found_before_a_run_starts() {
    // `validate` and `plan` run each node's own input checks with a transport that refuses
    // every call: the note's rules need no request, so they are found there.
    let h = harness().await;
    let params = |v: Value| v.as_object().unwrap().clone();
    let blank = h
        .runtime
        .check(ADD_NOTE, params(json!({"TicketId": 1001, "Note": "  "})))
        .await;
    assert_eq!(blank, InputCheck::Invalid("Note is required".into()));
    let negative = h
        .runtime
        .check(
            ADD_NOTE,
            params(json!({"TicketId": 1001, "Note": "x", "TimeSpentMinutes": -5})),
        )
        .await;
    assert_eq!(
        negative,
        InputCheck::Invalid("TimeSpentMinutes must be 0 or more, got -5".into())
    );
    let fine = h
        .runtime
        .check(ADD_NOTE, params(json!({"TicketId": 1001, "Note": "x"})))
        .await;
    assert_eq!(fine, InputCheck::Valid);
    assert_eq!(h.api_requests(), 0, "checks send nothing");
    assert!(h.sandbox.records(Entity::Action).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_note_whose_answer_is_lost_is_not_added_twice_and_says_how_to_check() {
    let h = harness().await;
    // HaloPSA saves the note, then the connection drops before the answer.
    h.sandbox.faults().drop_next_answers_after_commit(1);
    let yaml = "name: lost-note\nsteps:\n  - id: note\n    node: halopsa.ticket.add-note\n    with: { TicketId: 1001, Note: Rebooted the switch }\n    retry: { max_attempts: 3 }\n";
    let wf = psaflow_workflow::parse(yaml, "lost-note.yaml").expect("the workflow parses");
    let options = psaflow_workflow::RunOptions {
        clock: std::sync::Arc::new(psaflow_core::VirtualClock::new()),
        ..psaflow_workflow::RunOptions::default()
    };
    let report = psaflow_workflow::run(&wf, &h.runtime, options).await;
    let json = report.to_json();
    assert!(!report.succeeded(), "{json:#}");
    let posts = h
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.eq_ignore_ascii_case("/api/Actions"))
        .count();
    assert_eq!(posts, 1, "never sent twice");
    assert_eq!(
        h.sandbox.records(Entity::Action).len(),
        1,
        "the one note HaloPSA saved"
    );
    let step = &json["steps"]["note"];
    assert_eq!(step["attempts"], 1, "{step:#}");
    assert_eq!(step["attempt_log"][0]["outcome"], "unknown");
    let error = step["error"].as_str().unwrap();
    assert!(
        error.contains("the note may or may not have been created"),
        "{error}"
    );
    assert!(error.contains("actions of ticket 1001"), "{error}");
    assert!(error.contains("retry_on: [unknown_outcome]"), "{error}");
}
