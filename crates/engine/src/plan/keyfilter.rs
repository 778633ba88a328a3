//! Filters after a tstats that depend only on the group key, applied when a group is created.
//!
//! `tstats ... by process_name process | rename ... | lookup attacker_tools ... | search
//! description!=false` keeps a group or drops it by its by-field values alone: the aggregates
//! cannot change the outcome. Such a group need not be kept at all. When a scan would create
//! a new group, the leading operators of the query, up to its last filter that reads only
//! key-derived fields, run over a row of the key's fields; if no row comes out, the group is
//! refused (and remembered as refused). The operators still run in full after the scan, so
//! results do not change; only groups that could never reach the output are skipped.
//!
//! Derived values are tracked by name through renames, field selections, evals, lookups and
//! rex: a field is key-derived unless it comes from an aggregate, from the clock or time zone
//! (convert, non-pure eval), or from an operator not understood here (which ends the prefix).

use crate::expr::eval::CExpr;
use crate::expr::predicate::Pred;
use crate::expr::value::EvalContext;
use crate::ops::fields::{fields_columns, rename_columns, table_columns, Columns};
use crate::ops::{Op, RowEnv};
use crate::plan::keyrow::{self, KeyFields};
use crate::plan::lineage::{Lineage, Origin};
use crate::plan::{Stage, TstatsScan};
use vigil_model::{Record, Value};
use vigil_spl::ast::BinaryOp;

/// A query's key filter, ready to run on each new group key.
#[derive(Debug)]
pub(crate) struct KeyFilter {
    /// Operators up to the last qualifying filter ([`prefix_len`]).
    len: usize,
    /// The operators that run on a key row: not the leading ones that only rename or select
    /// fields (applied once, to the names), nor those that do nothing to a key row.
    run: Vec<usize>,
    /// The key row's fields after the leading renames, those the decision depends on when
    /// that is known: (name, by-field position).
    layout: Vec<(String, usize)>,
    /// The by-field positions whose texts alone decide the filter, when they are fewer than
    /// the key's (see [`decisive_positions`]): its decision is then remembered per their texts.
    decides: Option<Vec<usize>>,
    /// What runs instead of the last operator, a `where` that also tests aggregates: its
    /// conjuncts on the key alone (see [`prefix_len`]).
    partial: Option<Op>,
    /// How many of the operators of `run`, from the first, are filters that read the key's
    /// texts in place (see `keyrow`): no row is built unless a key passes them.
    in_place: usize,
}

impl KeyFilter {
    /// The key filter of `stage`'s scan, if its operators start with one.
    pub(crate) fn plan(stage: &Stage, by_names: &[String], agg_names: &[String]) -> Option<KeyFilter> {
        let (len, partial) = prefix_len(stage, by_names, agg_names);
        if len == 0 {
            return None;
        }
        let partial = partial.map(Op::Where);
        // The key row has the by-fields only; renames move them, as `drop_dm_object_name` does.
        let mut fields = Lineage::of_groups(by_names, &[]);
        let mut skip = 0;
        for op in &stage.ops[..len] {
            match op {
                Op::Rename(_) | Op::Fields { .. } | Op::Table(_) => fields.apply(op, None),
                _ if writes_nothing(op, &fields.names().collect::<Vec<&str>>()) => {}
                _ => break,
            }
            skip += 1;
        }
        let layout = fields
            .names()
            .map(|name| match fields.origin(name) {
                Some(Origin::By(i)) => Some((name.to_string(), i)),
                _ => None,
            })
            .collect::<Option<Vec<(String, usize)>>>()?;
        let run = ops_to_run(&stage.ops, skip..len, &layout);
        let needed = decisive_positions(run.iter().filter_map(|&i| op_at(&stage.ops, len, partial.as_ref(), i)), &layout);
        // A key row needs only the fields the decision depends on: no operator reads the
        // others, so their presence changes nothing, and each would cost a copy per new key.
        let layout = match &needed {
            Some(positions) => layout.into_iter().filter(|(_, i)| positions.contains(i)).collect(),
            None => layout,
        };
        let decides = needed.filter(|d| d.len() < by_names.len());
        let in_place = run.iter().take_while(|&&i| op_at(&stage.ops, len, partial.as_ref(), i).is_some_and(keyrow::reads_in_place)).count();
        Some(KeyFilter { len, run, layout, decides, partial, in_place })
    }

