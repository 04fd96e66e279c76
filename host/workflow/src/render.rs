//! Human output: progress lines on stderr while a run goes, and the final summary.
//! Everything shown has already been through the run's redactor.
use crate::events::{RunEvent, RunObserver};
use crate::duration::format_duration;
use crate::report::{RunReport, RunStatus, StepStatus};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// Writes progress to stderr (or any writer); `summary` formats the end of a run.
pub struct HumanRenderer {
    out: Mutex<Box<dyn Write + Send>>,
    /// Redraw a progress bar in place (only on a terminal).
    live: bool,
    /// Per for_each step: (done, total).
    progress: Mutex<HashMap<String, (usize, usize)>>,
}

impl Default for HumanRenderer {
    fn default() -> Self {
        Self::new()
    }
}

const BAR_WIDTH: usize = 24;

impl HumanRenderer {
    /// Progress on stderr; a live bar when stderr is a terminal.
    pub fn new() -> Self {
        HumanRenderer {
            live: std::io::stderr().is_terminal(),
            out: Mutex::new(Box::new(std::io::stderr())),
            progress: Mutex::new(HashMap::new()),
        }
    }

    /// Progress to `out` (no live redrawing). Used by tests and log files.
    pub fn to_writer(out: Box<dyn Write + Send>) -> Self {
        HumanRenderer {
            out: Mutex::new(out),
            live: false,
            progress: Mutex::new(HashMap::new()),
        }
    }

    fn line(&self, text: &str) {
        let mut out = self.out.lock().unwrap();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    fn bar(done: usize, total: usize) -> String {
        let filled = (done * BAR_WIDTH).checked_div(total).unwrap_or(BAR_WIDTH);
        format!(
            "[{}{}] {done}/{total}",
            "#".repeat(filled),
            "-".repeat(BAR_WIDTH - filled)
        )
    }

    /// The end-of-run summary: status, step counts, destructive counts, warnings, outputs.
    pub fn summary(report: &RunReport) -> String {
        let r = report.redactor();
        if report.dry_run {
            let mut out = report.plan.as_ref().map(|p| p.render()).unwrap_or_default();
            if let Some(e) = &report.error {
                out.push_str(&format!("\nproblems:\n{}\n", r.text(e)));
            }
            return out;
        }
        let count = |s: StepStatus| report.steps.iter().filter(|x| x.status == s).count();
        // Each step is listed once, here; progress lines only show retries and for_each bars.
        let against = match report.backend.as_deref() {
            Some("sandbox") => " on the embedded SANDBOX (fake data)",
            Some("tenant") => " on the tenant",
            _ => "",
        };
        let mut out = format!(
            "Run {} '{}'{against}: {} step(s): {} succeeded, {} failed, {} skipped\n",
            match report.status {
                RunStatus::Succeeded => "succeeded",
                RunStatus::Failed => "FAILED",
                RunStatus::WaitingApproval => "WAITING for approval",
            },
            report.name,
            report.steps.len(),
            count(StepStatus::Succeeded),
            count(StepStatus::Failed),
            count(StepStatus::Skipped)
        );
        if report.deleted > 0 || report.deactivated > 0 {
            out.push_str(&format!(
                "  records deleted: {}, deactivated: {}\n",
                report.deleted, report.deactivated
            ));
        }
        let calls = report.calls();
        if calls.refused_calls > 0 || calls.deletes_sent > 0 {
            out.push_str(&format!(
                "  DELETE requests sent: {}, calls refused by the host: {}\n",
                calls.deletes_sent, calls.refused_calls
            ));
        }
        for s in &report.steps {
            let (icon, detail) = match s.status {
                StepStatus::Succeeded => ("ok     ", String::new()),
                StepStatus::Failed => (
                    "FAILED ",
                    s.error
                        .as_deref()
                        .map(|e| format!(": {}", r.text(e)))
                        .unwrap_or_default(),
                ),
                StepStatus::Skipped => (
                    "skipped",
                    s.skip_reason
                        .as_deref()
                        .map(|e| format!(" ({})", r.text(e)))
                        .unwrap_or_default(),
                ),
            };
            let mut extra = String::new();
            if s.items.is_some() {
                let (ok, failed, skipped) = s.item_counts();
                extra.push_str(&format!(" [{ok} ok, {failed} failed, {skipped} skipped]"));
            }
            if s.attempts > 1 && s.items.is_none() {
                extra.push_str(&format!(" after {} attempts", s.attempts));
            }
            if s.deleted > 0 {
                extra.push_str(&format!(" deleted {}", s.deleted));
            }
            if s.deactivated > 0 {
                extra.push_str(&format!(" deactivated {}", s.deactivated));
            }
            for w in &s.warnings {
                extra.push_str(&format!("\n          warning: {}", r.text(w)));
            }
            out.push_str(&format!("  {icon} {}{extra}{detail}\n", s.id));
        }
        if let Some(w) = &report.waiting {
            out.push_str(&format!(
                "waiting for approval at step '{}': {}\n",
                w.step,
                r.text(&w.message)
            ));
            if !w.approvers.is_empty() {
                out.push_str(&format!("  approvers: {}\n", w.approvers.join(", ")));
            }
            match &report.id {
                Some(id) => out.push_str(&format!(
                    "  decide with: psaflow approve {id} (or --reject)\n"
                )),
                None => out.push_str("  (this run is not recorded, so it cannot be continued)\n"),
            }
        }
        if let Some(id) = &report.id {
            out.push_str(&format!("run id: {id}\n"));
        }
        for w in &report.warnings {
            out.push_str(&format!("warning: {}\n", r.text(w)));
        }
        if let Some(e) = &report.error {
            out.push_str(&format!("error: {}\n", r.text(e)));
        }
        out
    }

    /// The run's outputs for stdout, one `name: value` line each (text without quotes), so
    /// `psaflow run ... 2>/dev/null` prints just them; progress and the summary go to stderr.
    pub fn outputs(report: &RunReport) -> String {
        let r = report.redactor();
        r.map(&report.outputs)
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}: {s}\n"),
                other => format!("{k}: {other}\n"),
            })
            .collect()
    }
}

