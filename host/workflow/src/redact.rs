//! Secrets never leave the engine in clear text. Every string that is printed or put in a
//! report passes through a [`Redactor`], which replaces secret values with `***` and masks
//! the value of any field whose name says it is secret (password, secret, token).
use serde_json::{Map, Value};
use std::sync::{Arc, RwLock};

pub const MASK: &str = "***";

/// Known secret values. Shared by a run so that secrets discovered while it runs (a
/// `Password` parameter's value) are masked everywhere afterwards too.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Arc<RwLock<Vec<String>>>,
}

/// Says how many secrets it holds, never what they are.
impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.secrets.read().map(|l| l.len()).unwrap_or(0);
        write!(f, "Redactor({count} secrets: {MASK})")
    }
}

/// Below this length a secret is only masked where a whole value equals it: replacing
/// every "1" inside other text would make output unreadable and reveal little.
const MIN_SUBSTRING_LEN: usize = 4;

impl Redactor {
    /// A redactor masking these secret values (and, always, secret-named fields).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let r = Redactor::default();
        for s in secrets {
            r.add(&s);
        }
        r
    }

    /// Adds a secret value (empty values are ignored).
    pub fn add(&self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let mut list = self.secrets.write().unwrap();
        if !list.iter().any(|s| s == secret) {
            list.push(secret.to_string());
            // Longest first, so a secret containing another is masked whole.
            list.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// True for names that hold secrets: password, secret, token (any case, anywhere in the name).
    pub fn is_secret_name(name: &str) -> bool {
        let n = name.to_ascii_lowercase();
        n.contains("password") || n.contains("secret") || n.contains("token")
    }

    /// `text` with every known secret replaced by `***`.
    pub fn text(&self, text: &str) -> String {
        let list = self.secrets.read().unwrap();
        let mut out = text.to_string();
        for s in list.iter() {
            if out == *s {
                return MASK.to_string();
            }
            if s.len() >= MIN_SUBSTRING_LEN && out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        out
    }

    /// A copy of `value` safe to print.
    pub fn value(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.text(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.value(v)).collect()),
            Value::Object(map) => Value::Object(self.map(map)),
            other => other.clone(),
        }
    }

    /// A copy of `map` with secret-named fields and secret values masked.
    pub fn map(&self, map: &Map<String, Value>) -> Map<String, Value> {
        map.iter()
            .map(|(k, v)| {
                let v = if Redactor::is_secret_name(k)
                    && matches!(v, Value::String(_) | Value::Number(_))
                {
                    Value::String(MASK.into())
                } else {
                    self.value(v)
                };
                (k.clone(), v)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_known_values_and_secret_named_fields() {
        let r = Redactor::new(["hunter22".to_string()]);
        assert_eq!(
            r.text("login with hunter22 failed"),
            "login with *** failed"
        );
        let v = r.value(&json!({"Name": "x hunter22", "Password": "abc", "api_token": 5, "Tickets": [1], "IsSecret": true}));
        assert_eq!(
            v,
            json!({"Name": "x ***", "Password": "***", "api_token": "***", "Tickets": [1], "IsSecret": true})
        );
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let r = Redactor::new(["hunter22-secret".to_string()]);
        for text in [format!("{r:?}"), format!("{r:#?}")] {
            assert!(!text.contains("hunter22"), "{text}");
            assert!(text.contains("1 secrets"), "{text}");
        }
    }

    #[test]
    fn short_secrets_mask_whole_values_only() {
        let r = Redactor::new(["ab".to_string()]);
        assert_eq!(r.text("ab"), "***");
        assert_eq!(r.text("about"), "about");
    }
}
