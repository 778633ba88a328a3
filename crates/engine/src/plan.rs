//! Planning: SPL text -> macro expansion -> AST -> a [`Query`] of scans and table operators.
//!
//! Every data-reading leaf of a search (its leading tstats or raw search, and those of join
//! subsearches) becomes a [`Scan`] that the executor feeds in the single pass over the input.
//! Everything after a leaf is a list of [`Op`]s run over the leaf's result table.

use crate::agg::{AggFunc, AggInput, AggSpec};
use crate::error::PlanError;
use crate::eval::CExpr;
use crate::ops::lookup::LookupData;
use crate::ops::Op;
use crate::predicate::{FieldRef, Pred};
use std::collections::HashMap;
use std::sync::Arc;
use vigil_content::ContentSet;
use vigil_model::{Catalog, Micros};
use vigil_spl::ast::{Aggregation, AggArg, Command, CommandKind, Pipeline, SearchExpr, Span, Tstats};
use vigil_spl::{expand_macros, parse, ExpandLimits, MacroSource};

/// A planned search, ready to be fed events and rows.
#[derive(Debug)]
pub struct Query {
    /// Detection name, or `search` for an ad-hoc search.
    pub name: String,
    /// The macro-expanded search text (spans in errors refer to it).
    pub text: String,
    pub(crate) root: Stage,
    pub(crate) scans: Vec<Scan>,
}

impl Query {
    /// Data model datasets the query reads.
    pub fn datasets(&self) -> impl Iterator<Item = usize> + '_ {
        self.scans.iter().filter_map(|s| match s {
            Scan::Tstats(t) => Some(t.dataset),
            Scan::Events(_) => None,
        })
    }

    /// Whether the query reads raw events (a leading search rather than tstats).
    pub fn reads_events(&self) -> bool {
        self.scans.iter().any(|s| matches!(s, Scan::Events(_)))
    }
}

/// A planning failure with the text its span refers to.
#[derive(Clone, Debug)]
pub struct QueryError {
    /// The text the error's span points into (the original text for macro errors, the
    /// expanded text otherwise).
    pub text: String,
    pub error: PlanError,
}

impl QueryError {
    pub fn render(&self, label: &str) -> String {
        self.error.render(&self.text, label)
    }
}

#[derive(Debug)]
pub(crate) struct Stage {
    pub source: Source,
    pub ops: Vec<Op>,
}

impl Stage {
    /// Shifts every scan number in the stage (and the stages nested in its operators) by `n`,
    /// when a separately planned stage joins a query's scan list.
    pub(crate) fn offset_scans(&mut self, n: usize) {
        if let Source::Scan(i) = &mut self.source {
            *i += n;
        }
        for op in &mut self.ops {
            op.offset_scans(n);
        }
    }
}

#[derive(Debug)]
pub(crate) enum Source {
    /// Rows produced by scan number N.
    Scan(usize),
    Inputlookup { table: Arc<LookupData>, filter: Option<Pred> },
}

#[derive(Debug)]
pub(crate) enum Scan {
    Tstats(TstatsScan),
    Events(EventScan),
}

/// A raw-event scan: the search predicate, then the leading operators that work row by row
/// (run during the scan, so matching events need not be kept), then optionally the `stats`
/// that follows them (aggregated during the scan, so memory holds groups, not events).
#[derive(Debug)]
pub(crate) struct EventScan {
    pub pred: Pred,
    pub prefix: Vec<Op>,
    pub stats: Option<crate::ops::stats::StatsOp>,
    /// Whether result rows need `_raw` (copying each matching event's text costs more than
    /// anything else in a broad raw search).
    pub needs_raw: bool,
    /// The event fields rows need, when known (a scan that aggregates during the scan and
    /// whose steps name their inputs); `None` copies every field.
    pub projection: Option<Vec<String>>,
}

#[derive(Debug)]
pub(crate) struct TstatsScan {
    pub dataset: usize,
    pub filter: Pred,
    /// (output column as written, field)
    pub by: Vec<(String, FieldRef)>,
    pub aggs: Vec<AggSpec>,
    pub fillnull: Option<String>,
    /// Bucket size for `_time` in the by-clause.
    pub span: Option<Micros>,
}

