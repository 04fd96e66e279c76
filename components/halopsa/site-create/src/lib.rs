//! halopsa.site.create: creates a site for a client, or returns the existing duplicate.
//!
//! Rules (seed "Create a Site"):
//! - Name is required (not blank; sent trimmed); SiteClientId is required and must be a positive
//!   integer. MaincontactName, Notes and Phonenumber are optional (sent when not blank).
//! - DuplicateCheckFields: default `["name", "client_id"]`; `[]` disables the check; each entry
//!   must be one of [`ALLOWED_FIELDS`] (letter case and spaces around are ignored), otherwise
//!   StatusCode -1 naming the unknown entries and the allowed ones.
//! - BlockIfDuplicate (default true): before creating, the existing sites are listed (active and
//!   inactive, every page; only the client's sites when `client_id` is a check field) and compared
//!   on the check fields: text trimmed and case-insensitive, ids as numbers (so `21.0` and `"21"`
//!   equal 21). Only an active site is a duplicate: an inactive (archived) one with the same
//!   name is not returned as the site to use (workflows would attach users to an archived site),
//!   so the new site is created beside it. A match is returned as the Site with StatusCode 200
//!   and an empty ErrorMessage, and nothing is created. With BlockIfDuplicate false the site is
//!   created without a check. Check fields without `client_id` compare every client's sites; a
//!   match of another client is not this client's site to hand back: StatusCode 200 with an
//!   ErrorMessage naming it, nothing created.
//! - `POST /Site` with `[{"name", "client_id", ...}]`; the answer is the Site.
//! - The sites with its natural key, name (trimmed, ignoring case) and client, are known before
//!   the POST (from the duplicate check's listing, or a listing of their own without it). When
//!   its answer is lost (the outcome is unknown), one such site that was not there before is the
//!   created site; none means nothing was created (a 500, safe to retry); several stop with
//!   their ids ([`psaflow_kit::recover`]).
//! - Output `Site`: the created (or existing) record with ids as integers; `{}` on any failure.

#![cfg_attr(not(test), no_std)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("site-create");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::http::Query;
use psaflow_kit::paging::{self, Mode};
use psaflow_kit::recover::{self, Subject};
use psaflow_kit::{Failure, ids, validate};
use serde_json::{Map, Value};

const OUTPUT: &str = "Site";

/// The fields DuplicateCheckFields may name.
const ALLOWED_FIELDS: [&str; 5] = [
    "name",
    "client_id",
    "maincontact_name",
    "notes",
    "phonenumber",
];
/// DuplicateCheckFields when not given.
const DEFAULT_CHECK_FIELDS: [&str; 2] = ["name", "client_id"];

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Create)
            .natural_key(&["Name", "SiteClientId"])
            .calls("POST", "/Site")
            .calls("GET", "/Site") // the duplicate check, and the sites with the key
            .into()
    }

    fn run(input: CreateInput) -> Envelope {
        envelope::respond(OUTPUT, create(&input), |_| envelope::empty_object())
    }
}

/// A validated request: the body to POST and how to look for duplicates.
#[derive(Debug, PartialEq)]
struct Plan {
    body: Map<String, Value>,
    client_id: i64,
    /// Check fields; empty when no check is wanted (`[]` or BlockIfDuplicate false).
    check_fields: Vec<&'static str>,
}

fn create(input: &CreateInput) -> Result<Done, Failure> {
    let plan = build_plan(input)?;
    let name = plan
        .body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let key = format!("named {name:?} of client {}", plan.client_id);
    let subject = Subject {
        what: "site",
        key: &key,
    };
    // The recovery key: a site found after a lost answer is this create's only if it has it.
    let has_key = |s: &Value| {
        recover::text_matches(s, "name", name)
            && recover::id_matches(s, "client_id", plan.client_id)
    };
    let find = || {
        let filter = Query::new().with("client_id", plan.client_id);
        recover::list_matching(&paging::SITES, filter, name, has_key)
    };
    let (status, record) = if plan.check_fields.is_empty() {
        recover::create_or_find("/Site", &plan.body, subject, find)?
    } else {
        // The duplicate check lists the candidates anyway: those with the key are what
        // existed before the create.
        let candidates = match find_duplicate(&plan)? {
            Listed::Duplicate(status, existing) => {
                return other_clients(&existing, plan.client_id, status)
                    .map(|()| Done::record(status, existing));
            }
            Listed::None(candidates) => candidates,
        };
        let existing: Vec<Value> = candidates.into_iter().filter(|s| has_key(s)).collect();
        recover::create_known_new(
            "/Site",
            &plan.body,
            subject,
            &recover::ids_of(&existing),
            find,
        )?
    };
    Ok(Done::record(status, record))
}

