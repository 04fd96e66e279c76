//! One executor per run outside the run queue. `psaflow run`, `run --resume` and `approve`
//! execute a run in their own process; a second process resuming the same run while the
//! first still executes it would send the changes the first has in flight again (both would
//! find them "in doubt" in the journal). So the executing process holds the run in the store
//! (`RunStore::hold_run`), renews the hold while it works, and lets go when it ends; another
//! process is refused while the hold is live. A hold outlives a killed process until it runs
//! out ([`HOLD_FOR`]), unless the holder is a process of this machine that is gone, which is
//! checked at once. Runs in the queue are held by their worker's lease instead.
use psaflow_store::{RunHold, RunStore, now_ms};
use std::sync::Arc;
use std::time::Duration;

/// How long a hold lasts without renewal: how long a run whose process died on another
/// machine waits before it can be resumed.
pub const HOLD_FOR: Duration = Duration::from_secs(30);
/// Renewed this often, so two renewals can fail before the hold runs out.
const RENEW_EVERY: Duration = Duration::from_secs(10);

/// This machine's name, as worker names and holds carry it.
pub fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".to_string())
}

/// This process as a holder: `host:pid:start`, the start being the process's start time in
/// clock ticks since boot (Linux), so a reused process id is not taken for the holder.
fn this_process() -> String {
    let pid = std::process::id();
    format!("{}:{pid}:{}", host_name(), start_ticks(pid).unwrap_or(0))
}

/// Field 22 of `/proc/PID/stat` (after the parenthesised command name, which may hold spaces).
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// What a holder string says: machine, process id, start.
fn parse_holder(holder: &str) -> Option<(&str, u32, u64)> {
    let mut parts = holder.rsplitn(3, ':');
    let start = parts.next()?.parse().ok()?;
    let pid = parts.next()?.parse().ok()?;
    Some((parts.next()?, pid, start))
}

/// Whether `holder` is a process of this machine that no longer runs. Only this machine's
/// processes can be looked at; for any other (or without `/proc`) the answer is no, and the
/// hold must run out.
fn is_gone_from_here(holder: &str) -> bool {
    let Some((host, pid, start)) = parse_holder(holder) else {
        return false;
    };
    if host != host_name() || start_ticks(std::process::id()).is_none() {
        return false;
    }
    start_ticks(pid) != Some(start)
}

/// A run this process holds; dropping it lets go.
pub struct HeldRun {
    store: Arc<dyn RunStore>,
    run_id: String,
    holder: String,
    renewer: tokio::task::JoinHandle<()>,
}

impl Drop for HeldRun {
    fn drop(&mut self) {
        self.renewer.abort();
        // A failure leaves the hold to run out; the run itself is recorded either way.
        if let Err(err) = self.store.let_go_of_run(&self.run_id, &self.holder) {
            eprintln!(
                "psaflow: warning: could not release run {} in the run store ({err}); it can be resumed once its hold runs out in {}s",
                self.run_id,
                HOLD_FOR.as_secs()
            );
        }
    }
}

/// Holds `run_id` for this process and keeps renewing the hold (on the current tokio
/// runtime). `Ok(Err(message))` when another live process holds it: the words to show.
pub fn hold(store: Arc<dyn RunStore>, run_id: &str) -> anyhow::Result<Result<HeldRun, String>> {
    let holder = this_process();
    let until = || now_ms() + psaflow_store::duration_ms(HOLD_FOR);
    let mut held = store.hold_run(run_id, &holder, until(), now_ms(), None)?;
    if let Some(other) = &held
        && is_gone_from_here(&other.holder)
    {
        held = store.hold_run(run_id, &holder, until(), now_ms(), Some(&other.holder))?;
    }
    if let Some(other) = held {
        return Ok(Err(refusal(run_id, &other)));
    }
    let renewer = tokio::spawn(renew(store.clone(), run_id.to_string(), holder.clone()));
    Ok(Ok(HeldRun {
        store,
        run_id: run_id.to_string(),
        holder,
        renewer,
    }))
}

/// Renews the hold until aborted. A process that lost its hold, or could not renew it for
/// longer than it lasts, stops at once: another process may be executing the run by then,
/// and stopping is what a killed process does (its calls in flight are found in the journal).
async fn renew(store: Arc<dyn RunStore>, run_id: String, holder: String) {
    let mut renewed_at = std::time::Instant::now();
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let (store, id, me) = (store.clone(), run_id.clone(), holder.clone());
        let until = now_ms() + psaflow_store::duration_ms(HOLD_FOR);
        let answer =
            tokio::task::spawn_blocking(move || store.hold_run(&id, &me, until, now_ms(), None))
                .await;
        match answer {
            Ok(Ok(None)) => renewed_at = std::time::Instant::now(),
            Ok(Ok(Some(other))) => {
                eprintln!(
                    "psaflow: run {run_id} is now held by {} (this process's hold ran out); stopping so its changes are not sent twice",
                    other.holder
                );
                std::process::exit(1);
            }
            Ok(Err(err)) if renewed_at.elapsed() + RENEW_EVERY >= HOLD_FOR => {
                eprintln!(
                    "psaflow: cannot renew the hold on run {run_id} in the run store ({err}); stopping before it runs out, so no other process executes the run at the same time. Resume it with `psaflow run --resume {run_id}`"
                );
                std::process::exit(1);
            }
            Ok(Err(err)) => {
                eprintln!(
                    "psaflow: warning: renewing the hold on run {run_id} failed ({err}); trying again"
                )
            }
            Err(_) => return,
        }
    }
}

/// Why the run cannot be executed here now, in words.
fn refusal(run_id: &str, other: &RunHold) -> String {
    let until = psaflow_core::dates::utc_seconds_text(other.until);
    let who = match parse_holder(&other.holder) {
        Some((host, pid, _)) if host == host_name() => {
            format!("another psaflow process on this machine (pid {pid})")
        }
        Some((host, pid, _)) => format!("a psaflow process on {host} (pid {pid})"),
        None => other.holder.clone(),
    };
    format!(
        "run {run_id} is being executed by {who}; executing it here as well would send its changes twice. \
         Wait for that process to end, or stop it; if it is gone, resume after its hold runs out at {until}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_names_its_machine_process_and_start() {
        let me = this_process();
        let (host, pid, start) = parse_holder(&me).expect("parses");
        assert_eq!(host, host_name());
        assert_eq!(pid, std::process::id());
        assert_eq!(start_ticks(pid).unwrap_or(0), start);
        assert_eq!(
            parse_holder("vm:with:colons:12:34"),
            Some(("vm:with:colons", 12, 34))
        );
        assert_eq!(parse_holder("garbage"), None);
    }

    #[test]
    fn only_a_process_of_this_machine_that_ended_is_gone() {
        assert!(!is_gone_from_here(&this_process()), "this process runs");
        if start_ticks(std::process::id()).is_some() {
            let host = host_name();
            // The same pid started at another time is another process.
            let reused = format!("{host}:{}:1", std::process::id());
            assert!(is_gone_from_here(&reused));
            assert!(is_gone_from_here(&format!("{host}:{}:5", u32::MAX - 1)));
        }
        assert!(
            !is_gone_from_here("elsewhere.example:1:1"),
            "another machine: unknown"
        );
        assert!(!is_gone_from_here("not a holder"));
    }
}
