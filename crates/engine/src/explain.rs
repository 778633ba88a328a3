//! EXPLAIN: a query's logical plan, what was pushed down into its scans, and the physical
//! strategy chosen to finish it, with the reason, as stable text.
//!
//! ```text
//! query: <name>
//! logical plan:
//!   root: scan 0 | <operator> | ...
//!   stage N: <source> | ...            (join and event subsearches)
//! scans:
//!   scan 0: tstats from <dataset> | events
//!     predicate: <SPL-like, patterns lowercased>
//!     prefilter values: <field>="<value>", ...   (a row must have one, or `(none)`)
//!     prefilter literals: <field>~"<text>", ...  (a value must contain one, or `(none)`)
//!     group keys: ...; aggregates: ...        (tstats, or a stats run in the scan)
//!     key filter: ...                         (operators run when a group is created)
//!     operators in the scan: ...; fields copied: ...; _raw copied: yes|no   (events)
//! physical: <strategy> (<reason>)
//! ```

use crate::expr::field::FieldRef;
use crate::expr::predicate::Pred;
use crate::expr::prefilter::conditions;
use crate::ops::Op;
use crate::plan::keyfilter::KeyFilter;
use crate::plan::{Query, Scan, Source, Stage};
use crate::store::agg::{AggInput, AggSpec};
use std::fmt::Write;
use vigil_model::Catalog;

impl Query {
    /// The query's plan as text (see the `explain` module for the format).
    pub fn explain(&self, catalog: &Catalog) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "query: {}", self.name);
        let _ = writeln!(out, "logical plan:");
        let _ = writeln!(out, "  root: {}", stage_text(&self.root));
        for (i, stage) in self.stages.iter().enumerate() {
            let _ = writeln!(out, "  stage {i}: {}", stage_text(stage));
        }
        let _ = writeln!(out, "scans:");
        for (i, scan) in self.scans.iter().enumerate() {
            self.explain_scan(i, scan, catalog, &mut out);
        }
        let choice = crate::physical::choose(self);
        let _ = writeln!(out, "physical: {} ({})", choice.strategy.name(), choice.reason);
        out
    }

    fn explain_scan(&self, i: usize, scan: &Scan, catalog: &Catalog, out: &mut String) {
        match scan {
            Scan::Tstats(t) => {
                let schema = catalog.datasets.get(t.dataset);
                let name = |f: &FieldRef| match (f, schema) {
                    (FieldRef::Column(c), Some(s)) => format!("{}.{}", s.object, s.fields.get(*c).map_or("?", String::as_str)),
                    _ => field_name(f),
                };
                let _ = writeln!(out, "  scan {i}: tstats from {}", schema.map_or("?", |s| s.name.as_str()));
                let is_root = matches!(self.root.source, Source::Scan(r) if r == i);
                let names: Vec<String> = t.by.iter().map(|(n, _)| n.clone()).collect();
                let agg_names: Vec<String> = t.aggs.iter().map(|a| a.name.clone()).collect();
                let filter = if is_root && !names.is_empty() { KeyFilter::plan(&self.root, &names, &agg_names) } else { None };
                // As the engine runs it: with what the key filter asks of the rows.
                let pred = filter.as_ref().and_then(|f| f.scan_filter(&self.root.ops, t));
                prefilter(pred.as_ref().unwrap_or(&t.filter), &name, out);
                let by: Vec<&str> = t.by.iter().map(|(n, _)| n.as_str()).collect();
                let _ = writeln!(out, "    group keys: {}", list(&by));
                let _ = writeln!(out, "    aggregates: {}", aggs(&t.aggs, &name));
                if let Some(span) = t.span {
                    let _ = writeln!(out, "    _time span: {}s", span / 1_000_000);
                }
                key_filter(filter, &self.root.ops, out);
            }
            Scan::Events(e) => {
                let _ = writeln!(out, "  scan {i}: events");
                prefilter(&e.pred, &field_name, out);
                if !e.prefix.is_empty() {
                    let ops: Vec<String> = e.prefix.iter().map(op_text).collect();
                    let _ = writeln!(out, "    operators in the scan: {}", ops.join(" | "));
                }
                if let Some(st) = &e.stats {
                    let by: Vec<&str> = st.by.iter().map(String::as_str).collect();
                    let _ = writeln!(out, "    stats in the scan: {} by {}", aggs(&st.aggs, &field_name), list(&by));
                    let is_root = matches!(self.root.source, Source::Scan(r) if r == i);
                    let agg_names: Vec<String> = st.aggs.iter().map(|a| a.name.clone()).collect();
                    let filter = if is_root && !st.by.is_empty() { KeyFilter::plan(&self.root, &st.by, &agg_names) } else { None };
                    key_filter(filter, &self.root.ops, out);
                }
                let copied = e.projection.as_ref().map_or("all".to_string(), |p| p.join(", "));
                let _ = writeln!(out, "    fields copied: {copied}; _raw copied: {}", if e.needs_raw { "yes" } else { "no" });
            }
        }
    }
}

