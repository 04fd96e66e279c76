//! The plan as a file (`psaflow plan --out plan.json`): what `apply` executes. It pins the
//! workflow text and the inputs by SHA-256, so apply refuses a plan whose workflow or inputs
//! have changed since.
use super::record::Change;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The format marker; a file without it is not a plan.
pub const FORMAT: &str = "psaflow-plan/1";

/// A saved plan: every change apply may make, pinned to the workflow and inputs it was made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    /// Always [`FORMAT`]; checked on read.
    pub format: String,
    /// The workflow file as given to `plan` (apply reads it from there).
    pub workflow: String,
    /// The workflow's `name`.
    pub workflow_name: String,
    /// SHA-256 of the workflow text; apply refuses a workflow that hashes differently.
    pub workflow_sha256: String,
    /// The inputs the plan was made with (secrets masked).
    pub inputs: Map<String, Value>,
    /// [`inputs_sha256`] of the unmasked inputs; apply must be given the same ones.
    pub inputs_sha256: String,
    /// Where the reads went, in words.
    pub backend: String,
    /// Which tenant(s) the plan was made against (`sandbox`, or each tenant connection's
    /// description): apply refuses to send the plan's changes anywhere else. A plan without it
    /// (made by an older psaflow) is refused too: nothing would say where it belongs.
    #[serde(default)]
    pub tenant: Option<String>,
    /// The `on_failure` steps that change records: not planned (they run only when the run
    /// fails), yet apply lets them run then, so a failed apply is rolled back as a failed run is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_failure: Vec<FailureStep>,
    /// The changes, in the order the run would make them.
    pub changes: Vec<Change>,
    /// Steps with `approval:` that the plan reaches.
    pub approvals: Vec<String>,
    /// API work: node calls made while planning and the writes apply would send.
    pub requests: Requests,
    /// Problems met while planning (a read step failed, a list could not be resolved).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

/// An `on_failure` step that changes records (see [`PlanFile::on_failure`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureStep {
    /// The step's id.
    pub step: String,
    /// The node it runs.
    pub node: String,
}

/// How many API requests planning made and applying would make.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requests {
    /// Read calls made while planning (the workflow's read steps and the target reads).
    pub reads_made: u64,
    /// Write calls apply would send (one per change, before retries).
    pub writes_planned: u64,
    /// Target reads apply makes to check for drift (one per change with a target).
    pub drift_checks: u64,
}

/// Why a plan file cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The file is not a plan (not JSON, wrong shape, another format): its path and the reason.
    #[error("{0} is not a psaflow plan: {1}")]
    Unreadable(String, String),
    #[error("the workflow {file} changed since the plan was made (sha256 {now}, plan has {planned}); run psaflow plan again")]
    /// The workflow file's text is not the text planned.
    WorkflowChanged {
        /// The workflow file.
        file: String,
        /// Its SHA-256 now.
        now: String,
        /// Its SHA-256 when planned.
        planned: String,
    },
    #[error("{}", other_tenant(planned.as_deref(), now))]
    /// Apply would send the changes to another tenant than the plan was made against.
    OtherTenant {
        /// Where the plan was made (`None`: the plan does not say).
        planned: Option<String>,
        /// Where apply would send.
        now: String,
    },
    #[error("the inputs differ from the plan's (sha256 {now}, plan has {planned}); run psaflow plan again with these inputs")]
    /// The inputs given to apply are not the inputs planned.
    InputsChanged {
        /// Their SHA-256 now.
        now: String,
        /// Their SHA-256 when planned.
        planned: String,
    },
}