    /// The by-field positions that alone decide [`KeyFilter::admits`], if fewer than all.
    pub(crate) fn decides(&self) -> Option<&[usize]> {
        self.decides.as_deref()
    }

    /// How many leading operators of the stage the filter runs.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether the last of them is a `where` run with its conjuncts on the key alone.
    pub(crate) fn is_partial(&self) -> bool {
        self.partial.is_some()
    }

    /// The filter of tstats scan `t` (whose groups this filters) with what the in-place
    /// filters ask of its rows ANDed in ([`keyrow::row_condition`]); `None` when they ask
    /// nothing. Rows it drops make only keys the filter refuses.
    pub(crate) fn scan_filter(&self, ops: &[Op], t: &TstatsScan) -> Option<Pred> {
        let in_place = self.run.iter().take(self.in_place).filter_map(|&i| op_at(ops, self.len, self.partial.as_ref(), i));
        let mut conditions: Vec<Pred> =
            in_place.filter_map(|op| keyrow::row_condition(op, &self.layout, &t.by, t.fillnull.as_deref())).collect();
        if conditions.is_empty() {
            return None;
        }
        Some(match &t.filter {
            Pred::True if conditions.len() == 1 => conditions.remove(0),
            Pred::True => Pred::And(conditions),
            Pred::And(items) => Pred::And(items.iter().cloned().chain(conditions).collect()),
            other => Pred::And(std::iter::once(other.clone()).chain(conditions).collect()),
        })
    }

    /// Whether a group whose by-field texts are `text(i)` can reach the output: the filter's
    /// operators over a row of those fields yield a row.
    pub(crate) fn admits<'t>(&self, ops: &[Op], text: impl Fn(usize) -> &'t str, ctx: &EvalContext) -> bool {
        let key = KeyFields { layout: &self.layout, text: &text };
        let mut run = self.run.iter().filter_map(|&i| op_at(ops, self.len, self.partial.as_ref(), i));
        if !run.by_ref().take(self.in_place).all(|op| keyrow::keeps(op, &key) != Some(false)) {
            return false;
        }
        if self.in_place == self.run.len() {
            return true;
        }
        let mut row = Record::with_capacity(self.layout.len());
        for (name, i) in &self.layout {
            // A short name is kept inline: no copy of it on the heap per key.
            row.push_new_str(name, Value::Str(text(*i).to_string()));
        }
        let mut rows = vec![row];
        let mut env = RowEnv { ctx };
        for op in run {
            rows = match crate::ops::apply(op, rows, &mut env) {
                Ok(rows) => rows,
                // Unsure: keep the group; the query reports the error after the scan.
                Err(_) => return true,
            };
            if rows.is_empty() {
                return false;
            }
        }
        true
    }
}

/// Operator `i` of a key filter of `len` operators: the last one's `partial` replacement, if any.
fn op_at<'o>(ops: &'o [Op], len: usize, partial: Option<&'o Op>, i: usize) -> Option<&'o Op> {
    match partial {
        Some(partial) if i + 1 == len => Some(partial),
        _ => ops.get(i),
    }
}

/// Whether `op` leaves a row of just the fields `present` as it is: a `convert` of fields the
/// row lacks writes nothing (all but `num`, which may clear its alias), such as the
/// `security_content_ctime(firstTime)` of a key row, which has no aggregates.
fn writes_nothing(op: &Op, present: &[&str]) -> bool {
    let Op::Convert(c) = op else { return false };
    c.conversions.iter().all(|conv| conv.func != "num" && !conv.field.contains('*') && !present.contains(&conv.field.as_str()))
}

