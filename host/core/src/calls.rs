//! What the requests of one node invocation did, as the host saw them. The runtime fills a
//! [`CallLog`] while a node runs; the workflow engine reads it to tell an attempt whose outcome
//! is unknown (a create may or may not have been applied) from an ordinary failure, and to mark
//! a create that met such an outcome but still found its record as recovered.
//!
//! A non-GET call is recorded as [`CallOutcome::Unknown`] *before* it is sent and corrected when
//! the answer comes, so a call cut off by a timeout or cancellation stays unknown.

use crate::transport::Method;
use crate::invoker::CallCounts;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// HaloPSA answered with this HTTP status.
    Answered(u16),
    /// Nothing was applied: the request was refused by the host, the API could not be reached,
    /// or a read got no answer (reads change nothing).
    NotApplied,
    /// The request may have been applied, but no usable answer came: a timeout or dropped
    /// connection after sending, a 502/504 from a gateway, or the call was cut off.
    Unknown,
}

/// One request a node made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// The method the node used.
    pub method: Method,
    /// The path below the API base, as the node gave it.
    pub path: String,
    /// How it ended; [`CallOutcome::Unknown`] until the answer is recorded.
    pub outcome: CallOutcome,
}

/// The calls of one invocation, shared between the runtime (which writes) and the caller
/// (which reads after the invocation ended or was cut off). Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct CallLog {
    calls: Arc<Mutex<Vec<CallRecord>>>,
    /// Calls the host refused (outside the node's declaration, or past the request cap): never
    /// sent, so not in `calls`.
    refused: Arc<AtomicU32>,
    /// Set by [`CallLog::close`] (under the `calls` lock): no more calls may start.
    closed: Arc<AtomicBool>,
}

/// [`CallLog::start`] after [`CallLog::close`]: the invocation was cut off and must not send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogClosed;

/// At most this many calls are kept per invocation, so a runaway node cannot grow the log
/// without end. Nodes make a handful of calls; the longest (a get-many paging 100 records at a
/// time) stays far below this, and it only reads.
const MAX_CALLS: usize = 4096;

impl CallLog {
    /// An empty log for one invocation.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<CallRecord>> {
        // A poisoned log still holds valid records; keep using it.
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a call about to be sent and returns its index for [`CallLog::finish`] (`None`
    /// when the log is full: the call is sent unrecorded). A non-GET starts as unknown; a GET as
    /// not applied. Refused once the log is closed: the caller must then not send.
    pub fn start(&self, method: Method, path: &str) -> Result<Option<usize>, LogClosed> {
        let mut calls = self.lock();
        if self.closed.load(Ordering::Relaxed) {
            return Err(LogClosed);
        }
        if calls.len() >= MAX_CALLS {
            return Ok(None);
        }
        let outcome = if method == Method::Get {
            CallOutcome::NotApplied
        } else {
            CallOutcome::Unknown
        };
        calls.push(CallRecord {
            method,
            path: path.to_string(),
            outcome,
        });
        Ok(Some(calls.len() - 1))
    }

    /// Lets no more calls start. Whoever cut an invocation off closes its log before reading
    /// it, so a node still running elsewhere (on another thread, until it is stopped) cannot
    /// send a request the reader does not see: every call either is in the log or never starts.
    pub fn close(&self) {
        let _calls = self.lock();
        self.closed.store(true, Ordering::Relaxed);
    }

    /// Sets how the call at `index` ended.
    pub fn finish(&self, index: Option<usize>, outcome: CallOutcome) {
        if let Some(i) = index
            && let Some(call) = self.lock().get_mut(i)
        {
            call.outcome = outcome;
        }
    }

    /// A copy of the calls so far.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.lock().clone()
    }

    /// Forgets every call (the log is reused for the next attempt).
    pub fn clear(&self) {
        self.lock().clear();
        self.refused.store(0, Ordering::Relaxed);
    }

    /// Counts a call the host refused to send.
    pub fn refuse(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests sent, calls refused and DELETEs sent, for the run report.
    pub fn counts(&self) -> CallCounts {
        let calls = self.lock();
        // At most MAX_CALLS records, so the counts always fit; saturate rather than wrap anyway.
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        CallCounts {
            requests: count(calls.len()),
            refused_calls: self.refused.load(Ordering::Relaxed),
            deletes_sent: count(calls.iter().filter(|c| c.method == Method::Delete).count()),
        }
    }

    /// What the calls say about the attempt as a whole (see [`Ambiguity`]).
    pub fn ambiguity(&self) -> Ambiguity {
        ambiguity(&self.lock())
    }
}

/// Whether an attempt met an unknown outcome, and whether a read after it settled the question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ambiguity {
    /// No call had an unknown outcome.
    None,
    /// A call had an unknown outcome and a later read was answered 2xx: the node looked for
    /// what the call may have made (create recovery).
    Checked,
    /// A call had an unknown outcome and nothing the node did afterwards settled it.
    Unresolved,
}

