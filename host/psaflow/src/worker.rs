//! The worker loop of `psaflow worker`: claims queued runs up to a concurrency, executes them
//! ([`Executor::execute`]), sweeps leases that ran out (workers that died) back into the
//! queue, and on shutdown stops claiming, lets running runs finish for a grace period and
//! gives the rest back to the queue.
//!
//! Wake-ups: a worker with a free slot and an empty queue waits for the store to announce new
//! work ([`RunStore::wait_for_work`]: LISTEN/NOTIFY on PostgreSQL) or for the poll interval,
//! whichever comes first.
use crate::execute::{Executed, Executor, Stop};
use psaflow_store::{RunStore, now_ms};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Runs executed at once.
    pub concurrency: usize,
    /// Longest wait for new work without a notification.
    pub poll: Duration,
    /// How often this worker looks for leases that ran out.
    pub sweep_every: Duration,
    /// A run whose lease was lost this many times fails.
    pub max_lost_leases: u32,
    /// On shutdown, how long running runs may take to finish before they are given back.
    pub grace: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            concurrency: 4,
            poll: Duration::from_secs(1),
            sweep_every: Duration::from_secs(5),
            max_lost_leases: 3,
            grace: Duration::from_secs(30),
        }
    }
}

/// What a worker did, counted.
#[derive(Debug, Default)]
pub struct WorkerStats {
    /// Runs executed to an end (succeeded, failed or waiting for approval).
    pub finished: AtomicU64,
    /// Runs given back to the queue unfinished (shutdown before they ended).
    pub released: AtomicU64,
    /// Runs whose lease this worker lost (it stalled past the lease) and stopped working on.
    pub lost: AtomicU64,
    /// Runs of other workers whose expired leases this worker swept (requeued or failed).
    pub swept: AtomicU64,
}

/// Runs until `shutdown` is raised, then drains (see the module documentation).
pub async fn run_worker(
    executor: Executor,
    options: WorkerOptions,
    shutdown: Stop,
) -> anyhow::Result<Arc<WorkerStats>> {
    let stats = Arc::new(WorkerStats::default());
    let slots = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let (abort_tx, abort) = Stop::new();
    let sweeper = tokio::spawn(sweep_loop(
        executor.store.clone(),
        options.clone(),
        stats.clone(),
        shutdown.clone(),
    ));
    let mut running = tokio::task::JoinSet::new();
    eprintln!(
        "psaflow: worker {} takes runs from the {} store at {} ({} at once)",
        executor.worker,
        executor.store.kind(),
        executor.store.location(),
        options.concurrency.max(1)
    );
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            _ = shutdown.raised() => break,
        };
        if shutdown.is_raised() {
            break;
        }
        let claimed = match executor.claim().await {
            Ok(claimed) => claimed,
            Err(err) => {
                eprintln!(
                    "psaflow: worker {}: claiming work: {err:#}",
                    executor.worker
                );
                None
            }
        };
        let Some(work) = claimed else {
            drop(permit);
            let store = executor.store.clone();
            let poll = options.poll;
            tokio::select! {
                _ = tokio::task::spawn_blocking(move || store.wait_for_work(poll)) => {}
                _ = shutdown.raised() => break,
            }
            continue;
        };
        let (executor, abort, stats) = (executor.clone(), abort.clone(), stats.clone());
        running.spawn(async move {
            let _permit = permit;
            let started = now_ms();
            let id = work.run_id.clone();
            // Claim and end times let logs show who had a run when (to the millisecond).
            eprintln!(
                "psaflow: worker {}: run {id} claimed at {}",
                executor.worker,
                log_time(started)
            );
            let outcome = executor.execute(work, &abort).await;
            let took = (now_ms() - started) as f64 / 1000.0;
            match outcome {
                Ok(Executed::Finished(state)) => {
                    stats.finished.fetch_add(1, Ordering::Relaxed);
                    eprintln!(
                        "psaflow: worker {}: run {id} {state} at {} ({took:.1} s)",
                        executor.worker,
                        log_time(now_ms())
                    );
                }
                Ok(Executed::Released) => {
                    stats.released.fetch_add(1, Ordering::Relaxed);
                    eprintln!(
                        "psaflow: worker {}: run {id} given back to the queue at {}",
                        executor.worker,
                        log_time(now_ms())
                    );
                }
                Ok(Executed::LeaseLost) => {
                    stats.lost.fetch_add(1, Ordering::Relaxed);
                    eprintln!(
                        "psaflow: worker {}: run {id} lease lost at {}; stopped working on it",
                        executor.worker,
                        log_time(now_ms())
                    );
                }
                Err(err) => eprintln!("psaflow: worker {}: run {id}: {err:#}", executor.worker),
            }
        });
        // Reap finished tasks so the set does not grow without bound.
        while running.try_join_next().is_some() {}
    }
    sweeper.abort();
    // Runs that ended since the last claim are still in the set until reaped: only what is
    // left is in progress.
    while running.try_join_next().is_some() {}
    if !running.is_empty() {
        eprintln!(
            "psaflow: worker {}: stopping; {} run(s) in progress get {:.0} s to finish",
            executor.worker,
            running.len(),
            options.grace.as_secs_f64()
        );
        let drained = tokio::time::timeout(options.grace, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            let _ = abort_tx.send(true);
            while running.join_next().await.is_some() {}
        }
    }
    Ok(stats)
}

