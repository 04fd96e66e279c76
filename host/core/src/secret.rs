//! A value that must never be printed: a connector's client secret or private key, and the
//! access tokens and credentials derived from them. Shared by every connector.
//!
//! `Debug` and `Display` print `***`. The only way to read the value is [`Secret::expose`],
//! which only the code that sends it to the PSA calls.

use std::fmt;

/// A secret string. Prints as `***`; read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value` so it cannot be printed by accident.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value. Call this only where the value is sent to the PSA.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True for an empty secret (refused by the settings checks).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Replaces every occurrence of the secret in `text` with `***`.
    ///
    /// Defence in depth for messages built from text we do not control (a token endpoint's
    /// `error_description`, an I/O error): whatever they say, the secret does not get through.
    pub fn redact(&self, text: &str) -> String {
        // A very short "secret" would mangle ordinary words; such values are rejected by the
        // configuration checks anyway, so only scrub values long enough to be meaningful.
        if self.0.len() < 4 {
            return text.to_owned();
        }
        text.replace(self.0.as_str(), "***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_stars_and_exposes_on_request() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s:#?}"), "***");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn redact_scrubs_every_occurrence() {
        let s = Secret::new("abc123XYZ");
        assert_eq!(s.redact("x abc123XYZ y abc123XYZ"), "x *** y ***");
        assert_eq!(s.redact("nothing here"), "nothing here");
    }
}
