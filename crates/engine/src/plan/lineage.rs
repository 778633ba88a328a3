//! Field lineage: which fields a stage's rows have after each operator, and where each one's
//! value comes from. One analysis, three uses:
//!
//! - `Query::output_fields` (`vigil test` checks risk and threat object fields against it);
//! - the key filter (`keyfilter`): how far filters read only fields derived from a tstats
//!   scan's group key;
//! - the semi-join (`semijoin`): which of the scan's by-fields a join field is a copy of.
//!
//! A tstats scan or a `stats` gives a closed set (by-fields and aggregation names); a
//! raw-event search an *open* one (any event field may appear), which `table`, `fields` or
//! `stats` close. `rename`, `table` and `fields` change the set by the same code as they
//! change rows (`ops::fields::Columns`).

use crate::expr::eval::CExpr;
use crate::ops::fields::{fields_columns, rename_columns, table_columns, wild_capture, Columns};
use crate::ops::Op;
use crate::plan::{Query, Scan, Source, Stage};

/// Where a field's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The text of the scan's by-field at this position, unchanged.
    By(usize),
    /// Computed from group-key fields only, without the clock or the time zone.
    Key,
    /// Anything else: aggregates, the clock, data the plan cannot see.
    Other,
}

/// The fields rows can have, in first-produced order, with their origins; `open` when other,
/// unknown fields may be present too.
#[derive(Clone, Debug, Default)]
pub(crate) struct Lineage {
    fields: Vec<(String, Origin)>,
    pub open: bool,
}

impl Columns for Lineage {
    fn for_each_name(&self, f: &mut dyn FnMut(&str)) {
        self.fields.iter().for_each(|(n, _)| f(n));
    }

    fn has_column(&self, name: &str) -> bool {
        self.origin(name).is_some()
    }

    fn rename_column(&mut self, from: &str, to: &str) {
        if from == to {
            return;
        }
        let Some(i) = self.fields.iter().position(|(n, _)| n == from) else { return };
        let origin = self.fields[i].1;
        self.fields.retain(|(n, _)| n != to);
        if let Some(slot) = self.fields.iter_mut().find(|(n, _)| n == from) {
            *slot = (to.to_string(), origin);
        }
    }

    fn project_columns(&mut self, order: &[String]) {
        self.fields = order.iter().filter_map(|n| self.origin(n).map(|o| (n.clone(), o))).collect();
    }

    fn retain_columns(&mut self, keep: &dyn Fn(&str) -> bool) {
        self.fields.retain(|(n, _)| keep(n));
    }
}

impl Lineage {
    /// A tstats scan's columns: its by-fields, then its aggregates.
    pub fn of_groups(by_names: &[String], agg_names: &[String]) -> Lineage {
        let mut l = Lineage::default();
        by_names.iter().enumerate().for_each(|(i, n)| l.set(n, Origin::By(i)));
        agg_names.iter().for_each(|n| l.set(n, Origin::Other));
        l
    }

