//! Human output: progress lines on stderr while a run goes, and the final summary.
//! Everything shown has already been through the run's redactor.
use crate::events::{RunEvent, RunObserver};
use crate::duration::format_duration;
use crate::report::{RunReport, RunStatus, StepStatus};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use psaflow_core::RequestBudget;
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Writes progress to stderr (or any writer); `summary` formats the end of a run.
pub struct HumanRenderer {
    out: Mutex<Box<dyn Write + Send>>,
    /// Draw live progress bars (only on a terminal).
    live: bool,
    /// Per for_each step that is running.
    progress: Mutex<HashMap<String, StepProgress>>,
    /// Node id -> the request budget of the connection it uses (see
    /// [`HumanRenderer::with_budgets`]).
    budgets: HashMap<String, Arc<dyn RequestBudget>>,
}

/// How far a for_each step is.
struct StepProgress {
    done: usize,
    total: usize,
    started: Instant,
    /// The live bar (terminal only).
    bar: Option<ProgressBar>,
    /// The last tenth reported in plain mode.
    tenths: usize,
    /// The request budget the step's node draws from, if its connection has one.
    budget: Option<StepBudget>,
}

/// A for_each step's view of the request budget its node draws from.
#[derive(Clone)]
struct StepBudget {
    budget: Arc<dyn RequestBudget>,
    /// What the budget had let through when the step started.
    sent_before: u64,
    /// Requests the finished items sent (shared with the live bar's estimate).
    sent_by_done: Arc<AtomicU64>,
}

impl StepBudget {
    fn new(budget: Arc<dyn RequestBudget>) -> Self {
        let sent_before = budget.sent();
        StepBudget {
            budget,
            sent_before,
            sent_by_done: Arc::default(),
        }
    }

    fn item_finished(&self, requests: u32) {
        self.sent_by_done
            .fetch_add(u64::from(requests), Ordering::Relaxed);
    }

    /// The time the budget needs, from now, for the requests the step's items still have to
    /// send, counted against the requests already in its window (this step's and earlier
    /// ones'): as many per item as the finished items sent on average (one before any has
    /// finished), less those the items under way have sent already.
    fn time_needed(&self, done: usize, total: usize) -> Duration {
        let sent = self.budget.sent().saturating_sub(self.sent_before);
        let by_done = self.sent_by_done.load(Ordering::Relaxed);
        let under_way = sent.saturating_sub(by_done);
        let left = total.saturating_sub(done) as u64;
        let to_come = if done == 0 {
            left
        } else {
            // left * (by_done / done), rounded up.
            let exact = (u128::from(left) * u128::from(by_done)).div_ceil(done as u128);
            u64::try_from(exact).unwrap_or(u64::MAX)
        };
        let requests = to_come.saturating_sub(under_way);
        self.budget.time_for(requests)
    }
}

/// Plain (non-terminal) output reports a for_each step's progress at each tenth when it has
/// at least this many items: a log shows a long step moving, a short one stays quiet.
const PLAIN_PROGRESS_MIN_ITEMS: usize = 50;

impl StepProgress {
    /// `500/1000 items (50%), 41.7/s, about 12s left`
    fn plain_line(&self, id: &str, elapsed: Duration) -> String {
        let secs = elapsed.as_secs_f64();
        let rate = if secs > 0.0 { self.done as f64 / secs } else { 0.0 };
        let at_this_rate =
            (rate > 0.0).then(|| Duration::from_secs_f64((self.total - self.done) as f64 / rate));
        let budget_needs = self
            .budget
            .as_ref()
            .map(|b| b.time_needed(self.done, self.total));
        let left = match time_left(at_this_rate, budget_needs) {
            Some(left) if self.done < self.total => format!(", about {} left", clock_time(left)),
            _ => String::new(),
        };
        format!(
            "    {id}: {}/{} items ({}%), {rate:.1}/s{left}",
            self.done,
            self.total,
            self.done * 100 / self.total.max(1)
        )
    }
}

/// What is left of a for_each step: the larger of what the rate so far gives (`at_this_rate`)
/// and what the request budget needs for the requests still to send (`budget_needs`, see
/// [`StepBudget::time_needed`]).
///
/// A budget lets its first `requests` go at once, so early on the rate so far says nothing of
/// the spans still to wait: 2,000 items under 500 requests per 3 minutes show 8/s after the
/// first minute, and would be "3m left" at that rate, but the budget needs 9 minutes for them.
/// The budget's part is the fastest the budget allows; the rate so far takes over once the
/// step is slower than that.
fn time_left(at_this_rate: Option<Duration>, budget_needs: Option<Duration>) -> Option<Duration> {
    match (at_this_rate, budget_needs) {
        (Some(rate), Some(floor)) => Some(rate.max(floor)),
        (rate, floor) => rate.or(floor),
    }
}

