//! Errors users see: a message pinned to `file:line:column`, the source line with a caret,
//! and a help line. Rendering goes through annotate-snippets so it reads like rustc.
use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// A place in the workflow source. Lines and columns are 1-based (columns count chars);
/// `offset`/`len` are bytes, used to draw the caret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// 1-based line; 0 when unknown.
    pub line: usize,
    /// 1-based column, in characters; 0 when unknown.
    pub column: usize,
    /// Byte offset of the start in the source.
    pub offset: usize,
    /// Length in bytes of the text the caret covers.
    pub len: usize,
}

impl Pos {
    /// The position of byte `offset` (length `len`) in `source`.
    pub fn at(source: &str, offset: usize, len: usize) -> Pos {
        let offset = offset.min(source.len());
        let before = &source[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Pos {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            offset,
            len,
        }
    }

    /// No position (e.g. an input given on the command line).
    pub fn none() -> Pos {
        Pos::default()
    }

    /// False for [`Pos::none`].
    pub fn is_known(&self) -> bool {
        self.line > 0
    }
}

/// How serious a diagnostic is: an error stops the workflow from running; a warning points at
/// something valid that probably does not do what the author expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Severity {
    /// The workflow cannot run.
    #[default]
    Error,
    /// Valid, but probably not what the author meant.
    Warning,
}

/// One problem found in a workflow or its inputs.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    /// Errors make a workflow invalid; warnings do not.
    pub severity: Severity,
    /// The file name as given to `load`/`parse`.
    pub file: String,
    /// 1-based; 0 when the problem has no place in the file.
    pub line: usize,
    /// 1-based, in characters; 0 when unknown.
    pub column: usize,
    /// What is wrong, in one sentence.
    pub message: String,
    /// A suggestion (`did you mean 'site'?`) or how to fix it.
    pub help: Option<String>,
    /// Short text drawn next to the caret.
    pub label: Option<String>,
    /// Byte range of the offending text (for the caret).
    pub span: Range<usize>,
    source: Option<Arc<str>>,
}

impl PartialEq for Diagnostic {
    fn eq(&self, other: &Self) -> bool {
        (
            self.severity,
            &self.file,
            self.line,
            self.column,
            &self.message,
            &self.help,
        ) == (
            other.severity,
            &other.file,
            other.line,
            other.column,
            &other.message,
            &other.help,
        )
    }
}

impl Diagnostic {
    /// A diagnostic at `pos` in `source` (named `file`).
    pub fn at(file: &str, source: &Arc<str>, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_string(),
            line: pos.line,
            column: pos.column,
            message: message.into(),
            help: None,
            label: None,
            span: pos.offset..pos.offset + pos.len.max(if pos.is_known() { 1 } else { 0 }),
            source: pos.is_known().then(|| source.clone()),
        }
    }

    /// A diagnostic with no place in a file.
    pub fn general(file: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_string(),
            line: 0,
            column: 0,
            message: message.into(),
            help: None,
            label: None,
            span: 0..0,
            source: None,
        }
    }

    /// The same diagnostic as a warning.
    pub fn into_warning(mut self) -> Self {
        self.severity = Severity::Warning;
        self
    }

    /// True for a warning.
    pub fn is_warning(&self) -> bool {
        self.severity == Severity::Warning
    }

    /// Adds a help line (how to fix it).
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a help line when there is one.
    pub fn with_help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// Adds a short label drawn next to the caret.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// `file:line:column`, or just the file when there is no position.
    pub fn location(&self) -> String {
        if self.line == 0 {
            self.file.clone()
        } else {
            format!("{}:{}:{}", self.file, self.line, self.column)
        }
    }

    /// Renders this diagnostic; `styled` adds ANSI colours (for terminals only).
    pub fn render(&self, styled: bool) -> String {
        let renderer = if styled {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        let level = match self.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        match &self.source {
            Some(source) => {
                let span = clamp_span(source, self.span.clone());
                let mut annotation = AnnotationKind::Primary.span(span);
                if let Some(label) = &self.label {
                    annotation = annotation.label(label.as_str());
                }
                let mut group = level.clone().primary_title(self.message.as_str()).element(
                    Snippet::source(&**source)
                        .path(self.file.as_str())
                        .annotation(annotation),
                );
                if let Some(help) = &self.help {
                    group = group.element(Level::HELP.message(help.as_str()));
                }
                renderer.render(&[group])
            }
            None => {
                // No source line to show: name the file (if any) in the title instead.
                let title = if self.file.is_empty() {
                    self.message.clone()
                } else {
                    format!("{}: {}", self.file, self.message)
                };
                let mut group = Group::with_title(level.primary_title(title.as_str()));
                if let Some(help) = &self.help {
                    group = group.element(Level::HELP.message(help.as_str()));
                }
                renderer.render(&[group])
            }
        }
    }
}

