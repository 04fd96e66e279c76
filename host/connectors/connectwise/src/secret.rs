//! The private key, and the Basic credential derived from it: values that print as `***`.

use std::fmt;

/// A secret string. `Debug` and `Display` print `***`; [`Secret::expose`] reads it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value` so it cannot be printed by accident.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value; call only where it is sent to ConnectWise.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the secret in `text` (from an I/O error, say) with `***`.
    pub fn redact(&self, text: &str) -> String {
        // Values this short would mangle ordinary words; configuration refuses them anyway.
        if self.0.len() < 4 {
            return text.to_owned();
        }
        text.replace(self.0.as_str(), "***")
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
    fn prints_stars_and_redacts() {
        let s = Secret::new("priv-key-123");
        assert_eq!(format!("{s} {s:?} {s:#?}"), "*** *** ***");
        assert_eq!(s.redact("x priv-key-123 y"), "x *** y");
        assert_eq!(s.expose(), "priv-key-123");
    }
}
