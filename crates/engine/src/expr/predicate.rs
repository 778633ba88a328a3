//! Search expressions compiled to predicates over any row type.
//!
//! The same compiled form serves tstats WHERE clauses over dataset rows (fields resolved to
//! column indexes at plan time), raw-event searches, and `search` over result rows.

use crate::expr::pattern::Pattern;
use crate::expr::patternlist::PatternList;
use crate::expr::tuplelist::TupleList;
use vigil_model::value::{format_num, parse_num};
use vigil_model::{micros_to_secs, DatasetRow, Event, Record, Value};
use vigil_spl::ast::{CompareOp, SearchExpr};

/// A field reference resolved for the row type it will be evaluated on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FieldRef {
    /// A dataset column.
    Column(usize),
    /// `_time`.
    Time,
    /// A field looked up by name (raw events, result rows).
    Name(String),
    /// A field the row type can never have: always null.
    Missing,
}

/// Read access to a row's fields, as predicates need it.
pub trait FieldAccess {
    /// Calls `f` on each item of the field's value until it returns true; returns whether it
    /// did. A null/absent field has no items.
    fn any_item(&self, field: &FieldRef, f: &mut dyn FnMut(&str) -> bool) -> bool;

    /// `_raw`, for bare search terms.
    fn raw(&self) -> Option<&str> {
        None
    }

    /// Calls `f(name, item)` for every named field item except `_raw` and `_time`, in one
    /// pass, when the row is keyed by name (raw events); returns false when it is not.
    fn for_each_named(&self, _f: &mut dyn FnMut(&str, &str)) -> bool {
        false
    }

    /// Like [`FieldAccess::for_each_named`] over the row's own fields only: for raw events,
    /// without the add-on fields derived for the loaded searches (see `Event::derived_from`).
    fn for_each_own_named(&self, f: &mut dyn FnMut(&str, &str)) -> bool {
        self.for_each_named(f)
    }

    /// Like [`FieldAccess::any_item`] with items already lowercased, for rows that keep a
    /// lowercased copy (so case-insensitive matching does not fold the same text once per
    /// predicate). `None` when the row has no such copy.
    fn any_item_folded(&self, _field: &FieldRef, _f: &mut dyn FnMut(&str) -> bool) -> Option<bool> {
        None
    }

    /// [`FieldAccess::any_item`] by name, for matchers that hold names rather than resolved
    /// references (Sigma); rows keyed by name answer without building a reference.
    fn any_named(&self, name: &str, f: &mut dyn FnMut(&str) -> bool) -> bool {
        self.any_item(&FieldRef::Name(name.to_string()), f)
    }
}

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

fn any_item_of(value: &Value, f: &mut dyn FnMut(&str) -> bool) -> bool {
    match value {
        Value::Null => false,
        Value::Str(s) => f(s),
        Value::Num(n) => f(&format_num(*n)),
        Value::Multi(items) => items.iter().any(|s| f(s)),
    }
}

impl FieldAccess for DatasetRow {
    fn any_item(&self, field: &FieldRef, f: &mut dyn FnMut(&str) -> bool) -> bool {
        match field {
            FieldRef::Column(i) => self.values.get(*i).is_some_and(|v| any_item_of(v, f)),
            FieldRef::Time => f(&format_num(micros_to_secs(self.time))),
            _ => false,
        }
    }
}

impl FieldAccess for Record {
    fn any_item(&self, field: &FieldRef, f: &mut dyn FnMut(&str) -> bool) -> bool {
        match field {
            FieldRef::Name(n) => self.get(n).is_some_and(|v| any_item_of(v, f)),
            FieldRef::Time => self.get("_time").is_some_and(|v| any_item_of(v, f)),
            _ => false,
        }
    }

    fn raw(&self) -> Option<&str> {
        match self.get("_raw") {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }
}

impl FieldAccess for Event {
    fn any_item(&self, field: &FieldRef, f: &mut dyn FnMut(&str) -> bool) -> bool {
        let name = match field {
            FieldRef::Name(n) => n.as_str(),
            FieldRef::Time => "_time",
            _ => return false,
        };
        self.any_named(name, f)
    }

