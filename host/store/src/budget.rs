//! A request budget shared through the store (`request_budgets`, one row per connection):
//! the same sliding window as the in-process budget (`psaflow_core::WindowBudget`) — at most
//! `allowed` sends in any span, `allowed` halved by a 429 and grown back by one per answered
//! request — kept in a row that every worker updates in a transaction holding the row's lock.
//! The backends load and save the row; the rules are here, once.
use crate::model::{SharedLimit, SlotAnswer};
use crate::store::{StoreError, StoreResult};

/// The stored state of one connection's budget.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BudgetRow {
    pub allowed: u32,
    pub paused_until: i64,
    /// Send times (ms) within the last span, oldest first.
    pub sent: Vec<i64>,
}

impl BudgetRow {
    pub fn new(limit: SharedLimit) -> BudgetRow {
        BudgetRow {
            allowed: limit.requests.max(1),
            paused_until: 0,
            sent: Vec::new(),
        }
    }

    pub fn sent_json(&self) -> String {
        serde_json::to_string(&self.sent).expect("numbers")
    }

    pub fn parse_sent(text: &str) -> StoreResult<Vec<i64>> {
        serde_json::from_str(text)
            .map_err(|e| StoreError::Corrupt(format!("request budget send times: {e}")))
    }
}

/// Takes a slot at `now`, or says how long to wait.
pub(crate) fn take(row: &mut BudgetRow, limit: SharedLimit, now: i64) -> SlotAnswer {
    row.allowed = row.allowed.clamp(1, limit.requests.max(1));
    row.sent.retain(|t| now - t < limit.per_ms);
    if now < row.paused_until {
        return SlotAnswer {
            wait_ms: Some(row.paused_until - now),
            allowed: row.allowed,
        };
    }
    if row.sent.len() < row.allowed as usize {
        row.sent.push(now);
        return SlotAnswer {
            wait_ms: None,
            allowed: row.allowed,
        };
    }
    // Full: the oldest send leaves the window first (with `allowed` just halved, more sends
    // than allowed may be in it; waiting for the oldest repeats until enough have left).
    let oldest = row.sent.first().copied().unwrap_or(now);
    SlotAnswer {
        wait_ms: Some((oldest + limit.per_ms - now).max(1)),
        allowed: row.allowed,
    }
}

/// A 429: half the sends per span, none before `now + pause_ms`.
pub(crate) fn throttled(row: &mut BudgetRow, pause_ms: i64, now: i64) {
    row.allowed = (row.allowed / 2).max(1);
    row.paused_until = row.paused_until.max(now + pause_ms.max(0));
}

/// An answered request: one more send per span, up to the limit.
pub(crate) fn succeeded(row: &mut BudgetRow, limit: SharedLimit) {
    row.allowed = (row.allowed + 1).min(limit.requests.max(1));
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: SharedLimit = SharedLimit {
        requests: 3,
        per_ms: 1000,
    };

    #[test]
    fn at_most_the_limit_in_any_span() {
        let mut row = BudgetRow::new(LIMIT);
        for t in [0, 10, 20] {
            assert_eq!(take(&mut row, LIMIT, t).wait_ms, None);
        }
        assert_eq!(take(&mut row, LIMIT, 30).wait_ms, Some(970));
        assert_eq!(
            take(&mut row, LIMIT, 1000).wait_ms,
            None,
            "the first send left"
        );
        assert_eq!(take(&mut row, LIMIT, 1001).wait_ms, Some(9));
    }

    #[test]
    fn a_429_halves_and_pauses_then_successes_grow_back() {
        let mut row = BudgetRow::new(LIMIT);
        throttled(&mut row, 500, 100);
        assert_eq!(row.allowed, 1);
        assert_eq!(take(&mut row, LIMIT, 200).wait_ms, Some(400));
        assert_eq!(take(&mut row, LIMIT, 600).wait_ms, None);
        assert_eq!(
            take(&mut row, LIMIT, 610).wait_ms,
            Some(990),
            "one per span now"
        );
        for _ in 0..10 {
            succeeded(&mut row, LIMIT);
        }
        assert_eq!(row.allowed, 3);
    }
}
