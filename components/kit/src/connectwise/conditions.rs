//! Writing ConnectWise `conditions` text: quoted strings and `and`-joined clauses.

use crate::prelude::*;

/// `"text"` with `\` and `"` escaped, so a value cannot end the string early and inject clauses.
pub fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// Joins clauses with `and`, each in parentheses so an `or` inside one stays inside it.
pub fn all_of(clauses: &[String]) -> Option<String> {
    match clauses {
        [] => None,
        [one] => Some(one.clone()),
        many => Some(
            many.iter()
                .map(|c| format!("({c})"))
                .collect::<Vec<_>>()
                .join(" and "),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_joining() {
        assert_eq!(quote(r#"a "b" \c"#), r#""a \"b\" \\c""#);
        assert_eq!(all_of(&[]), None);
        assert_eq!(all_of(&["a = 1".into()]).as_deref(), Some("a = 1"));
        assert_eq!(
            all_of(&["a = 1 or b = 2".into(), "c = 3".into()]).as_deref(),
            Some("(a = 1 or b = 2) and (c = 3)")
        );
    }
}
