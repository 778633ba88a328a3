//! Search expressions: the `search` command, the implicit leading search, tstats `where`.
//!
//! Splunk's precedence is unusual: `OR` binds tighter than `AND` (explicit or by
//! juxtaposition), and `NOT` applies to the next term only. Grammar:
//!
//! ```text
//! and   := or ( [AND] or )*
//! or    := unary ( OR unary )*
//! unary := NOT unary | "(" and ")" | term
//! term  := field (= | != | < | <= | > | >=) value | field IN "(" value [,] ... ")" | "*" | value
//! ```
//! `AND`/`OR`/`NOT` are keywords only in upper case; `and` is a bare term.

use super::Parser;
use crate::ast::{CompareOp, SearchExpr, SearchValue, Span};
use crate::lexer::{Mode, Sym, Tok, Token};
use crate::SplError;

/// Flattens single-element lists and nested lists of the same kind.
fn combine(items: Vec<SearchExpr>, and: bool) -> SearchExpr {
    let mut flat = Vec::with_capacity(items.len());
    for e in items {
        match e {
            SearchExpr::And(v) if and => flat.extend(v),
            SearchExpr::Or(v) if !and => flat.extend(v),
            other => flat.push(other),
        }
    }
    if flat.len() == 1 {
        flat.pop().unwrap_or(SearchExpr::All)
    } else if and {
        SearchExpr::And(flat)
    } else {
        SearchExpr::Or(flat)
    }
}

fn compare_op(t: &Token) -> Option<CompareOp> {
    match t.tok {
        Tok::Sym(Sym::Eq) | Tok::Sym(Sym::EqEq) => Some(CompareOp::Eq),
        Tok::Sym(Sym::Ne) => Some(CompareOp::Ne),
        Tok::Sym(Sym::Lt) => Some(CompareOp::Lt),
        Tok::Sym(Sym::Le) => Some(CompareOp::Le),
        Tok::Sym(Sym::Gt) => Some(CompareOp::Gt),
        Tok::Sym(Sym::Ge) => Some(CompareOp::Ge),
        _ => None,
    }
}

/// Stack frames per nesting level are large in debug builds; count each level as several.
const SEARCH_WEIGHT: usize = 2;

fn is_exact(t: &Token, kw: &str) -> bool {
    t.bare_word() == Some(kw)
}

