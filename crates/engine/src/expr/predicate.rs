//! Search expressions compiled to predicates over any row type.
//!
//! The same compiled form serves tstats WHERE clauses over dataset rows (fields resolved to
//! column indexes at plan time), raw-event searches, and `search` over result rows.

use crate::expr::field::{FieldAccess, FieldRef};
use crate::expr::pattern::Pattern;
use crate::expr::patternlist::PatternList;
use crate::expr::tuplelist::{Alternative, TupleList};
use vigil_model::value::parse_num;
use vigil_spl::ast::{CompareOp, SearchExpr};

/// A predicate compiled outside the SPL front end (Sigma detections), evaluated like any other.
pub(crate) trait ExternalPred: std::fmt::Debug + Send + Sync {
    fn eval(&self, row: &dyn FieldAccess) -> bool;
    /// Adds the fields it reads to `out`; `None` when it may read any field.
    fn fields(&self, out: &mut Vec<String>) -> Option<()>;
    /// The predicate as text, for EXPLAIN.
    fn describe(&self) -> String;
}

/// Calls `f(item, folded)` over a field's items, folded (lowercased) when the row offers it.
fn any_match(row: &dyn FieldAccess, field: &FieldRef, f: &mut dyn FnMut(&str, bool) -> bool) -> bool {
    match row.any_item_folded(field, &mut |s| f(s, true)) {
        Some(hit) => hit,
        None => row.any_item(field, &mut |s| f(s, false)),
    }
}

/// A compiled search expression.
#[derive(Clone, Debug)]
pub enum Pred {
    True,
    And(Vec<Pred>),
    Or(Vec<Pred>),
    Not(Box<Pred>),
    /// `f=v`: some item matches.
    Eq(FieldRef, Pattern),
    /// `f!=v`: present and no item matches.
    Ne(FieldRef, Pattern),
    /// `f=*`.
    Present(FieldRef),
    /// `f<v` etc.: numeric when both sides are numbers, else text order.
    Order(FieldRef, CompareOp, String),
    /// `f IN (...)`.
    AnyOf(FieldRef, PatternList),
    /// `(f1=a f2=b) OR (f1=c f2=d) OR ...`, many alternatives, indexed.
    AnyTuple(Box<TupleList<Pred>>),
    /// A bare term against `_raw`.
    Raw(Pattern),
    /// A matcher from another front end (a Sigma detection).
    External(std::sync::Arc<dyn ExternalPred>),
}

