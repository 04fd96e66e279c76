//! halopsa.client.create: creates a new client record.
//!
//! Rules (seed "Create a Client"):
//! - Name is required (not blank); it is sent trimmed.
//! - Website, when given, must start with http:// or https://.
//! - AdditionalFields, when given, must be a JSON object; its fields are merged into the body.
//!   It may not carry `id` (that would turn the create into an update of another client).
//! - Explicit parameters win over AdditionalFields: Name, Notes, Website always; Email and Phone
//!   also drop the AdditionalFields spellings of the same field (see [`EMAIL_KEYS`], [`PHONE_KEYS`]).
//! - Inactive and IsVip default to false, unless AdditionalFields sets them and the parameter is
//!   not given.
//! - `POST /Client` with a one-element JSON array; the answer (object or array) is the Client.
//! - The clients with the name (its natural key, trimmed, ignoring case; names are not unique)
//!   are listed before the POST. When its answer is lost (the outcome is unknown), they are
//!   listed again: one client that was not there before is the created client; none means
//!   nothing was created (a 500, safe to retry); several stop with their ids
//!   ([`psaflow_kit::recover`]).
//! - Output `Client`: the created record with ids as integers; `{}` on any failure.

#![cfg_attr(not(test), no_std)]

use psaflow_kit::prelude::*;

psaflow_kit::bind_node!("client-create");

use psaflow_kit::describe::{self, Effect};
use psaflow_kit::envelope::{self, Done};
use psaflow_kit::http::Query;
use psaflow_kit::recover::{self, Subject};
use psaflow_kit::{Failure, paging, validate};
use serde_json::{Map, Value};

const OUTPUT: &str = "Client";

/// HaloPSA field names for the contact parameters. halopsa-api.md lists no contact fields for the
/// Client (`Area`) schema (§4.1); everywhere the references name them, HaloPSA spells them
/// `emailaddress` (Users §4.4, Team §4.6) and `phonenumber` (Site §4.2, Users §4.4), so those are
/// sent. The seed's output names (`email`, `phone`) are not HaloPSA field names.
const EMAIL_FIELD: &str = "emailaddress";
const PHONE_FIELD: &str = "phonenumber";
/// Spellings of the email in AdditionalFields that an explicit Email replaces.
const EMAIL_KEYS: &[&str] = &["email", "emailaddress"];
/// Spellings of the phone in AdditionalFields that an explicit Phone replaces.
const PHONE_KEYS: &[&str] = &["phone", "phonenumber", "phone_number"];

struct Node;

impl Guest for Node {
    fn describe() -> NodeInfo {
        describe::node(OUTPUT, Effect::Create)
            .natural_key(&["Name"])
            .calls("POST", "/Client")
            .calls("GET", "/Client") // the clients with the name, before and after a lost answer
            .into()
    }

    fn run(input: CreateInput) -> Envelope {
        envelope::respond(OUTPUT, create(&input), |_| envelope::empty_object())
    }
}

fn create(input: &CreateInput) -> Result<Done, Failure> {
    let body = build_body(input)?;
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
    let key = format!("named {name:?}");
    let subject = Subject {
        what: "client",
        key: &key,
    };
    let (status, record) = recover::create_or_find("/Client", &body, subject, || {
        recover::list_matching(&paging::CLIENTS, Query::new(), name, |c| {
            recover::text_matches(c, "name", name)
        })
    })?;
    Ok(Done::record(status, record))
}

