//! Workflow inputs read from files and the readers behind `type: csv` and `type: json`.
//!
//! `--input roster=@hr.csv` reads `hr.csv`; `@@text` passes the literal text `@text`. What the
//! file becomes depends on the input's declared type: `csv` a list of objects keyed by the header
//! row, `json` any JSON value, `string` the text as is, the other types the text converted as a
//! command-line value would be. A file that cannot be used is a validation error naming the file
//! and the line (with the line shown), never a half-read list.
use crate::diagnostics::{Diagnostic, Pos};
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::Arc;

/// Largest input file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Most data rows a CSV input may have.
pub const MAX_CSV_ROWS: usize = 100_000;

/// A problem at a line of a text (1-based; 0 when it concerns the whole text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextError {
    pub line: usize,
    pub message: String,
}

impl TextError {
    fn at(line: usize, message: impl Into<String>) -> TextError {
        TextError {
            line,
            message: message.into(),
        }
    }

    /// The error as a diagnostic pinned to `file` (whose content is `text`), labelled with the
    /// input it was read for.
    pub(crate) fn diagnostic(&self, file: &str, text: &str, input: &str) -> Diagnostic {
        let message = format!("input '{input}': {}", self.message);
        if self.line == 0 {
            return Diagnostic::general(file, message);
        }
        let offset = line_offset(text, self.line);
        let len = text[offset..].find(['\r', '\n']).unwrap_or(text.len() - offset);
        let source: Arc<str> = Arc::from(text);
        Diagnostic::at(file, &source, Pos::at(text, offset, len), message)
    }
}

fn line_offset(text: &str, line: usize) -> usize {
    if line <= 1 {
        return 0;
    }
    text.match_indices('\n')
        .nth(line - 2)
        .map_or(text.len(), |(i, _)| i + 1)
}

/// Reads a file as UTF-8 text (a leading byte-order mark is dropped), bounded by
/// [`MAX_FILE_BYTES`].
pub(crate) fn read_text(path: &Path) -> Result<String, TextError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| TextError::at(0, format!("cannot read {}: {e}", path.display())))?;
    if meta.is_dir() {
        return Err(TextError::at(
            0,
            format!("{} is a folder, not a file", path.display()),
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(TextError::at(
            0,
            format!(
                "{} is {} bytes, larger than the input file limit of {MAX_FILE_BYTES} bytes",
                path.display(),
                meta.len()
            ),
        ));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| TextError::at(0, format!("cannot read {}: {e}", path.display())))?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text.strip_prefix('\u{feff}').map(str::to_owned).unwrap_or(text)),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
            Err(TextError::at(
                0,
                format!(
                    "{} is not UTF-8 text (first bad byte on line {line}); save it as UTF-8 (\"CSV UTF-8\" in Excel)",
                    path.display()
                ),
            ))
        }
    }
}

/// Parses CSV text into a list of objects keyed by the header row.
///
/// Quoted fields (with commas, quotes and line breaks inside), CRLF line ends and a byte-order
/// mark are handled by the csv crate. Header names and cells are trimmed; an empty cell is `""`.
/// Blank lines and rows whose cells are all empty are skipped. A header that is empty or repeated,
/// or a row with a different number of cells than the header, is an error at its line.
pub(crate) fn parse_csv(text: &str) -> Result<Value, TextError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(TextError::at(
            0,
            "the CSV is empty; it needs a header row such as name,email,team",
        ));
    }
    // The csv reader takes an unclosed quote's cell to the end of the file, and the error
    // became a cell count; say what is wrong, where the quote opened.
    if let Some((line, column)) = unclosed_quote(text) {
        return Err(TextError::at(
            line,
            format!(
                "the quote opened at line {line}, column {column} is never closed; close it, or write a quote inside a quoted cell as \"\""
            ),
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(csv_error)?
        .iter()
        .map(str::to_owned)
        .collect();
    for (i, name) in headers.iter().enumerate() {
        if name.is_empty() {
            return Err(TextError::at(
                1,
                format!("column {} of the header row has no name", i + 1),
            ));
        }
        if headers[..i].iter().any(|h| h.eq_ignore_ascii_case(name)) {
            return Err(TextError::at(
                1,
                format!("the header row names the column '{name}' twice"),
            ));
        }
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, |p| line_number(p.line()));
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.len() != headers.len() {
            return Err(TextError::at(
                line,
                format!(
                    "this row has {} cells but the header has {} ({})",
                    record.len(),
                    headers.len(),
                    headers.join(", ")
                ),
            ));
        }
        if rows.len() == MAX_CSV_ROWS {
            return Err(TextError::at(
                line,
                format!("more than {MAX_CSV_ROWS} rows, the CSV input limit"),
            ));
        }
        let row: Map<String, Value> = headers
            .iter()
            .zip(record.iter())
            .map(|(k, v)| (k.clone(), Value::String(v.to_owned())))
            .collect();
        rows.push(Value::Object(row));
    }
    Ok(Value::Array(rows))
}

/// Where (line, column, 1-based) a quoted cell opens that the text never closes. A quote opens
/// a cell only as its first character (as the csv reader reads it); `""` inside is a quote.
fn unclosed_quote(text: &str) -> Option<(usize, usize)> {
    let (mut line, mut column) = (1, 0);
    let mut opened: Option<(usize, usize)> = None;
    let mut cell_start = true;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        column += 1;
        if opened.is_some() {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    column += 1;
                } else {
                    opened = None;
                }
            }
        } else if c == '"' && cell_start {
            opened = Some((line, column));
        }
        cell_start = matches!(c, ',' | '\n' | '\r') && opened.is_none();
        if c == '\n' {
            line += 1;
            column = 0;
        }
    }
    opened
}

