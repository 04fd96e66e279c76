//! Holds on runs executed outside the run queue: the rule both backends apply inside their
//! transaction, once, here. The SQL is in `sqlite/holds.rs` and `pg_holds.rs`.
use crate::model::RunHold;

/// Whether `holder` may (re)take a run whose current hold is `current`, at `now`: when
/// nobody holds it, it already does, the hold ran out, or the caller knows the holder is
/// gone (`take_over` names exactly that holder).
pub(crate) fn may_hold(
    current: Option<&RunHold>,
    holder: &str,
    now: i64,
    take_over: Option<&str>,
) -> bool {
    match current {
        None => true,
        Some(hold) => {
            hold.holder == holder || hold.until <= now || take_over == Some(hold.holder.as_str())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(holder: &str, until: i64) -> RunHold {
        RunHold {
            holder: holder.into(),
            until,
        }
    }

    #[test]
    fn a_live_hold_of_another_process_is_kept() {
        assert!(may_hold(None, "a", 10, None));
        assert!(may_hold(Some(&hold("a", 100)), "a", 10, None), "renewal");
        assert!(!may_hold(Some(&hold("b", 100)), "a", 10, None));
        assert!(may_hold(Some(&hold("b", 100)), "a", 100, None), "ran out");
        assert!(
            may_hold(Some(&hold("b", 100)), "a", 10, Some("b")),
            "b is gone"
        );
        assert!(
            !may_hold(Some(&hold("c", 100)), "a", 10, Some("b")),
            "c took it since"
        );
    }
}
