//! The `conditions` query language of ConnectWise PSA list endpoints, parsed and evaluated
//! against JSON records.
//!
//! ```text
//! expr       := or
//! or         := and ("or" and)*
//! and        := unary ("and" unary)*
//! unary      := "not" unary | "(" expr ")" | comparison
//! comparison := field op value | field ["not"] "in" "(" value ("," value)* ")"
//! field      := name ("/" name)*            e.g. owner/identifier
//! op         := = | != | < | <= | > | >= | like | not like | contains | not contains
//! value      := "quoted \"string\"" | number | true | false | null | [2025-01-15T10:00:00Z]
//! ```
//!
//! Keywords and field names are case-insensitive, and so are string comparisons (ConnectWise
//! runs on SQL Server's case-insensitive collation). `like` uses `%` for any run of characters
//! and `_` for one character. A field that does not exist on the record reads as `null`.

use serde_json::Value;
use std::cmp::Ordering;
use std::fmt;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Both hold.
    And(Box<Condition>, Box<Condition>),
    /// Either holds.
    Or(Box<Condition>, Box<Condition>),
    /// The inner condition does not hold.
    Not(Box<Condition>),
    /// `field op value`, e.g. `identifier = "jdoe"`.
    Compare {
        /// The field path as written, split at `/` (`board/name` is `["board", "name"]`).
        field: Vec<String>,
        /// The comparison.
        op: Op,
        /// The value compared with.
        value: Literal,
    },
    /// `field in (a, b, ...)`.
    In {
        /// The field path, as in `Compare`.
        field: Vec<String>,
        /// The values any of which matches.
        values: Vec<Literal>,
    },
}

/// A comparison operator of the conditions language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `like`, with `%` and `_` wildcards.
    Like,
    /// `not like`.
    NotLike,
    /// `contains`: the text holds the value.
    Contains,
    /// `not contains`: the text does not hold the value.
    NotContains,
}

/// A value written in a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `"text"`, compared case-insensitively.
    Text(String),
    /// A number.
    Number(f64),
    /// `true` / `false`.
    Bool(bool),
    /// `null`: matches a missing or null field.
    Null,
    /// `[2025-01-15T10:00:00Z]`, compared as text (ISO 8601 sorts chronologically).
    DateTime(String),
}

/// Why a condition string could not be parsed: what was wrong and at which character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 0-based position in the condition string (messages show it 1-based).
    pub position: usize,
    /// What was expected or wrong there.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.position + 1)
    }
}

impl std::error::Error for ParseError {}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Number(f64),
    DateTime(String),
    Op(&'static str),
    Open,
    Close,
    Comma,
    Slash,
}