/// Structural equality, for finding identical scans (`scan::shared`) without printing them:
/// an external matcher equals only itself.
impl PartialEq for Pred {
    fn eq(&self, other: &Pred) -> bool {
        match (self, other) {
            (Pred::True, Pred::True) => true,
            (Pred::And(a), Pred::And(b)) | (Pred::Or(a), Pred::Or(b)) => a == b,
            (Pred::Not(a), Pred::Not(b)) => a == b,
            (Pred::Eq(f, p), Pred::Eq(g, q)) | (Pred::Ne(f, p), Pred::Ne(g, q)) => f == g && p == q,
            (Pred::Present(f), Pred::Present(g)) => f == g,
            (Pred::Order(f, o, v), Pred::Order(g, p, w)) => f == g && o == p && v == w,
            (Pred::AnyOf(f, l), Pred::AnyOf(g, m)) => f == g && l == m,
            (Pred::AnyTuple(a), Pred::AnyTuple(b)) => a == b,
            (Pred::Raw(p), Pred::Raw(q)) => p == q,
            (Pred::External(a), Pred::External(b)) => std::sync::Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Pred {
    /// Compiles a search expression, resolving field names with `resolve`.
    pub fn compile(expr: &SearchExpr, resolve: &dyn Fn(&str) -> FieldRef) -> Pred {
        match expr {
            SearchExpr::All => Pred::True,
            SearchExpr::And(items) => {
                let items: Vec<Pred> = items.iter().map(|e| Pred::compile(e, resolve)).filter(|p| !matches!(p, Pred::True)).collect();
                if items.is_empty() {
                    Pred::True
                } else {
                    Pred::And(items)
                }
            }
            SearchExpr::Or(items) => {
                let items: Vec<Pred> = items.iter().map(|e| Pred::compile(e, resolve)).collect();
                // `f=a OR f=b OR ...` is `f IN (a, b, ...)`, which can use an index.
                match items.first() {
                    Some(Pred::Eq(f, _)) if items.len() > 1 && items.iter().all(|p| matches!(p, Pred::Eq(g, _) if g == f)) => {
                        let f = f.clone();
                        let pats = items.into_iter().filter_map(|p| if let Pred::Eq(_, pat) = p { Some(pat) } else { None });
                        Pred::AnyOf(f, pats.collect())
                    }
                    _ => match TupleList::build(items) {
                        Ok(list) => Pred::AnyTuple(Box::new(list)),
                        Err(items) => Pred::Or(items),
                    },
                }
            }
            SearchExpr::Not(e) => Pred::Not(Box::new(Pred::compile(e, resolve))),
            SearchExpr::Compare { field, op, value } => {
                let f = resolve(field);
                let pattern = Pattern::new(&value.text);
                match op {
                    CompareOp::Eq if pattern.is_match_all() => Pred::Present(f),
                    CompareOp::Eq => Pred::Eq(f, pattern),
                    CompareOp::Ne => Pred::Ne(f, pattern),
                    _ => Pred::Order(f, *op, value.text.clone()),
                }
            }
            SearchExpr::In { field, values } => Pred::AnyOf(resolve(field), values.iter().map(|v| Pattern::new(&v.text)).collect()),
            // Subsearches are resolved by the planner before compiling; one left here (which the
            // planner rejects) matches nothing, like a subsearch without results.
            SearchExpr::Subsearch(_) => Pred::Or(Vec::new()),
            SearchExpr::Term(v) => {
                let p = Pattern::new(&v.text);
                if p.is_match_all() {
                    Pred::True
                } else {
                    // A bare term matches anywhere in the event text.
                    Pred::Raw(Pattern::new(&format!("*{}*", v.text)))
                }
            }
        }
    }

    /// Adds the fields the predicate reads to `out`; `None` for field references it cannot
    /// name (resolved columns).
    pub fn fields(&self, out: &mut Vec<String>) -> Option<()> {
        let mut add = |f: &FieldRef| -> Option<()> {
            match f {
                FieldRef::Name(n) => out.push(n.clone()),
                FieldRef::Time => out.push("_time".into()),
                FieldRef::Missing => {}
                FieldRef::Column(_) => return None,
            }
            Some(())
        };
        match self {
            Pred::True => Some(()),
            Pred::And(items) | Pred::Or(items) => items.iter().try_for_each(|p| p.fields(out)),
            Pred::Not(p) => p.fields(out),
            Pred::Eq(f, _) | Pred::Ne(f, _) | Pred::Present(f) | Pred::Order(f, _, _) | Pred::AnyOf(f, _) => add(f),
            Pred::Raw(_) => {
                out.push("_raw".into());
                Some(())
            }
            Pred::External(p) => p.fields(out),
            Pred::AnyTuple(list) => {
                list.fields().try_for_each(&mut add)?;
                list.rest().iter().try_for_each(|p| p.fields(out))
            }
        }
    }

    /// Calls `f` with every field reference the predicate reads (resolved columns included);
    /// false when it may also read fields it does not tell (an external matcher), and then
    /// not every reference may have been visited.
    pub fn for_each_field_ref(&self, f: &mut dyn FnMut(&FieldRef)) -> bool {
        match self {
            Pred::True | Pred::Raw(_) => true,
            Pred::And(items) | Pred::Or(items) => items.iter().all(|p| p.for_each_field_ref(f)),
            Pred::Not(p) => p.for_each_field_ref(f),
            Pred::Eq(r, _) | Pred::Ne(r, _) | Pred::Present(r) | Pred::Order(r, _, _) | Pred::AnyOf(r, _) => {
                f(r);
                true
            }
            Pred::External(_) => false,
            Pred::AnyTuple(list) => {
                list.fields().for_each(&mut *f);
                list.rest().iter().all(|p| p.for_each_field_ref(f))
            }
        }
    }

    /// Whether evaluating the predicate may read `_raw`.
    pub fn reads_raw(&self) -> bool {
        let raw = |f: &FieldRef| matches!(f, FieldRef::Name(n) if n == "_raw");
        match self {
            Pred::True => false,
            Pred::And(items) | Pred::Or(items) => items.iter().any(Pred::reads_raw),
            Pred::Not(p) => p.reads_raw(),
            Pred::Eq(f, _) | Pred::Ne(f, _) | Pred::Present(f) | Pred::Order(f, _, _) | Pred::AnyOf(f, _) => raw(f),
            Pred::Raw(_) => true,
            Pred::External(_) => false,
            Pred::AnyTuple(list) => list.fields().any(raw) || list.rest().iter().any(Pred::reads_raw),
        }
    }

    pub fn eval(&self, row: &dyn FieldAccess) -> bool {
        match self {
            Pred::True => true,
            Pred::And(items) => items.iter().all(|p| p.eval(row)),
            Pred::Or(items) => items.iter().any(|p| p.eval(row)),
            Pred::Not(p) => !p.eval(row),
            Pred::Eq(f, pat) => any_match(row, f, &mut |s, folded| pat.matches_maybe_folded(s, folded)),
            Pred::Ne(f, pat) => {
                let mut present = false;
                let any = any_match(row, f, &mut |s, folded| {
                    present = true;
                    pat.matches_maybe_folded(s, folded)
                });
                present && !any
            }
            Pred::Present(f) => row.any_item(f, &mut |_| true),
            Pred::Order(f, op, v) => row.any_item(f, &mut |s| compare_order(s, *op, v)),
            Pred::AnyOf(f, pats) => any_match(row, f, &mut |s, folded| pats.matches_maybe_folded(s, folded)),
            Pred::Raw(pat) => row.raw().is_some_and(|r| pat.matches(r)),
            Pred::AnyTuple(list) => list.eval(row),
            Pred::External(p) => p.eval(row),
        }
    }
}

impl Alternative for Pred {
    fn exact_terms(&self) -> Option<Vec<(FieldRef, &[u8])>> {
        let Pred::And(items) = self else { return None };
        let mut terms = Vec::with_capacity(items.len());
        for item in items {
            let Pred::Eq(f, pat) = item else { return None };
            terms.push((f.clone(), exact_text(pat)?));
        }
        terms.sort_by(|a, b| a.0.cmp(&b.0));
        terms.windows(2).all(|w| w[0].0 != w[1].0).then_some(terms)
    }

    fn eval(&self, row: &dyn FieldAccess) -> bool {
        Pred::eval(self, row)
    }
}

/// The lowercased text a pattern without wildcards equals.
fn exact_text(p: &Pattern) -> Option<&[u8]> {
    let mut alternatives = p.alternative_pieces();
    match (alternatives.next(), alternatives.next()) {
        (Some([only]), None) => Some(only.as_slice()),
        _ => None,
    }
}

fn compare_order(left: &str, op: CompareOp, right: &str) -> bool {
    let ord = match (parse_num(left), parse_num(right)) {
        (Some(a), Some(b)) => a.partial_cmp(&b),
        _ => Some(left.cmp(right)),
    };
    let Some(ord) = ord else { return false };
    use std::cmp::Ordering::*;
    match op {
        CompareOp::Lt => ord == Less,
        CompareOp::Le => ord != Greater,
        CompareOp::Gt => ord == Greater,
        CompareOp::Ge => ord != Less,
        CompareOp::Eq => ord == Equal,
        CompareOp::Ne => ord != Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_model::{Event, Record, Value};
    use vigil_spl::ast::SearchValue;

    fn v(t: &str) -> SearchValue {
        SearchValue { text: t.into(), quoted: false }
    }
    fn cmp(f: &str, op: CompareOp, t: &str) -> SearchExpr {
        SearchExpr::Compare { field: f.into(), op, value: v(t) }
    }
    fn rec(pairs: &[(&str, Value)]) -> Record {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }
    fn by_name(n: &str) -> FieldRef {
        FieldRef::Name(n.into())
    }

    #[test]
    fn ne_requires_presence_but_not_does_not() {
        let r = rec(&[("a", Value::str("1"))]);
        let ne = Pred::compile(&cmp("b", CompareOp::Ne, "x"), &by_name);
        assert!(!ne.eval(&r), "b!=x needs b");
        let not = Pred::compile(&SearchExpr::Not(Box::new(cmp("b", CompareOp::Eq, "x"))), &by_name);
        assert!(not.eval(&r), "NOT b=x matches events without b");
    }

    #[test]
    fn multivalue_any_item() {
        let r = rec(&[("p", Value::Multi(vec!["a.exe".into(), "MSIEXEC.exe".into()]))]);
        assert!(Pred::compile(&cmp("p", CompareOp::Eq, "msiexec.exe"), &by_name).eval(&r));
        assert!(!Pred::compile(&cmp("p", CompareOp::Ne, "msiexec.exe"), &by_name).eval(&r));
        let inn = SearchExpr::In { field: "p".into(), values: vec![v("x"), v("a.*")] };
        assert!(Pred::compile(&inn, &by_name).eval(&r));
    }

    #[test]
    fn field_star_means_present() {
        let r = rec(&[("a", Value::str(""))]);
        assert!(Pred::compile(&cmp("a", CompareOp::Eq, "*"), &by_name).eval(&r));
        assert!(!Pred::compile(&cmp("b", CompareOp::Eq, "*"), &by_name).eval(&r));
    }

    #[test]
    fn numeric_order_when_numbers() {
        let r = rec(&[("count", Value::Num(12.0))]);
        assert!(Pred::compile(&cmp("count", CompareOp::Gt, "5"), &by_name).eval(&r));
        assert!(!Pred::compile(&cmp("count", CompareOp::Lt, "5"), &by_name).eval(&r));
    }

    #[test]
    fn event_special_fields() {
        let mut e = Event {
            source: "XmlWinEventLog:Microsoft-Windows-Sysmon/Operational".into(),
            sourcetype: "XmlWinEventLog".into(),
            raw: "<Event>hello World</Event>".into(),
            ..Default::default()
        };
        e.push("EventCode", "1");
        let p = Pred::compile(
            &SearchExpr::And(vec![
                cmp("sourcetype", CompareOp::Eq, "xmlwineventlog"),
                cmp("EventCode", CompareOp::Eq, "1"),
                SearchExpr::Term(v("world")),
            ]),
            &by_name,
        );
        assert!(p.eval(&e));
    }

    // The tuple index (`tuplelist.rs`) over predicates: the same rows as the plain `OR`.
    fn eq_pred(f: &str, v: &str) -> Pred {
        Pred::Eq(FieldRef::Name(f.into()), Pattern::new(v))
    }

    fn pair(pid: &str, dest: &str) -> Pred {
        Pred::And(vec![eq_pred("process_id", pid), eq_pred("dest", dest)])
    }

    fn row(pid: Value, dest: &str) -> Record {
        let mut r = Record::new();
        r.push_new("process_id".into(), pid);
        r.push_new("dest".into(), Value::str(dest));
        r
    }

    fn alternatives() -> Vec<Pred> {
        let mut alts: Vec<Pred> = (0..50).map(|i| pair(&format!("{}", 1000 + i), &format!("HOST{}", i % 5))).collect();
        // Field order differs, a wildcard, a different field set: all must still count.
        alts.push(Pred::And(vec![eq_pred("dest", "swapped"), eq_pred("process_id", "7")]));
        alts.push(pair("42", "web*"));
        alts.push(eq_pred("dest", "alone"));
        alts
    }

    #[test]
    fn matches_exactly_what_the_plain_or_matches() {
        let list = TupleList::build(alternatives()).expect("indexed");
        assert_eq!(list.rest().len(), 2);
        let plain = Pred::Or(alternatives());
        let rows = [
            row(Value::str("1003"), "host3"),
            row(Value::str("1003"), "HOST4"),
            row(Value::Num(1010.0), "Host0"),
            row(Value::str("7"), "SWAPPED"),
            row(Value::str("42"), "webserver"),
            row(Value::str("43"), "webserver"),
            row(Value::str("9"), "alone"),
            row(Value::Multi(vec!["5".into(), "1001".into()]), "host1"),
            row(Value::Multi(vec!["5".into(), "1001".into()]), "host2"),
            row(Value::Null, "host1"),
            row(Value::str("10035"), "host3"),
            row(Value::str("1003"), "host3x"),
        ];
        let expected = [true, false, true, true, true, false, true, true, false, false, false, false];
        for (r, want) in rows.iter().zip(expected) {
            assert_eq!(plain.eval(r), want, "plain {r:?}");
            assert_eq!(list.eval(r), want, "indexed {r:?}");
        }
    }

    #[test]
    fn parts_cannot_run_into_each_other() {
        let alts: Vec<Pred> = (0..10).map(|i| pair(&format!("1{i}"), "ab")).collect();
        let list = TupleList::build(alts).expect("indexed");
        assert!(list.eval(&row(Value::str("13"), "ab")));
        assert!(!list.eval(&row(Value::str("13a"), "b")));
    }

    #[test]
    fn short_or_single_field_lists_are_left_alone() {
        assert!(TupleList::build((0..5).map(|i| pair(&i.to_string(), "h")).collect()).is_err());
        assert!(TupleList::build((0..20).map(|i| Pred::And(vec![eq_pred("a", &i.to_string())])).collect()).is_err());
    }
}
