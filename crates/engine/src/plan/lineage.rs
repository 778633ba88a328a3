//! Static analysis of a planned query: which fields its result rows can have.
//!
//! `vigil test` uses it to check that a detection's risk and threat object fields are among
//! the fields its search outputs, without running it. The analysis follows the pipeline:
//! tstats/stats give a closed set (by-fields and aggregation names), `rename`, `table`,
//! `fields` reshape it, `eval`, `lookup`, `rex`, `convert ... as`, `bin ... as`, `fillnull`
//! with fields, `eventstats` and `join` add to it. A raw-event search starts an *open* set
//! (any event field may appear), which only `table`, `fields` or `stats` close.

use crate::ops::fields::{fill_captures, wild_capture};
use crate::ops::Op;
use crate::plan::{Query, Scan, Source, Stage};

/// Fields a stage's rows can have; `open` when other, unknown fields may be present too.
#[derive(Clone, Debug, Default, PartialEq)]
struct FieldSet {
    names: Vec<String>,
    open: bool,
}

impl FieldSet {
    fn closed(names: impl IntoIterator<Item = String>) -> FieldSet {
        let mut s = FieldSet::default();
        for n in names {
            s.add(n);
        }
        s
    }

    fn add(&mut self, name: String) {
        if !self.names.contains(&name) {
            self.names.push(name);
        }
    }

    fn has(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }
}

impl Query {
    /// The fields the query's result rows can have, in first-produced order; `None` when the
    /// set cannot be known statically (a raw-event search not narrowed by `table`, `fields` or
    /// `stats`, or a wildcard `rename` over such a search). A listed field may still be null
    /// in a given row.
    pub fn output_fields(&self) -> Option<Vec<String>> {
        let set = stage_fields(&self.root, self);
        (!set.open).then_some(set.names)
    }
}

fn stage_fields(stage: &Stage, q: &Query) -> FieldSet {
    let scans = &q.scans;
    let mut set = match &stage.source {
        Source::Scan(i) => match scans.get(*i) {
            Some(Scan::Tstats(t)) => {
                FieldSet::closed(t.by.iter().map(|(n, _)| n.clone()).chain(t.aggs.iter().map(|a| a.name.clone())))
            }
            Some(Scan::Events(e)) => {
                // The scan runs the leading row operators and a following stats itself.
                let mut set = FieldSet { names: vec!["_time".into(), "_raw".into()], open: true };
                for op in &e.prefix {
                    apply(&mut set, op, q);
                }
                if let Some(st) = &e.stats {
                    set = FieldSet::closed(st.by.iter().cloned().chain(st.aggs.iter().map(|a| a.name.clone())));
                }
                set
            }
            None => FieldSet { names: vec!["_time".into(), "_raw".into()], open: true },
        },
        Source::Inputlookup { table, .. } => FieldSet::closed(table.table.columns.iter().cloned()),
    };
    for op in &stage.ops {
        apply(&mut set, op, q);
    }
    set
}

fn apply(set: &mut FieldSet, op: &Op, q: &Query) {
    match op {
        Op::Eval(assignments) => {
            for (f, _) in assignments {
                set.add(f.clone());
            }
        }
        Op::Stats(s) => {
            *set = FieldSet::closed(s.by.iter().cloned().chain(s.aggs.iter().map(|a| a.name.clone())));
        }
        Op::Eventstats(s) => {
            for a in &s.aggs {
                set.add(a.name.clone());
            }
        }
        Op::Rename(pairs) => {
            for (from, to) in pairs {
                rename(set, from, to);
            }
        }
        Op::Table(patterns) => *set = select(set, patterns),
        Op::Fields { remove: true, fields } => {
            set.names.retain(|n| !fields.iter().any(|p| wild_capture(p, n).is_some()));
        }
        Op::Fields { remove: false, fields } => {
            let mut keep = fields.clone();
            keep.extend(["_time".to_string(), "_raw".to_string()]);
            let was_open = set.open;
            let mut out = select(set, &keep);
            // `fields` keeps `_time`/`_raw` only when the rows had them.
            if !was_open {
                out.names.retain(|n| !matches!(n.as_str(), "_time" | "_raw") || set.has(n));
            }
            *set = out;
        }
        Op::Convert(c) => {
            for conv in &c.conversions {
                if let Some(alias) = &conv.alias {
                    set.add(alias.clone());
                }
            }
        }
        Op::Join(j) => {
            let sub = stage_fields(q.stage(j.sub), q);
            set.open |= sub.open;
            for n in sub.names {
                set.add(n);
            }
        }
        Op::Lookup(l) => {
            for (_, f) in &l.outputs {
                set.add(f.clone());
            }
        }
        Op::Rex(r) => {
            if r.sed.is_none() {
                for name in r.re.capture_names().flatten() {
                    set.add(name.to_string());
                }
            }
        }
        Op::Fillnull(f) => {
            for n in &f.fields {
                set.add(n.clone());
            }
        }
        Op::Bin(b) => set.add(b.target.clone()),
        // Extracted names depend on the data.
        Op::Xmlkv(_) | Op::Spath { .. } => set.open = true,
        Op::Foreach(f) => {
            for t in f.targets() {
                set.add(t);
            }
        }
        // Other fields pass through as multivalues; rows without `_time` are dropped.
        Op::Transaction(t) => {
            set.add("_time".into());
            for n in ["duration", "eventcount"] {
                set.add(n.into());
            }
            if t.keepevicted {
                set.add("closed_txn".into());
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

fn rename(set: &mut FieldSet, from: &str, to: &str) {
    if !from.contains('*') {
        if set.has(from) {
            set.names.retain(|n| n != to);
            if let Some(n) = set.names.iter_mut().find(|n| *n == from) {
                *n = to.to_string();
            }
        } else if set.open {
            // The field may exist among the unknown ones.
            set.add(to.to_string());
        }
        return;
    }
    let mut renamed = Vec::with_capacity(set.names.len());
    for n in &set.names {
        let new = match wild_capture(from, n) {
            Some(caps) => fill_captures(to, &caps),
            None => n.clone(),
        };
        if !renamed.contains(&new) {
            renamed.push(new);
        }
    }
    set.names = renamed;
}

/// `table`-style selection: known names matching the patterns, in pattern order; over an open
/// set a literal name may be among the unknown fields, a wildcard keeps the set open.
fn select(set: &FieldSet, patterns: &[String]) -> FieldSet {
    let mut out = FieldSet::default();
    for p in patterns {
        for n in &set.names {
            if wild_capture(p, n).is_some() {
                out.add(n.clone());
            }
        }
        if set.open {
            if p.contains('*') {
                out.open = true;
            } else {
                out.add(p.clone());
            }
        }
    }
    out
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
        let f = fields("| tstats count from datamodel=Endpoint.Processes by Processes.dest Processes.user | table Processes.dest count missing");
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