    fn closed<'a>(names: impl IntoIterator<Item = &'a String>) -> Lineage {
        let mut l = Lineage::default();
        names.into_iter().for_each(|n| l.set(n, Origin::Other));
        l
    }

    fn raw_events() -> Lineage {
        Lineage { fields: vec![("_time".into(), Origin::Other), ("_raw".into(), Origin::Other)], open: true }
    }

    pub fn origin(&self, name: &str) -> Option<Origin> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, o)| *o)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(n, _)| n.as_str())
    }

    /// Whether every one of `fields` is derived from the group key. A field the rows do not
    /// have is absent from a key row and from a full row alike, so it counts as derived.
    pub fn key_derived(&self, fields: &[String]) -> bool {
        !self.open && fields.iter().all(|f| self.origin(f).is_none_or(|o| o != Origin::Other))
    }

    fn set(&mut self, name: &str, origin: Origin) {
        match self.fields.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = origin,
            None => self.fields.push((name.to_string(), origin)),
        }
    }

    fn add(&mut self, name: &str) {
        if !self.has_column(name) {
            self.fields.push((name.to_string(), Origin::Other));
        }
    }

    /// The fields after `op` (`q` holds the stages a join reads; without it, a join's fields
    /// are unknown).
    pub fn apply(&mut self, op: &Op, q: Option<&Query>) {
        match op {
            Op::Eval(assignments) => {
                for (name, e) in assignments {
                    let mut read = Vec::new();
                    e.fields(&mut read);
                    let origin = match e {
                        // A copy keeps its origin; a copy of nothing is null, derived like the rest.
                        CExpr::Field(src) => self.origin(src).unwrap_or(Origin::Key),
                        _ if e.is_pure() && self.key_derived(&read) => Origin::Key,
                        _ => Origin::Other,
                    };
                    self.set(name, origin);
                }
            }
            Op::Stats(s) => *self = Lineage::closed(s.by.iter().chain(s.aggs.iter().map(|a| &a.name))),
            Op::Eventstats(s) => s.aggs.iter().for_each(|a| self.set(&a.name, Origin::Other)),
            Op::Rename(pairs) => {
                for pair in pairs {
                    let (from, to) = pair;
                    if self.open && !from.contains('*') && !self.has_column(from) {
                        // The field may be among the unknown ones.
                        self.add(to);
                    } else {
                        rename_columns(self, std::slice::from_ref(pair));
                    }
                }
            }
            Op::Table(patterns) => self.select(patterns),
            Op::Fields { remove, fields } => match (remove, self.open) {
                (false, true) => {
                    let mut keep = fields.clone();
                    keep.extend(["_time".to_string(), "_raw".to_string()]);
                    self.select(&keep);
                }
                _ => fields_columns(self, *remove, fields),
            },
            // Its output depends on the time zone, which the scan does not know.
            Op::Convert(c) => {
                for conv in &c.conversions {
                    match &conv.alias {
                        Some(alias) => self.set(alias, Origin::Other),
                        None if conv.field.contains('*') => {}
                        None => self.set(&conv.field, Origin::Other),
                    }
                }
            }
            Op::Join(j) => {
                let Some(q) = q else {
                    self.open = true;
                    return;
                };
                let mut sub = stage_lineage(q.stage(j.sub), q);
                self.open |= sub.open;
                for (name, _) in sub.fields.drain(..) {
                    self.add(&name);
                }
            }
            Op::Lookup(l) => {
                let origin = match op.fields_read() {
                    Some(read) if self.key_derived(&read) => Origin::Key,
                    _ => Origin::Other,
                };
                l.outputs.iter().for_each(|(_, f)| self.set(f, origin));
            }
            Op::Rex(r) => {
                let origin = if self.key_derived(std::slice::from_ref(&r.field)) { Origin::Key } else { Origin::Other };
                if r.sed.is_some() {
                    self.set(&r.field, origin);
                } else {
                    r.re.names().for_each(|n| self.set(n, origin));
                }
            }
            Op::Fillnull(f) => f.fields.iter().for_each(|n| self.add(n)),
            Op::Bin(b) => self.set(&b.target, Origin::Other),
            // Extracted names depend on the data.
            Op::Xmlkv(_) | Op::Spath { .. } => self.open = true,
            Op::Foreach(f) => f.targets().iter().for_each(|t| self.set(t, Origin::Other)),
            // Other fields pass through as multivalues; rows without `_time` are dropped.
            Op::Transaction(t) => {
                ["_time", "duration", "eventcount"].iter().for_each(|n| self.set(n, Origin::Other));
                if t.keepevicted {
                    self.set("closed_txn", Origin::Other);
                }
            }
            Op::TopRare(t) => *self = Lineage::closed(&t.output_fields()),
            Op::SigmaCorrelation(c) => *self = Lineage::closed(&c.output_fields()),
            // Series columns come from the data unless there is no split-by field.
            Op::Timechart(t) => {
                *self = match t.fixed_columns() {
                    Some(cols) => Lineage::closed(&cols),
                    None => Lineage { fields: vec![("_time".into(), Origin::Other)], open: true },
                }
            }
            Op::Search(_)
            | Op::DynamicSearch(_)
            | Op::Replace { .. }
            | Op::Where(_)
            | Op::Dedup(_)
            | Op::Sort(_)
            | Op::Head(_)
            | Op::Regex(_)
            | Op::Mvexpand { .. }
            | Op::Makemv { .. } => {}
        }
    }

    /// `table`-style selection; over an open set a literal name may be among the unknown
    /// fields, and a wildcard keeps the set open.
    fn select(&mut self, patterns: &[String]) {
        if !self.open {
            return table_columns(self, patterns);
        }
        let mut out = Lineage::default();
        for p in patterns {
            for (n, o) in &self.fields {
                if wild_capture(p, n).is_some() && !out.has_column(n) {
                    out.fields.push((n.clone(), *o));
                }
            }
            if p.contains('*') {
                out.open = true;
            } else {
                out.add(p);
            }
        }
        *self = out;
    }
}