/// The operators in `range` of `ops` to run on a key row of `layout`: all but the converts
/// that write nothing to it, among the leading ones that keep its field names (filters).
fn ops_to_run(ops: &[Op], range: std::ops::Range<usize>, layout: &[(String, usize)]) -> Vec<usize> {
    let present: Vec<&str> = layout.iter().map(|(n, _)| n.as_str()).collect();
    let mut names_kept = true;
    let mut run = Vec::new();
    for i in range {
        let Some(op) = ops.get(i) else { break };
        if names_kept && writes_nothing(op, &present) {
            continue;
        }
        names_kept &= matches!(op, Op::Search(_) | Op::Where(_) | Op::Regex(_));
        run.push(i);
    }
    run
}

/// The by-field positions whose texts alone decide whether `ops` (a key filter's operators
/// after its renames) yield a row from a key row of `layout`, or `None` when that is not known.
///
/// Each field is followed with the positions its value (and its presence) may depend on: a
/// by-field its own, a field an eval, lookup, rex or convert writes those of the fields it
/// reads, joined with the positions of the value it may leave in place (the operator may not
/// write: no lookup match, a null eval). Every operator's outcome (its rows, its errors)
/// depends only on the fields it reads; so the decision depends only on the positions of
/// every field some operator reads. A field no operator wrote and the key row lacks is absent
/// whatever the key: it depends on nothing.
fn decisive_positions<'o>(ops: impl IntoIterator<Item = &'o Op>, layout: &[(String, usize)]) -> Option<Vec<usize>> {
    let mut deps = Deps(Vec::new());
    for (name, i) in layout {
        if *i >= 64 {
            return None;
        }
        deps.0.push((name.clone(), 1u64 << i));
    }
    let mut needed = 0u64;
    for op in ops {
        match op {
            Op::Rename(pairs) => {
                rename_columns(&mut deps, pairs);
            }
            Op::Table(patterns) => table_columns(&mut deps, patterns),
            Op::Fields { remove, fields } => fields_columns(&mut deps, *remove, fields),
            Op::Eval(assignments) => {
                for (name, e) in assignments {
                    let mut read = Vec::new();
                    e.fields(&mut read);
                    let m = deps.mask(&read);
                    needed |= m;
                    deps.write(name, m);
                }
            }
            Op::Lookup(l) => {
                let m = deps.mask(&op.fields_read()?);
                needed |= m;
                l.outputs.iter().for_each(|(_, f)| deps.write(f, m));
            }
            Op::Rex(r) => {
                let m = deps.mask(std::slice::from_ref(&r.field));
                needed |= m;
                match r.sed {
                    Some(_) => deps.write(&r.field, m),
                    None => r.re.names().for_each(|n| deps.write(n, m)),
                }
            }
            Op::Convert(c) => {
                for conv in &c.conversions {
                    if conv.field.contains('*') {
                        return None;
                    }
                    let m = deps.mask(std::slice::from_ref(&conv.field));
                    needed |= m;
                    deps.write(conv.alias.as_deref().unwrap_or(&conv.field), m);
                }
            }
            Op::Search(_) | Op::Where(_) | Op::Regex(_) => needed |= deps.mask(&op.fields_read()?),
            _ => return None,
        }
    }
    Some((0..64).filter(|i| needed & (1u64 << i) != 0).collect())
}

/// Fields with the by-field positions (a bit set) their value and presence may depend on.
struct Deps(Vec<(String, u64)>);

impl Deps {
    fn mask(&self, names: &[String]) -> u64 {
        names.iter().filter_map(|n| self.0.iter().find(|(f, _)| f == n)).fold(0, |m, (_, d)| m | d)
    }

