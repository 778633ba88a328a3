//! `eval`/`where` expressions: compiled once at plan time, evaluated per result row.
//!
//! Semantics follow Splunk's eval: comparisons are case-sensitive and numeric when both sides
//! are numbers; null propagates through arithmetic and string functions; AND/OR treat null as
//! false; a `where` keeps a row only when its expression is true.

use crate::error::PlanError;
use crate::expr::functions::{self, Arg, Func};
use crate::expr::value::{EvalRef, EvalValue, Operand, Scope};
use regex::Regex;
use vigil_model::LazyRegex;
use vigil_spl::ast::{BinaryOp, Expr, Span, UnaryOp};

/// A compiled expression.
#[derive(Clone, Debug)]
pub enum CExpr {
    Lit(EvalValue),
    Field(String),
    Call(Func, Vec<CExpr>),
    /// A literal regular expression argument, checked at plan time, compiled at first use.
    Regex(LazyRegex),
    Unary(UnaryOp, Box<CExpr>),
    Binary(BinaryOp, Box<CExpr>, Box<CExpr>),
}

impl CExpr {
    /// Compiles an expression; unknown functions and bad literal regexes are plan errors.
    pub fn compile(e: &Expr) -> Result<CExpr, PlanError> {
        Ok(match e {
            Expr::Str(s) => CExpr::Lit(EvalValue::Str(s.clone())),
            Expr::Num(n) => CExpr::Lit(EvalValue::Num(*n)),
            Expr::Bool(b) => CExpr::Lit(EvalValue::Bool(*b)),
            Expr::Field(f) => CExpr::Field(f.clone()),
            Expr::Unary { op, expr } => CExpr::Unary(*op, Box::new(CExpr::compile(expr)?)),
            Expr::Binary { op, lhs, rhs } => CExpr::Binary(*op, Box::new(CExpr::compile(lhs)?), Box::new(CExpr::compile(rhs)?)),
            Expr::Call { name, args, span } => compile_call(name, args, *span)?,
        })
    }

    pub fn eval(&self, scope: &Scope) -> EvalValue {
        match self {
            CExpr::Lit(v) => v.clone(),
            CExpr::Field(f) => scope.field(f),
            CExpr::Regex(_) => EvalValue::Null,
            CExpr::Unary(UnaryOp::Not, e) => match e.eval(scope) {
                EvalValue::Bool(b) => EvalValue::Bool(!b),
                EvalValue::Null => EvalValue::Null,
                _ => EvalValue::Null,
            },
            CExpr::Unary(UnaryOp::Neg, e) => match e.eval(scope).as_num() {
                Some(n) => EvalValue::Num(-n),
                None => EvalValue::Null,
            },
            CExpr::Binary(op, l, r) => binary(*op, l, r, scope),
            CExpr::Call(f, args) => functions::call(*f, args, scope),
        }
    }

    /// The value for reading only: a field's or a literal's text is borrowed, not copied.
    pub fn operand<'a>(&'a self, scope: &'a Scope) -> Operand<'a> {
        match self {
            CExpr::Lit(v) => Operand::Borrowed(v.as_ref()),
            CExpr::Field(f) => Operand::Borrowed(scope.field_ref(f)),
            other => Operand::Owned(other.eval(scope)),
        }
    }

    /// Whether the value depends only on the row: no clock (`now()`), no time zone.
    pub fn is_pure(&self) -> bool {
        match self {
            CExpr::Call(f, args) => {
                !matches!(f, Func::Now | Func::Time | Func::RelativeTime | Func::Strftime | Func::Strptime)
                    && args.iter().all(CExpr::is_pure)
            }
            CExpr::Unary(_, e) => e.is_pure(),
            CExpr::Binary(_, l, r) => l.is_pure() && r.is_pure(),
            _ => true,
        }
    }

    /// Field names the expression reads (for `mvfilter`, which binds the one it filters).
    pub fn fields(&self, out: &mut Vec<String>) {
        match self {
            CExpr::Field(f) => out.push(f.clone()),
            CExpr::Call(_, args) => args.iter().for_each(|a| a.fields(out)),
            CExpr::Unary(_, e) => e.fields(out),
            CExpr::Binary(_, l, r) => {
                l.fields(out);
                r.fields(out);
            }
            _ => {}
        }
    }
}

