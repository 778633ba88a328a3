//! `transaction`: groups events into transactions, with Splunk's semantics.
//!
//! Decisions (Splunk documents most of them; where it is vague, the choice is stated):
//!
//! - **Input order.** Splunk feeds `transaction` events newest first and the command works
//!   backwards in time. The rows are stably sorted by `_time` descending first, so rows in any
//!   order (after `tstats`, `sort`...) give the same result. Rows without a numeric `_time` take
//!   part in no transaction.
//! - **Field list.** An event joins an open transaction when, for every listed field both have,
//!   they share a value (no conflicting value), and they share at least one listed field's value.
//!   With `connected=false` an event with no conflicting value joins even without a shared value
//!   (the transaction has not instantiated the event's fields yet). Values compare exactly
//!   (case-sensitive). An event with none of the listed fields takes part in no transaction.
//!   Without a field list all events form one stream. When several open transactions accept
//!   an event, the one extended most recently (latest earliest-time) takes it.
//! - **maxspan / maxpause** (`30s`, `240m`, `1h`, `1d`; negative disables; bounds inclusive): an
//!   event joins only if the transaction still spans at most `maxspan` and the gap to the
//!   transaction's earliest event is at most `maxpause`; otherwise that transaction is finished
//!   and the event starts a new one.
//! - **maxevents** (default 1000; negative disables): a transaction holding that many events
//!   is finished.
//! - **startswith / endswith** (a search expression, a quoted term matched against `_raw`, or
//!   `eval(...)`): working backwards, an event matching `endswith` finishes the transaction it
//!   would have joined and starts a new one; an event matching `startswith` is added and then
//!   finishes its transaction. A transaction without its start event (when `startswith` is
//!   given) or without its end event (when `endswith` is given) is *evicted*: left out unless
//!   `keepevicted=true`.
//! - **Output row**: `_time` = the earliest event's time; `_raw` = the events' `_raw` oldest
//!   first, joined with newlines (a multivalue with `mvraw=true`); every other field is the
//!   multivalue of the events' values — with `mvlist=false` (default) the distinct values in
//!   lexicographic order (Splunk: "a set of unique field values ordered alphabetically"), with
//!   `mvlist=true` (or the field listed in `mvlist="f1,f2"`) every value, oldest event first; a
//!   single value stays a scalar. Fields in first-seen order (oldest event first), then
//!   `duration` (latest - earliest, seconds), `eventcount`, and with `keepevicted=true`
//!   `closed_txn`: 1 for a complete transaction, 0 for an evicted one; 0 for all when no
//!   `maxspan`/`maxpause`/`maxevents`/`startswith`/`endswith` is given (as Splunk documents).
//! - `delim` is accepted: values stay true multivalues here, so it changes nothing.
//! - **Output order**: transactions by `_time` descending (ties keep the order they finished).

use crate::error::PlanError;
use crate::expr::eval::CExpr;
use crate::expr::field::FieldRef;
use crate::expr::predicate::Pred;
use crate::expr::timespan::parse_span;
use crate::expr::value::{EvalContext, Scope};
use crate::ops::subsearch::has_subsearch;
use std::collections::HashMap;
use vigil_model::{Record, Value};
use vigil_spl::ast::{MvList, Span, Transaction, TxnFilter};

/// Splunk's default `maxevents`.
const DEFAULT_MAX_EVENTS: usize = 1000;

#[derive(Debug)]
pub(crate) enum Filter {
    Search(Pred),
    Eval(CExpr),
}

impl Filter {
    fn plan(f: &TxnFilter, name: &str, span: Span) -> Result<Filter, PlanError> {
        Ok(match f {
            TxnFilter::Search(e) => {
                if has_subsearch(e) {
                    return Err(PlanError::Unsupported { message: format!("a subsearch in transaction `{name}=`"), span });
                }
                Filter::Search(Pred::compile(e, &|n: &str| FieldRef::Name(n.to_string())))
            }
            TxnFilter::Eval(e) => Filter::Eval(CExpr::compile(e)?),
        })
    }