    /// An operator may write `name` from fields of `mask`, or leave its value in place.
    fn write(&mut self, name: &str, mask: u64) {
        match self.0.iter_mut().find(|(f, _)| f == name) {
            Some((_, d)) => *d |= mask,
            None => self.0.push((name.to_string(), mask)),
        }
    }
}

impl Columns for Deps {
    fn for_each_name(&self, f: &mut dyn FnMut(&str)) {
        self.0.iter().for_each(|(n, _)| f(n));
    }

    fn has_column(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    /// The target keeps its positions too: the row may lack `from` (a null eval), and then
    /// keeps its own `to`.
    fn rename_column(&mut self, from: &str, to: &str) {
        if from == to {
            return;
        }
        let Some(i) = self.0.iter().position(|(n, _)| n == from) else { return };
        let mask = self.0[i].1 | self.0.iter().find(|(n, _)| n == to).map_or(0, |(_, d)| *d);
        self.0.retain(|(n, _)| n != to);
        if let Some(slot) = self.0.iter_mut().find(|(n, _)| n == from) {
            *slot = (to.to_string(), mask);
        }
    }

    fn project_columns(&mut self, order: &[String]) {
        self.0 = order.iter().filter_map(|n| self.0.iter().find(|(f, _)| f == n).cloned()).collect();
    }

    fn retain_columns(&mut self, keep: &dyn Fn(&str) -> bool) {
        self.0.retain(|(n, _)| keep(n));
    }
}

/// How many leading operators of `stage` make the key filter of its scan (0: none), given the
/// scan's by-field and aggregate column names: up to the last filter that reads only fields
/// derived from the key (see `lineage`) and may refuse a row, through operators whose fields
/// the lineage follows. A `where` whose conjuncts test aggregates too ends the prefix with its
/// conjuncts on the key alone (returned): `where count > 5 AND dll_path == 1` can hold for a
/// group only if `dll_path == 1` does, whatever its aggregates.
pub(crate) fn prefix_len(stage: &Stage, by_names: &[String], agg_names: &[String]) -> (usize, Option<CExpr>) {
    let reach = stage.ops.iter().position(|op| !followed(op)).unwrap_or(stage.ops.len());
    // Only a filter within reach can end the prefix. Most queries have none there (they
    // aggregate or sort first): no lineage to follow, and none past their last one.
    let Some(last) = stage.ops[..reach].iter().rposition(may_refuse) else { return (0, None) };
    let mut fields = Lineage::of_groups(by_names, agg_names);
    let mut len = 0;
    for (i, op) in stage.ops[..=last].iter().enumerate() {
        if !may_refuse(op) {
            fields.apply(op, None);
            continue;
        }
        let pure = !matches!(op, Op::Where(e) if !e.is_pure());
        match op.fields_read() {
            Some(read) if pure && fields.key_derived(&read) => len = i + 1,
            _ => {
                if let Op::Where(e) = op {
                    if let Some(partial) = key_conjuncts(e, &fields) {
                        return (i + 1, Some(partial));
                    }
                }
                break;
            }
        }
    }
    (len, None)
}

/// Whether `op` is a filter that may refuse a row. `search *` (as most `..._filter` macros
/// are) keeps every row: running it, and what comes before it, on each new key could refuse
/// none.
fn may_refuse(op: &Op) -> bool {
    match op {
        Op::Search(p) => !matches!(p, Pred::True),
        Op::Where(_) | Op::Regex(_) => true,
        _ => false,
    }
}

/// Whether the key filter's prefix may go on past `op`: a filter, or an operator whose fields
/// the lineage follows one row at a time.
fn followed(op: &Op) -> bool {
    match op {
        Op::Search(_) | Op::Where(_) | Op::Regex(_) => true,
        Op::Rename(_) | Op::Table(_) | Op::Fields { .. } | Op::Eval(_) | Op::Rex(_) => true,
        Op::Convert(c) => !c.conversions.iter().any(|conv| conv.field.contains('*')),
        Op::Lookup(_) => op.fields_read().is_some(),
        // Their fields are not followed here, or they group, order or drop rows by more than
        // the key: the prefix ends.
        Op::Stats(_) | Op::Eventstats(_) | Op::Dedup(_) | Op::Sort(_) | Op::Head(_) => false,
        Op::Join(_) | Op::DynamicSearch(_) | Op::Fillnull(_) | Op::Bin(_) | Op::Mvexpand { .. } | Op::Makemv { .. } => false,
        Op::Xmlkv(_) | Op::Spath { .. } | Op::Replace { .. } | Op::Foreach(_) | Op::Transaction(_) => false,
        Op::TopRare(_) | Op::Timechart(_) | Op::SigmaCorrelation(_) => false,
    }
}

/// The conjuncts of `e` (its top-level ANDs) that are pure and read only key-derived fields,
/// ANDed, when there are some: `where` keeps a row only when every conjunct is true (`AND` is
/// false unless both sides are true), so these must hold for any group it keeps.
fn key_conjuncts(e: &CExpr, fields: &Lineage) -> Option<CExpr> {
    let mut all = Vec::new();
    conjuncts(e, &mut all);
    let on_key = |c: &&CExpr| {
        let mut read = Vec::new();
        c.fields(&mut read);
        c.is_pure() && fields.key_derived(&read)
    };
    let mut kept = all.into_iter().filter(on_key).cloned();
    let first = kept.next()?;
    Some(kept.fold(first, |acc, c| CExpr::Binary(BinaryOp::And, Box::new(acc), Box::new(c))))
}

fn conjuncts<'e>(e: &'e CExpr, out: &mut Vec<&'e CExpr>) {
    match e {
        CExpr::Binary(BinaryOp::And, l, r) => {
            conjuncts(l, out);
            conjuncts(r, out);
        }
        _ => out.push(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Planner;
    use vigil_content::ContentSet;

    fn prefix(text: &str) -> usize {
        let catalog = vigil_normalize::Normalizer::builtin().expect("mappings").catalog().clone();
        let content = ContentSet::default();
        let q = Planner::new(&catalog, &content).plan("t", text).expect("plans");
        let by = ["Processes.dest", "Processes.process_name", "Processes.process"].map(String::from);
        prefix_len(&q.root, &by, &["count".into(), "firstTime".into()]).0
    }

    const HEAD: &str = "| tstats count min(_time) as firstTime from datamodel=Endpoint.Processes \
                        by Processes.dest Processes.process_name Processes.process | rename Processes.* as * ";

    #[test]
    fn filters_on_key_fields_make_the_prefix() {
        assert_eq!(prefix(&format!("{HEAD}| convert ctime(firstTime) | regex process=\"x\" | table dest")), 3);
        assert_eq!(prefix(&format!("{HEAD}| eval n=len(process_name), e=if(n>4,1,0) | search e=1 | eval x=1")), 3);
        assert_eq!(prefix(&format!("{HEAD}| rex field=process \"(?<ext>\\.\\w+)$\" | where isnull(ext)")), 3);
        // The last qualifying filter ends the prefix.
        assert_eq!(prefix(&format!("{HEAD}| search dest=a | where count > 2 | search dest=b")), 2);
        // A filter that keeps every row does not: with no other, there is no key filter.
        assert_eq!(prefix(&format!("{HEAD}| search dest=a | convert ctime(firstTime) | search *")), 2);
        assert_eq!(prefix(&format!("{HEAD}| eval n=len(dest) | search *")), 0);
        assert_eq!(prefix(&format!("{HEAD}| search * | search dest=a")), 3);
    }

    /// The by-field positions (dest 0, process_name 1, process 2) that decide the key filter.
    fn decides(text: &str) -> Option<Vec<usize>> {
        let catalog = vigil_normalize::Normalizer::builtin().expect("mappings").catalog().clone();
        let content = ContentSet::default();
        let q = Planner::new(&catalog, &content).plan("t", text).expect("plans");
        let by = ["Processes.dest", "Processes.process_name", "Processes.process"].map(String::from);
        KeyFilter::plan(&q.root, &by, &["count".into(), "firstTime".into()])?.decides().map(<[usize]>::to_vec)
    }

    #[test]
    fn decisions_depend_on_the_fields_read() {
        assert_eq!(decides(&format!("{HEAD}| search process_name=cmd.exe | table dest")), Some(vec![1]));
        assert_eq!(decides(&format!("{HEAD}| eval n=lower(process) | search n=*x*")), Some(vec![2]));
        assert_eq!(decides(&format!("{HEAD}| rex field=process \"(?<ext>\\.\\w+)$\" | where isnull(ext)")), Some(vec![2]));
        // Leading renames move the key's fields; a later one may find its source absent (a
        // null eval) and keep the target's own value: both count.
        assert_eq!(decides(&format!("{HEAD}| rename process_name as dest | search dest=x")), Some(vec![1]));
        assert_eq!(decides(&format!("{HEAD}| eval n=1 | rename process_name as dest | search dest=x")), Some(vec![0, 1]));
        assert_eq!(decides(&format!("{HEAD}| eval dest=if(process_name=\"a\", null(), \"b\") | search dest=b")), Some(vec![0, 1]));
        // A field the key row lacks is the same for every key; an eval's inputs count even
        // when no filter reads what it wrote (it may fail).
        assert_eq!(decides(&format!("{HEAD}| search user=x")), Some(vec![]));
        assert_eq!(decides(&format!("{HEAD}| eval n=len(dest) | search process_name=x")), Some(vec![0, 1]));
        // Every by-field: nothing to remember by.
        assert_eq!(decides(&format!("{HEAD}| search dest=a process=b process_name=c")), None);
    }

    /// The operators the key filter runs, and whether it admits a key.
    fn planned(text: &str, key: [&str; 3]) -> (Vec<usize>, bool) {
        let catalog = vigil_normalize::Normalizer::builtin().expect("mappings").catalog().clone();
        let content = ContentSet::default();
        let q = Planner::new(&catalog, &content).plan("t", text).expect("plans");
        let by = ["Processes.dest", "Processes.process_name", "Processes.process"].map(String::from);
        let f = KeyFilter::plan(&q.root, &by, &["count".into(), "firstTime".into()]).expect("a key filter");
        let ctx = EvalContext { now: 0, tz: vigil_time::Tz::utc() };
        let admitted = f.admits(&q.root.ops, |i| key[i], &ctx);
        (f.run.clone(), admitted)
    }

    #[test]
    fn converts_of_fields_a_key_row_lacks_do_not_run() {
        let key = ["host", "cmd.exe", "cmd.exe /c 1700000000"];
        let ctime = "| convert ctime(firstTime) ctime(lastTime) ";
        // Leading, before or after the renames.
        assert_eq!(planned(&format!("{HEAD}{ctime}| search process_name=cmd.exe"), key), (vec![2], true));
        let text = format!(
            "| tstats count min(_time) as firstTime from datamodel=Endpoint.Processes by Processes.dest \
                            Processes.process_name Processes.process {ctime}| rename Processes.* as * | search dest=other"
        );
        assert_eq!(planned(&text, key), (vec![2], false));
        // After a filter too; but a convert of a key field runs, and so does `num` (which may
        // clear its alias), and every operator after one that may add fields.
        assert_eq!(planned(&format!("{HEAD}| search dest=host {ctime}| search dest=host"), key), (vec![1, 3], true));
        assert_eq!(planned(&format!("{HEAD}| search dest=host | convert ctime(process) | search dest=x"), key), (vec![1, 2, 3], false));
        assert_eq!(planned(&format!("{HEAD}| convert num(lastTime) as dest | search process_name=cmd.exe"), key), (vec![1, 2], true));
        let text = format!("{HEAD}| eval firstTime=dest {ctime}| search process_name=cmd.exe");
        assert_eq!(planned(&text, key), (vec![1, 2, 3], true));
    }

    /// The names of the key row's fields.
    fn key_row(text: &str) -> Vec<String> {
        let catalog = vigil_normalize::Normalizer::builtin().expect("mappings").catalog().clone();
        let content = ContentSet::default();
        let q = Planner::new(&catalog, &content).plan("t", text).expect("plans");
        let by = ["Processes.dest", "Processes.process_name", "Processes.process"].map(String::from);
        let f = KeyFilter::plan(&q.root, &by, &["count".into(), "firstTime".into()]).expect("a key filter");
        f.layout.iter().map(|(n, _)| n.clone()).collect()
    }

    #[test]
    fn key_rows_hold_the_fields_the_decision_reads() {
        assert_eq!(key_row(&format!("{HEAD}| search process_name=cmd.exe | table dest")), ["process_name"]);
        assert_eq!(key_row(&format!("{HEAD}| rex field=process \"(?<ext>\\.\\w+)$\" | where isnull(ext)")), ["process"]);
        // Read through an eval, or only by a later filter: both kept; a field read by none is
        // not in the row, so a filter that reads nothing gets an empty row.
        let text = format!("{HEAD}| eval n=len(dest) | where n>3 | search process_name=cmd.exe");
        assert_eq!(key_row(&text), ["dest", "process_name"]);
        assert_eq!(planned(&text, ["host", "cmd.exe", "x"]), (vec![1, 2, 3], true));
        assert_eq!(planned(&text, ["h", "cmd.exe", "x"]), (vec![1, 2, 3], false));
        assert!(key_row(&format!("{HEAD}| search user=x")).is_empty());
        // A rename of an unread field onto a read one makes it read.
        assert_eq!(key_row(&format!("{HEAD}| eval n=1 | rename process as dest | search dest=x")), ["dest", "process"]);
    }

    #[test]
    fn a_where_on_aggregates_and_the_key_filters_by_its_key_conjuncts() {
        let text = format!("{HEAD}| where count > 2 AND process_name=\"cmd.exe\" AND firstTime > 0 | table dest");
        assert_eq!(prefix(&text), 2);
        assert_eq!(planned(&text, ["host", "cmd.exe", "x"]), (vec![1], true));
        assert_eq!(planned(&text, ["host", "sh", "x"]), (vec![1], false));
        assert_eq!(decides(&text), Some(vec![1]));
        // Only the conjuncts of a top-level AND: an OR with an aggregate decides nothing.
        assert_eq!(prefix(&format!("{HEAD}| where count > 2 OR process_name=\"cmd.exe\"")), 0);
        // An earlier filter on the key still runs before it.
        let text = format!("{HEAD}| search dest=host | where (count > 2 AND len(process) > 3) AND dest!=\"x\"");
        assert_eq!(planned(&text, ["host", "cmd.exe", "cmd /c"]), (vec![1, 2], true));
        assert_eq!(planned(&text, ["other", "cmd.exe", "cmd /c"]), (vec![1, 2], false));
        assert_eq!(planned(&text, ["host", "cmd.exe", "ab"]), (vec![1, 2], false));
    }

    #[test]
    fn filters_on_aggregates_or_unknown_operators_do_not() {
        assert_eq!(prefix(&format!("{HEAD}| where count > 2")), 0);
        assert_eq!(prefix(&format!("{HEAD}| convert ctime(firstTime) | search firstTime=*")), 0);
        assert_eq!(prefix(&format!("{HEAD}| eval c=count+1 | search c=3")), 0);
        assert_eq!(prefix(&format!("{HEAD}| rename count as dest | search dest=1")), 0);
        assert_eq!(prefix(&format!("{HEAD}| sort dest | search dest=1")), 0);
        assert_eq!(prefix(&format!("{HEAD}| where now() > 5")), 0);
        assert_eq!(prefix(&format!("{HEAD}| eval t=now() | search t=1")), 0);
    }
}
