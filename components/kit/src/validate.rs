//! Parameter validation rules shared by the nodes.
//!
//! Every rule returns `Err(`[`Failure::Invalid`]`)` with a message naming the parameter as the
//! workflow author wrote it (`Id`, `Website`, `AdditionalFields`...), so a node can use `?` and
//! the envelope comes out as StatusCode -1 with OriginalStatusCode 0. Validation happens before
//! any request: a node that fails validation sends nothing.

use crate::prelude::*;
use serde_json::{Map, Value};

use crate::errors::Failure;

/// An id parameter must be a positive integer: returns it, or
/// `"<name> must be a positive integer"` (e.g. "Id must be a positive integer").
pub fn positive_id(name: &str, id: i64) -> Result<i64, Failure> {
    if id > 0 {
        Ok(id)
    } else {
        Err(Failure::invalid(format!(
            "{name} must be a positive integer"
        )))
    }
}

/// An optional id parameter: `None` stays `None`; a given value must be positive.
pub fn optional_positive_id(name: &str, id: Option<i64>) -> Result<Option<i64>, Failure> {
    id.map(|v| positive_id(name, v)).transpose()
}

/// A required text parameter: returns it trimmed, or `"<name> is required"` when it is empty or
/// only whitespace.
pub fn required_text(name: &str, value: &str) -> Result<String, Failure> {
    match value.trim() {
        "" => Err(Failure::invalid(format!("{name} is required"))),
        trimmed => Ok(trimmed.to_string()),
    }
}

/// An optional text parameter: `None` when absent, empty or only whitespace; otherwise the value
/// trimmed. Used for the "empty keeps the current value" rule of the update operations.
pub fn optional_text(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// A website must start with `http://` or `https://` (any letter case) and name something after
/// it, without spaces. Examples that pass: `https://www.acme-corp.com`, `http://legacy-system.local`.
pub fn website(name: &str, value: &str) -> Result<String, Failure> {
    let v = value.trim();
    let lower = v.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match rest {
        None => Err(Failure::invalid(format!(
            "{name} must start with http:// or https://, for example https://www.acme-corp.com"
        ))),
        Some(r) if r.is_empty() || r.starts_with('/') => Err(Failure::invalid(format!(
            "{name} must name a host after the protocol, for example https://www.acme-corp.com"
        ))),
        Some(_) if v.chars().any(char::is_whitespace) => {
            Err(Failure::invalid(format!("{name} must not contain spaces")))
        }
        Some(_) => Ok(v.to_string()),
    }
}

/// The symbols the seed's password rule counts ("0-9 or !@#$%^&*").
pub const PASSWORD_SYMBOLS: &str = "!@#$%^&*";

/// Password rules (seed "Create a User"): at least 8 characters, an upper-case letter (A-Z), a
/// lower-case letter (a-z), and a digit (0-9) or one of the symbols `!@#$%^&*`. The messages never
/// include the password itself.
pub fn password(name: &str, value: &str) -> Result<(), Failure> {
    let mut missing = Vec::new();
    if value.chars().count() < 8 {
        missing.push("at least 8 characters");
    }
    if !value.chars().any(|c| c.is_ascii_uppercase()) {
        missing.push("an upper-case letter (A-Z)");
    }
    if !value.chars().any(|c| c.is_ascii_lowercase()) {
        missing.push("a lower-case letter (a-z)");
    }
    if !value
        .chars()
        .any(|c| c.is_ascii_digit() || PASSWORD_SYMBOLS.contains(c))
    {
        missing.push("a digit (0-9) or one of the symbols !@#$%^&*");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Failure::invalid(format!(
            "{name} does not meet the password rules: it needs {}",
            missing.join(", ")
        )))
    }
}

/// An optional password parameter: `None` or an empty string means "not given" (`Ok(None)`);
/// anything else must meet [`password`]'s rules and is returned exactly as written (passwords
/// are not trimmed: spaces can be part of them). The messages never include the password.
pub fn optional_password(name: &str, value: Option<&str>) -> Result<Option<String>, Failure> {
    match value {
        None | Some("") => Ok(None),
        Some(v) => password(name, v).map(|()| Some(v.to_string())),
    }
}

/// An id parameter of an update operation where 0 or absent keeps the current value: `None` and
/// `Some(0)` give `None`, a positive value is returned, a negative one fails with
/// `"<name> must be a positive integer (or 0 to keep the current value)"`.
pub fn id_or_keep(name: &str, id: Option<i64>) -> Result<Option<i64>, Failure> {
    match id {
        None | Some(0) => Ok(None),
        Some(v) if v > 0 => Ok(Some(v)),
        Some(_) => Err(Failure::invalid(format!(
            "{name} must be a positive integer (or 0 to keep the current value)"
        ))),
    }
}