/// The fields of a stage's rows.
pub(crate) fn stage_lineage(stage: &Stage, q: &Query) -> Lineage {
    let mut l = match &stage.source {
        Source::Scan(i) => match q.scans.get(*i) {
            Some(Scan::Tstats(t)) => Lineage::closed(t.by.iter().map(|(n, _)| n).chain(t.aggs.iter().map(|a| &a.name))),
            Some(Scan::Events(e)) => {
                // The scan runs the leading row operators and a following stats itself.
                let mut l = Lineage::raw_events();
                e.prefix.iter().for_each(|op| l.apply(op, Some(q)));
                if let Some(st) = &e.stats {
                    l = Lineage::closed(st.by.iter().chain(st.aggs.iter().map(|a| &a.name)));
                }
                l
            }
            None => Lineage::raw_events(),
        },
        Source::Inputlookup { table, .. } => Lineage::closed(table.table.columns.iter()),
    };
    stage.ops.iter().for_each(|op| l.apply(op, Some(q)));
    l
}

impl Query {
    /// The fields the query's result rows can have, in first-produced order; `None` when the
    /// set cannot be known statically (a raw-event search not narrowed by `table`, `fields` or
    /// `stats`, or a wildcard `rename` over such a search). A listed field may still be null
    /// in a given row.
    pub fn output_fields(&self) -> Option<Vec<String>> {
        let l = stage_lineage(&self.root, self);
        (!l.open).then(|| l.names().map(str::to_string).collect())
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::Planner;
    use vigil_content::ContentSet;
    use vigil_model::{Catalog, DatasetSchema};

    fn catalog() -> Catalog {
        Catalog {
            datasets: vec![DatasetSchema {
                name: "Endpoint.Processes".into(),
                object: "Processes".into(),
                fields: ["dest", "user", "process", "process_name", "parent_process_name"].map(String::from).to_vec(),
                ..Default::default()
            }],
        }
    }

    fn fields(search: &str) -> Option<Vec<String>> {
        let content = ContentSet::builtin();
        let cat = catalog();
        let mut p = Planner::new(&cat, &content);
        let q = p.plan("t", search).unwrap_or_else(|e| panic!("{}", e.render("t")));
        q.output_fields()
    }

    #[test]
    fn tstats_with_drop_dm_object_name() {
        let f = fields(
            "| tstats count min(_time) as firstTime from datamodel=Endpoint.Processes by Processes.dest Processes.user \
             | `drop_dm_object_name(Processes)` | `security_content_ctime(firstTime)`",
        );
        assert_eq!(f.unwrap(), ["dest", "user", "count", "firstTime"]);
    }

    #[test]
    fn stats_rename_table_fields() {
        let f = fields(
            "| tstats count from datamodel=Endpoint.Processes by Processes.dest Processes.process \
             | rename Processes.dest as host | stats values(Processes.process) as procs dc(host) by host \
             | eval x=1 | rename procs as p",
        );
        assert_eq!(f.unwrap(), ["host", "p", "dc(host)", "x"]);
        let f = fields(
            "| tstats count from datamodel=Endpoint.Processes by Processes.dest Processes.user | table Processes.dest count missing",
        );
        assert_eq!(f.unwrap(), ["Processes.dest", "count"]);
        let f = fields("| tstats count from datamodel=Endpoint.Processes by Processes.dest Processes.user | fields - count");
        assert_eq!(f.unwrap(), ["Processes.dest", "Processes.user"]);
    }

    #[test]
    fn raw_search_is_open_until_closed() {
        assert_eq!(fields("index=main EventCode=1 | eval a=1"), None);
        assert_eq!(fields("index=main EventCode=1 | rename Image as image | table image, Computer").unwrap(), ["image", "Computer"]);
        assert_eq!(fields("index=main | stats count by Computer").unwrap(), ["Computer", "count"]);
        assert_eq!(fields("index=main | table a*"), None);
        assert_eq!(
            fields("index=main | rex field=CommandLine \"(?<url>https?://\\S+)\" | bin _time span=1h as t | table url t").unwrap(),
            ["url", "t"]
        );
    }
}