/// A duplicate found by fields without `client_id` may be another client's site: handing it
/// back as the site of `client_id` would have the workflow attach users or tickets to the wrong
/// customer, and creating one would break the check the caller asked for. Such a match is a
/// business error naming that site; nothing is created.
fn other_clients(existing: &Value, client_id: i64, status: u16) -> Result<(), Failure> {
    let owner = existing.get("client_id").and_then(ids::read_id);
    if owner == Some(client_id) {
        return Ok(());
    }
    let site = existing.get("id").and_then(ids::read_id).unwrap_or_default();
    let owner = owner.map_or_else(|| "another client".to_string(), |c| format!("client {c}"));
    Err(Failure::Api {
        status,
        message: format!(
            "site {site} of {owner} matches on DuplicateCheckFields, which do not include client_id, \
             so it counts as a duplicate across clients; it is not client {client_id}'s site, so \
             nothing was created. Add client_id to DuplicateCheckFields to check only client \
             {client_id}'s sites"
        ),
    })
}

/// What the duplicate check found.
enum Listed {
    /// The first duplicate, and the status of the listing.
    Duplicate(u16, Value),
    /// No duplicate; every candidate site listed.
    None(Vec<Value>),
}

/// Lists the candidate sites (every page, active and inactive: the inactive ones are candidates
/// for recovery, though never duplicates) and returns the first duplicate.
fn find_duplicate(plan: &Plan) -> Result<Listed, Failure> {
    let mut filter = Query::new();
    if plan.check_fields.contains(&"client_id") {
        filter.push("client_id", plan.client_id);
    }
    filter.push("includeactive", true);
    filter.push("includeinactive", true);
    let sites = paging::fetch(&paging::SITES, &Mode::All { count: None }, &filter)?;
    let status = sites.last_status;
    Ok(
        match sites
            .items
            .iter()
            .position(|site| is_duplicate(&plan.body, site, &plan.check_fields))
        {
            Some(at) => Listed::Duplicate(status, sites.items.into_iter().nth(at).expect("found")),
            None => Listed::None(sites.items),
        },
    )
}

/// Validates the input and builds the plan. Sends nothing.
fn build_plan(input: &CreateInput) -> Result<Plan, Failure> {
    let name = validate::required_text("Name", &input.name)?;
    let client_id = validate::positive_id("SiteClientId", input.site_client_id)?;
    let fields = check_fields(input.duplicate_check_fields.as_deref())?;
    let mut body = Map::new();
    body.insert("name".into(), Value::String(name));
    body.insert("client_id".into(), Value::from(client_id));
    let optional = [
        ("maincontact_name", &input.maincontact_name),
        ("notes", &input.notes),
        ("phonenumber", &input.phonenumber),
    ];
    for (key, value) in optional {
        if let Some(text) = validate::optional_text(value.as_deref()) {
            body.insert(key.into(), Value::String(text));
        }
    }
    let block = input.block_if_duplicate.unwrap_or(true);
    Ok(Plan {
        body,
        client_id,
        check_fields: if block { fields } else { Vec::new() },
    })
}

/// Resolves DuplicateCheckFields: default when absent, each entry one of [`ALLOWED_FIELDS`].
fn check_fields(given: Option<&[String]>) -> Result<Vec<&'static str>, Failure> {
    let Some(given) = given else {
        return Ok(DEFAULT_CHECK_FIELDS.to_vec());
    };
    let mut fields = Vec::new();
    let mut unknown = Vec::new();
    for entry in given {
        let wanted = entry.trim().to_ascii_lowercase();
        match ALLOWED_FIELDS.iter().find(|f| **f == wanted) {
            Some(f) if !fields.contains(f) => fields.push(*f),
            Some(_) => {}
            None => unknown.push(format!("{entry:?}")),
        }
    }
    if unknown.is_empty() {
        Ok(fields)
    } else {
        Err(Failure::invalid(format!(
            "DuplicateCheckFields contains unknown field(s) {}; allowed fields are: {}",
            unknown.join(", "),
            ALLOWED_FIELDS.join(", ")
        )))
    }
}

/// A comparable form of one field: ids as numbers, text trimmed and lower-cased (absent = "").
#[derive(Debug, PartialEq)]
enum Key {
    Id(Option<i64>),
    Text(String),
}