    fn matches(&self, row: &Record, ctx: &EvalContext) -> bool {
        match self {
            Filter::Search(p) => p.eval(row),
            Filter::Eval(e) => e.eval(&Scope { row, bound: None, ctx }).truthy(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct TransactionOp {
    pub(crate) fields: Vec<String>,
    /// Seconds; `None` when unlimited.
    maxspan: Option<f64>,
    maxpause: Option<f64>,
    maxevents: Option<usize>,
    startswith: Option<Filter>,
    endswith: Option<Filter>,
    connected: bool,
    pub(crate) keepevicted: bool,
    mvlist: MvList,
    mvraw: bool,
    /// Whether a constraint that can close a transaction was given (for `closed_txn`).
    constrained: bool,
}

/// `maxspan=`/`maxpause=` in seconds: `None` for a negative (disabled) value.
fn duration(text: &str, name: &str, span: Span) -> Result<Option<f64>, PlanError> {
    let t = text.trim();
    if t.starts_with('-') {
        return Ok(None);
    }
    let digits = t.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
    let num = &t[..t.len() - digits.len()];
    if !num.is_empty() && num.parse::<f64>().is_ok_and(|n| n == 0.0) && parse_span(&format!("1{digits}")).is_some() {
        return Ok(Some(0.0));
    }
    match parse_span(t) {
        Some(micros) => Ok(Some(micros as f64 / 1e6)),
        None => Err(PlanError::invalid(format!("bad {name} `{text}` (expected a time such as 30s, 5m, 1h, 1d)"), span)),
    }
}

impl TransactionOp {
    pub(crate) fn plan(t: &Transaction, span: Span) -> Result<TransactionOp, PlanError> {
        let maxspan = match &t.maxspan {
            Some(s) => duration(s, "maxspan", span)?,
            None => None,
        };
        let maxpause = match &t.maxpause {
            Some(s) => duration(s, "maxpause", span)?,
            None => None,
        };
        let maxevents = match t.maxevents {
            None => Some(DEFAULT_MAX_EVENTS),
            Some(n) if n < 0 => None,
            Some(0) => return Err(PlanError::invalid("maxevents must not be 0", span)),
            Some(n) => Some(usize::try_from(n).unwrap_or(usize::MAX)),
        };
        let startswith = t.startswith.as_ref().map(|f| Filter::plan(f, "startswith", span)).transpose()?;
        let endswith = t.endswith.as_ref().map(|f| Filter::plan(f, "endswith", span)).transpose()?;
        let constrained =
            t.maxspan.is_some() || t.maxpause.is_some() || t.maxevents.is_some() || t.startswith.is_some() || t.endswith.is_some();
        Ok(TransactionOp {
            fields: t.fields.clone(),
            maxspan,
            maxpause,
            maxevents,
            startswith,
            endswith,
            connected: t.connected,
            keepevicted: t.keepevicted,
            mvlist: t.mvlist.clone(),
            mvraw: t.mvraw,
            constrained,
        })
    }

    fn keeps_list(&self, field: &str) -> bool {
        match &self.mvlist {
            MvList::Off => false,
            MvList::All => true,
            MvList::Fields(f) => f.iter().any(|n| n == field),
        }
    }

    pub(crate) fn apply(&self, rows: Vec<Record>, ctx: &EvalContext) -> Vec<Record> {
        // Newest first; stable, so equal times keep their input order.
        let mut events: Vec<(f64, Record)> =
            rows.into_iter().filter_map(|r| r.value("_time").as_num().filter(|t| t.is_finite()).map(|t| (t, r))).collect();
        events.sort_by(|a, b| b.0.total_cmp(&a.0));

        let mut state = State { open: Vec::new(), index: HashMap::new(), done: Vec::new(), single: None };
        for (i, (t, row)) in events.iter().enumerate() {
            let t = *t;
            let keys: Vec<Vec<String>> =
                self.fields.iter().map(|f| row.value(f).items().into_iter().map(|s| s.into_owned()).collect()).collect();
            if !self.fields.is_empty() && keys.iter().all(Vec::is_empty) {
                continue;
            }
            let is_end = self.endswith.as_ref().is_some_and(|f| f.matches(row, ctx));
            let is_start = self.startswith.as_ref().is_some_and(|f| f.matches(row, ctx));
            let mut candidate = self.candidate(&mut state, &keys, t);
            if is_end {
                // Working backwards, an end event begins a new (later-ending) transaction: the
                // one it would have joined lies after it and is finished.
                if let Some(id) = candidate.take() {
                    state.finish(id, false);
                }
            }
            let id = match candidate {
                Some(id) => id,
                None => state.create(&self.fields, t, is_end),
            };
            state.add(id, &keys, i, t);
            let full = self.maxevents.is_some_and(|m| state.open.get(id).and_then(Option::as_ref).is_some_and(|o| o.events.len() >= m));
            if is_start {
                state.finish(id, true);
            } else if full {
                state.finish(id, false);
            }
        }
        for id in 0..state.open.len() {
            state.finish(id, false);
        }

        let mut out: Vec<(f64, Record)> = Vec::with_capacity(state.done.len());
        for d in state.done {
            let evicted = (self.startswith.is_some() && !d.has_start) || (self.endswith.is_some() && !d.has_end);
            if evicted && !self.keepevicted {
                continue;
            }
            let closed = self.constrained && !evicted;
            out.push((d.earliest, self.build(&events, &d.events, d.earliest, d.latest, closed)));
        }
        out.sort_by(|a, b| b.0.total_cmp(&a.0));
        out.into_iter().map(|(_, r)| r).collect()
    }

    /// The open transaction `keys` (the event's values of the listed fields) would join at time
    /// `t`; transactions it finds past `maxspan`/`maxpause` are finished on the way.
    fn candidate(&self, state: &mut State, keys: &[Vec<String>], t: f64) -> Option<usize> {
        let mut ids: Vec<usize> = Vec::new();
        if self.fields.is_empty() {
            ids.extend(state.single);
        } else {
            for (f, values) in keys.iter().enumerate() {
                for v in values {
                    if let Some(list) = state.index.get(&(f, v.clone())) {
                        ids.extend(list.iter().copied().filter(|id| state.open.get(*id).is_some_and(Option::is_some)));
                    }
                }
            }
            if !self.connected && self.fields.len() > 1 {
                // Transactions that share no value may still take the event (no conflict).
                ids.extend((0..state.open.len()).filter(|id| state.open.get(*id).is_some_and(Option::is_some)));
            }
            ids.sort_unstable();
            ids.dedup();
        }
        let mut best: Option<(f64, usize)> = None;
        for id in ids {
            let Some(Some(o)) = state.open.get(id) else { continue };
            let expired = self.maxspan.is_some_and(|m| o.latest - t > m) || self.maxpause.is_some_and(|m| o.earliest - t > m);
            if expired {
                state.finish(id, false);
                continue;
            }
            let Some(Some(o)) = state.open.get(id) else { continue };
            let mut shares = false;
            let mut conflict = false;
            for (mine, theirs) in keys.iter().zip(&o.keys) {
                if mine.is_empty() || theirs.is_empty() {
                    continue;
                }
                if mine.iter().any(|v| theirs.contains(v)) {
                    shares = true;
                } else {
                    conflict = true;
                }
            }
            if conflict || !(shares || !self.connected || self.fields.is_empty()) {
                continue;
            }
            // Most recently extended first; among equals, the newer transaction.
            if best.is_none_or(|(e, b)| o.earliest > e || (o.earliest == e && id > b)) {
                best = Some((o.earliest, id));
            }
        }
        best.map(|(_, id)| id)
    }

    /// The result row of one transaction; `ids` index `events`, newest first.
    fn build(&self, events: &[(f64, Record)], ids: &[usize], earliest: f64, latest: f64, closed: bool) -> Record {
        let mut raws: Vec<String> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut values: Vec<Vec<String>> = Vec::new();
        let mut slot: HashMap<String, usize> = HashMap::new();
        for &i in ids.iter().rev() {
            let Some((_, row)) = events.get(i) else { continue };
            for (name, v) in row.iter() {
                match name {
                    "_time" => {}
                    "_raw" => raws.extend(v.items().into_iter().map(|s| s.into_owned())),
                    _ => {
                        let k = *slot.entry(name.to_string()).or_insert_with(|| {
                            names.push(name.to_string());
                            values.push(Vec::new());
                            values.len() - 1
                        });
                        if let Some(list) = values.get_mut(k) {
                            list.extend(v.items().into_iter().map(|s| s.into_owned()));
                        }
                    }
                }
            }
        }
        let mut r = Record::with_capacity(names.len() + 5);
        r.push_new("_time".into(), Value::Num(earliest));
        if !raws.is_empty() {
            let raw = if self.mvraw { Value::from_items(raws) } else { Value::Str(raws.join("\n")) };
            r.push_new("_raw".into(), raw);
        }
        for (name, mut items) in names.into_iter().zip(values) {
            if matches!(name.as_str(), "duration" | "eventcount" | "closed_txn") {
                continue;
            }
            if !self.keeps_list(&name) {
                items.sort_unstable();
                items.dedup();
            }
            r.push_new(name, Value::from_items(items));
        }
        r.push_new("duration".into(), Value::Num(latest - earliest));
        r.push_new("eventcount".into(), Value::Num(ids.len() as f64));
        if self.keepevicted {
            r.push_new("closed_txn".into(), Value::Num(if closed { 1.0 } else { 0.0 }));
        }
        r
    }
}

/// An open transaction (events newest first, as they were added).
struct Open {
    events: Vec<usize>,
    /// Values seen per listed field.
    keys: Vec<Vec<String>>,
    earliest: f64,
    latest: f64,
    /// Its latest event matched `endswith`.
    has_end: bool,
}

struct Done {
    events: Vec<usize>,
    earliest: f64,
    latest: f64,
    has_start: bool,
    has_end: bool,
}

struct State {
    /// Open transactions by id; finished ones become `None`.
    open: Vec<Option<Open>>,
    /// (listed field index, value) -> ids of transactions that have seen it (may be finished).
    index: HashMap<(usize, String), Vec<usize>>,
    done: Vec<Done>,
    /// Without a field list: the one open transaction.
    single: Option<usize>,
}

impl State {
    fn create(&mut self, fields: &[String], t: f64, has_end: bool) -> usize {
        let id = self.open.len();
        self.open.push(Some(Open { events: Vec::new(), keys: vec![Vec::new(); fields.len()], earliest: t, latest: t, has_end }));
        if fields.is_empty() {
            self.single = Some(id);
        }
        id
    }

    fn add(&mut self, id: usize, keys: &[Vec<String>], event: usize, t: f64) {
        let Some(Some(o)) = self.open.get_mut(id) else { return };
        o.events.push(event);
        o.earliest = o.earliest.min(t);
        o.latest = o.latest.max(t);
        for (f, (mine, theirs)) in keys.iter().zip(o.keys.iter_mut()).enumerate() {
            for v in mine {
                if !theirs.contains(v) {
                    theirs.push(v.clone());
                    self.index.entry((f, v.clone())).or_default().push(id);
                }
            }
        }
    }

    fn finish(&mut self, id: usize, has_start: bool) {
        let Some(slot) = self.open.get_mut(id) else { return };
        let Some(o) = slot.take() else { return };
        if self.single == Some(id) {
            self.single = None;
        }
        if o.events.is_empty() {
            return;
        }
        self.done.push(Done { events: o.events, earliest: o.earliest, latest: o.latest, has_start, has_end: o.has_end });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_spl::ast::CommandKind;
    use vigil_time::Tz;

    fn op(text: &str) -> TransactionOp {
        let p = vigil_spl::parse(&format!("| {text}")).unwrap_or_else(|e| panic!("{}", e.render(text, "t")));
        match &p.commands[0].kind {
            CommandKind::Transaction(t) => TransactionOp::plan(t, Span::default()).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    /// An event at time `t` with `_raw` built from the fields.
    fn ev(t: f64, fields: &[(&str, &str)]) -> Record {
        let mut r = Record::new();
        r.set("_time", Value::Num(t));
        r.set("_raw", Value::str(fields.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")));
        for (k, v) in fields {
            r.set(*k, Value::str(*v));
        }
        r
    }

    fn run(text: &str, mut rows: Vec<Record>) -> Vec<Record> {
        // Splunk's input order: newest first.
        rows.sort_by(|a, b| b.value("_time").as_num().unwrap().total_cmp(&a.value("_time").as_num().unwrap()));
        op(text).apply(rows, &EvalContext { now: 0, tz: Tz::utc() })
    }

    fn num(r: &Record, f: &str) -> f64 {
        r.value(f).as_num().unwrap_or_else(|| panic!("{f} in {r:?}"))
    }

    fn items(r: &Record, f: &str) -> Vec<String> {
        r.value(f).items().into_iter().map(|s| s.into_owned()).collect()
    }

    /// (_time, duration, eventcount) of each result row.
    fn shape(rows: &[Record]) -> Vec<(f64, f64, f64)> {
        rows.iter().map(|r| (num(r, "_time"), num(r, "duration"), num(r, "eventcount"))).collect()
    }

    #[test]
    fn groups_by_one_field_and_merges_values() {
        let rows = vec![
            ev(100.0, &[("user", "bob"), ("action", "login"), ("dest", "h2")]),
            ev(110.0, &[("user", "alice"), ("action", "login")]),
            ev(120.0, &[("user", "bob"), ("action", "logout"), ("dest", "h1")]),
            ev(130.0, &[("user", "bob"), ("action", "login"), ("dest", "h1")]),
            ev(140.0, &[("other", "x")]),
        ];
        let out = run("transaction user", rows);
        // Ordered by _time descending; the event without `user` is in no transaction.
        assert_eq!(shape(&out), [(110.0, 0.0, 1.0), (100.0, 30.0, 3.0)]);
        let bob = &out[1];
        assert_eq!(items(bob, "user"), ["bob"]);
        assert!(matches!(bob.value("user"), Value::Str(_)));
        // Distinct values, lexicographic.
        assert_eq!(items(bob, "action"), ["login", "logout"]);
        assert_eq!(items(bob, "dest"), ["h1", "h2"]);
        // _raw oldest first, newline-joined.
        assert_eq!(
            bob.value("_raw").as_text().unwrap(),
            "user=bob action=login dest=h2\nuser=bob action=logout dest=h1\nuser=bob action=login dest=h1"
        );
        let names: Vec<&str> = bob.names().collect();
        assert_eq!(names, ["_time", "_raw", "user", "action", "dest", "duration", "eventcount"]);
        assert!(bob.get("closed_txn").is_none());
    }

    #[test]
    fn mvlist_keeps_every_value_in_event_order() {
        let rows = vec![ev(1.0, &[("u", "a"), ("x", "3")]), ev(2.0, &[("u", "a"), ("x", "1")]), ev(3.0, &[("u", "a"), ("x", "3")])];
        assert_eq!(items(&run("transaction u mvlist=true", rows.clone())[0], "x"), ["3", "1", "3"]);
        assert_eq!(items(&run("transaction u", rows.clone())[0], "x"), ["1", "3"]);
        let out = run(r#"transaction u mvlist="x""#, rows.clone());
        assert_eq!(items(&out[0], "x"), ["3", "1", "3"]);
        assert_eq!(items(&out[0], "u"), ["a"]);
        let out = run("transaction u mvraw=true", rows);
        assert_eq!(items(&out[0], "_raw"), ["u=a x=3", "u=a x=1", "u=a x=3"]);
    }

    #[test]
    fn several_fields_join_transitively_without_conflicts() {
        // Splunk's documented example for `transaction host cookie`.
        let rows = vec![
            ev(1.0, &[("host", "a")]),
            ev(2.0, &[("host", "a"), ("cookie", "b")]),
            ev(3.0, &[("host", "b")]),
            ev(4.0, &[("host", "b"), ("cookie", "b")]),
        ];
        let out = run("transaction host cookie", rows);
        assert_eq!(shape(&out), [(3.0, 1.0, 2.0), (1.0, 1.0, 2.0)]);
        assert_eq!(items(&out[0], "host"), ["b"]);
        assert_eq!(items(&out[1], "cookie"), ["b"]);

        // A shared cookie links events whose host only one of them has.
        let rows = vec![ev(1.0, &[("host", "a")]), ev(2.0, &[("host", "a"), ("cookie", "c")]), ev(3.0, &[("cookie", "c")])];
        assert_eq!(shape(&run("transaction host cookie", rows)), [(1.0, 2.0, 3.0)]);
    }

    #[test]
    fn connected_false_joins_events_without_a_shared_value() {
        // Newest first: {host=a} opens; {cookie=c} shares nothing with it.
        let rows = vec![ev(1.0, &[("cookie", "c")]), ev(2.0, &[("host", "a")])];
        assert_eq!(shape(&run("transaction host cookie", rows.clone())), [(2.0, 0.0, 1.0), (1.0, 0.0, 1.0)]);
        assert_eq!(shape(&run("transaction host cookie connected=false", rows)), [(1.0, 1.0, 2.0)]);
        // A conflicting value never joins.
        let rows = vec![ev(1.0, &[("host", "b")]), ev(2.0, &[("host", "a")])];
        assert_eq!(run("transaction host cookie connected=false", rows).len(), 2);
    }

    #[test]
    fn maxspan_and_maxpause_split_transactions() {
        let rows: Vec<Record> = [0.0, 10.0, 20.0, 100.0, 110.0].iter().map(|t| ev(*t, &[("u", "a")])).collect();
        assert_eq!(shape(&run("transaction u", rows.clone())), [(0.0, 110.0, 5.0)]);
        // Gaps of 80s break a 30s maxpause; the bound is inclusive (10s gaps with maxpause=10s).
        assert_eq!(shape(&run("transaction u maxpause=30s", rows.clone())), [(100.0, 10.0, 2.0), (0.0, 20.0, 3.0)]);
        assert_eq!(shape(&run("transaction u maxpause=10", rows.clone())), [(100.0, 10.0, 2.0), (0.0, 20.0, 3.0)]);
        // maxspan=1m: working back from 110, 100 fits, 20 does not; 20, 10, 0 fit together.
        assert_eq!(shape(&run("transaction u maxspan=1m", rows.clone())), [(100.0, 10.0, 2.0), (0.0, 20.0, 3.0)]);
        assert_eq!(shape(&run("transaction u maxspan=15s", rows.clone())), [(100.0, 10.0, 2.0), (10.0, 10.0, 2.0), (0.0, 0.0, 1.0)]);
        assert_eq!(shape(&run("transaction u maxspan=-1", rows.clone())), [(0.0, 110.0, 5.0)]);
        assert_eq!(shape(&run("transaction u maxspan=2h maxpause=1d", rows)), [(0.0, 110.0, 5.0)]);
    }

    #[test]
    fn maxevents_caps_transactions() {
        let rows: Vec<Record> = (0..5).map(|t| ev(f64::from(t), &[("u", "a")])).collect();
        assert_eq!(shape(&run("transaction u maxevents=2", rows)), [(3.0, 1.0, 2.0), (1.0, 1.0, 2.0), (0.0, 0.0, 1.0)]);
        let rows: Vec<Record> = (0..1001).map(|t| ev(f64::from(t), &[("u", "a")])).collect();
        assert_eq!(run("transaction u", rows.clone()).len(), 2);
        assert_eq!(run("transaction u maxevents=-1", rows).len(), 1);
    }

    #[test]
    fn startswith_and_endswith_delimit_transactions() {
        let rows = vec![
            ev(1.0, &[("u", "a"), ("step", "noise")]),
            ev(2.0, &[("u", "a"), ("step", "start")]),
            ev(3.0, &[("u", "a"), ("step", "mid")]),
            ev(4.0, &[("u", "a"), ("step", "end")]),
            ev(5.0, &[("u", "a"), ("step", "start")]),
            ev(6.0, &[("u", "a"), ("step", "end")]),
            ev(7.0, &[("u", "a"), ("step", "start")]),
        ];
        let both = "transaction u startswith=(step=start) endswith=(step=end)";
        assert_eq!(shape(&run(both, rows.clone())), [(5.0, 1.0, 2.0), (2.0, 2.0, 3.0)]);
        // The incomplete ones (no end after 7, no start before 1) are evicted.
        let out = run(&format!("{both} keepevicted=true"), rows.clone());
        assert_eq!(shape(&out), [(7.0, 0.0, 1.0), (5.0, 1.0, 2.0), (2.0, 2.0, 3.0), (1.0, 0.0, 1.0)]);
        let closed: Vec<f64> = out.iter().map(|r| num(r, "closed_txn")).collect();
        assert_eq!(closed, [0.0, 1.0, 1.0, 0.0]);

        // startswith alone: each start collects the events after it.
        let starts = run("transaction u startswith=(step=start)", rows.clone());
        assert_eq!(shape(&starts), [(7.0, 0.0, 1.0), (5.0, 1.0, 2.0), (2.0, 2.0, 3.0)]);
        assert_eq!(items(&starts[2], "step"), ["end", "mid", "start"]);
        // endswith alone: each end collects the events since the previous end.
        assert_eq!(shape(&run("transaction u endswith=(step=end)", rows.clone())), [(5.0, 1.0, 2.0), (1.0, 3.0, 4.0)]);
        // Quoted terms match _raw; eval filters see the event's fields.
        assert_eq!(
            shape(&run(r#"transaction u startswith="step=start" endswith=eval(step=="end")"#, rows)),
            [(5.0, 1.0, 2.0), (2.0, 2.0, 3.0)]
        );
    }

    #[test]
    fn filters_and_constraints_combine_per_key() {
        // Two interleaved users, short-lived objects found by start/end pairs.
        let rows = vec![
            ev(10.0, &[("obj", "x"), ("EventCode", "5137")]),
            ev(12.0, &[("obj", "y"), ("EventCode", "5137")]),
            ev(15.0, &[("obj", "x"), ("EventCode", "5141")]),
            ev(500.0, &[("obj", "y"), ("EventCode", "5141")]),
        ];
        let out = run("transaction obj startswith=(EventCode=5137) endswith=(EventCode=5141)", rows.clone());
        assert_eq!(shape(&out), [(12.0, 488.0, 2.0), (10.0, 5.0, 2.0)]);
        assert_eq!(items(&out[1], "EventCode"), ["5137", "5141"]);
        // With maxspan, y's pair is too far apart: both halves are evicted.
        let out = run("transaction obj startswith=(EventCode=5137) endswith=(EventCode=5141) maxspan=5m", rows);
        assert_eq!(shape(&out), [(10.0, 5.0, 2.0)]);
    }

    #[test]
    fn without_a_field_list_all_events_form_one_stream() {
        let rows: Vec<Record> = [0.0, 5.0, 50.0].iter().map(|t| ev(*t, &[("a", "1")])).collect();
        assert_eq!(shape(&run("transaction maxpause=10s", rows)), [(50.0, 0.0, 1.0), (0.0, 5.0, 2.0)]);
    }

    #[test]
    fn closed_txn_without_constraints_is_zero_and_nothing_is_dropped() {
        let rows = vec![ev(1.0, &[("u", "a")]), ev(2.0, &[("u", "b")])];
        let out = run("transaction u keepevicted=true", rows.clone());
        assert_eq!(out.iter().map(|r| num(r, "closed_txn")).collect::<Vec<_>>(), [0.0, 0.0]);
        let out = run("transaction u maxspan=1h keepevicted=true", rows);
        assert_eq!(out.iter().map(|r| num(r, "closed_txn")).collect::<Vec<_>>(), [1.0, 1.0]);
    }

    #[test]
    fn input_order_multivalues_and_missing_time() {
        // Oldest-first input gives the same result; multivalue keys match on any item.
        let mut rows = vec![ev(1.0, &[("u", "a")]), ev(2.0, &[("v", "1")]), ev(3.0, &[("u", "b")])];
        rows[1].set("u", Value::Multi(vec!["a".into(), "b".into()]));
        let mut no_time = ev(0.0, &[("u", "a")]);
        no_time.remove("_time");
        rows.push(no_time);
        let out = op("transaction u").apply(rows, &EvalContext { now: 0, tz: Tz::utc() });
        assert_eq!(shape(&out), [(1.0, 2.0, 3.0)]);
        assert_eq!(items(&out[0], "u"), ["a", "b"]);
    }

    #[test]
    fn plan_errors() {
        let plan = |text: &str| {
            let p = vigil_spl::parse(&format!("| {text}")).unwrap();
            match &p.commands[0].kind {
                CommandKind::Transaction(t) => TransactionOp::plan(t, Span::default()).map(|_| ()),
                _ => unreachable!(),
            }
        };
        assert!(plan("transaction u maxspan=5x").is_err());
        assert!(plan("transaction u maxpause=abc").is_err());
        assert!(plan("transaction u maxevents=0").is_err());
        assert!(plan("transaction u maxspan=0s maxpause=0").is_ok());
        assert!(plan("transaction u startswith=([| inputlookup t])").unwrap_err().is_unsupported());
    }
}