/// Keeps a caret span inside the source and on char boundaries (annotate-snippets panics otherwise).
fn clamp_span(source: &str, span: Range<usize>) -> Range<usize> {
    let mut start = span.start.min(source.len());
    let mut end = span.end.min(source.len()).max(start);
    while !source.is_char_boundary(start) {
        start -= 1;
    }
    while !source.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

/// All problems found, in source order. `Display` renders every one of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// No diagnostics.
    pub fn new() -> Self {
        Self(Vec::new())
    }
    /// Adds one.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    /// Adds all of `other`.
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }
    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// How many there are (errors and warnings).
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Each diagnostic, in the current order.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }
    /// Sorts by position so users read errors top to bottom; drops exact repeats.
    pub fn sort(&mut self) {
        self.0.sort_by_key(|d| (d.line, d.column));
        self.0.dedup();
    }
    /// `Ok(())` when empty.
    pub fn into_result(mut self) -> Result<(), Diagnostics> {
        if self.is_empty() {
            Ok(())
        } else {
            self.sort();
            Err(self)
        }
    }
    /// All diagnostics plus a count line; `styled` adds colours.
    pub fn render(&self, styled: bool) -> String {
        let mut out = String::new();
        for d in &self.0 {
            out.push_str(d.render(styled).trim_end());
            out.push_str("\n\n");
        }
        let warnings = self.0.iter().filter(|d| d.is_warning()).count();
        let errors = self.0.len() - warnings;
        let counts: Vec<String> = [(errors, "error"), (warnings, "warning")]
            .into_iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}{}", if n == 1 { "" } else { "s" }))
            .collect();
        if !counts.is_empty() {
            out.push_str(&counts.join(", "));
            out.push('\n');
        }
        out
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pos_counts_lines_and_char_columns() {
        let src = "a: 1\nbé: x\n";
        let off = src.find('x').unwrap();
        let p = Pos::at(src, off, 1);
        assert_eq!((p.line, p.column), (2, 5));
    }

    #[test]
    fn renders_location_caret_and_help() {
        let src: Arc<str> = "steps:\n  - id: a\n    nod: x\n".into();
        let off = src.find("nod").unwrap();
        let d = Diagnostic::at(
            "wf.yaml",
            &src,
            Pos::at(&src, off, 3),
            "unknown key 'nod' in step",
        )
        .with_help("did you mean 'node'?");
        let text = d.render(false);
        assert!(text.contains("wf.yaml:3:5"), "{text}");
        assert!(text.contains("    nod: x"), "{text}");
        assert!(text.contains("^^^"), "{text}");
        assert!(text.contains("help: did you mean 'node'?"), "{text}");
    }

    #[test]
    fn renders_without_position() {
        let d =
            Diagnostic::general("wf.yaml", "input 'x' is required").with_help("pass --input x=...");
        let text = d.render(false);
        assert!(text.contains("wf.yaml: input 'x' is required"), "{text}");
        assert!(text.contains("help: pass --input x=..."), "{text}");
    }
}