impl Arg for CExpr {
    fn eval(&self, scope: &Scope) -> EvalValue {
        CExpr::eval(self, scope)
    }

    fn operand<'a>(&'a self, scope: &'a Scope) -> Operand<'a> {
        CExpr::operand(self, scope)
    }

    fn literal_regex(&self) -> Option<&Regex> {
        match self {
            CExpr::Regex(re) => Some(re.get()),
            _ => None,
        }
    }

    fn fields(&self, out: &mut Vec<String>) {
        CExpr::fields(self, out)
    }
}

fn compile_call(name: &str, args: &[Expr], span: Span) -> Result<CExpr, PlanError> {
    let func = Func::from_name(name).ok_or_else(|| PlanError::UnsupportedFunction { name: name.to_string(), span })?;
    let (min, max) = func.arity();
    if args.len() < min || args.len() > max {
        return Err(PlanError::Invalid {
            message: format!("function `{name}` takes {} arguments, got {}", arity_text(min, max), args.len()),
            span,
        });
    }
    let mut compiled = Vec::with_capacity(args.len());
    for (i, a) in args.iter().enumerate() {
        match (func.regex_arg(), a) {
            (Some(ri), Expr::Str(pattern)) if ri == i => {
                let re = crate::expr::regex::compile_regex(pattern, span)?;
                compiled.push(CExpr::Regex(re));
            }
            _ => compiled.push(CExpr::compile(a)?),
        }
    }
    Ok(CExpr::Call(func, compiled))
}

fn arity_text(min: usize, max: usize) -> String {
    if min == max {
        min.to_string()
    } else if max == usize::MAX {
        format!("at least {min}")
    } else {
        format!("{min} to {max}")
    }
}

fn binary(op: BinaryOp, l: &CExpr, r: &CExpr, scope: &Scope) -> EvalValue {
    use BinaryOp::*;
    match op {
        And => {
            let a = l.eval(scope);
            if matches!(a, EvalValue::Bool(false)) {
                return EvalValue::Bool(false);
            }
            let b = r.eval(scope);
            EvalValue::Bool(a.truthy() && b.truthy())
        }
        Or => {
            let a = l.eval(scope);
            if a.truthy() {
                return EvalValue::Bool(true);
            }
            EvalValue::Bool(r.eval(scope).truthy())
        }
        Xor => EvalValue::Bool(l.eval(scope).truthy() ^ r.eval(scope).truthy()),
        Eq | Ne | Lt | Le | Gt | Ge => {
            let (a, b) = (l.operand(scope), r.operand(scope));
            compare_refs(op, a.get(), b.get())
        }
        Like => {
            let (a, b) = (l.operand(scope), r.operand(scope));
            match (a.get().as_text(), b.get().as_text()) {
                (Some(s), Some(p)) => EvalValue::Bool(functions::like(&s, &p)),
                _ => EvalValue::Null,
            }
        }
        Concat => {
            let (a, b) = (l.eval(scope), r.eval(scope));
            match (a.as_text(), b.as_text()) {
                (Some(x), Some(y)) => EvalValue::Str(x + &y),
                _ => EvalValue::Null,
            }
        }
        Add => {
            let (a, b) = (l.eval(scope), r.eval(scope));
            match (a.as_num(), b.as_num()) {
                (Some(x), Some(y)) => EvalValue::Num(x + y),
                // `+` concatenates when either side is not a number, as in Splunk.
                _ => match (a.as_text(), b.as_text()) {
                    (Some(x), Some(y)) => EvalValue::Str(x + &y),
                    _ => EvalValue::Null,
                },
            }
        }
        Sub | Mul | Div | Mod => {
            let (a, b) = (l.eval(scope).as_num(), r.eval(scope).as_num());
            match (a, b) {
                (Some(x), Some(y)) => match op {
                    Sub => EvalValue::Num(x - y),
                    Mul => EvalValue::Num(x * y),
                    Div if y != 0.0 => EvalValue::Num(x / y),
                    Mod if y != 0.0 => EvalValue::Num(x % y),
                    _ => EvalValue::Null,
                },
                _ => EvalValue::Null,
            }
        }
    }
}

