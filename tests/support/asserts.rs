//! Reading and checking node envelopes: the assertions the node test binaries share.
//!
//! Every node answers with an envelope holding `StatusCode`, `OriginalStatusCode`,
//! `ErrorMessage` and one output (`Client`, `DeletedSite`, `Tickets`, ...). The helpers here read
//! those fields and check the envelope shapes the contract defines: a success, a validation
//! failure (-1, no request sent), a server error (500 from HaloPSA) and a network error
//! (HaloPSA unreachable). The `assert_*` helpers return the envelope for further checks.

use crate::Harness;
use serde_json::{Value, json};

/// `StatusCode` and `OriginalStatusCode` as integers, for terse assertions.
pub fn status(envelope: &Value) -> (i64, i64) {
    (
        envelope["StatusCode"].as_i64().expect("StatusCode"),
        envelope["OriginalStatusCode"]
            .as_i64()
            .expect("OriginalStatusCode"),
    )
}

/// The `ErrorMessage` (empty on success).
pub fn message(envelope: &Value) -> &str {
    envelope["ErrorMessage"].as_str().expect("ErrorMessage")
}

/// `StatusCode`, `OriginalStatusCode` and `ErrorMessage` together, to compare in one go.
pub fn codes(envelope: &Value) -> (i64, i64, String) {
    let (status, original) = status(envelope);
    (status, original, message(envelope).to_string())
}

/// The `id`s of a list of records (`envelope["Clients"]["clients"]` and the like), in order.
pub fn ids_of(list: &Value) -> Vec<i64> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|record| record["id"].as_i64().expect("integer id"))
        .collect()
}

/// A success: StatusCode 200, the given OriginalStatusCode and an empty ErrorMessage.
pub fn assert_success(envelope: &Value, original: i64) {
    assert_eq!(
        codes(envelope),
        (200, original, String::new()),
        "{envelope}"
    );
}

/// Runs `node` with `params` and checks a validation failure: StatusCode -1, OriginalStatusCode
/// 0, a message containing `message`, the given output, and no request sent to the API.
/// Returns the envelope.
pub async fn assert_invalid(
    h: &Harness,
    node: &str,
    params: Value,
    message: &str,
    output_key: &str,
    output: Value,
) -> Value {
    let before = h.api_requests();
    let envelope = h.invoke(node, params.clone()).await;
    let (status, original, error) = codes(&envelope);
    assert_eq!((status, original), (-1, 0), "{node} {params}: {envelope}");
    assert!(
        error.contains(message),
        "{node} {params}: expected {message:?} in {error:?}"
    );
    assert_eq!(envelope[output_key], output, "{node} {params}");
    assert_eq!(
        h.api_requests(),
        before,
        "{node} {params} must not send a request"
    );
    envelope
}

/// Runs `node` while HaloPSA answers 500 (not retried by the host) and checks StatusCode 500
/// with the original status, a message, and the given output. Returns the envelope.
pub async fn assert_server_error(
    h: &Harness,
    node: &str,
    params: Value,
    output_key: &str,
    output: Value,
) -> Value {
    let envelope = h.invoke_failing(500, 10, node, params.clone()).await;
    let (status, original, message) = codes(&envelope);
    assert_eq!(
        (status, original),
        (500, 500),
        "{node} {params}: {envelope}"
    );
    assert!(!message.is_empty());
    assert_eq!(envelope[output_key], output, "{node} {params}");
    envelope
}

/// Runs `node` while HaloPSA is unreachable and checks StatusCode 500, OriginalStatusCode 0, a
/// message, and the given output. Returns the envelope.
pub async fn assert_network_error(
    h: &Harness,
    node: &str,
    params: Value,
    output_key: &str,
    output: Value,
) -> Value {
    let envelope = h.invoke_down(node, params.clone()).await;
    let (status, original, message) = codes(&envelope);
    assert_eq!((status, original), (500, 0), "{node} {params}: {envelope}");
    assert!(!message.is_empty());
    assert_eq!(envelope[output_key], output, "{node} {params}");
    envelope
}

/// Checks that the sandbox saw at least one paged list request and that every page size asked
/// for respects HaloPSA's 100-record cap.
pub fn assert_pages_within_server_cap(h: &Harness) {
    let pages: Vec<u64> = h
        .sandbox
        .requests()
        .iter()
        .flat_map(|r| {
            r.query
                .split('&')
                .filter_map(|p| p.strip_prefix("page_size="))
                .map(|v| v.parse::<u64>().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(!pages.is_empty());
    assert!(pages.iter().all(|size| *size <= 100), "{pages:?}");
}

/// Runs the get-many `node` with IncludeActive and IncludeInactive both false and checks the
/// answer: a success with OriginalStatusCode 0 (HaloPSA not asked, no request sent) and
/// `{"<list_key>": [], "record_count": 0}` as the `output_key` output. Returns the envelope.
pub async fn assert_empty_list_without_request(
    h: &Harness,
    node: &str,
    output_key: &str,
    list_key: &str,
) -> Value {
    let before = h.api_requests();
    let envelope = h
        .invoke(
            node,
            json!({"IncludeActive": false, "IncludeInactive": false}),
        )
        .await;
    assert_eq!(
        codes(&envelope),
        (200, 0, String::new()),
        "{node}: {envelope}"
    );
    assert_eq!(
        envelope[output_key],
        json!({list_key: [], "record_count": 0}),
        "{node}"
    );
    assert_eq!(h.api_requests(), before, "{node} must not send a request");
    envelope
}
