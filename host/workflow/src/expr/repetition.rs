//! `*` in expressions, checked. minijinja repeats a list lazily and without a bound:
//! `[0] * 10**15` is one instruction that makes a sequence of 10^15 items (a length past 2^64
//! wraps around), which `in`, `==` or `~` then walk for hours; expression fuel counts
//! instructions, not that walk. minijinja even folds constant operations while it compiles, so
//! such an expression would hang the check of a workflow before it runs.
//!
//! So no expression is compiled as written: every `a * b` in it is first rewritten, from the
//! spans of the parsed expression, to `psaflow_times(a, b)`. That function refuses a
//! repetition whose result would pass the limits of one expression's result and leaves every
//! other product (numbers, text) to minijinja's own `*`.

use super::{MAX_RESULT_BYTES, MAX_RESULT_ITEMS, within_limits};
use minijinja::machinery::ast::{BinOpKind, CallArg, Expr};
use minijinja::machinery::{Token, WhitespaceConfig, parse_expr, tokenize};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::ValueKind;
use minijinja::{Error, ErrorKind, State, Value};
use std::borrow::Cow;

/// The function every `*` becomes.
pub(super) const FUNCTION: &str = "psaflow_times";

/// `body` with every `a * b` written as `psaflow_times(a, b)`; `body` itself when it has no
/// `*` or does not parse (compiling it then reports the syntax error at its true position).
pub(super) fn checked_source(body: &str) -> Cow<'_, str> {
    if !body.contains('*') {
        return Cow::Borrowed(body);
    }
    let Ok(expr) = parse_expr(body) else {
        return Cow::Borrowed(body);
    };
    let mut wholes = Vec::new();
    find_products(&expr, &mut wholes);
    if wholes.is_empty() {
        return Cow::Borrowed(body);
    }
    let Ok(tokens) = tokenize(body, true, SyntaxConfig, WhitespaceConfig::default())
        .map(|t| t.map(|(token, span)| (token, span.start_offset as usize, span.end_offset as usize)))
        .collect::<Result<Vec<_>, _>>()
    else {
        return Cow::Borrowed(body);
    };
    let mut products: Vec<Product> = wholes
        .into_iter()
        .filter_map(|whole| operator(&tokens, whole).map(|op| Product { whole, op }))
        .collect();
    // Outer products first, so each one's operands can be written with the inner ones rewritten.
    products.sort_by_key(|p| (p.whole.0, std::cmp::Reverse(p.whole.1)));
    Cow::Owned(rewrite(body, (0, body.len()), &products))
}

/// One `a * b`: the byte ranges of the whole product and of its `*`. (The spans minijinja gives
/// a product are exact; those of its operands are not always: a filter's starts at its name.)
struct Product {
    whole: (usize, usize),
    op: (usize, usize),
}