impl Parser<'_> {
    /// A whole search expression up to the end of the range (or, with `stop_at_by`, up to a
    /// top-level `by` keyword, as in tstats). Empty means [`SearchExpr::All`].
    pub(crate) fn search_expr(&mut self, stop_at_by: bool) -> Result<SearchExpr, SplError> {
        let e = self.search_and(stop_at_by)?;
        Ok(e.unwrap_or(SearchExpr::All))
    }

    fn search_stops(&self, t: &Token, stop_at_by: bool) -> bool {
        matches!(t.tok, Tok::Eof | Tok::Sym(Sym::RParen)) || (stop_at_by && t.is_keyword("by"))
    }

    fn search_and(&mut self, stop_at_by: bool) -> Result<Option<SearchExpr>, SplError> {
        let mut items = Vec::new();
        loop {
            let t = self.peek(Mode::Word)?;
            if self.search_stops(&t, stop_at_by) {
                break;
            }
            if is_exact(&t, "AND") {
                if items.is_empty() {
                    return Err(SplError::syntax("`AND` needs a term before it", t.span));
                }
                self.next(Mode::Word)?;
                let n = self.peek(Mode::Word)?;
                if self.search_stops(&n, stop_at_by) {
                    return Err(SplError::syntax("`AND` needs a term after it", t.span));
                }
                continue;
            }
            if is_exact(&t, "OR") {
                return Err(SplError::syntax("`OR` needs a term before it", t.span));
            }
            items.push(self.search_or(stop_at_by)?);
        }
        Ok(if items.is_empty() { None } else { Some(combine(items, true)) })
    }

    fn search_or(&mut self, stop_at_by: bool) -> Result<SearchExpr, SplError> {
        let mut items = vec![self.search_unary(stop_at_by)?];
        loop {
            let t = self.peek(Mode::Word)?;
            if !is_exact(&t, "OR") {
                break;
            }
            self.next(Mode::Word)?;
            let n = self.peek(Mode::Word)?;
            if self.search_stops(&n, stop_at_by) || is_exact(&n, "OR") || is_exact(&n, "AND") {
                return Err(SplError::syntax("`OR` needs a term after it", t.span));
            }
            items.push(self.search_unary(stop_at_by)?);
        }
        Ok(combine(items, false))
    }

    fn search_unary(&mut self, stop_at_by: bool) -> Result<SearchExpr, SplError> {
        let t = self.peek(Mode::Word)?;
        if is_exact(&t, "NOT") {
            self.next(Mode::Word)?;
            let n = self.peek(Mode::Word)?;
            if self.search_stops(&n, stop_at_by) || is_exact(&n, "OR") || is_exact(&n, "AND") {
                return Err(SplError::syntax("`NOT` needs a term after it", t.span));
            }
            self.enter_weighted(t.span, SEARCH_WEIGHT)?;
            let inner = self.search_unary(stop_at_by);
            self.leave_weighted(SEARCH_WEIGHT);
            return Ok(SearchExpr::Not(Box::new(inner?)));
        }
        if t.is_sym(Sym::LParen) {
            self.next(Mode::Word)?;
            self.enter_weighted(t.span, SEARCH_WEIGHT)?;
            // Inside parentheses `by` is an ordinary term again.
            let inner = self.search_and(false);
            self.leave_weighted(SEARCH_WEIGHT);
            let inner = inner?;
            self.expect_close(t.span, Mode::Word)?;
            return inner.ok_or_else(|| SplError::syntax("empty parentheses", Span::new(t.span.start, self.pos)));
        }
        self.search_term()
    }

    fn search_term(&mut self) -> Result<SearchExpr, SplError> {
        let t = self.next(Mode::Word)?;
        if t.is_sym(Sym::LBracket) {
            let close = self.matching_bracket(t.span.start)?;
            let inner = super::parse_pipeline(self.src, t.span.end, close, self.depth + 1)?;
            self.pos = close + 1;
            return Ok(SearchExpr::Subsearch(Box::new(inner)));
        }
        let Tok::Word { text, quoted } = t.tok.clone() else {
            return Err(SplError::syntax(format!("expected a search term, found {}", t.describe()), t.span));
        };
        let next = self.peek(Mode::Word)?;
        if let Some(op) = compare_op(&next) {
            self.next(Mode::Word)?;
            let value = self.search_value(&text, &next)?;
            return Ok(SearchExpr::Compare { field: text.into_owned(), op, value });
        }
        // A quoted name before `IN (` is a field too (`"EventCode" IN (1, 4688)`), as in Splunk.
        if next.is_keyword("IN") && self.peek2(Mode::Word)?.is_sym(Sym::LParen) {
            self.next(Mode::Word)?;
            let open = self.next(Mode::Word)?;
            let values = self.in_list(open.span)?;
            return Ok(SearchExpr::In { field: text.into_owned(), values });
        }
        if !quoted && text == "*" {
            return Ok(SearchExpr::All);
        }
        Ok(SearchExpr::Term(SearchValue { text: text.into_owned(), quoted }))
    }

    fn search_value(&mut self, field: &str, op: &Token) -> Result<SearchValue, SplError> {
        let v = self.peek(Mode::Value)?;
        match v.tok {
            Tok::Word { text, quoted } => {
                self.next(Mode::Value)?;
                Ok(SearchValue { text: text.into_owned(), quoted })
            }
            _ => Err(SplError::syntax(format!("missing value after `{field}{}`", op_text(op)), Span::new(op.span.start, op.span.end))),
        }
    }

    /// The items of `IN ( ... )` after the `(`: comma and/or space separated.
    pub(crate) fn in_list(&mut self, open: Span) -> Result<Vec<SearchValue>, SplError> {
        let mut values = Vec::new();
        loop {
            let t = self.peek(Mode::Value)?;
            match t.tok {
                Tok::Sym(Sym::RParen) => {
                    self.next(Mode::Value)?;
                    break;
                }
                Tok::Sym(Sym::Comma) => {
                    self.next(Mode::Value)?;
                }
                Tok::Word { text, quoted } => {
                    self.next(Mode::Value)?;
                    values.push(SearchValue { text: text.into_owned(), quoted });
                }
                _ => {
                    let (_, col) = crate::line_col(self.src, open.start);
                    return Err(SplError::syntax(
                        format!("expected a value or `)` to close `IN (` opened at column {col}, found {}", t.describe()),
                        t.span,
                    ));
                }
            }
        }
        if values.is_empty() {
            return Err(SplError::syntax("`IN ()` needs at least one value", Span::new(open.start, self.pos)));
        }
        Ok(values)
    }
}