/// A CSV line number (u64) as the usize diagnostics use; saturates on 32-bit targets.
fn line_number(line: u64) -> usize {
    usize::try_from(line).unwrap_or(usize::MAX)
}

fn csv_error(err: csv::Error) -> TextError {
    let line = err.position().map_or(0, |p| line_number(p.line()));
    let message = match err.kind() {
        csv::ErrorKind::Utf8 { .. } => "this line is not UTF-8 text".to_owned(),
        _ => format!("not valid CSV: {err}"),
    };
    TextError::at(line, message)
}

/// Parses JSON text; an error names its line.
pub(crate) fn parse_json(text: &str) -> Result<Value, TextError> {
    json_without_duplicate_keys(text.trim_start_matches('\u{feff}'))
        .map_err(|e| TextError::at(e.line(), format!("not valid JSON: {e}")))
}

/// Parses JSON, refusing an object that names a key twice (serde_json would keep the last
/// silently, so `{"a": 1, "a": 2}` lost a value without a word); the error says where.
pub(crate) fn json_without_duplicate_keys(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str::<Unique>(text).map(|u| u.0)
}

/// A JSON value read with duplicate keys refused.
struct Unique(Value);

impl<'de> serde::Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::from(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::from(u))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(item)) = a.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = a.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "key '{key}' appears twice in one object; a key may appear only once"
                )));
            }
            let Unique(value) = a.next_value()?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_are_objects_keyed_by_the_header() {
        let text = "\u{feff}name, email ,team\r\n\"Carter, Sam\",sam@msp.example,Service Desk\r\nAda,,\"Field \"\"A\"\" Engineers\"\r\n\r\n,,\r\n";
        assert_eq!(
            parse_csv(text).unwrap(),
            json!([
                {"name": "Carter, Sam", "email": "sam@msp.example", "team": "Service Desk"},
                {"name": "Ada", "email": "", "team": "Field \"A\" Engineers"}
            ])
        );
    }

    #[test]
    fn a_json_key_given_twice_is_refused_at_its_place() {
        let err = parse_json("{\n  \"a\": 1,\n  \"a\": 2\n}").unwrap_err();
        assert_eq!(err.line, 3, "{}", err.message);
        let message = &err.message;
        assert!(message.contains("key 'a' appears twice"), "{message}");
        assert_eq!(
            parse_json("{\"a\": [1, 2.5, {\"b\": null}], \"c\": true}").unwrap(),
            json!({"a": [1, 2.5, {"b": null}], "c": true})
        );
    }

    #[test]
    fn an_unclosed_quote_is_named_where_it_opens() {
        let err = parse_csv("a,b\nx,\"1\ny,2\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(
            err.message
                .starts_with("the quote opened at line 2, column 3 is never closed"),
            "{}",
            err.message
        );
        // Closed quotes, escaped quotes and quotes inside a cell are fine.
        assert!(parse_csv("a,b\n\"x \"\"y\"\"\",1\nsa\"m,2\n").is_ok());
    }

    #[test]
    fn quoted_cells_may_span_lines() {
        let text = "name,notes\nA,\"one\ntwo\"\nB,x\n";
        let rows = parse_csv(text).unwrap();
        assert_eq!(rows[0]["notes"], "one\ntwo");
        assert_eq!(rows[1]["name"], "B");
    }

    #[test]
    fn a_short_row_is_an_error_at_its_line() {
        let err = parse_csv("name,email,team\nA,a@x,T\nB,b@x\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert_eq!(
            err.message,
            "this row has 2 cells but the header has 3 (name, email, team)"
        );
        let d = err.diagnostic("hr.csv", "name,email,team\nA,a@x,T\nB,b@x\n", "roster");
        assert_eq!(d.location(), "hr.csv:3:1");
        assert!(d.render(false).contains("B,b@x"), "{}", d.render(false));
    }

    #[test]
    fn bad_headers_are_errors() {
        assert_eq!(parse_csv("name,,team\nA,b,c\n").unwrap_err().line, 1);
        let err = parse_csv("name,Name\nA,b\n").unwrap_err();
        assert_eq!(err.message, "the header row names the column 'Name' twice");
        assert_eq!(parse_csv("  \n").unwrap_err().line, 0);
    }

    #[test]
    fn a_header_alone_is_an_empty_list() {
        assert_eq!(parse_csv("name,email\n").unwrap(), json!([]));
    }

    #[test]
    fn json_errors_name_the_line() {
        assert_eq!(parse_json("{\"a\": [1,\n2,,]}").unwrap_err().line, 2);
        assert_eq!(parse_json("[1, 2]").unwrap(), json!([1, 2]));
    }

    #[test]
    fn files_that_are_not_utf8_are_refused_with_advice() {
        let dir = std::env::temp_dir().join(format!("psaflow-file-inputs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("latin1.csv");
        std::fs::write(&path, b"name\nJos\xe9\n").unwrap();
        let err = read_text(&path).unwrap_err();
        assert!(err.message.contains("not UTF-8 text (first bad byte on line 2)"), "{}", err.message);
        let missing = read_text(&dir.join("missing.csv")).unwrap_err();
        assert!(missing.message.starts_with("cannot read "), "{}", missing.message);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