fn key_filter(filter: Option<KeyFilter>, ops: &[Op], out: &mut String) {
    let Some(f) = filter else { return };
    let names: Vec<&str> = ops.get(..f.len()).unwrap_or_default().iter().map(Op::command_name).collect();
    let partial = if f.is_partial() { ", the last one's conjuncts on the key alone" } else { "" };
    let _ = writeln!(out, "    key filter: the first {} operators ({}{partial}) run when a group is created", f.len(), names.join(", "));
}

fn field_name(f: &FieldRef) -> String {
    match f {
        FieldRef::Name(n) => n.clone(),
        FieldRef::Time => "_time".into(),
        FieldRef::Column(c) => format!("column{c}"),
        FieldRef::Missing => "(missing)".into(),
    }
}

fn list(items: &[&str]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join(", ")
    }
}

/// The predicate and what the prefilter index takes from it.
fn prefilter(pred: &Pred, name: &dyn Fn(&FieldRef) -> String, out: &mut String) {
    let _ = writeln!(out, "    predicate: {}", pred.describe(name));
    let pairs = |v: Option<Vec<(FieldRef, String)>>, sep: &str| match v {
        Some(v) if !v.is_empty() => v.iter().map(|(f, s)| format!("{}{sep}\"{s}\"", name(f))).collect::<Vec<_>>().join(", "),
        _ => "(none)".into(),
    };
    let (values, literals) = conditions(pred);
    let _ = writeln!(out, "    prefilter values: {}", pairs(values, "="));
    let _ = writeln!(out, "    prefilter literals: {}", pairs(literals, "~"));
}

fn aggs(specs: &[AggSpec], name: &dyn Fn(&FieldRef) -> String) -> String {
    let texts: Vec<String> = specs
        .iter()
        .map(|a| {
            let func = format!("{:?}", a.func).to_ascii_lowercase();
            let call = match &a.input {
                AggInput::Rows => func,
                AggInput::Field(f) => format!("{func}({})", name(f)),
                AggInput::Eval(_) => format!("{func}(eval(...))"),
            };
            if call == a.name {
                call
            } else {
                format!("{call} as {}", a.name)
            }
        })
        .collect();
    list(&texts.iter().map(String::as_str).collect::<Vec<_>>())
}

fn stage_text(stage: &Stage) -> String {
    let mut text = match &stage.source {
        Source::Scan(i) => format!("scan {i}"),
        Source::Inputlookup { table, .. } => format!("inputlookup {}", table.name),
    };
    for op in &stage.ops {
        text.push_str(" | ");
        text.push_str(&op_text(op));
    }
    text
}

/// One operator, briefly: its command and what decides its shape.
fn op_text(op: &Op) -> String {
    let name = op.command_name();
    let joined = |v: &[String]| v.join(" ");
    match op {
        Op::Search(p) => format!("search {}", p.describe(&field_name)),
        Op::DynamicSearch(d) => {
            let stages: Vec<String> = d.stages().iter().map(|s| format!("stage {}", s.0)).collect();
            format!("search (event subsearches: {})", stages.join(", "))
        }
        Op::Eval(assignments) => format!("eval {}", assignments.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>().join(", ")),
        Op::Stats(s) | Op::Eventstats(s) => {
            format!("{name} {} by {}", aggs(&s.aggs, &field_name), list(&s.by.iter().map(String::as_str).collect::<Vec<_>>()))
        }
        Op::Rename(pairs) => format!("rename {}", pairs.iter().map(|(a, b)| format!("{a} as {b}")).collect::<Vec<_>>().join(", ")),
        Op::Table(f) => format!("table {}", joined(f)),
        Op::Fields { remove, fields } => format!("fields {}{}", if *remove { "- " } else { "" }, joined(fields)),
        Op::Dedup(d) => format!("dedup {}", joined(&d.fields)),
        Op::Sort(s) => format!(
            "sort {}",
            s.keys.iter().map(|k| format!("{}{}", if k.descending { "-" } else { "" }, k.field)).collect::<Vec<_>>().join(" ")
        ),
        Op::Head(n) => format!("head {n}"),
        Op::Join(j) => format!("join{} {} [stage {}]", if j.keeps_unmatched() { " type=outer" } else { "" }, joined(&j.fields), j.sub.0),
        Op::Lookup(l) => format!("lookup {}", l.table_name()),
        Op::Rex(r) => format!("rex field={}", r.field),
        Op::Regex(r) => format!("regex field={}", r.field),
        Op::Bin(b) => format!("bin {}", b.field),
        Op::Mvexpand { field, .. } | Op::Makemv { field, .. } => format!("{name} {field}"),
        Op::Where(_) | Op::Convert(_) | Op::Fillnull(_) | Op::Xmlkv(_) | Op::Spath { .. } | Op::Replace { .. } => name.into(),
        Op::Foreach(_) | Op::Transaction(_) => name.into(),
        Op::TopRare(t) => format!("{name} {}", joined(&t.0.fields)),
        Op::Timechart(_) => name.into(),
        Op::SigmaCorrelation(c) => format!("{name} {} by {}", c.spec.kind.name(), joined(&c.spec.group_by)),
    }
}