/// Milliseconds since the epoch as the worker's log shows them: RFC 3339 in UTC, to the
/// millisecond (`2026-11-30T07:38:24.521Z`).
pub fn log_time(ms: i64) -> String {
    psaflow_core::dates::utc_millis_text(ms)
}

/// A time as [`log_time`] writes it, back as milliseconds since the epoch (for tools that
/// read worker logs); `None` for anything else.
pub fn parse_log_time(text: &str) -> Option<i64> {
    psaflow_core::dates::parse_utc_text(text)
}

async fn sweep_loop(
    store: Arc<dyn RunStore>,
    options: WorkerOptions,
    stats: Arc<WorkerStats>,
    shutdown: Stop,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(options.sweep_every) => {}
            _ = shutdown.raised() => return,
        }
        let s = store.clone();
        let max = options.max_lost_leases;
        match tokio::task::spawn_blocking(move || s.sweep_expired(now_ms(), max)).await {
            Ok(Ok(sweep)) => {
                for id in &sweep.requeued {
                    eprintln!("psaflow: run {id}: its worker's lease ran out; queued again");
                }
                for id in &sweep.failed {
                    eprintln!("psaflow: run {id}: failed after {max} lost leases");
                }
                stats.swept.fetch_add(
                    u64::try_from(sweep.requeued.len() + sweep.failed.len()).unwrap_or(u64::MAX),
                    Ordering::Relaxed,
                );
            }
            Ok(Err(err)) => eprintln!("psaflow: sweeping expired leases: {err}"),
            Err(err) => eprintln!("psaflow: sweeping expired leases: {err}"),
        }
        let s = store.clone();
        match tokio::task::spawn_blocking(move || {
            crate::durable::requeue_timed_out_approvals(s.as_ref(), now_ms())
        })
        .await
        {
            Ok(Ok(queued)) => {
                for id in &queued {
                    eprintln!("psaflow: run {id}: its approval timed out; queued again so on_timeout decides");
                }
            }
            Ok(Err(err)) => eprintln!("psaflow: queueing runs whose approval timed out: {err}"),
            Err(err) => eprintln!("psaflow: queueing runs whose approval timed out: {err}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_times_are_rfc3339_utc_and_read_back() {
        assert_eq!(log_time(1_796_179_906_521), "2026-12-02T02:51:46.521Z");
        assert_eq!(log_time(0), "1970-01-01T00:00:00.000Z");
        for ms in [0, 1_796_179_906_521, 951_782_400_007, 4_102_444_800_000] {
            assert_eq!(parse_log_time(&log_time(ms)), Some(ms), "{ms}");
        }
        assert_eq!(parse_log_time("1796179906521"), None);
    }
}
