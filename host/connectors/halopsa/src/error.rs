//! Configuration errors. Transport errors are `psaflow_core::TransportError`.
//!
//! A [`ConfigError`] lists every problem found, not just the first, so that someone setting up
//! a connection fixes it in one go. No message ever contains the client secret.

use std::fmt;
use std::path::PathBuf;

/// Where the faulty settings came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOrigin {
    /// The `HALOPSA_*` environment variables.
    Environment,
    /// A connection file.
    File(PathBuf),
    /// A workflow's `connection:` block.
    Workflow,
    /// A `ConnectionConfig` built in code (checked by `validate()`).
    Settings,
    /// `ClientOptions` given to `HaloClient::new`.
    Options,
    /// The HTTP client could not be set up (TLS back end).
    HttpClient,
}

/// What is wrong with one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// A required value is absent.
    Missing,
    /// The value is present but cannot be used (bad URL, wrong type, empty).
    Malformed,
    /// The value breaks the connection policy (plain http to a remote host, credentials in a URL).
    Insecure,
    /// The field is not allowed here (unknown key, a secret written into a connection file).
    NotAllowed,
    /// The file could not be read or parsed.
    Unreadable,
}

/// One problem: which field, what is wrong, and (for files) on which line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// An environment variable name (`HALOPSA_API_URL`) or a file key (`api_url`).
    pub field: String,
    /// What sort of problem, for callers that react to it (tests, the console).
    pub kind: ProblemKind,
    /// What is wrong and what to write instead.
    pub message: String,
    /// 1-based line in the connection file, when known.
    pub line: Option<usize>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}, ")?;
        }
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Connection settings that cannot be used. Lists every problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    origin: ConfigOrigin,
    problems: Vec<Problem>,
}

impl ConfigError {
    pub(crate) fn new(origin: ConfigOrigin, problems: Vec<Problem>) -> Self {
        debug_assert!(!problems.is_empty());
        Self { origin, problems }
    }

    pub(crate) fn single(
        origin: ConfigOrigin,
        field: impl Into<String>,
        kind: ProblemKind,
        message: impl Into<String>,
    ) -> Self {
        Self::new(
            origin,
            vec![Problem {
                field: field.into(),
                kind,
                message: message.into(),
                line: None,
            }],
        )
    }

    /// Where the settings came from (the message names it).
    pub fn origin(&self) -> &ConfigOrigin {
        &self.origin
    }

    /// Every problem found, in the order checked.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The fields reported as missing, in the order found.
    pub fn missing(&self) -> Vec<&str> {
        self.problems
            .iter()
            .filter(|p| p.kind == ProblemKind::Missing)
            .map(|p| p.field.as_str())
            .collect()
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            ConfigOrigin::Environment => {
                f.write_str("HaloPSA connection settings in the environment are unusable")?
            }
            ConfigOrigin::File(path) => {
                write!(f, "HaloPSA connection file {} is unusable", path.display())?
            }
            ConfigOrigin::Workflow => {
                f.write_str("the workflow's HaloPSA connection block is unusable")?
            }
            ConfigOrigin::Settings => f.write_str("HaloPSA connection settings are unusable")?,
            ConfigOrigin::Options => f.write_str("HaloPSA client options are unusable")?,
            ConfigOrigin::HttpClient => {
                f.write_str("the HTTP client for HaloPSA could not be set up")?
            }
        }
        match self.problems.as_slice() {
            [one] => write!(f, ": {one}"),
            many => {
                f.write_str(":")?;
                for p in many {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_problem_on_one_line_many_as_a_list() {
        let one = ConfigError::single(
            ConfigOrigin::Environment,
            "HALOPSA_CLIENT_ID",
            ProblemKind::Missing,
            "not set",
        );
        assert_eq!(
            one.to_string(),
            "HaloPSA connection settings in the environment are unusable: HALOPSA_CLIENT_ID: not set"
        );
        let many = ConfigError::new(
            ConfigOrigin::File("conn.toml".into()),
            vec![
                Problem {
                    field: "client_id".into(),
                    kind: ProblemKind::Missing,
                    message: "not set".into(),
                    line: None,
                },
                Problem {
                    field: "api_url".into(),
                    kind: ProblemKind::Malformed,
                    message: "bad".into(),
                    line: Some(2),
                },
            ],
        );
        assert_eq!(
            many.to_string(),
            "HaloPSA connection file conn.toml is unusable:\n  - client_id: not set\n  - line 2, api_url: bad"
        );
        assert_eq!(many.missing(), vec!["client_id"]);
    }
}
