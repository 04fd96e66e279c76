//! The rules ConnectWise applies to member fields, checked before anything is sent so a
//! workflow learns of a bad value with StatusCode -1 and the parameter's name.

use crate::prelude::*;
use serde_json::{Map, Value};

use crate::errors::Failure;
use crate::fields;

/// Member ID: the login name, unique, at most 15 characters, fixed after creation.
pub const MAX_IDENTIFIER: usize = 15;
/// First and last names.
pub const MAX_NAME: usize = 30;
/// Email addresses.
pub const MAX_EMAIL: usize = 250;

/// The identifier: required, at most 15 characters, no spaces.
pub fn identifier(value: &str) -> Result<String, Failure> {
    let value = crate::validate::required_text("Identifier", value)?;
    let length = value.chars().count();
    if length > MAX_IDENTIFIER {
        return Err(Failure::invalid(format!(
            "Identifier must be at most {MAX_IDENTIFIER} characters (ConnectWise's limit); '{value}' has {length}"
        )));
    }
    if value.chars().any(char::is_whitespace) {
        return Err(Failure::invalid(format!(
            "Identifier must not contain spaces; '{value}' does"
        )));
    }
    Ok(value)
}

/// A first or last name: required, at most 30 characters.
pub fn name(param: &str, value: &str) -> Result<String, Failure> {
    let value = crate::validate::required_text(param, value)?;
    let length = value.chars().count();
    if length > MAX_NAME {
        return Err(Failure::invalid(format!(
            "{param} must be at most {MAX_NAME} characters; it has {length}"
        )));
    }
    Ok(value)
}

/// An email address: `local@domain`, no spaces, at most 250 characters.
pub fn email(param: &str, value: &str) -> Result<String, Failure> {
    let value = crate::validate::required_text(param, value)?;
    let well_formed = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        }
        None => false,
    };
    if !well_formed || value.chars().any(char::is_whitespace) {
        return Err(Failure::invalid(format!(
            "{param} must be an email address such as jdoe@example.com, not '{value}'"
        )));
    }
    if value.chars().count() > MAX_EMAIL {
        return Err(Failure::invalid(format!(
            "{param} must be at most {MAX_EMAIL} characters"
        )));
    }
    Ok(value)
}

/// The license class, `F` when not given; letter case is ignored.
pub fn license_class(value: Option<&str>) -> Result<String, Failure> {
    let Some(value) = crate::validate::optional_text(value) else {
        return Ok("F".to_owned());
    };
    let upper = value.to_ascii_uppercase();
    if ["F", "A", "C", "X"].contains(&upper.as_str()) {
        Ok(upper)
    } else {
        Err(Failure::invalid(format!(
            "LicenseClass must be F (full member), A (API member), C (StreamlineIT) or X (subcontractor), not '{value}'"
        )))
    }
}

/// `AdditionalFields` for a member: a JSON object whose keys are not the ones the server sets
/// or that cannot change (`id`, `_info`; on update also `identifier`).
pub fn additional_fields(
    text: Option<&str>,
    updating: bool,
) -> Result<Map<String, Value>, Failure> {
    let Some(map) = crate::validate::json_object(
        "AdditionalFields",
        text,
        r#"{"title": "Service desk engineer", "officePhone": "555-0100"}"#,
    )? else {
        return Ok(Map::new());
    };
    for key in ["id", "_info"] {
        if fields::contains(&map, key) {
            return Err(Failure::invalid(format!(
                "AdditionalFields must not set {key}; ConnectWise assigns it"
            )));
        }
    }
    if updating && fields::contains(&map, "identifier") {
        return Err(Failure::invalid(
            "AdditionalFields must not set identifier: a member's Identifier cannot be changed after creation",
        ));
    }
    Ok(map)
}

/// The member fields whose change deactivates a member (connectwise-api.md §3-4: members are
/// deactivated with `inactiveFlag: true`; `inactiveDate` is the stamp of that deactivation).
const DEACTIVATING_FIELDS: &[&str] = &["inactiveFlag", "inactiveDate"];