    fn any_named(&self, name: &str, f: &mut dyn FnMut(&str) -> bool) -> bool {
        match name {
            "source" => f(&self.source),
            "sourcetype" => f(&self.sourcetype),
            "host" => f(&self.host),
            "_raw" => f(&self.raw),
            // The index the input was given (`--index`), `main` by default.
            "index" => f(self.index_name()),
            "_time" => self.time.is_some_and(|t| f(&format_num(micros_to_secs(t)))),
            _ => self.get_all(name).any(f),
        }
    }

    fn raw(&self) -> Option<&str> {
        Some(&self.raw)
    }

    fn for_each_named(&self, f: &mut dyn FnMut(&str, &str)) -> bool {
        each_named(self, &self.fields, f)
    }

    fn for_each_own_named(&self, f: &mut dyn FnMut(&str, &str)) -> bool {
        each_named(self, self.own_fields(), f)
    }
}

fn each_named(ev: &Event, fields: &[(String, String)], f: &mut dyn FnMut(&str, &str)) -> bool {
    f("source", &ev.source);
    f("sourcetype", &ev.sourcetype);
    f("host", &ev.host);
    f("index", ev.index_name());
    for (k, v) in fields {
        // These names mean the event's own properties (see `any_item`).
        if !matches!(k.as_str(), "source" | "sourcetype" | "host" | "index" | "_raw" | "_time") {
            f(k, v);
        }
    }
    true
}

/// A dataset row with a lazily built lowercased copy of the columns predicates read.
pub(crate) struct FoldedRow<'a> {
    pub row: &'a DatasetRow,
    pub cache: &'a std::cell::RefCell<FoldCache>,
}

/// Lowercased column items, reused across rows to avoid allocation.
#[derive(Debug, Default)]
pub(crate) struct FoldCache {
    items: Vec<Vec<String>>,
    /// Per column: how many of `items[c]` are valid for the current row, or `usize::MAX` when
    /// not yet computed.
    len: Vec<usize>,
}

impl FoldCache {
    /// Forgets the previous row's values (keeps the buffers).
    pub fn reset(&mut self, columns: usize) {
        self.len.clear();
        self.len.resize(columns, usize::MAX);
        if self.items.len() < columns {
            self.items.resize_with(columns, Vec::new);
        }
    }

    fn fill(&mut self, c: usize, v: &Value) {
        let slot = &mut self.items[c];
        let mut n = 0;
        let mut push = |s: &str| {
            if slot.len() <= n {
                slot.push(String::new());
            }
            let buf = &mut slot[n];
            buf.clear();
            if s.is_ascii() {
                buf.push_str(s);
                buf.make_ascii_lowercase();
            } else {
                buf.extend(s.chars().flat_map(char::to_lowercase));
            }
            n += 1;
        };
        match v {
            Value::Null => {}
            Value::Str(s) => push(s),
            Value::Num(x) => push(&format_num(*x)),
            Value::Multi(items) => items.iter().for_each(|s| push(s)),
        }
        self.len[c] = n;
    }
}

impl FieldAccess for FoldedRow<'_> {
    fn any_item(&self, field: &FieldRef, f: &mut dyn FnMut(&str) -> bool) -> bool {
        self.row.any_item(field, f)
    }

    fn any_item_folded(&self, field: &FieldRef, f: &mut dyn FnMut(&str) -> bool) -> Option<bool> {
        let FieldRef::Column(c) = field else { return None };
        let v = self.row.values.get(*c)?;
        let mut cache = self.cache.borrow_mut();
        if cache.len.get(*c).copied()? == usize::MAX {
            cache.fill(*c, v);
        }
        let n = cache.len[*c];
        Some(cache.items[*c][..n].iter().any(|s| f(s)))
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
    AnyTuple(Box<TupleList>),
    /// A bare term against `_raw`.
    Raw(Pattern),
    /// A matcher from another front end (a Sigma detection).
    External(std::sync::Arc<dyn ExternalPred>),
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
}