fn ambiguity(calls: &[CallRecord]) -> Ambiguity {
    let Some(last_unknown) = calls
        .iter()
        .rposition(|c| c.outcome == CallOutcome::Unknown)
    else {
        return Ambiguity::None;
    };
    let checked = calls[last_unknown + 1..].iter().any(|c| {
        c.method == Method::Get && matches!(c.outcome, CallOutcome::Answered(s) if (200..300).contains(&s))
    });
    if checked {
        Ambiguity::Checked
    } else {
        Ambiguity::Unresolved
    }
}

/// How a finished request ended, from the method and what the transport gave back. A 502 or
/// 504 to a non-GET is a gateway speaking for a server that may have applied the request.
pub fn outcome_of(method: Method, answered: Option<u16>, unknown: bool) -> CallOutcome {
    match answered {
        Some(502 | 504) if method != Method::Get => CallOutcome::Unknown,
        Some(status) => CallOutcome::Answered(status),
        None if unknown && method != Method::Get => CallOutcome::Unknown,
        None => CallOutcome::NotApplied,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(calls: &[(Method, CallOutcome)]) -> CallLog {
        let log = CallLog::new();
        for (m, o) in calls {
            let i = log.start(*m, "/Client").unwrap();
            log.finish(i, *o);
        }
        log
    }

    #[test]
    fn a_cut_off_post_stays_unknown() {
        let log = CallLog::new();
        log.start(Method::Post, "/Client").unwrap();
        assert_eq!(log.calls()[0].outcome, CallOutcome::Unknown);
        assert_eq!(log.ambiguity(), Ambiguity::Unresolved);
        let get = log.start(Method::Get, "/Client").unwrap();
        assert_eq!(log.calls()[1].outcome, CallOutcome::NotApplied);
        log.finish(get, CallOutcome::Answered(200));
        assert_eq!(log.ambiguity(), Ambiguity::Checked);
    }

    #[test]
    fn only_a_successful_read_after_the_unknown_call_settles_it() {
        use CallOutcome::*;
        assert_eq!(
            log_of(&[(Method::Get, Answered(200)), (Method::Post, Answered(201))]).ambiguity(),
            Ambiguity::None
        );
        assert_eq!(
            log_of(&[(Method::Get, Answered(200)), (Method::Post, Unknown)]).ambiguity(),
            Ambiguity::Unresolved
        );
        assert_eq!(
            log_of(&[(Method::Post, Unknown), (Method::Get, Answered(503))]).ambiguity(),
            Ambiguity::Unresolved
        );
        assert_eq!(
            log_of(&[(Method::Post, Unknown), (Method::Get, NotApplied)]).ambiguity(),
            Ambiguity::Unresolved
        );
        assert_eq!(
            log_of(&[(Method::Post, Unknown), (Method::Get, Answered(200))]).ambiguity(),
            Ambiguity::Checked
        );
        assert_eq!(
            log_of(&[
                (Method::Post, Unknown),
                (Method::Get, Answered(200)),
                (Method::Post, Unknown)
            ])
            .ambiguity(),
            Ambiguity::Unresolved
        );
    }

    #[test]
    fn gateway_errors_on_writes_are_unknown() {
        assert_eq!(outcome_of(Method::Post, Some(502), false), CallOutcome::Unknown);
        assert_eq!(outcome_of(Method::Delete, Some(504), false), CallOutcome::Unknown);
        assert_eq!(outcome_of(Method::Get, Some(504), false), CallOutcome::Answered(504));
        assert_eq!(outcome_of(Method::Post, Some(503), false), CallOutcome::Answered(503));
        assert_eq!(outcome_of(Method::Post, None, true), CallOutcome::Unknown);
        assert_eq!(outcome_of(Method::Get, None, true), CallOutcome::NotApplied);
        assert_eq!(outcome_of(Method::Post, None, false), CallOutcome::NotApplied);
    }

    #[test]
    fn the_log_is_bounded() {
        let log = CallLog::new();
        for _ in 0..MAX_CALLS + 10 {
            let i = log.start(Method::Get, "/Client").unwrap();
            log.finish(i, CallOutcome::Answered(200));
        }
        assert_eq!(log.calls().len(), MAX_CALLS);
    }

    #[test]
    fn a_closed_log_keeps_its_calls_and_lets_none_start() {
        let log = CallLog::new();
        let post = log.start(Method::Post, "/Client").unwrap();
        let reader = log.clone();
        reader.close();
        assert_eq!(log.start(Method::Get, "/Client"), Err(LogClosed));
        // A call started before the close is still finished and read.
        log.finish(post, CallOutcome::Answered(201));
        assert_eq!(reader.calls().len(), 1);
        assert_eq!(reader.calls()[0].outcome, CallOutcome::Answered(201));
    }
}