fn key_of(record: &Value, field: &str) -> Key {
    let value = record.get(field);
    if field == "client_id" {
        return Key::Id(value.and_then(ids::read_id));
    }
    let text = match value {
        Some(Value::String(s)) => s.trim().to_lowercase(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    Key::Text(text)
}

/// True when `existing` is active and equals the new site on every check field. An inactive
/// (archived) site is never the duplicate to hand back: a workflow would attach users to it.
fn is_duplicate(new_site: &Map<String, Value>, existing: &Value, fields: &[&str]) -> bool {
    if is_inactive(existing) {
        return false;
    }
    let new_site = Value::Object(new_site.clone());
    fields
        .iter()
        .all(|f| key_of(&new_site, f) == key_of(existing, f))
}

/// Whether the site record says it is inactive (`inactive: true`; HaloPSA also writes
/// `"True"`/`1` on some installs).
fn is_inactive(site: &Value) -> bool {
    match site.get("inactive") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        _ => false,
    }
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_clients_duplicate_is_never_handed_back() {
        let mine = json!({"id": 4, "name": "Head Office", "client_id": 5});
        assert!(other_clients(&mine, 5, 200).is_ok());
        let theirs = json!({"id": 1, "name": "Head Office", "client_id": "1"});
        let f = other_clients(&theirs, 5, 200).unwrap_err();
        assert_eq!((f.status_code(), f.original_status_code()), (200, 200));
        assert!(f.message().starts_with("site 1 of client 1 matches"), "{}", f.message());
        assert!(f.message().contains("Add client_id to DuplicateCheckFields"));
    }
    use serde_json::json;

    fn input(name: &str, client: i64) -> CreateInput {
        CreateInput {
            name: name.into(),
            site_client_id: client,
            maincontact_name: None,
            notes: None,
            phonenumber: None,
            block_if_duplicate: None,
            duplicate_check_fields: None,
        }
    }

    fn invalid(i: CreateInput) -> String {
        match build_plan(&i) {
            Err(Failure::Invalid(m)) => m,
            other => panic!("expected -1, got {other:?}"),
        }
    }

    fn list(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn rules() {
        assert_eq!(invalid(input(" ", 3)), "Name is required");
        assert_eq!(
            invalid(input("HQ", 0)),
            "SiteClientId must be a positive integer"
        );
        let mut i = input("HQ", 3);
        i.duplicate_check_fields = list(&["name", "colour", "website"]);
        let m = invalid(i);
        assert!(m.contains("\"colour\", \"website\""), "{m}");
        assert!(
            m.ends_with(
                "allowed fields are: name, client_id, maincontact_name, notes, phonenumber"
            ),
            "{m}"
        );
    }

    #[test]
    fn plans() {
        let p = build_plan(&input(" HQ ", 3)).unwrap();
        assert_eq!(
            Value::Object(p.body.clone()),
            json!({"name": "HQ", "client_id": 3})
        );
        assert_eq!(p.check_fields, vec!["name", "client_id"]);
        let mut i = input("HQ", 3);
        i.duplicate_check_fields = list(&[]);
        assert!(
            build_plan(&i).unwrap().check_fields.is_empty(),
            "[] disables the check"
        );
        let mut i = input("HQ", 3);
        i.block_if_duplicate = Some(false);
        assert!(
            build_plan(&i).unwrap().check_fields.is_empty(),
            "no blocking, no check"
        );
        let mut i = input("HQ", 3);
        i.duplicate_check_fields = list(&[" Name ", "PHONENUMBER", "name"]);
        i.phonenumber = Some("+1-555-0100".into());
        i.notes = Some(" ".into());
        let p = build_plan(&i).unwrap();
        assert_eq!(p.check_fields, vec!["name", "phonenumber"]);
        assert_eq!(
            Value::Object(p.body),
            json!({"name": "HQ", "client_id": 3, "phonenumber": "+1-555-0100"})
        );
    }

    #[test]
    fn duplicates() {
        let new_site = build_plan(&input("Head Office", 21)).unwrap().body;
        let fields = ["name", "client_id"];
        assert!(is_duplicate(
            &new_site,
            &json!({"id": 4, "name": "  head office ", "client_id": 21.0}),
            &fields
        ));
        assert!(is_duplicate(
            &new_site,
            &json!({"id": 4, "name": "HEAD OFFICE", "client_id": "21"}),
            &fields
        ));
        assert!(!is_duplicate(
            &new_site,
            &json!({"id": 4, "name": "Head Office", "client_id": 22}),
            &fields
        ));
        assert!(!is_duplicate(
            &new_site,
            &json!({"id": 4, "name": "Head Office 2", "client_id": 21}),
            &fields
        ));
        assert!(!is_duplicate(
            &new_site,
            &json!({"id": 4, "client_id": 21}),
            &fields
        ));
        // A field the new site leaves out matches an existing empty value.
        assert!(is_duplicate(
            &new_site,
            &json!({"name": "Head Office", "notes": null}),
            &["name", "notes"]
        ));
        assert!(!is_duplicate(
            &new_site,
            &json!({"name": "Head Office", "notes": "x"}),
            &["name", "notes"]
        ));
    }

    #[test]
    fn an_inactive_site_is_never_the_duplicate() {
        let new_site = build_plan(&input("Harbour Street Clinic", 2)).unwrap().body;
        let fields = ["name", "client_id"];
        for archived in [json!(true), json!("True"), json!(1)] {
            assert!(!is_duplicate(
                &new_site,
                &json!({"id": 4, "name": "Harbour Street Clinic", "client_id": 2, "inactive": archived}),
                &fields
            ));
        }
        assert!(is_duplicate(
            &new_site,
            &json!({"id": 5, "name": "Harbour Street Clinic", "client_id": 2, "inactive": false}),
            &fields
        ));
    }
}
