//! Minijinja's filters that walk a whole sequence (`unique`, `sort`, `join`, `list`, ...), put
//! behind a size check. Expression fuel counts VM instructions, not the work done inside one
//! filter call, and `[0] * 1000000000000` is a single instruction that makes a lazy sequence of
//! a trillion items: `| unique` over it would run for hours, `| list` would take the host's
//! memory. Each filter here first measures its arguments, nested values included, counting
//! item by item (the limits of one expression's result, `MAX_RESULT_ITEMS` and
//! `MAX_RESULT_BYTES`), and refuses them before the filter itself starts.
//!
//! The original filter stays registered under a name an expression cannot spell (`unique#all`),
//! and the checked one, under the usual name, hands the counted arguments to it.

use super::within_limits;
use minijinja::value::Rest;
use minijinja::{Environment, Error, ErrorKind, State, Value};

/// Registers the checked filters in `env`, in place of minijinja's own.
pub(super) fn install(env: &mut Environment<'static>) {
    macro_rules! checked {
        ($($name:ident),* $(,)?) => {$(
            env.add_filter(concat!(stringify!($name), "#all"), minijinja::filters::$name);
            env.add_filter(stringify!($name), |state: &State, args: Rest<Value>| {
                call_measured(state, concat!(stringify!($name), "#all"), args)
            });
        )*};
    }
    // Every built-in filter that goes through all items of a sequence or map, or turns one into
    // text (which also goes through all of it). `length`, `first`, `default` and the number
    // filters do not, and stay as they are.
    checked!(
        batch, capitalize, chain, dictsort, escape, format, groupby, items, join, last, list, lower,
        map, max, min, pprint, reject, rejectattr, replace, reverse, select, selectattr, slice,
        sort, string, sum, title, tojson, trim, unique, upper, zip,
    );
}

/// Calls the filter `all` once every argument was measured, nested values included.
fn call_measured(state: &State, all: &str, args: Rest<Value>) -> Result<Value, Error> {
    for arg in args.iter() {
        within_limits(arg).map_err(|message| Error::new(ErrorKind::InvalidOperation, message))?;
    }
    state.apply_filter(all, &args)
}

#[cfg(test)]
mod tests {
    use super::super::text::eval_body;
    use serde_json::json;

    #[test]
    fn a_filter_over_values_past_the_limit_is_refused_before_it_walks_them() {
        // One item past the limit; `*` cannot make such a list any more (repetition.rs), but
        // inputs and earlier steps can hold one.
        let big: Vec<u32> = (0..=1_000_000).collect();
        let context = json!({"inputs": {"big": big, "part": &big[..600_000]}});
        for body in [
            "inputs.big | unique",
            "inputs.big | sort",
            "inputs.big | join(',')",
            "inputs.big | map('string') | first",
            "inputs.big | selectattr('x')",
            // Nested: two lists of 600,000 are 1,200,000 items together.
            "[inputs.part, inputs.part] | tojson",
            "[1, inputs.big] | upper",
        ] {
            let err = eval_body(body, &context).unwrap_err();
            assert!(err.contains("more than 1000000 list items"), "{body}: {err}");
        }
    }

    #[test]
    fn checked_filters_keep_their_arguments_and_results() {
        let context = json!({"inputs": {"names": ["b", "A", "a"], "agents": [{"id": 2, "on": true}, {"id": 1, "on": false}]}});
        for (body, expected) in [
            ("inputs.names | unique | list", json!(["b", "A"])),
            ("inputs.names | unique(case_sensitive=true) | list", json!(["b", "A", "a"])),
            ("inputs.names | sort(case_sensitive=true) | join('-')", json!("A-a-b")),
            ("inputs.agents | selectattr('on') | map(attribute='id') | list", json!([2])),
            ("(range(3) * 2) | list", json!([0, 1, 2, 0, 1, 2])),
            ("range(5) | sum", json!(10)),
            ("inputs.names | length", json!(3)),
            ("'x' | upper", json!("X")),
        ] {
            assert_eq!(eval_body(body, &context).unwrap(), expected, "{body}");
        }
    }

    #[test]
    fn the_unchecked_filters_cannot_be_named_in_an_expression() {
        let err = eval_body("[1] | unique#all", &json!({})).unwrap_err();
        assert!(err.contains("syntax error") || err.contains("unexpected"), "{err}");
    }
}
