//! What a test run found, and how people read it: one line per case, the details of each
//! failure (expected, actual, where in the test file), and the `N passed, M failed` line.
use crate::invoker::Call;
use std::time::Duration;

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every expectation held.
    Passed,
    /// An expectation failed, or the case could not run.
    Failed,
    /// Not run: the case says `skip:`.
    Skipped,
}

/// Why a case failed: a wrong result, or a case that could not run at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// An expectation was not met.
    Assertion,
    /// The case could not be run as written: a broken test file, an invalid workflow, bad
    /// inputs, a mock that is not an envelope, a sandbox that did not start.
    Error,
}

/// One unmet expectation (or one reason the case could not run).
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Which of the two.
    pub kind: FailureKind,
    /// `file:line:column` of the expectation in the test file (or just the file).
    pub location: String,
    /// One line: what was checked, and how it went.
    pub message: String,
    /// The full text: the test file line with a caret, then expected, actual and the diff.
    pub detail: String,
}

/// The result of one case.
#[derive(Debug, Clone)]
pub struct CaseReport {
    /// The test file as shown in messages.
    pub file: String,
    /// The test file's `name:` (or its file name).
    pub suite: String,
    /// The case's `name:`.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it was skipped, when it was.
    pub skip_reason: Option<String>,
    /// Real time the case took.
    pub duration: Duration,
    /// Every unmet expectation, and every reason the case could not run.
    pub failures: Vec<Failure>,
    /// Each step with status, attempts and envelope; secrets masked.
    pub trace: String,
    /// Virtual time the run consumed (backoff waits and mock delays).
    pub virtual_time: Duration,
    /// Every wait on the virtual clock, in order.
    pub waits: Vec<Duration>,
    /// Every node invocation, mocked or real (raw values, not for printing).
    pub calls: Vec<Call>,
}

impl CaseReport {
    pub(crate) fn new(file: &str, suite: &str, name: &str) -> CaseReport {
        CaseReport {
            file: file.to_string(),
            suite: suite.to_string(),
            name: name.to_string(),
            outcome: Outcome::Passed,
            skip_reason: None,
            duration: Duration::ZERO,
            failures: Vec::new(),
            trace: String::new(),
            virtual_time: Duration::ZERO,
            waits: Vec::new(),
            calls: Vec::new(),
        }
    }

    /// True when the case passed.
    pub fn passed(&self) -> bool {
        self.outcome == Outcome::Passed
    }

    /// `PASS  file › name (12 ms)`
    pub fn line(&self) -> String {
        let mark = match self.outcome {
            Outcome::Passed => "PASS",
            Outcome::Failed => "FAIL",
            Outcome::Skipped => "SKIP",
        };
        let mut line = format!("{mark}  {} › {}", self.file, self.name);
        match self.outcome {
            Outcome::Skipped => {
                if let Some(reason) = self.skip_reason.as_deref().filter(|r| !r.is_empty()) {
                    line.push_str(&format!(" ({reason})"));
                }
            }
            _ => line.push_str(&format!(" ({})", millis(self.duration))),
        }
        line
    }

    /// The failures of this case and its step trace, for the end of the output.
    pub fn failure_text(&self) -> String {
        let mut out = format!("--- FAIL: {} › {}\n", self.file, self.name);
        for f in &self.failures {
            out.push_str(f.detail.trim_end());
            out.push_str("\n\n");
        }
        if !self.trace.is_empty() {
            out.push_str("step trace:\n");
            for line in self.trace.lines() {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

fn millis(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

/// The result of a whole test run.
#[derive(Debug, Clone, Default)]
pub struct TestReport {
    /// In file order, then case order (not the order they finished in).
    pub cases: Vec<CaseReport>,
    /// Problems not tied to a case (no test files found).
    pub problems: Vec<String>,
    /// Real time the whole run took.
    pub duration: Duration,
}

impl TestReport {
    /// How many cases ended with `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.cases.iter().filter(|c| c.outcome == outcome).count()
    }

    /// How many passed.
    pub fn passed(&self) -> usize {
        self.count(Outcome::Passed)
    }

    /// How many failed.
    pub fn failed(&self) -> usize {
        self.count(Outcome::Failed)
    }

    /// How many were skipped.
    pub fn skipped(&self) -> usize {
        self.count(Outcome::Skipped)
    }

    /// True when nothing failed and there was no run-level problem.
    pub fn success(&self) -> bool {
        self.failed() == 0 && self.problems.is_empty()
    }

    /// `N passed, M failed` (`, K skipped` when some were): the line CI parsers read.
    pub fn summary_line(&self) -> String {
        let mut line = format!(
            "{} passed, {} failed",
            self.passed(),
            self.failed() + self.problems.len()
        );
        if self.skipped() > 0 {
            line.push_str(&format!(", {} skipped", self.skipped()));
        }
        line
    }

    /// Everything after the per-case lines: failure details, run problems, the summary line.
    pub fn render_tail(&self) -> String {
        let mut out = String::new();
        let failed: Vec<&CaseReport> = self
            .cases
            .iter()
            .filter(|c| c.outcome == Outcome::Failed)
            .collect();
        if !failed.is_empty() {
            out.push_str("\nfailures:\n\n");
            for case in failed {
                out.push_str(&case.failure_text());
                out.push('\n');
            }
        }
        for p in &self.problems {
            out.push_str(&format!("error: {p}\n"));
        }
        out.push('\n');
        out.push_str(&self.summary_line());
        out.push('\n');
        out
    }

    /// The whole human output: one line per case, then [`TestReport::render_tail`].
    pub fn render(&self) -> String {
        let mut out = String::new();
        for case in &self.cases {
            out.push_str(&case.line());
            out.push('\n');
        }
        out.push_str(&self.render_tail());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &str, outcome: Outcome) -> CaseReport {
        let mut c = CaseReport::new("a.test.yaml", "a", name);
        c.outcome = outcome;
        c
    }

    #[test]
    fn summary_line_has_the_shape_ci_reads() {
        let mut r = TestReport {
            cases: vec![case("x", Outcome::Passed), case("y", Outcome::Failed)],
            ..Default::default()
        };
        assert_eq!(r.summary_line(), "1 passed, 1 failed");
        assert!(!r.success());
        r.cases.push(case("z", Outcome::Skipped));
        assert_eq!(r.summary_line(), "1 passed, 1 failed, 1 skipped");
        let text = r.render();
        assert!(
            text.lines().any(|l| l == "1 passed, 1 failed, 1 skipped"),
            "{text}"
        );
        assert!(text.contains("FAIL  a.test.yaml › y"), "{text}");
        assert!(text.contains("--- FAIL: a.test.yaml › y"), "{text}");
    }

    #[test]
    fn run_problems_count_as_failures() {
        let r = TestReport {
            problems: vec!["no test files found".into()],
            ..Default::default()
        };
        assert_eq!(r.summary_line(), "0 passed, 1 failed");
        assert!(!r.success());
    }
}
