//! Test files are read with psaflow-workflow's positioned YAML tree, so that a failing
//! assertion can name `file:line:column`; only the wording for an empty file and the help
//! for a syntax error are the test files' own.
use psaflow_workflow::Diagnostic;
use psaflow_workflow::yaml::{self, FileKind};
use std::sync::Arc;

pub use psaflow_workflow::yaml::{Key, Kind, Node, Reader};

const TEST_FILE: FileKind = FileKind {
    empty: "the test file is empty",
    empty_help: "a test file needs `workflow:` and a list of `cases:`",
    syntax_help,
};

/// Checks are written as `${{ value > 0 }}`: unquoted inside a flow mapping or list they
/// break the YAML, so every line with `${{` gets the quoting hint.
fn syntax_help(line: &str, _message: &str) -> Option<String> {
    line.contains("${{").then(|| {
        "a value with `${{ ... }}` inside `{ ... }` or `[ ... ]` must be quoted: \"${{ value > 0 }}\"".to_string()
    })
}

/// Parses one test file document; a syntax error becomes a diagnostic where the parser stopped.
pub fn parse(source: &Arc<str>, file: &str) -> Result<Node, Box<Diagnostic>> {
    yaml::parse(source, file, &TEST_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_and_values_know_line_and_column() {
        let src: Arc<str> =
            "workflow: a.yaml\ncases:\n  - name: x\n    expect: { status: failed }\n".into();
        let root = parse(&src, "t.test.yaml").unwrap();
        let cases = root.get("cases").unwrap().as_seq().unwrap();
        let expect = cases[0].get("expect").unwrap();
        let (key, value) = &expect.as_map().unwrap()[0];
        assert_eq!(
            (key.name.as_str(), key.pos.line, key.pos.column),
            ("status", 4, 15)
        );
        assert_eq!((value.pos.line, value.pos.column), (4, 23));
        assert_eq!(value.as_str(), Some("failed"));
    }

    #[test]
    fn yaml_1_1_words_stay_text() {
        let src: Arc<str> = "a: off\nb: 0042\nc: true\nd: 1.5\n".into();
        assert_eq!(
            parse(&src, "t").unwrap().to_json(),
            json!({"a": "off", "b": "0042", "c": true, "d": 1.5})
        );
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let src: Arc<str> =
            "cases:\n  - name: x\n    expect: { outputs: { a: ${{ 1 }} } }\n".into();
        let d = parse(&src, "t.test.yaml").unwrap_err();
        assert_eq!(d.line, 3);
        assert!(d.message.starts_with("YAML syntax error"), "{}", d.message);
        assert!(d.help.unwrap().contains("must be quoted"));
    }
}