/// AdditionalFields of an update may reactivate a member (`inactiveFlag: false`) but not
/// deactivate one: deactivation is its own node, marked as such in dry runs, plans and
/// confirmations, so an update must not do it under the effect `update`. Refused: `inactiveFlag`
/// true (or "true"), and any `inactiveDate` but null. Keys are matched ignoring case and a
/// leading `/` (a PATCH path may carry one).
pub fn refuse_deactivation_in(extra: &Map<String, Value>) -> Result<(), Failure> {
    for (key, value) in extra {
        let key = key.trim_start_matches('/');
        let Some(field) = DEACTIVATING_FIELDS
            .iter()
            .find(|f| key.eq_ignore_ascii_case(f))
        else {
            continue;
        };
        let deactivates = match (*field, value) {
            ("inactiveFlag", Value::Bool(b)) => *b,
            ("inactiveFlag", Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
            ("inactiveFlag", _) => false,
            (_, v) => !v.is_null(),
        };
        if deactivates {
            return Err(Failure::invalid(format!(
                "AdditionalFields must not deactivate the member ({field}): use connectwise.member.deactivate"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message<T: core::fmt::Debug>(r: Result<T, Failure>) -> String {
        r.unwrap_err().message().to_owned()
    }

    #[test]
    fn identifier_limits() {
        assert_eq!(identifier(" jdoe ").unwrap(), "jdoe");
        assert_eq!(identifier("a23456789012345").unwrap().len(), 15);
        assert!(message(identifier("a234567890123456")).contains("at most 15"));
        assert_eq!(message(identifier("  ")), "Identifier is required");
        assert!(message(identifier("j doe")).contains("spaces"));
    }

    #[test]
    fn names_emails_and_classes() {
        assert!(
            message(name("FirstName", &"x".repeat(31))).starts_with("FirstName must be at most 30")
        );
        assert_eq!(email("Email", "a@b.co").unwrap(), "a@b.co");
        for bad in ["nope", "@b.co", "a@b", "a@.b", "a b@c.d", "a@b@c.d"] {
            assert!(
                message(email("Email", bad)).starts_with("Email must be an email"),
                "{bad}"
            );
        }
        assert_eq!(license_class(None).unwrap(), "F");
        assert_eq!(license_class(Some("a")).unwrap(), "A");
        assert!(message(license_class(Some("Z"))).starts_with("LicenseClass must be F"));
    }

    #[test]
    fn deactivating_fields_are_refused() {
        let map = |text: &str| additional_fields(Some(text), true).unwrap();
        for text in [
            r#"{"inactiveFlag": true}"#,
            r#"{"INACTIVEFLAG": "true"}"#,
            r#"{"/inactiveFlag": true}"#,
            r#"{"inactiveDate": "2025-01-01T00:00:00Z"}"#,
        ] {
            let f = refuse_deactivation_in(&map(text)).unwrap_err();
            assert!(f.is_validation(), "{text}");
            assert!(
                f.message()
                    .starts_with("AdditionalFields must not deactivate the member")
                    && f.message().ends_with("use connectwise.member.deactivate"),
                "{text}: {}",
                f.message()
            );
        }
        for text in [
            r#"{"inactiveFlag": false}"#,
            r#"{"inactiveDate": null}"#,
            r#"{"title": "Lead"}"#,
        ] {
            assert_eq!(refuse_deactivation_in(&map(text)), Ok(()), "{text}");
        }
    }

    #[test]
    fn additional_fields_rules() {
        assert!(additional_fields(None, false).unwrap().is_empty());
        assert!(
            message(additional_fields(Some(r#"{"ID": 3}"#), false)).contains("must not set id")
        );
        assert!(additional_fields(Some(r#"{"identifier": "x"}"#), false).is_ok());
        assert!(
            message(additional_fields(Some(r#"{"Identifier": "x"}"#), true))
                .contains("cannot be changed")
        );
        assert!(
            message(additional_fields(Some("[1]"), true))
                .starts_with("AdditionalFields must be a JSON object")
        );
    }
}