/// Plans searches against a catalog of datasets and a content set (macros, lookups).
pub struct Planner<'a> {
    catalog: &'a Catalog,
    content: &'a ContentSet,
    lookups: HashMap<String, Arc<LookupData>>,
    /// The expanded text being planned, to narrow error spans to the offending word.
    text: String,
}

impl<'a> Planner<'a> {
    pub fn new(catalog: &'a Catalog, content: &'a ContentSet) -> Planner<'a> {
        Planner { catalog, content, lookups: HashMap::new(), text: String::new() }
    }

    /// Expands, parses and plans one search.
    pub fn plan(&mut self, name: &str, text: &str) -> Result<Query, QueryError> {
        let macros: &dyn MacroSource = self.content;
        let expanded = expand_macros(text, macros, &ExpandLimits::default())
            .map_err(|e| QueryError { text: text.to_string(), error: e.into() })?;
        let fail = |error: PlanError| QueryError { text: expanded.clone(), error };
        let pipeline = parse(&expanded).map_err(|e| fail(e.into()))?;
        self.text.clone_from(&expanded);
        let mut scans = Vec::new();
        let root = self.plan_pipeline(&pipeline, &mut scans).map_err(fail)?;
        Ok(Query { name: name.to_string(), text: expanded.clone(), root, scans })
    }

    pub(crate) fn plan_pipeline(&mut self, p: &Pipeline, scans: &mut Vec<Scan>) -> Result<Stage, PlanError> {
        let mut commands = p.commands.iter();
        let Some(first) = commands.next() else {
            return Err(PlanError::invalid("empty search", p.span));
        };
        let source = match &first.kind {
            CommandKind::Tstats(t) => {
                scans.push(Scan::Tstats(self.plan_tstats(t, first.span)?));
                Source::Scan(scans.len() - 1)
            }
            CommandKind::Search(e) => {
                let e = self.static_expr(e, first.span)?;
                let pred = Pred::compile(&e, &|n| FieldRef::Name(n.to_string()));
                scans.push(Scan::Events(EventScan { pred, prefix: Vec::new(), stats: None, needs_raw: true, projection: None }));
                Source::Scan(scans.len() - 1)
            }
            CommandKind::Inputlookup(il) => {
                let filter = match &il.filter {
                    Some(f) => Some(self.static_expr(f, first.span)?),
                    None => None,
                };
                Source::Inputlookup {
                    table: self.lookup_table(&il.table, first.span)?,
                    filter: filter.map(|f| Pred::compile(&f, &|n| FieldRef::Name(n.to_string()))),
                }
            }
            _ => {
                return Err(PlanError::invalid(
                    format!("`{}` cannot start a search: use tstats, inputlookup or a search expression", first.name),
                    first.span,
                ))
            }
        };
        let mut ops = Vec::new();
        for cmd in commands {
            ops.push(self.plan_op(cmd, scans)?);
        }
        if let Source::Scan(i) = source {
            if let Some(Scan::Events(scan)) = scans.get_mut(i) {
                push_down(scan, &mut ops);
            }
        }
        Ok(Stage { source, ops })
    }

    fn plan_tstats(&mut self, t: &Tstats, span: Span) -> Result<TstatsScan, PlanError> {
        let catalog = self.catalog;
        let (dataset, child) = catalog.find_node(&t.datamodel).ok_or_else(|| PlanError::UnsupportedDataModel {
            name: t.datamodel.clone(),
            available: catalog.datasets.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", "),
            span: self.word_span(span, &t.datamodel),
        })?;
        let schema = catalog.get(dataset);
        let resolve = |name: &str| crate::datamodel::resolve_field(schema, name);
        let filter = crate::datamodel::constrain(schema, child, self.static_expr(&t.filter, span)?, span)?;
        let filter = Pred::compile(&filter, &resolve);
        let by = t.by.iter().map(|f| (f.clone(), resolve(f))).collect();
        let aggs = t
            .aggregations
            .iter()
            .map(|a| plan_agg(a, &resolve, span))
            .collect::<Result<Vec<_>, _>>()?;
        let span_micros = match &t.span {
            Some(s) => Some(parse_span(s).ok_or_else(|| PlanError::invalid(format!("bad span `{s}`"), span))?),
            None => None,
        };
        Ok(TstatsScan {
            dataset,
            filter,
            by,
            aggs,
            fillnull: t.option("fillnull_value").map(str::to_string),
            span: span_micros,
        })
    }

    /// An expression whose subsearches must be resolvable before the scan (they may read
    /// lookups, not events).
    fn static_expr(&mut self, e: &SearchExpr, span: Span) -> Result<SearchExpr, PlanError> {
        if !crate::ops::subsearch::has_subsearch(e) {
            return Ok(e.clone());
        }
        let mut dynamic = Vec::new();
        let resolved = crate::ops::subsearch::resolve_static(self, e, span, &mut dynamic)?;
        if !dynamic.is_empty() {
            return Err(PlanError::Unsupported {
                message: "a subsearch that reads events, inside the search that feeds the scan".into(),
                span,
            });
        }
        Ok(resolved)
    }

    fn plan_op(&mut self, cmd: &Command, scans: &mut Vec<Scan>) -> Result<Op, PlanError> {
        crate::ops::plan(self, cmd, scans)
    }

    /// The span of `word` inside `within` in the text being planned (else `within`).
    fn word_span(&self, within: Span, word: &str) -> Span {
        self.text
            .get(within.start..within.end.min(self.text.len()))
            .and_then(|t| t.find(word))
            .map(|i| Span::new(within.start + i, within.start + i + word.len()))
            .unwrap_or(within)
    }

    /// Loads (once per planner) a lookup table named in a search.
    pub(crate) fn lookup_table(&mut self, name: &str, span: Span) -> Result<Arc<LookupData>, PlanError> {
        if let Some(t) = self.lookups.get(name) {
            return Ok(t.clone());
        }
        let table = Arc::new(LookupData::load(self.content, name, span)?);
        self.lookups.insert(name.to_string(), table.clone());
        Ok(table)
    }
}

