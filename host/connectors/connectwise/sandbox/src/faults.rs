//! Switchable faults, so retry and error paths can be tested against a server that misbehaves
//! on cue. They act on API calls only, in this order: latency, a connection dropped before the
//! request is handled, a forced status, the credential checks, the handler, and a connection
//! dropped after the handler committed its change.

use std::sync::Mutex;
use std::time::Duration;

use crate::lock;

/// A forced answer for the next API calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ForcedStatus {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<u64>,
}

#[derive(Debug, Default)]
struct State {
    latency: Duration,
    forced: Option<ForcedStatus>,
    forced_times: u32,
    drops_before: u32,
    drops_after: u32,
}

/// The sandbox's switchable faults; setters take `&self` and act from the next request.
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<State>,
}

impl Faults {
    /// Delays every API call by `latency` (zero turns it off), to exercise client time-outs.
    pub fn set_latency(&self, latency: Duration) {
        lock(&self.state).latency = latency;
    }

    /// The next `times` API calls are answered `status` with a ConnectWise error body and no
    /// change, with `Retry-After: <seconds>` when given (429 and 503). `times == 0` cancels.
    pub fn fail_next(&self, status: u16, times: u32, retry_after: Option<u64>) {
        let mut state = lock(&self.state);
        state.forced = Some(ForcedStatus {
            status,
            retry_after,
        });
        state.forced_times = times;
    }

    /// The next `n` API calls lose their connection before the server handles them: nothing
    /// changes, and the client gets no answer.
    pub fn drop_next_connections(&self, n: u32) {
        let mut state = lock(&self.state);
        state.drops_before = state.drops_before.saturating_add(n);
    }

    /// The next `n` API calls are handled in full (a create is stored, a patch applied) and
    /// then lose their connection before the answer is sent: the ambiguous outcome.
    pub fn drop_next_after_commit(&self, n: u32) {
        let mut state = lock(&self.state);
        state.drops_after = state.drops_after.saturating_add(n);
    }

    /// Turns every fault off.
    pub fn reset(&self) {
        *lock(&self.state) = State::default();
    }

    pub(crate) fn latency(&self) -> Duration {
        lock(&self.state).latency
    }

    pub(crate) fn take_drop_before(&self) -> bool {
        take(&mut lock(&self.state).drops_before)
    }

    pub(crate) fn take_drop_after(&self) -> bool {
        take(&mut lock(&self.state).drops_after)
    }

    pub(crate) fn take_forced_status(&self) -> Option<ForcedStatus> {
        let mut state = lock(&self.state);
        if take(&mut state.forced_times) {
            state.forced
        } else {
            None
        }
    }
}

fn take(counter: &mut u32) -> bool {
    if *counter > 0 {
        *counter -= 1;
        true
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_run_down_and_reset_clears() {
        let faults = Faults::default();
        faults.fail_next(429, 2, Some(3));
        faults.drop_next_connections(1);
        faults.drop_next_after_commit(1);
        let forced = Some(ForcedStatus {
            status: 429,
            retry_after: Some(3),
        });
        assert_eq!(faults.take_forced_status(), forced);
        assert_eq!(faults.take_forced_status(), forced);
        assert_eq!(faults.take_forced_status(), None);
        assert!(faults.take_drop_before() && !faults.take_drop_before());
        faults.set_latency(Duration::from_millis(3));
        faults.reset();
        assert!(!faults.take_drop_after());
        assert_eq!(faults.latency(), Duration::ZERO);
    }
}
