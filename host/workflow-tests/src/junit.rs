//! JUnit XML for CI: a `<testsuite>` per test file, a `<testcase>` per case, a `<failure>`
//! (assertions) or `<error>` (the case could not run) with a one-line message and the full
//! details, and the step trace in `<system-out>`. Secrets are already masked in the report.
use crate::report::{CaseReport, FailureKind, Outcome, TestReport};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

fn test_case(case: &CaseReport) -> TestCase {
    let status = match case.outcome {
        Outcome::Passed => TestCaseStatus::success(),
        Outcome::Skipped => {
            let mut s = TestCaseStatus::skipped();
            if let Some(reason) = case.skip_reason.as_deref().filter(|r| !r.is_empty()) {
                s.set_message(reason);
            }
            s
        }
        Outcome::Failed => {
            let assertion_only = case
                .failures
                .iter()
                .all(|f| f.kind == FailureKind::Assertion);
            let kind = if assertion_only {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut s = TestCaseStatus::non_success(kind);
            if let Some(first) = case.failures.first() {
                let more = match case.failures.len() {
                    1 => String::new(),
                    n => format!(" (and {} more)", n - 1),
                };
                s.set_message(format!("{}: {}{more}", first.location, first.message));
            }
            s.set_type(if assertion_only { "assertion" } else { "error" });
            let details: Vec<&str> = case.failures.iter().map(|f| f.detail.trim_end()).collect();
            s.set_description(details.join("\n\n"));
            s
        }
    };
    let mut tc = TestCase::new(case.name.as_str(), status);
    tc.set_classname(case.file.as_str());
    tc.set_time(case.duration);
    if !case.trace.is_empty() {
        tc.set_system_out(case.trace.as_str());
    }
    tc
}

/// The report as a quick-junit [`Report`].
pub fn junit_report(report: &TestReport) -> Report {
    let mut out = Report::new("psaflow");
    out.set_time(report.duration);
    let mut suites: Vec<TestSuite> = Vec::new();
    for case in &report.cases {
        let suite = match suites.iter_mut().position(|s| s.name.as_str() == case.file) {
            Some(i) => &mut suites[i],
            None => {
                suites.push(TestSuite::new(case.file.as_str()));
                suites.last_mut().expect("just pushed")
            }
        };
        suite.add_test_case(test_case(case));
    }
    for suite in &mut suites {
        let total = suite.test_cases.iter().filter_map(|c| c.time).sum();
        suite.set_time(total);
    }
    if !report.problems.is_empty() {
        // Run-level problems (nothing found, a path that is missing) still show up in CI.
        let mut suite = TestSuite::new("psaflow");
        for p in &report.problems {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(p.as_str());
            s.set_type("error");
            suite.add_test_case(TestCase::new("test discovery", s));
        }
        suites.push(suite);
    }
    out.add_test_suites(suites);
    out
}

/// The report as JUnit XML text.
pub fn junit_xml(report: &TestReport) -> String {
    junit_report(report)
        .to_string()
        .expect("a JUnit report always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Failure;

    #[test]
    fn suites_per_file_with_failure_message_and_trace() {
        let mut a = CaseReport::new("a.test.yaml", "a", "passes");
        a.trace = "step client [halopsa.client.create]: succeeded".into();
        let mut b = CaseReport::new("a.test.yaml", "a", "fails");
        b.outcome = Outcome::Failed;
        b.failures.push(Failure {
            kind: FailureKind::Assertion,
            location: "a.test.yaml:7:9".into(),
            message: "step 'client' envelope does not match".into(),
            detail: "error: ...\nexpected: 1\nactual: 2\n".into(),
        });
        let c = CaseReport::new("b.test.yaml", "b", "other file");
        let report = TestReport {
            cases: vec![a, b, c],
            ..Default::default()
        };
        let parsed = Report::deserialize_from_str(&junit_xml(&report)).unwrap();
        assert_eq!((parsed.tests, parsed.failures), (3, 1));
        assert_eq!(parsed.test_suites.len(), 2);
        let suite = &parsed.test_suites[0];
        assert_eq!(
            (suite.name.as_str(), suite.tests, suite.failures),
            ("a.test.yaml", 2, 1)
        );
        match &suite.test_cases[1].status {
            TestCaseStatus::NonSuccess { kind, message, .. } => {
                assert_eq!(*kind, NonSuccessKind::Failure);
                assert_eq!(
                    message.as_ref().unwrap().as_str(),
                    "a.test.yaml:7:9: step 'client' envelope does not match"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(
            suite.test_cases[0]
                .system_out
                .as_ref()
                .unwrap()
                .as_str()
                .contains("halopsa.client.create")
        );
    }
}