/// An ISO 8601 date-time with both date and time: `2025-10-30T10:00:00`, `2025-10-30T10:00`,
/// `2025-10-30T10:00:00.5`, `2025-10-30T10:00:00Z`, `2025-10-30T10:00:00+02:00` (or `+0200`).
/// Dates and times are range-checked (month 1-12, a day that exists, hour 0-23, minute and second
/// 0-59). Returns the value trimmed.
pub fn iso8601_datetime(name: &str, value: &str) -> Result<String, Failure> {
    let v = value.trim();
    if parse_datetime(v).is_some() {
        Ok(v.to_string())
    } else {
        Err(Failure::invalid(format!(
            "{name} must be an ISO 8601 date and time, for example 2025-10-30T10:00:00 or 2025-10-30T10:00:00Z"
        )))
    }
}

fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

fn parse_datetime(v: &str) -> Option<()> {
    if !v.is_ascii() {
        return None;
    }
    let (date, rest) = v.split_at_checked(10)?;
    let rest = rest.strip_prefix(['T', 't'])?;
    let mut parts = date.split('-');
    let (year, month, day) = (
        digits(parts.next()?, 4)?,
        digits(parts.next()?, 2)?,
        digits(parts.next()?, 2)?,
    );
    if parts.next().is_some()
        || !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
    {
        return None;
    }
    // Split the time from the zone designator.
    let (time, zone) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (hms, fraction) = match time.split_once('.') {
        Some((hms, f)) => (hms, Some(f)),
        None => (time, None),
    };
    let fields: Vec<&str> = hms.split(':').collect();
    let (hour, minute, second) = match fields.as_slice() {
        [h, m] => (digits(h, 2)?, digits(m, 2)?, 0),
        [h, m, s] => (digits(h, 2)?, digits(m, 2)?, digits(s, 2)?),
        _ => return None,
    };
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    if let Some(f) = fraction
        && (fields.len() != 3 || f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    match zone {
        "" | "Z" | "z" => Some(()),
        z => {
            let offset = &z[1..];
            let (oh, om) = match offset.split_once(':') {
                Some((h, m)) => (digits(h, 2)?, digits(m, 2)?),
                None if offset.len() == 4 => (digits(&offset[..2], 2)?, digits(&offset[2..], 2)?),
                None => (digits(offset, 2)?, 0),
            };
            (oh <= 23 && om <= 59).then_some(())
        }
    }
}

/// `AdditionalFields`-style JSON text. Absent, empty or whitespace-only text means "not given"
/// (`Ok(None)`); anything else must parse as a JSON object, else
/// `"<name> must be a JSON object, for example <example>"`, with an example of the fields of the
/// node's own record (a client's fields mean nothing on a ticket).
pub fn json_object(
    name: &str,
    text: Option<&str>,
    example: &str,
) -> Result<Option<Map<String, Value>>, Failure> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(Failure::invalid(format!(
            "{name} must be a JSON object, for example {example}"
        ))),
        Err(e) => Err(Failure::invalid(format!(
            "{name} must be a JSON object, for example {example}; it is not valid JSON ({e})"
        ))),
    }
}

/// Checks the date-time fields of an `AdditionalFields`-style object: every entry whose key
/// equals one of `keys` (ignoring ASCII case, as HaloPSA matches field names) must be a string
/// that [`iso8601_datetime`] accepts; it is replaced by the trimmed value. A failure names the
/// field as `<param>.<key as written>`, e.g. `AdditionalFields.startdate must be an ISO 8601 ...`.
pub fn datetime_fields(
    param: &str,
    fields: &mut Map<String, Value>,
    keys: &[&str],
) -> Result<(), Failure> {
    for (key, value) in fields.iter_mut() {
        if !keys.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            continue;
        }
        let name = format!("{param}.{key}");
        let text = value.as_str().unwrap_or_default();
        let checked = iso8601_datetime(&name, text)?;
        *value = Value::String(checked);
    }
    Ok(())
}