fn op_text(t: &Token) -> &'static str {
    match t.tok {
        Tok::Sym(s) => s.as_str(),
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::{CompareOp, SearchExpr as S, SearchValue};
    use crate::parse_search_expr as p;

    fn v(s: &str) -> SearchValue {
        SearchValue { text: s.into(), quoted: false }
    }
    fn q(s: &str) -> SearchValue {
        SearchValue { text: s.into(), quoted: true }
    }
    fn t(s: &str) -> S {
        S::Term(v(s))
    }
    fn eq(f: &str, val: &str) -> S {
        S::Compare { field: f.into(), op: CompareOp::Eq, value: v(val) }
    }

    #[test]
    fn or_binds_tighter_than_and() {
        assert_eq!(p("A OR B C").unwrap(), S::And(vec![S::Or(vec![t("A"), t("B")]), t("C")]));
        assert_eq!(p("A B OR C").unwrap(), S::And(vec![t("A"), S::Or(vec![t("B"), t("C")])]));
        assert_eq!(p("A AND B OR C").unwrap(), S::And(vec![t("A"), S::Or(vec![t("B"), t("C")])]));
        assert_eq!(p("A OR B OR C").unwrap(), S::Or(vec![t("A"), t("B"), t("C")]));
        assert_eq!(p("(A B) OR C").unwrap(), S::Or(vec![S::And(vec![t("A"), t("B")]), t("C")]));
    }

    #[test]
    fn not_applies_to_next_term() {
        assert_eq!(p("NOT A OR B").unwrap(), S::Or(vec![S::Not(Box::new(t("A"))), t("B")]));
        assert_eq!(p("NOT A B").unwrap(), S::And(vec![S::Not(Box::new(t("A"))), t("B")]));
        assert_eq!(p("NOT (A B)").unwrap(), S::Not(Box::new(S::And(vec![t("A"), t("B")]))));
        assert_eq!(p("NOT NOT x=1").unwrap(), S::Not(Box::new(S::Not(Box::new(eq("x", "1"))))));
    }

    #[test]
    fn lowercase_keywords_are_terms() {
        assert_eq!(p("a and b or c not d").unwrap(), S::And(["a", "and", "b", "or", "c", "not", "d"].map(t).to_vec()));
    }

    #[test]
    fn comparisons() {
        let c = |f: &str, op, val: SearchValue| S::Compare { field: f.into(), op, value: val };
        assert_eq!(
            p(r#"a=1 b!=x c<3 d<=4 e>5 f>=6 g = "h i" Processes.process_name=*.exe"#).unwrap(),
            S::And(vec![
                c("a", CompareOp::Eq, v("1")),
                c("b", CompareOp::Ne, v("x")),
                c("c", CompareOp::Lt, v("3")),
                c("d", CompareOp::Le, v("4")),
                c("e", CompareOp::Gt, v("5")),
                c("f", CompareOp::Ge, v("6")),
                c("g", CompareOp::Eq, q("h i")),
                c("Processes.process_name", CompareOp::Eq, v("*.exe")),
            ])
        );
    }

    #[test]
    fn values_keep_odd_characters_and_resolve_escapes() {
        assert_eq!(p(r#"x=C:\Windows\*"#).unwrap(), eq("x", r"C:\Windows\*"));
        assert_eq!(p(r#"x=*\\system32\\config\\sam*"#).unwrap(), eq("x", r"*\system32\config\sam*"));
        assert_eq!(
            p(r#"x="C:\Windows\*" y="a\"b\\c""#).unwrap(),
            S::And(vec![
                S::Compare { field: "x".into(), op: CompareOp::Eq, value: q(r"C:\Windows\*") },
                S::Compare { field: "y".into(), op: CompareOp::Eq, value: q(r#"a"b\c"#) },
            ])
        );
        assert_eq!(p("x=%{a}$-b/c:d").unwrap(), eq("x", "%{a}$-b/c:d"));
    }

    #[test]
    fn values_with_parentheses_and_adjacent_quotes() {
        assert_eq!(p("(a=1 OR x=*GetCurrent()*)").unwrap(), S::Or(vec![eq("a", "1"), eq("x", "*GetCurrent()*")]));
        assert_eq!(p("(x=foo)").unwrap(), eq("x", "foo"));
        let c = |f: &str, val: &str| S::Compare { field: f.into(), op: CompareOp::Eq, value: q(val) };
        assert_eq!(p(r#"a="* Nul*"b="x""#).unwrap(), S::And(vec![c("a", "* Nul*"), c("b", "x")]));
    }

    #[test]
    fn subsearch_in_search() {
        let S::And(items) = p("a [| inputlookup t | fields x] b").unwrap() else { panic!() };
        assert_eq!(items.len(), 3);
        let S::Subsearch(sub) = &items[1] else { panic!("{:?}", items[1]) };
        assert_eq!(sub.commands.len(), 2);
        assert!(p("a [| inputlookup t").is_err());
    }

    #[test]
    fn in_lists() {
        let e = p(r#"Processes.process IN ("*http://*", "*https://*") f in (a b, c*)"#).unwrap();
        assert_eq!(
            e,
            S::And(vec![
                S::In { field: "Processes.process".into(), values: vec![q("*http://*"), q("*https://*")] },
                S::In { field: "f".into(), values: vec![v("a"), v("b"), v("c*")] },
            ])
        );
        let e = p(r#""EventCode" IN (1, 4688)"#).unwrap();
        assert_eq!(e, S::In { field: "EventCode".into(), values: vec![v("1"), v("4688")] });
    }

    #[test]
    fn star_and_empty_are_all() {
        assert_eq!(p("*").unwrap(), S::All);
        assert_eq!(p("   ").unwrap(), S::All);
        assert_eq!(p("x=*").unwrap(), eq("x", "*"));
        assert_eq!(p("\"quoted term\"").unwrap(), S::Term(q("quoted term")));
    }

    #[test]
    fn errors_have_spans_and_messages() {
        let e = p("x= ").unwrap_err();
        assert!(e.message.contains("missing value after `x=`"), "{}", e.message);
        assert_eq!(e.span.start, 1);
        let e = p("a (b OR c").unwrap_err();
        assert!(e.message.contains("expected `)` to close `(` opened at column 3"), "{}", e.message);
        let e = p("a OR").unwrap_err();
        assert!(e.message.contains("`OR` needs a term after it"), "{}", e.message);
        let e = p("a b)").unwrap_err();
        assert!(e.message.contains("unexpected `)`"), "{}", e.message);
        assert_eq!(e.span.start, 3);
        let e = p("x IN (a").unwrap_err();
        assert!(e.message.contains("column 6"), "{}", e.message);
    }

    #[test]
    fn deep_nesting_is_a_limit_not_a_crash() {
        let s = "(".repeat(120) + "a" + &")".repeat(120);
        assert_eq!(p(&s).unwrap(), t("a"));
        let s = "(".repeat(10_000) + "a" + &")".repeat(10_000);
        assert_eq!(p(&s).unwrap_err().kind, crate::ErrorKind::Limit);
        let s = "NOT ".repeat(10_000) + "a";
        assert_eq!(p(&s).unwrap_err().kind, crate::ErrorKind::Limit);
    }
}