fn other_tenant(planned: Option<&str>, now: &str) -> String {
    match planned {
        Some(planned) => format!(
            "the plan was made against {planned}; this apply would send its changes to {now}. Point psaflow at the same tenant, or make a new plan against this one"
        ),
        None => format!(
            "the plan does not say which tenant it was made against (an older psaflow made it); make it again before applying it to {now}"
        ),
    }
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Inputs hash the same whatever order their keys were given in.
pub fn inputs_sha256(inputs: &Map<String, Value>) -> String {
    let sorted: std::collections::BTreeMap<&String, &Value> = inputs.iter().collect();
    sha256_hex(serde_json::to_string(&sorted).unwrap_or_default().as_bytes())
}

impl PlanFile {
    /// Parses the plan in `text` (read from `path`, named in errors) and checks its format.
    pub fn read(path: &str, text: &str) -> Result<PlanFile, PlanError> {
        let plan: PlanFile = serde_json::from_str(text)
            .map_err(|e| PlanError::Unreadable(path.to_string(), e.to_string()))?;
        if plan.format != FORMAT {
            return Err(PlanError::Unreadable(
                path.to_string(),
                format!("format {:?}, expected {FORMAT:?}", plan.format),
            ));
        }
        Ok(plan)
    }

    /// Refuses when the workflow text or the inputs are not those the plan was made from.
    pub fn check_matches(
        &self,
        workflow_text: &str,
        inputs: &Map<String, Value>,
    ) -> Result<(), PlanError> {
        let now = sha256_hex(workflow_text.as_bytes());
        if now != self.workflow_sha256 {
            return Err(PlanError::WorkflowChanged {
                file: self.workflow.clone(),
                now,
                planned: self.workflow_sha256.clone(),
            });
        }
        let now = inputs_sha256(inputs);
        if now != self.inputs_sha256 || inputs_sha256(&self.inputs) != self.inputs_sha256 {
            return Err(PlanError::InputsChanged {
                now,
                planned: self.inputs_sha256.clone(),
            });
        }
        Ok(())
    }

    /// The plan as a table for people.
    pub fn render(&self) -> String {
        let mut out = format!(
            "Plan for '{}' ({}): {} change(s); {} read call(s) made, {} write(s) to send, {} drift check(s) before them\n",
            self.workflow_name,
            self.backend,
            self.changes.len(),
            self.requests.reads_made,
            self.requests.writes_planned,
            self.requests.drift_checks,
        );
        let rows: Vec<[String; 4]> = self
            .changes
            .iter()
            .map(|c| {
                let target = match &c.target {
                    Some(t) => format!("#{} {}", shown(&t.id), shown(&t.name)),
                    None => "(new)".into(),
                };
                let what = if c.target.is_some() {
                    c.after
                        .iter()
                        .map(|(k, v)| {
                            let before = c.before.get(k).unwrap_or(&Value::Null);
                            format!("{k}: {} -> {}", shown(before), shown(v))
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                } else {
                    c.after
                        .iter()
                        .map(|(k, v)| format!("{k}: {}", shown(v)))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let step = if c.approval {
                    format!("{} (approval)", c.step)
                } else {
                    c.step.clone()
                };
                [step, c.node.clone(), target, what]
            })
            .collect();
        let header = ["STEP", "NODE", "TARGET", "CHANGE"].map(String::from);
        let mut widths = header.clone().map(|h| h.len());
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        if !rows.is_empty() {
            for row in std::iter::once(&header).chain(&rows) {
                let line = (0..3)
                    .map(|i| format!("{:w$}", row[i], w = widths[i]))
                    .collect::<Vec<_>>()
                    .join("  ");
                out.push_str(&format!("{line}  {}\n", row[3]));
            }
        } else {
            out.push_str("No changes: the workflow would not write anything.\n");
        }
        if !self.approvals.is_empty() {
            out.push_str(&format!(
                "Waits for approval before: {}\n",
                self.approvals.join(", ")
            ));
        }
        if !self.on_failure.is_empty() {
            let steps: Vec<String> = self
                .on_failure
                .iter()
                .map(|f| format!("{} ({})", f.step, f.node))
                .collect();
            out.push_str(&format!(
                "If the apply fails, its on_failure step(s) run and may change records: {}\n",
                steps.join(", ")
            ));
        }
        for p in &self.problems {
            out.push_str(&format!("problem: {p}\n"));
        }
        out
    }

    /// Refuses to apply the plan to another tenant than it was made against (`tenant`: the
    /// run label of the connections apply would use). Plans made on the embedded sandbox may
    /// be applied to another embedded sandbox (the caller says its records are not the same).
    pub fn check_tenant(&self, tenant: &str) -> Result<(), PlanError> {
        match &self.tenant {
            Some(planned) if planned == tenant => Ok(()),
            planned => Err(PlanError::OtherTenant {
                planned: planned.clone(),
                now: tenant.to_string(),
            }),
        }
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}