/// An optional count-like parameter (`Count`, `PageNo`, `PageSize`): `None` stays `None`, a given
/// value must be 1 or more, else `"<name> must be 1 or more"`.
pub fn optional_at_least_one(name: &str, value: Option<i32>) -> Result<Option<u32>, Failure> {
    match value {
        None => Ok(None),
        Some(v) if v >= 1 => Ok(Some(v as u32)),
        Some(_) => Err(Failure::invalid(format!("{name} must be 1 or more"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(r: Result<impl core::fmt::Debug, Failure>) -> String {
        match r {
            Err(Failure::Invalid(m)) => m,
            other => panic!("expected a validation failure, got {other:?}"),
        }
    }

    #[test]
    fn ids() {
        assert_eq!(positive_id("Id", 1), Ok(1));
        assert_eq!(positive_id("Id", i64::MAX), Ok(i64::MAX));
        assert_eq!(msg(positive_id("Id", 0)), "Id must be a positive integer");
        assert_eq!(msg(positive_id("Id", -5)), "Id must be a positive integer");
        assert_eq!(
            msg(positive_id("SiteClientId", 0)),
            "SiteClientId must be a positive integer"
        );
        assert_eq!(optional_positive_id("SiteId", None), Ok(None));
        assert_eq!(optional_positive_id("SiteId", Some(3)), Ok(Some(3)));
        assert!(optional_positive_id("SiteId", Some(0)).is_err());
    }

    #[test]
    fn text() {
        assert_eq!(required_text("Name", "  Acme "), Ok("Acme".to_string()));
        assert_eq!(msg(required_text("Name", "")), "Name is required");
        assert_eq!(msg(required_text("Name", " \t\n")), "Name is required");
        assert_eq!(optional_text(None), None);
        assert_eq!(optional_text(Some("  ")), None);
        assert_eq!(optional_text(Some(" x ")), Some("x".to_string()));
    }

    #[test]
    fn websites() {
        for ok in [
            "https://www.acme-corp.com",
            "http://acme.com/about",
            "http://legacy-system.local",
            "HTTPS://ACME.COM",
        ] {
            assert_eq!(website("Website", ok).as_deref(), Ok(ok), "{ok}");
        }
        for bad in [
            "www.acme.com",
            "acme.com",
            "ftp://acme.com",
            "https//acme.com",
            "",
            "  ",
        ] {
            assert!(
                msg(website("Website", bad)).contains("http:// or https://"),
                "{bad}"
            );
        }
        assert!(website("Website", "https://").is_err());
        assert!(website("Website", "https:///path").is_err());
        assert!(website("Website", "https://acme corp.com").is_err());
    }

    #[test]
    fn passwords() {
        assert!(password("Password", "SecureP@ss1").is_ok());
        assert!(password("Password", "Abcdefg1").is_ok());
        assert!(
            password("Password", "Abcdefg!").is_ok(),
            "a symbol instead of a digit is enough"
        );
        let short = msg(password("Password", "Ab1!"));
        assert!(short.contains("at least 8 characters"), "{short}");
        assert!(msg(password("Password", "abcdefg1")).contains("an upper-case letter"));
        assert!(msg(password("Password", "ABCDEFG1")).contains("a lower-case letter"));
        assert!(msg(password("Password", "Abcdefgh")).contains("a digit (0-9) or one of the symbols !@#$%^&*"));
        // The seed's set: other punctuation is not a symbol here.
        assert!(msg(password("Password", "Abcdefgh-_.")).contains("a digit (0-9)"));
        assert!(password("Password", "Abcdefg^").is_ok());
        // Never echo the secret.
        for secret in ["hunter2", "ALLUPPER123", "Sh0rt", "lowercase!!"] {
            let m = msg(password("Password", secret));
            assert!(!m.contains(secret), "{m}");
        }
    }

    #[test]
    fn datetimes() {
        for ok in [
            "2025-10-30T10:00:00",
            "2025-10-30T10:00",
            "2025-10-30T10:00:00Z",
            "2025-10-30T10:00:00.123Z",
            "2025-10-30T10:00:00+02:00",
            "2025-10-30T10:00:00-0530",
            "2025-10-30T23:59:59+05",
            "2024-02-29T00:00:00",
            " 2025-01-15T10:00:00Z ",
        ] {
            assert!(iso8601_datetime("Startdate", ok).is_ok(), "{ok}");
        }
        for bad in [
            "2025-10-30",
            "10:00:00",
            "2025-10-30 10:00:00",
            "2025-13-01T10:00:00",
            "2025-02-29T10:00:00",
            "2025-04-31T10:00:00",
            "2025-10-30T24:00:00",
            "2025-10-30T10:60:00",
            "2025-10-30T10:00:61",
            "2025-10-30T10",
            "2025-10-30T10:00:00+25:00",
            "2025-10-30T10:00:00.Z",
            "30/10/2025 10:00",
            "tomorrow",
            "",
            "2025-1-30T10:00:00",
        ] {
            assert!(
                msg(iso8601_datetime("Startdate", bad))
                    .starts_with("Startdate must be an ISO 8601"),
                "{bad}"
            );
        }
    }

    #[test]
    fn json_objects() {
        let example = r#"{"client_id": 12, "impact": 2}"#;
        assert_eq!(json_object("AdditionalFields", None, example), Ok(None));
        assert_eq!(json_object("AdditionalFields", Some("  "), example), Ok(None));
        let map = json_object(
            "AdditionalFields",
            Some(r#"{"toplevel_id": 15, "taxable": true}"#),
            example,
        )
        .unwrap()
        .unwrap();
        assert_eq!(map["toplevel_id"], 15);
        for bad in ["[1,2]", "\"text\"", "15", "null", "{broken", "true"] {
            let m = msg(json_object("AdditionalFields", Some(bad), example));
            assert!(
                m.starts_with(&format!(
                    "AdditionalFields must be a JSON object, for example {example}"
                )),
                "{bad}: {m}"
            );
        }
    }

    #[test]
    fn optional_passwords() {
        assert_eq!(optional_password("Password", None), Ok(None));
        assert_eq!(optional_password("Password", Some("")), Ok(None));
        assert_eq!(
            optional_password("Password", Some(" SecureP@ss1 ")),
            Ok(Some(" SecureP@ss1 ".to_string())),
            "kept exactly as written"
        );
        for weak in ["   ", "short1A", "nouppercase1", "NoDigitsOrSymbols"] {
            let m = msg(optional_password("Password", Some(weak)));
            assert!(
                m.starts_with("Password does not meet the password rules"),
                "{m}"
            );
            assert!(weak.trim().is_empty() || !m.contains(weak), "{m}");
        }
    }

    #[test]
    fn ids_that_can_keep_the_current_value() {
        assert_eq!(id_or_keep("SiteId", None), Ok(None));
        assert_eq!(id_or_keep("SiteId", Some(0)), Ok(None));
        assert_eq!(id_or_keep("SiteId", Some(7)), Ok(Some(7)));
        assert_eq!(
            msg(id_or_keep("SiteId", Some(-1))),
            "SiteId must be a positive integer (or 0 to keep the current value)"
        );
    }

    #[test]
    fn datetime_fields_in_objects() {
        let keys = ["startdate", "targetdate"];
        let mut fields = json_object(
            "AdditionalFields",
            Some(r#"{"startdate": " 2025-01-15T10:00:00Z ", "TargetDate": "2025-01-17T18:00:00+02:00", "tags": "x", "deadlinedate": "soon"}"#),
            "{}",
        )
        .unwrap()
        .unwrap();
        datetime_fields("AdditionalFields", &mut fields, &keys).unwrap();
        assert_eq!(fields["startdate"], "2025-01-15T10:00:00Z", "trimmed");
        assert_eq!(fields["TargetDate"], "2025-01-17T18:00:00+02:00");
        assert_eq!(fields["deadlinedate"], "soon", "other keys are not checked");
        for (bad, key) in [
            (r#"{"startdate": "2025-01-15"}"#, "startdate"),
            (r#"{"TARGETDATE": "2025-01-15 10:00"}"#, "TARGETDATE"),
            (r#"{"startdate": 20250115}"#, "startdate"),
            (r#"{"targetdate": null}"#, "targetdate"),
            (r#"{"targetdate": ""}"#, "targetdate"),
        ] {
            let mut fields = json_object("AdditionalFields", Some(bad), "{}")
                .unwrap()
                .unwrap();
            let m = msg(datetime_fields("AdditionalFields", &mut fields, &keys));
            assert!(
                m.starts_with(&format!(
                    "AdditionalFields.{key} must be an ISO 8601 date and time"
                )),
                "{bad}: {m}"
            );
        }
    }

    #[test]
    fn counts() {
        assert_eq!(optional_at_least_one("PageNo", None), Ok(None));
        assert_eq!(optional_at_least_one("PageNo", Some(1)), Ok(Some(1)));
        assert_eq!(
            msg(optional_at_least_one("PageSize", Some(0))),
            "PageSize must be 1 or more"
        );
        assert!(optional_at_least_one("Count", Some(-3)).is_err());
    }
}
