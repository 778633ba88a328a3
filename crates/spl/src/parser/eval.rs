//! `eval`/`where` expressions, by precedence climbing:
//!
//! ```text
//! or    := xor (OR xor)*
//! xor   := and (XOR and)*
//! and   := not (AND not)*
//! not   := NOT not | cmp
//! cmp   := sum ((= | == | != | < | <= | > | >= | LIKE) sum | IN "(" expr, ... ")")*
//! sum   := prod ((+ | - | .) prod)*
//! prod  := neg ((* | / | %) neg)*
//! neg   := - neg | primary
//! primary := number | "string" | 'field' | field | name "(" args ")" | "(" or ")"
//! ```
//! Keywords are case-insensitive here, unlike in search expressions. `x IN (a, b)` becomes the
//! call `in(x, a, b)`, Splunk's equivalent function.

use super::Parser;
use crate::ast::{BinaryOp, Expr, Span, UnaryOp};
use crate::lexer::{Mode, Sym, Tok, Token};
use crate::SplError;

const M: Mode = Mode::Expr;
/// Each eval nesting level costs about a dozen stack frames; count it as several levels.
const EVAL_WEIGHT: usize = 4;

impl Parser<'_> {
    /// A full eval expression.
    pub(crate) fn expr(&mut self) -> Result<Expr, SplError> {
        let t = self.peek(M)?;
        self.enter_weighted(t.span, EVAL_WEIGHT)?;
        let r = self.expr_or();
        self.leave_weighted(EVAL_WEIGHT);
        r
    }

    fn binary_level(
        &mut self,
        next: fn(&mut Self) -> Result<Expr, SplError>,
        op_of: fn(&Token) -> Option<BinaryOp>,
    ) -> Result<Expr, SplError> {
        let mut lhs = next(self)?;
        loop {
            let t = self.peek(M)?;
            let Some(op) = op_of(&t) else { break };
            self.count_operator(t.span)?;
            self.next(M)?;
            if self.peek(M)?.tok == Tok::Eof {
                return Err(SplError::syntax(format!("missing operand after {}", t.describe()), t.span));
            }
            let rhs = next(self)?;
            lhs = Expr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) };
        }
        Ok(lhs)
    }

    fn expr_or(&mut self) -> Result<Expr, SplError> {
        self.binary_level(Self::expr_xor, |t| t.is_keyword("OR").then_some(BinaryOp::Or))
    }

    fn expr_xor(&mut self) -> Result<Expr, SplError> {
        self.binary_level(Self::expr_and, |t| t.is_keyword("XOR").then_some(BinaryOp::Xor))
    }

    fn expr_and(&mut self) -> Result<Expr, SplError> {
        self.binary_level(Self::expr_not, |t| t.is_keyword("AND").then_some(BinaryOp::And))
    }

    fn expr_not(&mut self) -> Result<Expr, SplError> {
        let t = self.peek(M)?;
        if t.is_keyword("NOT") {
            self.next(M)?;
            self.enter_weighted(t.span, EVAL_WEIGHT)?;
            let inner = self.expr_not();
            self.leave_weighted(EVAL_WEIGHT);
            return Ok(Expr::Unary { op: UnaryOp::Not, expr: Box::new(inner?) });
        }
        self.expr_cmp()
    }

    fn expr_cmp(&mut self) -> Result<Expr, SplError> {
        let mut lhs = self.expr_sum()?;
        loop {
            let t = self.peek(M)?;
            let op = match &t.tok {
                Tok::Sym(Sym::Eq) | Tok::Sym(Sym::EqEq) => BinaryOp::Eq,
                Tok::Sym(Sym::Ne) => BinaryOp::Ne,
                Tok::Sym(Sym::Lt) => BinaryOp::Lt,
                Tok::Sym(Sym::Le) => BinaryOp::Le,
                Tok::Sym(Sym::Gt) => BinaryOp::Gt,
                Tok::Sym(Sym::Ge) => BinaryOp::Ge,
                _ if t.is_keyword("LIKE") => BinaryOp::Like,
                _ if t.is_keyword("IN") && self.peek2(M)?.is_sym(Sym::LParen) => {
                    self.count_operator(t.span)?;
                    self.next(M)?;
                    let open = self.next(M)?;
                    let mut args = vec![lhs];
                    args.extend(self.call_args(open.span)?);
                    lhs = Expr::Call { name: "in".into(), args, span: Span::new(t.span.start, self.pos) };
                    continue;
                }
                _ => break,
            };
            self.count_operator(t.span)?;
            self.next(M)?;
            if self.peek(M)?.tok == Tok::Eof {
                return Err(SplError::syntax(format!("missing value after {}", t.describe()), t.span));
            }
            let rhs = self.expr_sum()?;
            lhs = Expr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) };
        }
        Ok(lhs)
    }

    fn expr_sum(&mut self) -> Result<Expr, SplError> {
        self.binary_level(Self::expr_prod, |t| match t.tok {
            Tok::Sym(Sym::Plus) => Some(BinaryOp::Add),
            Tok::Sym(Sym::Minus) => Some(BinaryOp::Sub),
            Tok::Sym(Sym::Dot) => Some(BinaryOp::Concat),
            _ => None,
        })
    }

    fn expr_prod(&mut self) -> Result<Expr, SplError> {
        self.binary_level(Self::expr_neg, |t| match t.tok {
            Tok::Sym(Sym::Star) => Some(BinaryOp::Mul),
            Tok::Sym(Sym::Slash) => Some(BinaryOp::Div),
            Tok::Sym(Sym::Percent) => Some(BinaryOp::Mod),
            _ => None,
        })
    }

    fn expr_neg(&mut self) -> Result<Expr, SplError> {
        let t = self.peek(M)?;
        if t.is_sym(Sym::Minus) || t.is_sym(Sym::Plus) {
            self.next(M)?;
            self.enter_weighted(t.span, EVAL_WEIGHT)?;
            let inner = self.expr_neg();
            self.leave_weighted(EVAL_WEIGHT);
            let inner = inner?;
            if t.is_sym(Sym::Plus) {
                return Ok(inner);
            }
            if let Expr::Num(n) = inner {
                return Ok(Expr::Num(-n));
            }
            return Ok(Expr::Unary { op: UnaryOp::Neg, expr: Box::new(inner) });
        }
        self.expr_primary()
    }

    fn expr_primary(&mut self) -> Result<Expr, SplError> {
        let t = self.next(M)?;
        match t.tok {
            Tok::Num(n) => Ok(Expr::Num(n)),
            Tok::Str(s) => Ok(Expr::Str(s.into_owned())),
            Tok::FieldRef(f) => Ok(Expr::Field(f.into_owned())),
            Tok::Sym(Sym::LParen) => {
                self.enter_weighted(t.span, EVAL_WEIGHT)?;
                let inner = self.expr_or();
                self.leave_weighted(EVAL_WEIGHT);
                let inner = inner?;
                self.expect_close(t.span, M)?;
                Ok(inner)
            }
            Tok::Word { text, .. } => {
                if self.peek(M)?.is_sym(Sym::LParen) {
                    let open = self.next(M)?;
                    self.enter_weighted(open.span, EVAL_WEIGHT)?;
                    let args = self.call_args(open.span);
                    self.leave_weighted(EVAL_WEIGHT);
                    let args = args?;
                    return Ok(Expr::Call { name: text.to_ascii_lowercase(), args, span: Span::new(t.span.start, self.pos) });
                }
                if ["AND", "OR", "XOR", "NOT", "LIKE"].iter().any(|k| text.eq_ignore_ascii_case(k)) {
                    return Err(SplError::syntax(format!("expected a value before or after `{text}`"), t.span));
                }
                Ok(Expr::Field(text.into_owned()))
            }
            Tok::Eof => Err(SplError::syntax("expected an expression, found end of command", t.span)),
            _ => Err(SplError::syntax(format!("expected an expression, found {}", t.describe()), t.span)),
        }
    }

    /// Arguments after `(` up to and including `)`.
    fn call_args(&mut self, open: Span) -> Result<Vec<Expr>, SplError> {
        let mut args = Vec::new();
        if self.eat_sym(Sym::RParen, M)? {
            return Ok(args);
        }
        loop {
            args.push(self.expr_or()?);
            let t = self.peek(M)?;
            if t.is_sym(Sym::Comma) {
                self.next(M)?;
                continue;
            }
            self.expect_close(open, M)?;
            return Ok(args);
        }
    }

    /// `a=expr, b=expr ...` for the eval command. Commas between assignments are optional.
    pub(crate) fn eval_assignments(&mut self) -> Result<Vec<(String, Expr)>, SplError> {
        let mut out = Vec::new();
        loop {
            let t = self.next(M)?;
            let name = match t.tok {
                Tok::Word { text, .. } => text.into_owned(),
                Tok::Str(text) | Tok::FieldRef(text) => text.into_owned(),
                Tok::Eof if !out.is_empty() => break,
                _ => return Err(SplError::syntax(format!("expected `field=expression`, found {}", t.describe()), t.span)),
            };
            let eq = self.next(M)?;
            if !eq.is_sym(Sym::Eq) {
                return Err(SplError::syntax(format!("expected `=` after `{name}` in eval, found {}", eq.describe()), eq.span));
            }
            if self.peek(M)?.tok == Tok::Eof {
                return Err(SplError::syntax(format!("missing value after `{name}=`"), eq.span));
            }
            out.push((name, self.expr()?));
            let n = self.peek(M)?;
            if n.is_sym(Sym::Comma) {
                self.next(M)?;
            } else if n.tok == Tok::Eof {
                break;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::{BinaryOp as B, Expr as E, UnaryOp};
    use crate::parse_eval_expr as p;

    fn f(s: &str) -> E {
        E::Field(s.into())
    }
    fn bin(op: B, l: E, r: E) -> E {
        E::Binary { op, lhs: Box::new(l), rhs: Box::new(r) }
    }
    /// Strips call spans so trees compare structurally.
    fn nospan(e: E) -> E {
        match e {
            E::Call { name, args, .. } => E::Call { name, args: args.into_iter().map(nospan).collect(), span: Default::default() },
            E::Binary { op, lhs, rhs } => bin(op, nospan(*lhs), nospan(*rhs)),
            E::Unary { op, expr } => E::Unary { op, expr: Box::new(nospan(*expr)) },
            other => other,
        }
    }
    fn call(name: &str, args: Vec<E>) -> E {
        E::Call { name: name.into(), args, span: Default::default() }
    }

    #[test]
    fn precedence() {
        assert_eq!(p("a OR b AND c").unwrap(), bin(B::Or, f("a"), bin(B::And, f("b"), f("c"))));
        assert_eq!(p("a or b xor c").unwrap(), bin(B::Or, f("a"), bin(B::Xor, f("b"), f("c"))));
        assert_eq!(
            p("NOT a=1 and b").unwrap(),
            bin(B::And, E::Unary { op: UnaryOp::Not, expr: Box::new(bin(B::Eq, f("a"), E::Num(1.0))) }, f("b"))
        );
        assert_eq!(p("1 + 2 * 3 > x").unwrap(), bin(B::Gt, bin(B::Add, E::Num(1.0), bin(B::Mul, E::Num(2.0), E::Num(3.0))), f("x")));
        assert_eq!(p("a - b - c").unwrap(), bin(B::Sub, bin(B::Sub, f("a"), f("b")), f("c")));
        assert_eq!(p("-x * 2").unwrap(), bin(B::Mul, E::Unary { op: UnaryOp::Neg, expr: Box::new(f("x")) }, E::Num(2.0)));
        assert_eq!(p("-3").unwrap(), E::Num(-3.0));
        assert_eq!(p("a % 2 == 0").unwrap(), bin(B::Eq, bin(B::Mod, f("a"), E::Num(2.0)), E::Num(0.0)));
    }

    #[test]
    fn strings_fields_and_concat() {
        assert_eq!(
            p(r#"Processes.dest . "-" . 'user name'"#).unwrap(),
            bin(B::Concat, bin(B::Concat, f("Processes.dest"), E::Str("-".into())), f("user name"))
        );
        assert_eq!(p(r#"a."x""#).unwrap(), bin(B::Concat, f("a"), E::Str("x".into())));
        assert_eq!(p(r#""C:\\Windows\\" . "\"q\"""#).unwrap(), bin(B::Concat, E::Str(r"C:\Windows\".into()), E::Str("\"q\"".into())));
        assert_eq!(p("process LIKE \"%x%\"").unwrap(), bin(B::Like, f("process"), E::Str("%x%".into())));
    }

    #[test]
    fn calls() {
        assert_eq!(
            nospan(p(r#"IF(match(process, "(?i)\\d+"), true(), null())"#).unwrap()),
            call("if", vec![call("match", vec![f("process"), E::Str(r"(?i)\d+".into())]), call("true", vec![]), call("null", vec![])])
        );
        assert_eq!(
            nospan(p("NOT x IN (a, \"b\")").unwrap()),
            E::Unary { op: UnaryOp::Not, expr: Box::new(call("in", vec![f("x"), f("a"), E::Str("b".into())])) }
        );
        assert_eq!(nospan(p("len(x)>5").unwrap()), bin(B::Gt, call("len", vec![f("x")]), E::Num(5.0)));
    }

    #[test]
    fn errors() {
        let e = p("len(x").unwrap_err();
        assert!(e.message.contains("expected `)` to close `(` opened at column 4"), "{}", e.message);
        assert!(p("a +").unwrap_err().message.contains("missing operand"));
        assert!(p("a b").unwrap_err().message.contains("unexpected `b`"));
        assert!(p("(((").is_err());
        assert!(p("a = ").unwrap_err().message.contains("missing value"));
        // Just under the cap parses without exhausting a test thread's stack.
        let s = "(".repeat(60) + "1" + &")".repeat(60);
        assert_eq!(p(&s).unwrap(), E::Num(1.0));
        let s = "f(".repeat(60) + "1" + &")".repeat(60);
        assert!(p(&s).is_ok());
        let s = "(".repeat(5000) + "1" + &")".repeat(5000);
        assert_eq!(p(&s).unwrap_err().kind, crate::ErrorKind::Limit);
        let s = "-".repeat(5000) + "1";
        assert_eq!(p(&s).unwrap_err().kind, crate::ErrorKind::Limit);
        let s = "f(".repeat(5000) + "1" + &")".repeat(5000);
        assert_eq!(p(&s).unwrap_err().kind, crate::ErrorKind::Limit);
        // Long operator chains make deep trees: bounded too (5000 overflowed the stack later).
        let s = "1".to_string() + &"+1".repeat(1000);
        assert!(p(&s).is_ok());
        let s = "1".to_string() + &" . 1".repeat(5000);
        let e = p(&s).unwrap_err();
        assert_eq!(e.kind, crate::ErrorKind::Limit);
        assert!(e.message.contains("more than 1000 operators"), "{}", e.message);
        assert!(crate::parse(&format!("search * | eval x={}", "1".to_string() + &"+1".repeat(5000))).is_err());
    }
}