/// Comparison: numeric when both sides are numbers, else case-sensitive text; null -> null.
/// A multivalue compares true when any item does.
pub fn compare_refs(op: BinaryOp, a: EvalRef, b: EvalRef) -> EvalValue {
    if a.is_null() || b.is_null() {
        return EvalValue::Null;
    }
    if let EvalRef::Multi(items) = a {
        let hit = items.iter().any(|i| compare_refs(op, EvalRef::Str(i), b).truthy());
        return EvalValue::Bool(hit);
    }
    let ord = match (a.as_num(), b.as_num()) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => match (a.as_text(), b.as_text()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => None,
        },
    };
    let Some(ord) = ord else { return EvalValue::Null };
    use std::cmp::Ordering::*;
    EvalValue::Bool(match op {
        BinaryOp::Eq => ord == Equal,
        BinaryOp::Ne => ord != Equal,
        BinaryOp::Lt => ord == Less,
        BinaryOp::Le => ord != Greater,
        BinaryOp::Gt => ord == Greater,
        BinaryOp::Ge => ord != Less,
        _ => return EvalValue::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::value::EvalContext;
    use vigil_model::{Record, Value};

    /// Reading an operand borrowed gives what evaluating it gives, for every kind of value, and
    /// comparisons and `match`/`in`/`isnull` over them stay as before.
    #[test]
    fn borrowed_operands_read_as_evaluated_values() {
        let mut row = Record::default();
        row.push_new("s".into(), Value::Str("Abc.DLL".into()));
        row.push_new("n".into(), Value::Num(7.0));
        row.push_new("t".into(), Value::Str("7".into()));
        row.push_new("m".into(), Value::Multi(vec!["x".into(), "7".into()]));
        let ctx = EvalContext { now: 0, tz: vigil_time::Tz::utc() };
        let field = |f: &str| Expr::Field(f.into());
        let call = |name: &str, args: Vec<Expr>| Expr::Call { name: name.into(), args, span: Span::default() };
        let operands = [
            field("s"),
            field("n"),
            field("t"),
            field("m"),
            field("absent"),
            Expr::Str("7".into()),
            Expr::Num(7.0),
            Expr::Bool(true),
            call("lower", vec![field("s")]),
        ];
        for bound in [None, Some(("s", "bound"))] {
            let scope = Scope { row: &row, bound, ctx: &ctx };
            for e in &operands {
                let c = CExpr::compile(e).unwrap();
                assert_eq!(c.operand(&scope).get(), c.eval(&scope).as_ref(), "{e:?}");
            }
        }
        let scope = Scope { row: &row, bound: None, ctx: &ctx };
        let eval = |e: Expr| CExpr::compile(&e).unwrap().eval(&scope);
        let bin = |op, l: Expr, r: Expr| Expr::Binary { op, lhs: Box::new(l), rhs: Box::new(r) };
        assert_eq!(eval(bin(BinaryOp::Eq, field("n"), field("t"))), EvalValue::Bool(true), "numbers compare as numbers");
        assert_eq!(eval(bin(BinaryOp::Eq, field("m"), Expr::Num(7.0))), EvalValue::Bool(true), "any item of a multivalue");
        assert_eq!(eval(bin(BinaryOp::Lt, field("s"), Expr::Str("abc".into()))), EvalValue::Bool(true), "text, case-sensitive");
        assert_eq!(eval(bin(BinaryOp::Eq, field("absent"), Expr::Str("".into()))), EvalValue::Null);
        assert_eq!(eval(call("match", vec![field("s"), Expr::Str("c\\.DLL$".into())])), EvalValue::Bool(true));
        assert_eq!(eval(call("match", vec![field("n"), Expr::Str("^7$".into())])), EvalValue::Bool(true));
        assert_eq!(eval(call("match", vec![field("absent"), Expr::Str("x".into())])), EvalValue::Null);
        assert_eq!(eval(call("in", vec![field("m"), Expr::Str("y".into()), Expr::Num(7.0)])), EvalValue::Bool(true));
        assert_eq!(eval(call("isnull", vec![field("absent")])), EvalValue::Bool(true));
        assert_eq!(eval(call("isnotnull", vec![field("m")])), EvalValue::Bool(true));
        assert_eq!(eval(call("len", vec![field("n")])), EvalValue::Num(1.0));
        assert_eq!(eval(call("like", vec![field("s"), Expr::Str("Abc%".into())])), EvalValue::Bool(true));
    }
}
