//! Node invocations on tokio tasks of their own. A workflow polls all the items of a for_each
//! from one task, so run inline, every item's instance, guest and HTTP exchange take turns on
//! one core; spawned, they use every core the runtime has.
//!
//! Dropping a [`Spawned`] before it finished (a step's timeout) closes the invocation's call
//! log first, then stops its task: the node, which may be running on another thread at that
//! moment, can start no request the caller does not find in the log, just as if it had run
//! inline and been dropped.

use psaflow_core::{BoxFuture, CallLog, Envelope};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::task::JoinHandle;

/// Runs `invocation` (which records its requests in `calls`) on a task of its own when the
/// caller is on a multi-threaded tokio runtime, inline otherwise (there is no other core to
/// gain, and no task to spawn on outside a runtime).
pub(crate) fn invocation<F>(invocation: F, calls: CallLog, output_key: &str) -> BoxFuture<'static, Envelope>
where
    F: Future<Output = Envelope> + Send + 'static,
{
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => Box::pin(Spawned {
            task: handle.spawn(invocation),
            calls,
            output_key: output_key.to_owned(),
        }),
        _ => Box::pin(invocation),
    }
}

/// An invocation running on its own task; its envelope once it ends.
struct Spawned {
    task: JoinHandle<Envelope>,
    calls: CallLog,
    output_key: String,
}

impl Future for Spawned {
    type Output = Envelope;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Envelope> {
        Pin::new(&mut self.task).poll(cx).map(|ended| {
            // Only a panic in the host can end the task early (it is aborted only on drop).
            ended.unwrap_or_else(|failure| {
                Envelope::system(&self.output_key, format!("the invocation stopped: {failure}"))
            })
        })
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if !self.task.is_finished() {
            self.calls.close();
            self.task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use psaflow_core::{CallOutcome, Method};

    fn answered(output: serde_json::Value) -> Envelope {
        Envelope {
            status_code: 200,
            original_status_code: 200,
            error_message: String::new(),
            output_name: "Client".into(),
            output,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_invocation_makes_progress_on_its_own_task_and_gives_its_envelope() {
        let (started, mut wait_started) = tokio::sync::mpsc::channel::<()>(1);
        let running = invocation(
            async move {
                started.send(()).await.unwrap();
                answered(serde_json::json!({"id": 5}))
            },
            CallLog::new(),
            "Client",
        );
        // Not polled by the caller yet: only a task of its own can have got this far.
        wait_started.recv().await.expect("the invocation ran");
        let envelope = running.await;
        assert_eq!(envelope.status_code, 200);
        assert_eq!(envelope.output, serde_json::json!({"id": 5}));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn on_a_single_threaded_runtime_it_runs_inline() {
        let (started, mut wait_started) = tokio::sync::mpsc::channel::<()>(1);
        let running = invocation(
            async move {
                started.send(()).await.unwrap();
                answered(serde_json::json!({}))
            },
            CallLog::new(),
            "Client",
        );
        tokio::task::yield_now().await;
        assert!(wait_started.try_recv().is_err(), "nothing runs until polled");
        assert_eq!(running.await.status_code, 200);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cut_off_invocation_keeps_its_calls_and_can_start_no_more() {
        let calls = CallLog::new();
        let log = calls.clone();
        let (started, mut wait_started) = tokio::sync::mpsc::channel::<()>(1);
        let running = invocation(
            async move {
                log.start(Method::Post, "/Client").expect("open");
                started.send(()).await.unwrap();
                std::future::pending::<()>().await;
                unreachable!()
            },
            calls.clone(),
            "Client",
        );
        wait_started.recv().await.expect("the request started");
        // The caller gives up (what a step's timeout does).
        drop(running);
        let seen = calls.calls();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].outcome, CallOutcome::Unknown);
        // The node, were it still running somewhere, could start nothing more.
        assert!(calls.start(Method::Post, "/Client").is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_invocation_becomes_a_system_envelope() {
        let envelope = invocation(
            async { panic!("host bug") },
            CallLog::new(),
            "Client",
        )
        .await;
        assert_eq!(envelope.status_code, 500);
        assert!(envelope.error_message.contains("the invocation stopped"), "{}", envelope.error_message);
    }
}