/// Where the run's requests went, for the summary's first line: the tenant, the embedded
/// sandbox, or, when connectors differ, which connector reached which.
fn against(report: &RunReport) -> String {
    let of = |kind: &str| {
        report
            .backends
            .iter()
            .filter(|(_, k)| k.as_str() == kind)
            .map(|(connector, _)| connector.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (tenants, sandboxes) = (of("tenant"), of("sandbox"));
    if !tenants.is_empty() && !sandboxes.is_empty() {
        return format!(
            " on the tenant ({tenants}) and the embedded SANDBOX ({sandboxes}, fake data)"
        );
    }
    match report.backend.as_deref() {
        Some("sandbox") => " on the embedded SANDBOX (fake data)",
        Some("tenant") => " on the tenant",
        _ => "",
    }
    .to_string()
}

/// A time left as people read it: `40s`, `8m 20s`, `2h 5m` (whole seconds, rounded up).
fn clock_time(d: Duration) -> String {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 if secs.is_multiple_of(60) => format!("{}m", secs / 60),
        60..3600 => format!("{}m {}s", secs / 60, secs % 60),
        _ if secs % 3600 < 60 => format!("{}h", secs / 3600),
        _ => format!("{}h {}m", secs / 3600, secs % 3600 / 60),
    }
}

impl Default for HumanRenderer {
    fn default() -> Self {
        Self::new()
    }
}

impl HumanRenderer {
    /// Progress on stderr; a live bar when stderr is a terminal.
    pub fn new() -> Self {
        HumanRenderer {
            live: std::io::stderr().is_terminal(),
            out: Mutex::new(Box::new(std::io::stderr())),
            progress: Mutex::new(HashMap::new()),
            budgets: HashMap::new(),
        }
    }

    /// Progress to `out` (no live redrawing). Used by tests and log files.
    pub fn to_writer(out: Box<dyn Write + Send>) -> Self {
        HumanRenderer {
            out: Mutex::new(out),
            live: false,
            progress: Mutex::new(HashMap::new()),
            budgets: HashMap::new(),
        }
    }

    /// Estimates time left with the request budgets the run's nodes draw from: `budgets` maps a
    /// node id to the request budget of the connection it uses (nodes without one are paced
    /// by nothing but the API's answers). See [`time_left`].
    pub fn with_budgets(mut self, budgets: HashMap<String, Arc<dyn RequestBudget>>) -> Self {
        self.budgets = budgets;
        self
    }

    fn line(&self, text: &str) {
        let mut out = self.out.lock().unwrap();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
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
        let against = against(report);
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
                    let budget = self.budgets.get(node).cloned().map(StepBudget::new);
                    let total = *n;
                    let bar_budget = budget.clone();
                    let bar = self.live.then(|| {
                        self.line(&format!("- {id} [{node}]{warn} over {n} items"));
                        let bar = ProgressBar::with_draw_target(
                            Some(*n as u64),
                            ProgressDrawTarget::stderr(),
                        );
                        bar.set_style(
                            ProgressStyle::with_template(
                                "    [{bar:24}] {pos}/{len} items, {rate}, about {left} left",
                            )
                            .expect("the template is valid")
                            .with_key(
                                "rate",
                                |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                                    let _ = write!(w, "{:.1}/s", state.per_sec());
                                },
                            )
                            .with_key(
                                "left",
                                move |state: &indicatif::ProgressState,
                                      w: &mut dyn std::fmt::Write| {
                                    let done = usize::try_from(state.pos()).unwrap_or(usize::MAX);
                                    let budget_needs =
                                        bar_budget.as_ref().map(|b| b.time_needed(done, total));
                                    let left = time_left(Some(state.eta()), budget_needs)
                                        .unwrap_or_default();
                                    let _ = write!(w, "{}", clock_time(left));
                                },
                            )
                            .progress_chars("#>-"),
                        );
                        bar
                    });
                    self.progress.lock().unwrap().insert(
                        id.clone(),
                        StepProgress {
                            done: 0,
                            total: *n,
                            started: Instant::now(),
                            bar,
                            tenths: 0,
                            budget,
                        },
                    );
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
                let text = format!("    {id}{which}: attempt {attempt} failed: {message}{next}");
                // Above a live bar, which is redrawn below it.
                let bar = self
                    .progress
                    .lock()
                    .unwrap()
                    .get(id)
                    .and_then(|p| p.bar.clone());
                match bar {
                    Some(bar) => bar.suspend(|| self.line(&text)),
                    None => self.line(&text),
                }
            }
            RunEvent::ItemFinished { id, requests, .. } => {
                let mut progress = self.progress.lock().unwrap();
                if let Some(p) = progress.get_mut(id) {
                    p.done += 1;
                    if let Some(budget) = &p.budget {
                        budget.item_finished(*requests);
                    }
                    if let Some(bar) = &p.bar {
                        bar.set_position(p.done as u64);
                    } else if p.total >= PLAIN_PROGRESS_MIN_ITEMS {
                        let tenths = p.done * 10 / p.total;
                        if tenths > p.tenths {
                            p.tenths = tenths;
                            let line = p.plain_line(id, p.started.elapsed());
                            drop(progress);
                            self.line(&line);
                        }
                    }
                }
            }
            RunEvent::StepSkipped { .. } => {}
            RunEvent::StepFinished { id, .. } => {
                let progress = self.progress.lock().unwrap().remove(id);
                if let Some(p) = progress
                    && let Some(bar) = &p.bar
                {
                    // The bar goes; one line with the totals stays.
                    bar.finish_and_clear();
                    let secs = p.started.elapsed().as_secs_f64();
                    self.line(&format!(
                        "    {}/{} items in {} ({:.1}/s)",
                        p.done,
                        p.total,
                        format_duration(Duration::from_secs_f64(secs)),
                        if secs > 0.0 { p.done as f64 / secs } else { 0.0 }
                    ));
                }
            }
            RunEvent::RunFinished { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn run_items(renderer: &HumanRenderer, id: &str, n: usize) {
        renderer.event(&RunEvent::StepStarted {
            id: id.into(),
            name: id.into(),
            node: "demo.thing.get".into(),
            items: Some(n),
            destructive: false,
        });
        for index in 0..n {
            renderer.event(&RunEvent::ItemFinished {
                id: id.into(),
                index,
                status: StepStatus::Succeeded,
                requests: 1,
            });
        }
    }

    #[test]
    fn plain_output_reports_each_tenth_of_a_long_step_and_nothing_for_a_short_one() {
        let out = Shared::default();
        let renderer = HumanRenderer::to_writer(Box::new(out.clone()));
        run_items(&renderer, "short", 49);
        run_items(&renderer, "long", 200);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 10, "{text}");
        assert!(lines[0].starts_with("    long: 20/200 items (10%), "), "{text}");
        assert!(lines[9].starts_with("    long: 200/200 items (100%), "), "{text}");
        assert!(!lines[9].contains("left"), "nothing is left at the end: {text}");
        assert!(!text.contains("short"), "{text}");
    }

    #[test]
    fn the_plain_line_gives_rate_and_time_left() {
        let p = StepProgress {
            done: 500,
            total: 1000,
            started: Instant::now(),
            bar: None,
            tenths: 5,
            budget: None,
        };
        assert_eq!(
            p.plain_line("sync", Duration::from_secs(10)),
            "    sync: 500/1000 items (50%), 50.0/s, about 10s left"
        );
    }

    /// A 500-per-3-minutes budget on a virtual clock that has let `sent` requests through at
    /// its start and then moved on by `later`.
    fn hosted_budget(sent: usize, later: Duration) -> Arc<dyn RequestBudget> {
        use psaflow_core::{Clock, VirtualClock, WindowBudget};
        let clock = Arc::new(VirtualClock::new());
        let budget = WindowBudget::new(psaflow_core::RateLimit::HOSTED_HALOPSA, clock.clone());
        block_on(async {
            for _ in 0..sent {
                budget.acquire().await;
            }
            clock.sleep(later).await;
        });
        Arc::new(budget)
    }

    /// Drives futures that never wait for anything real (a virtual clock's sleeps are ready).
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime for the test")
            .block_on(future)
    }

    fn progress(
        done: usize,
        total: usize,
        budget: &Arc<dyn RequestBudget>,
        sent_before: u64,
    ) -> StepProgress {
        StepProgress {
            done,
            total,
            started: Instant::now(),
            bar: None,
            tenths: done * 10 / total,
            // Every request sent since the step began was an item's that has finished.
            budget: Some(StepBudget {
                budget: budget.clone(),
                sent_before,
                sent_by_done: Arc::new(AtomicU64::new(budget.sent() - sent_before)),
            }),
        }
    }

    #[test]
    fn a_budget_keeps_the_time_left_from_trusting_its_first_burst() {
        // 2,000 items: the first 500 went in the first minute (8.3/s); at that rate 1,500 more
        // take 3 minutes, but the budget lets them go only in the next three spans (each with
        // its 1% margin): 3 x 181.8 s from the start, 60 s of which have passed.
        let budget = hosted_budget(500, Duration::from_secs(60));
        assert_eq!(
            progress(500, 2000, &budget, 0).plain_line("sync", Duration::from_secs(60)),
            "    sync: 500/2000 items (25%), 8.3/s, about 8m 6s left"
        );
        // Once the step runs slower than the budget, its own rate is the estimate.
        let budget = hosted_budget(1000, Duration::from_secs(1000));
        assert_eq!(
            progress(1000, 2000, &budget, 0).plain_line("sync", Duration::from_secs(1000)),
            "    sync: 1000/2000 items (50%), 1.0/s, about 16m 40s left"
        );
        // A step within the first burst waits for nothing but the API.
        let budget = hosted_budget(0, Duration::ZERO);
        let first = StepBudget::new(budget.clone());
        assert_eq!(first.time_needed(0, 300), Duration::ZERO);
        assert_eq!(
            time_left(
                Some(Duration::from_secs(4)),
                Some(first.time_needed(0, 300))
            ),
            Some(Duration::from_secs(4))
        );
        // Before any item ends, the budget alone says something.
        assert_eq!(
            time_left(None, Some(first.time_needed(0, 1200))),
            Some(Duration::from_secs_f64(2.0 * 181.8))
        );
        assert_eq!(time_left(None, None), None);
    }

    #[test]
    fn a_budget_spent_by_an_earlier_step_delays_the_next() {
        // An earlier step sent 480 requests; 10 s later a 100-item step starts. Twenty go at
        // once, the other eighty wait for the window to move: until 181.8 s after the first
        // step's burst.
        let budget = hosted_budget(480, Duration::from_secs(10));
        let step = StepBudget::new(budget.clone());
        assert_eq!(step.time_needed(0, 100), Duration::from_secs_f64(171.8));
    }

    #[test]
    fn items_that_send_several_requests_are_counted_as_they_do() {
        // A paging node: the 30 items done sent 90 requests, three each. The 400 items left
        // will send 1,200: 410 at once (the window holds 90 of its 500), the rest in the two
        // spans after that. At one request per item, the 400 would all go at once.
        let budget = hosted_budget(90, Duration::from_secs(5));
        let step = progress(30, 430, &budget, 0).budget.unwrap();
        assert_eq!(
            step.time_needed(30, 430),
            Duration::from_secs_f64(2.0 * 181.8)
        );
        assert_eq!(budget.time_for(400), Duration::ZERO);
    }

    #[test]
    fn requests_of_items_under_way_are_not_counted_twice() {
        // 400 items at 20/2s: 10 finished with one request each, 4 under way have sent theirs.
        use psaflow_core::{VirtualClock, WindowBudget};
        let limit = "20/2s".parse().unwrap();
        let budget: Arc<dyn RequestBudget> =
            Arc::new(WindowBudget::new(limit, Arc::new(VirtualClock::new())));
        let step = StepBudget::new(budget.clone());
        block_on(async {
            for _ in 0..14 {
                budget.acquire().await;
            }
        });
        for _ in 0..10 {
            step.item_finished(1);
        }
        // 390 items left, 4 of their requests sent: 386 more, 6 of them now, then 380 at 20
        // per span (2 s and its 20 ms margin): 19 spans.
        assert_eq!(step.time_needed(10, 400), Duration::from_millis(19 * 2020));
        // Counting the 4 twice would need one more span.
        assert_eq!(budget.time_for(390), Duration::from_millis(20 * 2020));
    }

    #[test]
    fn time_left_reads_as_clock_time() {
        for (secs, text) in [
            (0.2, "1s"),
            (40.0, "40s"),
            (60.0, "1m"),
            (500.0, "8m 20s"),
            (7230.0, "2h"),
            (7500.0, "2h 5m"),
        ] {
            assert_eq!(clock_time(Duration::from_secs_f64(secs)), text);
        }
    }
}
