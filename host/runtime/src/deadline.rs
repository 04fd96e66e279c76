//! The wall-clock limit of one node call, armed only when the call has to wait.
//!
//! `tokio::time::timeout` registers a timer on its first poll and removes it on drop. With an
//! idle timer wheel that insert also wakes the runtime's driver thread (an `eventfd` write and a
//! futex wake, 3% of the host's samples in a profile of steady invocations) so it can shorten
//! its sleep, for a timer that almost never fires. Most calls whose transport answers at once
//! finish in their first poll; only a call that returns `Pending` needs a timer, and then the
//! deadline still counts from when the call began.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The call did not finish within its limit.
#[derive(Debug, PartialEq, Eq)]
pub struct Elapsed;

/// `inner`, cut off `limit` after this is made (see the module docs). `inner` is `Unpin`
/// (boxed by the caller, as the node call already is) so this adds no allocation of its own.
pub fn within<F: Future + Unpin>(limit: Duration, inner: F) -> WithinDeadline<F> {
    WithinDeadline {
        inner,
        deadline: Instant::now() + limit,
        timer: None,
    }
}

pub struct WithinDeadline<F> {
    inner: F,
    /// When the call began, plus its limit.
    deadline: Instant,
    /// Armed on the first poll that finds the call waiting.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<F: Future + Unpin> Future for WithinDeadline<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(output) = Pin::new(&mut self.inner).poll(cx) {
            return Poll::Ready(Ok(output));
        }
        let deadline = self.deadline;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed)),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_that_finishes_at_once_arms_no_timer() {
        // Outside any Tokio runtime: arming a timer here would panic ("no reactor running").
        let mut call = std::pin::pin!(within(Duration::from_secs(1), Box::pin(async { 7 })));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert_eq!(call.as_mut().poll(&mut cx), Poll::Ready(Ok(7)));
    }

    #[tokio::test]
    async fn a_waiting_call_is_cut_off_counting_from_its_start() {
        // The call needs 20 ms once polled and has 40 ms, but 100 ms pass before its first
        // poll: counted from its start it is already over time.
        let call = within(
            Duration::from_millis(40),
            // The sleep is made on the first poll, so it ends 20 ms after that.
            Box::pin(async { tokio::time::sleep(Duration::from_millis(20)).await }),
        );
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(call.await, Err(Elapsed));
    }

    #[tokio::test]
    async fn a_call_that_never_finishes_is_cut_off() {
        let call = within(Duration::from_millis(30), std::future::pending::<()>());
        assert_eq!(call.await, Err(Elapsed));
    }

    #[tokio::test]
    async fn a_waiting_call_within_its_limit_gives_its_output() {
        let call = within(
            Duration::from_secs(60),
            Box::pin(async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                "done"
            }),
        );
        assert_eq!(call.await, Ok("done"));
    }
}