/// Moves the leading row-by-row operators (and a `stats` right after them) into the event
/// scan. Only operators whose result does not depend on the clock or time zone move, so the
/// scan needs no execution context; the rest run after the scan as usual.
fn push_down(scan: &mut EventScan, ops: &mut Vec<Op>) {
    let streaming = ops.iter().take_while(|op| op.is_streaming()).count();
    scan.prefix = ops.drain(..streaming).collect();
    if matches!(ops.first(), Some(Op::Stats(s)) if s.is_pure()) {
        if let Op::Stats(s) = ops.remove(0) {
            scan.stats = Some(s);
        }
    }
    // After a stats in the scan, `_raw` matters only if the scan's own steps read it.
    scan.needs_raw = match &scan.stats {
        Some(stats) => scan.prefix.iter().any(Op::reads_raw) || stats.reads_field("_raw"),
        None => true,
    };
    scan.projection = scan.stats.as_ref().and_then(|stats| {
        let mut fields = stats.fields_read()?;
        for op in &scan.prefix {
            fields.extend(op.fields_read()?);
        }
        fields.push("_time".into());
        fields.sort();
        fields.dedup();
        Some(fields)
    });
}

pub(crate) fn plan_agg(a: &Aggregation, resolve: &dyn Fn(&str) -> FieldRef, span: Span) -> Result<AggSpec, PlanError> {
    let func = AggFunc::from_name(&a.func, span)?;
    let input = match &a.arg {
        None if func == AggFunc::Count => AggInput::Rows,
        None => return Err(PlanError::invalid(format!("`{}` needs a field", a.func), span)),
        Some(AggArg::Field(f)) => AggInput::Field(resolve(f)),
        Some(AggArg::Eval(e)) => AggInput::Eval(CExpr::compile(e)?),
    };
    Ok(AggSpec { func, input, name: a.name.clone() })
}

/// Parses a bin/tstats span such as `1h`, `10m`, `30s`, `1d`, `1w` into microseconds.
pub(crate) fn parse_span(s: &str) -> Option<Micros> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = if num.is_empty() { 1.0 } else { num.parse().ok()? };
    let secs = match unit.to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86400.0,
        "w" | "week" | "weeks" => 604800.0,
        _ => return None,
    };
    let micros = n * secs * 1e6;
    (micros >= 1.0 && micros.is_finite()).then_some(micros as Micros)
}