fn tokenize(input: &str) -> Result<Vec<(usize, Token)>, ParseError> {
    let chars: Vec<(usize, char)> = input.char_indices().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let err = |position: usize, message: String| ParseError { position, message };
    while i < chars.len() {
        let (pos, c) = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push((pos, Token::Open));
                i += 1;
            }
            ')' => {
                tokens.push((pos, Token::Close));
                i += 1;
            }
            ',' => {
                tokens.push((pos, Token::Comma));
                i += 1;
            }
            '/' => {
                tokens.push((pos, Token::Slash));
                i += 1;
            }
            '"' | '\'' => {
                let quote = c;
                let mut text = String::new();
                i += 1;
                loop {
                    let Some(&(_, c)) = chars.get(i) else {
                        return Err(err(pos, "a quoted string is not closed".into()));
                    };
                    i += 1;
                    if c == '\\' {
                        match chars.get(i) {
                            Some(&(_, escaped)) => {
                                text.push(escaped);
                                i += 1;
                            }
                            None => return Err(err(pos, "a quoted string is not closed".into())),
                        }
                    } else if c == quote {
                        break;
                    } else {
                        text.push(c);
                    }
                }
                tokens.push((pos, Token::Text(text)));
            }
            '[' => {
                let mut text = String::new();
                i += 1;
                loop {
                    let Some(&(_, c)) = chars.get(i) else {
                        return Err(err(pos, "a [date] is not closed with ]".into()));
                    };
                    i += 1;
                    if c == ']' {
                        break;
                    }
                    text.push(c);
                }
                tokens.push((pos, Token::DateTime(text.trim().to_owned())));
            }
            '=' => {
                tokens.push((pos, Token::Op("=")));
                i += 1;
            }
            '!' | '<' | '>' => {
                let next = chars.get(i + 1).map(|&(_, c)| c);
                let (op, width) = match (c, next) {
                    ('!', Some('=')) => ("!=", 2),
                    ('<', Some('=')) => ("<=", 2),
                    ('>', Some('=')) => (">=", 2),
                    ('<', Some('>')) => ("!=", 2),
                    ('<', _) => ("<", 1),
                    ('>', _) => (">", 1),
                    _ => return Err(err(pos, "'!' must be followed by '='".into())),
                };
                tokens.push((pos, Token::Op(op)));
                i += width;
            }
            c if c.is_ascii_digit() || c == '-' || c == '.' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].1.is_ascii_digit() || chars[i].1 == '.') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().map(|&(_, c)| c).collect();
                let number = text
                    .parse::<f64>()
                    .map_err(|_| err(pos, format!("'{text}' is not a number")))?;
                tokens.push((pos, Token::Number(number)));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].1.is_alphanumeric() || chars[i].1 == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().map(|&(_, c)| c).collect();
                tokens.push((pos, Token::Word(word)));
            }
            other => return Err(err(pos, format!("unexpected character '{other}'"))),
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    next: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next).map(|(_, t)| t)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.next).map_or(self.end, |(p, _)| *p)
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            position: self.position(),
            message: message.into(),
        })
    }

    fn bump(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.next).map(|(_, t)| t.clone());
        self.next += 1;
        token
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn or(&mut self) -> Result<Condition, ParseError> {
        let mut left = self.and()?;
        while self.at_keyword("or") {
            self.bump();
            let right = self.and()?;
            left = Condition::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, ParseError> {
        let mut left = self.unary()?;
        while self.at_keyword("and") {
            self.bump();
            let right = self.unary()?;
            left = Condition::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Condition, ParseError> {
        if self.at_keyword("not") {
            self.bump();
            return Ok(Condition::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Token::Open) {
            self.bump();
            let inner = self.or()?;
            if self.bump() != Some(Token::Close) {
                self.next -= 1;
                return self.error("expected ')'");
            }
            return Ok(inner);
        }
        self.comparison()
    }

    fn field(&mut self) -> Result<Vec<String>, ParseError> {
        let mut path = Vec::new();
        loop {
            match self.peek() {
                Some(Token::Word(w)) if !is_reserved(w) => {
                    path.push(w.clone());
                    self.bump();
                }
                _ => return self.error("expected a field name"),
            }
            if self.peek() == Some(&Token::Slash) {
                self.bump();
            } else {
                return Ok(path);
            }
        }
    }

    fn comparison(&mut self) -> Result<Condition, ParseError> {
        let field = self.field()?;
        let op = match self.bump() {
            Some(Token::Op("=")) => Op::Eq,
            Some(Token::Op("!=")) => Op::Ne,
            Some(Token::Op("<")) => Op::Lt,
            Some(Token::Op("<=")) => Op::Le,
            Some(Token::Op(">")) => Op::Gt,
            Some(Token::Op(">=")) => Op::Ge,
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("like") => Op::Like,
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("contains") => Op::Contains,
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("not") => {
                if self.at_keyword("like") {
                    self.bump();
                    Op::NotLike
                } else if self.at_keyword("contains") {
                    self.bump();
                    Op::NotContains
                } else if self.at_keyword("in") {
                    self.bump();
                    return Ok(Condition::Not(Box::new(Condition::In {
                        field,
                        values: self.value_list()?,
                    })));
                } else {
                    return self.error("expected 'like', 'contains' or 'in' after 'not'");
                }
            }
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("in") => {
                return Ok(Condition::In {
                    field,
                    values: self.value_list()?,
                });
            }
            _ => {
                self.next -= 1;
                return self.error(format!(
                    "expected an operator (=, !=, <, <=, >, >=, like, contains, in) after '{}'",
                    field.join("/")
                ));
            }
        };
        let value = self.value()?;
        if matches!(op, Op::Like | Op::NotLike | Op::Contains | Op::NotContains)
            && !matches!(value, Literal::Text(_))
        {
            return Err(ParseError {
                position: self.tokens[self.next - 1].0,
                message: "like and contains need a quoted string".into(),
            });
        }
        Ok(Condition::Compare { field, op, value })
    }

    fn value_list(&mut self) -> Result<Vec<Literal>, ParseError> {
        if self.bump() != Some(Token::Open) {
            self.next -= 1;
            return self.error("expected '(' after 'in'");
        }
        let mut values = vec![self.value()?];
        loop {
            match self.bump() {
                Some(Token::Comma) => values.push(self.value()?),
                Some(Token::Close) => return Ok(values),
                _ => {
                    self.next -= 1;
                    return self.error("expected ',' or ')' in the 'in' list");
                }
            }
        }
    }

    fn value(&mut self) -> Result<Literal, ParseError> {
        let literal = match self.peek() {
            Some(Token::Text(t)) => Literal::Text(t.clone()),
            Some(Token::Number(n)) => Literal::Number(*n),
            Some(Token::DateTime(d)) => Literal::DateTime(d.clone()),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Literal::Null,
            Some(Token::Word(w)) => {
                return self.error(format!(
                    "'{w}' is not a value; strings must be in double quotes"
                ));
            }
            _ => return self.error("expected a value"),
        };
        self.bump();
        Ok(literal)
    }
}

fn is_reserved(word: &str) -> bool {
    [
        "and", "or", "not", "like", "contains", "in", "true", "false", "null",
    ]
    .iter()
    .any(|k| k.eq_ignore_ascii_case(word))
}

/// Parses a `conditions` string.
pub fn parse(input: &str) -> Result<Condition, ParseError> {
    let tokens = tokenize(input)?;
    if tokens.is_empty() {
        return Err(ParseError {
            position: 0,
            message: "the condition is empty".into(),
        });
    }
    let mut parser = Parser {
        tokens,
        next: 0,
        end: input.len(),
    };
    let condition = parser.or()?;
    if parser.next < parser.tokens.len() {
        return parser.error("unexpected text after a complete condition (missing 'and'/'or'?)");
    }
    Ok(condition)
}

impl Condition {
    /// Every field path the condition reads, for checking them against a resource's fields.
    pub fn fields(&self) -> Vec<&[String]> {
        match self {
            Condition::And(a, b) | Condition::Or(a, b) => {
                let mut fields = a.fields();
                fields.extend(b.fields());
                fields
            }
            Condition::Not(inner) => inner.fields(),
            Condition::Compare { field, .. } | Condition::In { field, .. } => vec![field],
        }
    }

    /// Whether `record` satisfies the condition.
    pub fn matches(&self, record: &Value) -> bool {
        match self {
            Condition::And(a, b) => a.matches(record) && b.matches(record),
            Condition::Or(a, b) => a.matches(record) || b.matches(record),
            Condition::Not(inner) => !inner.matches(record),
            Condition::Compare { field, op, value } => compare(lookup(record, field), *op, value),
            Condition::In { field, values } => {
                let actual = lookup(record, field);
                values.iter().any(|v| compare(actual, Op::Eq, v))
            }
        }
    }
}

/// Follows `owner/identifier` through nested objects, case-insensitively.
fn lookup<'a>(record: &'a Value, path: &[String]) -> &'a Value {
    let mut current = record;
    for segment in path {
        let next = current.as_object().and_then(|object| {
            object
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(segment))
                .map(|(_, value)| value)
        });
        match next {
            Some(value) => current = value,
            None => return &Value::Null,
        }
    }
    current
}

fn compare(actual: &Value, op: Op, expected: &Literal) -> bool {
    match op {
        Op::Like => like(actual, expected),
        Op::NotLike => !actual.is_null() && !like(actual, expected),
        Op::Contains => contains(actual, expected),
        // SQL: NOT LIKE / NOT CONTAINS on null is never true, as `not like` is.
        Op::NotContains => !actual.is_null() && !contains(actual, expected),
        _ => {
            // SQL semantics: null only equals null; ordering with null is never true.
            let ordering = match order(actual, expected) {
                Some(ordering) => ordering,
                None => {
                    return match op {
                        Op::Eq => actual.is_null() && *expected == Literal::Null,
                        Op::Ne => actual.is_null() != (*expected == Literal::Null),
                        _ => false,
                    };
                }
            };
            match op {
                Op::Eq => ordering == Ordering::Equal,
                Op::Ne => ordering != Ordering::Equal,
                Op::Lt => ordering == Ordering::Less,
                Op::Le => ordering != Ordering::Greater,
                Op::Gt => ordering == Ordering::Greater,
                Op::Ge => ordering != Ordering::Less,
                Op::Like | Op::NotLike | Op::Contains | Op::NotContains => {
                    unreachable!("handled above")
                }
            }
        }
    }
}

fn contains(actual: &Value, expected: &Literal) -> bool {
    match (text_of(actual), expected) {
        (Some(actual), Literal::Text(needle)) => actual
            .to_lowercase()
            .contains(needle.to_lowercase().as_str()),
        _ => false,
    }
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// How `actual` orders against `expected`; `None` when they cannot be compared.
fn order(actual: &Value, expected: &Literal) -> Option<Ordering> {
    match (actual, expected) {
        (Value::Number(a), Literal::Number(b)) => a.as_f64()?.partial_cmp(b),
        (Value::String(a), Literal::Number(b)) => a.trim().parse::<f64>().ok()?.partial_cmp(b),
        (Value::Bool(a), Literal::Bool(b)) => Some(a.cmp(b)),
        (Value::String(a), Literal::Text(b) | Literal::DateTime(b)) => {
            Some(a.to_lowercase().cmp(&b.to_lowercase()))
        }
        (Value::Number(a), Literal::Text(b)) => b
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(|b| a.as_f64()?.partial_cmp(&b)),
        _ => None,
    }
}

fn like(actual: &Value, pattern: &Literal) -> bool {
    let (Some(text), Literal::Text(pattern)) = (text_of(actual), pattern) else {
        return false;
    };
    let text: Vec<char> = text.to_lowercase().chars().collect();
    let pattern: Vec<char> = pattern.to_lowercase().chars().collect();
    wildcard_match(&text, &pattern)
}

/// `%` matches any run of characters, `_` exactly one. Iterative with backtracking to the last
/// `%`, so long patterns cannot blow up.
fn wildcard_match(text: &[char], pattern: &[char]) -> bool {
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '_' || pattern[p] == text[t]) {
            t += 1;
            p += 1;
        } else if p < pattern.len() && pattern[p] == '%' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '%')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn member() -> Value {
        json!({
            "id": 12,
            "identifier": "JDoe",
            "firstName": "Jane",
            "lastName": "O'Doe",
            "inactiveFlag": false,
            "hireDate": "2024-03-01T00:00:00Z",
            "officeEmail": "jane@example.com",
            "owner": {"id": 3, "identifier": "boss", "name": "Big Boss"},
            "title": null
        })
    }

    fn eval(condition: &str) -> bool {
        parse(condition)
            .unwrap_or_else(|e| panic!("{condition}: {e}"))
            .matches(&member())
    }

    #[test]
    fn every_operator() {
        assert!(eval("id = 12"));
        assert!(eval("id != 13"));
        assert!(eval("id <> 13"));
        assert!(eval("id < 13") && !eval("id < 12"));
        assert!(eval("id <= 12") && !eval("id <= 11"));
        assert!(eval("id > 11") && !eval("id > 12"));
        assert!(eval("id >= 12") && !eval("id >= 13"));
        assert!(
            eval(r#"identifier = "jdoe""#),
            "strings compare case-insensitively"
        );
        assert!(eval(r#"identifier like "j%""#));
        assert!(eval(r#"identifier like "%DO_""#));
        assert!(!eval(r#"identifier like "j""#));
        assert!(eval(r#"identifier not like "x%""#));
        assert!(eval(r#"officeEmail contains "@EXAMPLE""#));
        assert!(!eval(r#"officeEmail contains "nope""#));
        assert!(eval("id in (1, 12, 30)") && !eval("id in (1, 2)"));
    }

    #[test]
    fn not_negates_in_and_contains_as_well_as_like() {
        assert!(eval("id not in (2, 3)") && !eval("id NOT IN (2, 12)"));
        assert_eq!(
            parse("id not in (2,3)").unwrap(),
            parse("not (id in (2,3))").unwrap()
        );
        assert!(eval(r#"identifier not contains "x""#));
        assert!(!eval(r#"identifier not contains "J""#));
        assert!(
            !eval(r#"title not contains "x""#),
            "like not like, not contains never holds for null"
        );
        let err = parse("id not = 1").unwrap_err();
        assert!(
            err.message
                .contains("'like', 'contains' or 'in' after 'not'"),
            "{err}"
        );
        assert_eq!(err.position + 1, 8);
        assert!(
            parse("id not contains 5")
                .unwrap_err()
                .message
                .contains("quoted string")
        );
    }

    #[test]
    fn booleans_nulls_dates_and_nested_fields() {
        assert!(eval("inactiveFlag = false") && !eval("inactiveFlag = true"));
        assert!(
            eval("INACTIVEFLAG = FALSE"),
            "keywords and fields ignore case"
        );
        assert!(eval("title = null") && !eval("title != null"));
        assert!(eval("firstName != null"));
        assert!(eval("missingField = null"), "an absent field reads as null");
        assert!(!eval("title > 3"), "ordering with null is never true");
        assert!(eval("hireDate > [2024-01-01T00:00:00Z]"));
        assert!(!eval("hireDate > [2025-01-01T00:00:00Z]"));
        assert!(eval(r#"owner/identifier = "boss""#));
        assert!(eval("owner/id = 3"));
        assert!(eval(r#"owner/name like "big%""#));
        assert!(!eval(r#"owner/missing/deeper = "x""#));
    }

    #[test]
    fn and_binds_tighter_than_or_and_parentheses_override() {
        // true or (false and false) = true
        assert!(eval("id = 12 or id = 1 and id = 2"));
        // (true or false) and false = false
        assert!(!eval("(id = 12 or id = 1) and id = 2"));
        assert!(eval("not (id = 1) and not id = 2"));
        assert!(eval(
            r#"((identifier like "j%") and (inactiveFlag = false or id = 0))"#
        ));
    }

    #[test]
    fn quoted_strings_keep_spaces_escapes_and_other_quotes() {
        assert!(eval(r#"lastName = "O'Doe""#));
        assert!(eval(r#"lastName = 'O\'Doe'"#));
        let parsed = parse(r#"firstName = "a \"quoted\" and or (x)""#).unwrap();
        assert_eq!(
            parsed,
            Condition::Compare {
                field: vec!["firstName".into()],
                op: Op::Eq,
                value: Literal::Text(r#"a "quoted" and or (x)"#.into())
            }
        );
    }

    #[test]
    fn numbers_compare_with_numeric_strings_and_negatives_parse() {
        let record = json!({"code": "42", "delta": -3.5});
        assert!(parse("code = 42").unwrap().matches(&record));
        assert!(parse("delta < -3").unwrap().matches(&record));
        assert!(parse("delta = -3.5").unwrap().matches(&record));
    }

    #[test]
    fn errors_say_what_and_where() {
        let cases = [
            ("", "empty", 1),
            ("id =", "expected a value", 5),
            ("id 12", "expected an operator", 4),
            (r#"identifier = "open"#, "not closed", 14),
            ("(id = 1", "expected ')'", 8),
            ("id = 1)", "unexpected text", 7),
            ("id = 1 id = 2", "unexpected text", 8),
            ("identifier = jdoe", "double quotes", 14),
            ("id = 1 and", "expected a field name", 11),
            ("id like 5", "quoted string", 9),
            ("id # 5", "unexpected character '#'", 4),
            ("owner/ = 1", "expected a field name", 8),
            ("hireDate > [2024", "not closed", 12),
            ("id in 1", "expected '('", 7),
            ("id ! 1", "'!' must be followed", 4),
        ];
        for (input, needle, column) in cases {
            let err = parse(input).expect_err(input);
            assert!(err.message.contains(needle), "{input}: {err}");
            assert_eq!(err.position + 1, column, "{input}: {err}");
        }
    }

    #[test]
    fn like_wildcards() {
        let m = |t: &str, p: &str| {
            wildcard_match(
                &t.chars().collect::<Vec<_>>(),
                &p.chars().collect::<Vec<_>>(),
            )
        };
        assert!(m("", "%"));
        assert!(m("abc", "%"));
        assert!(m("abc", "a%c"));
        assert!(m("abc", "%b%"));
        assert!(m("abcbc", "%bc"));
        assert!(!m("abc", "%d%"));
        assert!(m("abc", "a_c") && !m("ac", "a_c"));
        assert!(m("aaa", "%%a%%"));
    }

    #[test]
    fn fields_lists_every_path() {
        let parsed = parse(r#"a = 1 and (b/c = 2 or not d in (1))"#).unwrap();
        let fields: Vec<String> = parsed.fields().iter().map(|f| f.join("/")).collect();
        assert_eq!(fields, ["a", "b/c", "d"]);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn quote(text: &str) -> String {
            format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
        }

        proptest! {
            /// Any string survives quoting: `field = "<s>"` matches exactly that value.
            #[test]
            fn quoted_strings_round_trip(text in ".{0,40}") {
                let condition = parse(&format!("name = {}", quote(&text))).unwrap();
                let record = json!({"name": text});
                prop_assert!(condition.matches(&record));
            }

            /// `like "%<s>%"` without wildcards in s agrees with `contains "<s>"`.
            #[test]
            fn like_with_percent_agrees_with_contains(
                haystack in "[a-zA-Z ]{0,20}", needle in "[a-zA-Z ]{0,5}"
            ) {
                let record = json!({"name": haystack});
                let like = parse(&format!("name like {}", quote(&format!("%{needle}%")))).unwrap();
                let contains = parse(&format!("name contains {}", quote(&needle))).unwrap();
                prop_assert_eq!(like.matches(&record), contains.matches(&record));
            }

            /// Numeric comparisons agree with Rust's on integers.
            #[test]
            fn numeric_operators_agree_with_rust(a in -1000i64..1000, b in -1000i64..1000) {
                let record = json!({"n": a});
                let check = |op: &str| parse(&format!("n {op} {b}")).unwrap().matches(&record);
                prop_assert_eq!(check("="), a == b);
                prop_assert_eq!(check("!="), a != b);
                prop_assert_eq!(check("<"), a < b);
                prop_assert_eq!(check("<="), a <= b);
                prop_assert_eq!(check(">"), a > b);
                prop_assert_eq!(check(">="), a >= b);
            }

            /// `not (x)` is always the opposite of `x`, and or/and follow boolean logic.
            #[test]
            fn connectives_follow_boolean_logic(a in 0i64..4, b in 0i64..4) {
                let record = json!({"a": a, "b": b});
                let eval = |c: &str| parse(c).unwrap().matches(&record);
                prop_assert_eq!(eval("not (a = 1)"), a != 1);
                prop_assert_eq!(eval("a = 1 or b = 2"), a == 1 || b == 2);
                prop_assert_eq!(eval("a = 1 and b = 2"), a == 1 && b == 2);
                prop_assert_eq!(eval("a = 1 or a = 2 and b = 3"), a == 1 || (a == 2 && b == 3));
            }

            /// Arbitrary input never panics: it parses or fails with a position inside the input.
            #[test]
            fn garbage_never_panics(input in ".{0,60}") {
                if let Err(err) = parse(&input) {
                    prop_assert!(err.position <= input.len());
                }
            }
        }
    }
}