/// The `*` of the product spanning `whole`: the last one outside brackets (`a * b * c` is
/// `(a * b) * c`, and the right operand of a product holds no bare `*`).
fn operator(tokens: &[(Token<'_>, usize, usize)], whole: (usize, usize)) -> Option<(usize, usize)> {
    let mut depth = 0i32;
    let mut found = None;
    for (token, start, end) in tokens {
        if *start < whole.0 || *end > whole.1 {
            continue;
        }
        match token {
            Token::ParenOpen | Token::BracketOpen | Token::BraceOpen => depth += 1,
            Token::ParenClose | Token::BracketClose | Token::BraceClose => depth -= 1,
            Token::Mul if depth == 0 => found = Some((*start, *end)),
            _ => {}
        }
    }
    found
}

/// The text of `within`, with the outermost products inside it rewritten (and theirs, in turn).
fn rewrite(body: &str, within: (usize, usize), products: &[Product]) -> String {
    let mut out = String::new();
    let mut at = within.0;
    for p in products {
        if p.whole.0 < at || p.whole.1 > within.1 {
            continue; // outside `within`, or inside a product already written
        }
        out.push_str(&body[at..p.whole.0]);
        out.push_str(FUNCTION);
        out.push('(');
        out.push_str(rewrite(body, (p.whole.0, p.op.0), products).trim_end());
        out.push_str(", ");
        out.push_str(rewrite(body, (p.op.1, p.whole.1), products).trim_start());
        out.push(')');
        at = p.whole.1;
    }
    out.push_str(&body[at..within.1]);
    out
}

fn find_products(expr: &Expr<'_>, out: &mut Vec<(usize, usize)>) {
    let mut visit = |e: &Expr<'_>| find_products(e, out);
    match expr {
        Expr::Var(_) | Expr::Const(_) => {}
        Expr::Slice(s) => {
            visit(&s.expr);
            for part in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                visit(part);
            }
        }
        Expr::UnaryOp(u) => visit(&u.expr),
        Expr::BinOp(b) => {
            visit(&b.left);
            visit(&b.right);
            if matches!(b.op, BinOpKind::Mul) {
                let span = expr.span();
                out.push((span.start_offset as usize, span.end_offset as usize));
            }
        }
        Expr::Compare(c) => {
            visit(&c.expr);
            for op in &c.ops {
                visit(&op.expr);
            }
        }
        Expr::IfExpr(i) => {
            visit(&i.test_expr);
            visit(&i.true_expr);
            if let Some(e) = &i.false_expr {
                visit(e);
            }
        }
        Expr::Filter(f) => {
            if let Some(e) = &f.expr {
                visit(e);
            }
            args(&f.args, out);
        }
        Expr::Test(t) => {
            visit(&t.expr);
            args(&t.args, out);
        }
        Expr::GetAttr(g) => visit(&g.expr),
        Expr::GetItem(g) => {
            visit(&g.expr);
            visit(&g.subscript_expr);
        }
        Expr::Call(c) => {
            visit(&c.expr);
            args(&c.args, out);
        }
        Expr::List(l) => l.items.iter().for_each(visit),
        Expr::Map(m) => m.keys.iter().chain(&m.values).for_each(visit),
    }
}

fn args(args: &[CallArg<'_>], out: &mut Vec<(usize, usize)>) {
    for arg in args {
        match arg {
            CallArg::Pos(e) | CallArg::Kwarg(_, e) | CallArg::PosSplat(e) | CallArg::KwargSplat(e) => {
                find_products(e, out);
            }
        }
    }
}

/// `a * b`: a list repeated, within the limits of one expression's result (counting the
/// items nested in it), made at once; anything else as minijinja's `*` makes it.
pub(super) fn times(state: &State, a: Value, b: Value) -> Result<Value, Error> {
    let sequence = |v: &Value| matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable);
    let (list, count) = match (sequence(&a), sequence(&b)) {
        (true, false) => (&a, &b),
        (false, true) => (&b, &a),
        _ => {
            let text = a.as_str().map(|t| (t, &b)).or_else(|| b.as_str().map(|t| (t, &a)));
            if let Some((text, n)) = text
                && let Some(n) = n.as_usize()
                && text.len().saturating_mul(n) > MAX_RESULT_BYTES
            {
                return Err(too_large(&format!(
                    "repeating text of {} bytes {n} times would make text larger than {} MiB",
                    text.len(),
                    MAX_RESULT_BYTES >> 20
                )));
            }
            return native_product(state, a, b);
        }
    };
    let Some(n) = count.as_usize() else {
        return native_product(state, a, b); // minijinja's own error
    };
    // Every item of the list, nested ones included, is there `n` times over.
    let held = within_limits(list).map_err(|message| Error::new(ErrorKind::InvalidOperation, message))?;
    if held.saturating_mul(n) > MAX_RESULT_ITEMS {
        return Err(too_large(&format!(
            "repeating {held} list items {n} times would make more than {MAX_RESULT_ITEMS} list items or map entries"
        )));
    }
    let items: Vec<Value> = list.try_iter()?.collect();
    if items.is_empty() {
        // Nothing to repeat, however many times (and `n` may be 10^18).
        return Ok(Value::from(items));
    }
    let mut repeated = Vec::with_capacity(items.len() * n);
    for _ in 0..n {
        repeated.extend(items.iter().cloned());
    }
    Ok(Value::from(repeated))
}

/// minijinja's own `a * b`, for the products that cannot grow without bound.
fn native_product(state: &State, a: Value, b: Value) -> Result<Value, Error> {
    let product = state.env().compile_expression("a * b")?;
    product.eval(minijinja::context! { a => a, b => b })
}

fn too_large(what: &str) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("{what} (psaflow's limit for one expression)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::text::eval_body;
    use serde_json::json;

    #[test]
    fn every_product_is_rewritten_and_nothing_else_is_touched() {
        for (body, expected) in [
            ("a + b", "a + b"),
            // `**` is a power, not a product.
            ("a ** 2", "a ** 2"),
            ("a * b", "psaflow_times(a, b)"),
            ("(a + 1) * b", "psaflow_times((a + 1), b)"),
            ("x | list * 2", "psaflow_times(x | list, 2)"),
            ("(x) * (2)", "psaflow_times((x), (2))"),
            ("'*' * 2", "psaflow_times('*', 2)"),
            ("a * b * c", "psaflow_times(psaflow_times(a, b), c)"),
            ("x | map('string') | join('*')", "x | map('string') | join('*')"),
            ("[1, 2] * n if ok else f(x * 2)", "psaflow_times([1, 2], n) if ok else f(psaflow_times(x, 2))"),
            ("a *", "a *"),
        ] {
            assert_eq!(checked_source(body), expected, "{body}");
        }
    }

    #[test]
    fn products_keep_minijinja_s_results() {
        let context = json!({"inputs": {"n": 3, "hours": 1.5, "items": [1, 2]}});
        for (body, expected) in [
            ("2 * 3", json!(6)),
            ("inputs.hours * 60", json!(90.0)),
            ("inputs.n * inputs.n * 2", json!(18)),
            ("'ab' * 2", json!("abab")),
            ("inputs.items * 2", json!([1, 2, 1, 2])),
            ("2 * inputs.items", json!([1, 2, 1, 2])),
            ("(range(3) * 2) | list", json!([0, 1, 2, 0, 1, 2])),
            ("[[1, 2]] * 2", json!([[1, 2], [1, 2]])),
            ("(inputs.n * 2) ** 2", json!(36)),
            ("([] * 1000000000000000000) | length", json!(0)),
        ] {
            assert_eq!(eval_body(body, &context).unwrap(), expected, "{body}");
        }
        let err = eval_body("inputs.items * 'x'", &context).unwrap_err();
        assert!(err.contains("integer") || err.contains("unable"), "{err}");
    }

    #[test]
    fn a_huge_repetition_is_refused_before_it_is_made_or_walked() {
        let context = json!({"inputs": {"items": [1, 2, 3]}});
        for body in [
            "1 in ([0] * 1000000000000000)",
            "([0] * 1000000000000000) == ([0] * 1000000000000000)",
            // 3 x 9e18 does not fit in 64 bits: minijinja's own length would wrap around.
            "(inputs.items * 9000000000000000000) ~ 'x'",
            "([1, 2, 3] * 1000000000000) | unique",
            "([range(1000)] * 2000) | length",
            "'x' * 40000000",
            "40000000 * 'x'",
        ] {
            let err = eval_body(body, &context).unwrap_err();
            assert!(err.contains("psaflow's limit for one expression"), "{body}: {err}");
        }
    }
}