impl RunObserver for HumanRenderer {
    fn event(&self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted { name, steps } => {
                let plural = if *steps == 1 { "" } else { "s" };
                self.line(&format!("Running '{name}' ({steps} step{plural})"))
            }
            RunEvent::StepStarted {
                id,
                node,
                items,
                destructive,
                ..
            } => {
                let warn = if *destructive {
                    " (deletes records)"
                } else {
                    ""
                };
                // Only a live terminal gets a line per step (with its progress bar); the
                // summary lists every step once.
                if let Some(n) = items {
                    self.progress.lock().unwrap().insert(id.clone(), (0, *n));
                    if self.live {
                        self.line(&format!("- {id} [{node}]{warn} over {n} items"));
                    }
                }
            }
            RunEvent::AttemptFailed {
                id,
                index,
                attempt,
                message,
                retry_in,
            } => {
                let which = index.map(|i| format!(" item {i}")).unwrap_or_default();
                let next = match retry_in {
                    Some(d) => format!("; retrying in {}", format_duration(*d)),
                    None => String::new(),
                };
                if self.live {
                    self.line("");
                }
                self.line(&format!(
                    "    {id}{which}: attempt {attempt} failed: {message}{next}"
                ));
            }
            RunEvent::ItemFinished { id, .. } => {
                let mut progress = self.progress.lock().unwrap();
                if let Some((done, total)) = progress.get_mut(id) {
                    *done += 1;
                    if self.live {
                        let mut out = self.out.lock().unwrap();
                        let _ = write!(out, "\r    {}", Self::bar(*done, *total));
                        if done == total {
                            let _ = writeln!(out);
                        }
                        let _ = out.flush();
                    }
                }
            }
            RunEvent::StepSkipped { .. } => {}
            RunEvent::StepFinished { id, .. } => {
                let progress = self.progress.lock().unwrap().remove(id);
                if self.live
                    && let Some((done, total)) = progress
                    && done < total
                {
                    self.line("");
                }
            }
            RunEvent::RunFinished { .. } => {}
        }
    }
}