/// Validates the input and builds the client object to POST. Sends nothing.
fn build_body(input: &CreateInput) -> Result<Map<String, Value>, Failure> {
    let name = validate::required_text("Name", &input.name)?;
    let website = validate::optional_text(input.website.as_deref())
        .map(|w| validate::website("Website", &w))
        .transpose()?;
    let extra = validate::json_object(
        "AdditionalFields",
        input.additional_fields.as_deref(),
        r#"{"toplevel_id": 15, "taxable": true}"#,
    )?
        .unwrap_or_default();
    if extra.keys().any(|k| k.eq_ignore_ascii_case("id")) {
        return Err(Failure::invalid(
            "AdditionalFields must not contain id: Create a Client always creates a new client (use Update a Client to change one)",
        ));
    }
    let email = validate::optional_text(input.email.as_deref());
    let phone = validate::optional_text(input.phone.as_deref());

    // AdditionalFields first; the explicit parameters then overwrite what they name.
    let mut body = extra;
    if email.is_some() {
        body.retain(|k, _| !EMAIL_KEYS.iter().any(|e| k.eq_ignore_ascii_case(e)));
    }
    if phone.is_some() {
        body.retain(|k, _| !PHONE_KEYS.iter().any(|p| k.eq_ignore_ascii_case(p)));
    }
    body.insert("name".into(), Value::String(name));
    set_flag(&mut body, "inactive", input.inactive);
    set_flag(&mut body, "is_vip", input.is_vip);
    if let Some(notes) = validate::optional_text(input.notes.as_deref()) {
        body.insert("notes".into(), Value::String(notes));
    }
    if let Some(website) = website {
        body.insert("website".into(), Value::String(website));
    }
    if let Some(email) = email {
        body.insert(EMAIL_FIELD.into(), Value::String(email));
    }
    if let Some(phone) = phone {
        body.insert(PHONE_FIELD.into(), Value::String(phone));
    }
    Ok(body)
}

/// A given flag always wins; otherwise AdditionalFields may set it; otherwise false.
fn set_flag(body: &mut Map<String, Value>, key: &str, given: Option<bool>) {
    match given {
        Some(v) => {
            body.insert(key.into(), Value::Bool(v));
        }
        None => {
            body.entry(key).or_insert(Value::Bool(false));
        }
    }
}

export!(Node);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(name: &str) -> CreateInput {
        CreateInput {
            name: name.into(),
            inactive: None,
            notes: None,
            is_vip: None,
            website: None,
            email: None,
            phone: None,
            additional_fields: None,
        }
    }

    fn invalid(i: CreateInput) -> String {
        match build_body(&i) {
            Err(Failure::Invalid(m)) => m,
            other => panic!("expected -1, got {other:?}"),
        }
    }

    #[test]
    fn minimal_body() {
        assert_eq!(
            Value::Object(build_body(&input(" Acme ")).unwrap()),
            json!({"name": "Acme", "inactive": false, "is_vip": false})
        );
    }

    #[test]
    fn rules() {
        assert_eq!(invalid(input("  ")), "Name is required");
        let mut i = input("Acme");
        i.website = Some("www.acme.com".into());
        assert!(invalid(i).starts_with("Website must start with http:// or https://"));
        let mut i = input("Acme");
        i.additional_fields = Some("[1]".into());
        assert!(invalid(i).starts_with("AdditionalFields must be a JSON object"));
        let mut i = input("Acme");
        i.additional_fields = Some(r#"{"id": 5}"#.into());
        assert!(invalid(i).starts_with("AdditionalFields must not contain id"));
    }

    #[test]
    fn explicit_parameters_win() {
        let mut i = input("Acme");
        i.email = Some("contact@acme-corp.com".into());
        i.phone = Some("+1 415 555 0123".into());
        i.website = Some("https://www.acme-corp.com".into());
        i.is_vip = Some(true);
        i.additional_fields = Some(
            r#"{"email": "old@x", "Phone": "1", "phonenumber": "2", "toplevel_id": 15, "name": "Other", "inactive": true}"#.into(),
        );
        let body = Value::Object(build_body(&i).unwrap());
        assert_eq!(
            body,
            json!({
                "toplevel_id": 15,
                "name": "Acme",
                "inactive": true,
                "is_vip": true,
                "website": "https://www.acme-corp.com",
                "emailaddress": "contact@acme-corp.com",
                "phonenumber": "+1 415 555 0123"
            })
        );
        // Without explicit Email/Phone, AdditionalFields' values stay.
        let mut i = input("Acme");
        i.inactive = Some(false);
        i.additional_fields =
            Some(r#"{"emailaddress": "kept@x", "phonenumber": "9", "inactive": true}"#.into());
        let body = build_body(&i).unwrap();
        assert_eq!(
            (
                body["emailaddress"].clone(),
                body["phonenumber"].clone(),
                body["inactive"].clone()
            ),
            (json!("kept@x"), json!("9"), json!(false))
        );
    }
}
