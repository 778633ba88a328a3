//! The planner: expands macros, parses, and plans each command of a pipeline.

use super::push_down::push_down;
use super::subsearch::{resolve_static, PlanPipeline};
use super::{EventScan, Query, QueryError, Scan, Source, Stage, Tables, TstatsScan};
use crate::error::PlanError;
use crate::expr::field::FieldRef;
use crate::expr::predicate::Pred;
use crate::expr::timespan::parse_span;
use crate::ops::lookup::LookupData;
use crate::ops::subsearch::has_subsearch;
use crate::ops::StageId;
use crate::store::agg::plan_agg;
use std::collections::HashMap;
use std::sync::Arc;
use vigil_content::ContentSet;
use vigil_model::Catalog;
use vigil_spl::ast::{CommandKind, Pipeline, SearchExpr, Span, Tstats};
use vigil_spl::{expand_macros, parse, ExpandLimits, MacroSource};

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
        let expanded =
            expand_macros(text, macros, &ExpandLimits::default()).map_err(|e| QueryError { text: text.to_string(), error: e.into() })?;
        let fail = |error: PlanError| QueryError { text: expanded.clone(), error };
        let pipeline = parse(&expanded).map_err(|e| fail(e.into()))?;
        self.text.clone_from(&expanded);
        let mut tables = Tables::default();
        let root = self.plan_pipeline(&pipeline, &mut tables).map_err(fail)?;
        Ok(Query { name: name.to_string(), text: expanded.clone(), root, scans: tables.scans, stages: tables.stages })
    }

    /// Plans a pipeline into a stage, adding its scans and subsearch stages to `t`.
    pub(crate) fn plan_pipeline(&mut self, p: &Pipeline, t: &mut Tables) -> Result<Stage, PlanError> {
        let mut commands = p.commands.iter();
        let Some(first) = commands.next() else {
            return Err(PlanError::invalid("empty search", p.span));
        };
        let source = match &first.kind {
            CommandKind::Tstats(ts) => {
                let scan = Scan::Tstats(self.plan_tstats(ts, first.span, t)?);
                t.scans.push(scan);
                Source::Scan(t.scans.len() - 1)
            }
            CommandKind::Search(e) => {
                let e = self.static_expr(e, first.span, t)?;
                let pred = Pred::compile(&e, &|n| FieldRef::Name(n.to_string()));
                t.scans.push(Scan::Events(EventScan { pred, prefix: Vec::new(), stats: None, needs_raw: true, projection: None }));
                Source::Scan(t.scans.len() - 1)
            }
            CommandKind::Inputlookup(il) => {
                let filter = match &il.filter {
                    Some(f) => Some(self.static_expr(f, first.span, t)?),
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
            ops.push(self.plan_op(cmd, t)?);
        }
        if let Source::Scan(i) = source {
            if let Some(Scan::Events(scan)) = t.scans.get_mut(i) {
                push_down(scan, &mut ops);
            }
        }
        Ok(Stage { source, ops })
    }

    fn plan_tstats(&mut self, ts: &Tstats, span: Span, t: &mut Tables) -> Result<TstatsScan, PlanError> {
        let catalog = self.catalog;
        let (dataset, child) = catalog.find_node(&ts.datamodel).ok_or_else(|| PlanError::UnsupportedDataModel {
            name: ts.datamodel.clone(),
            available: catalog.datasets.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", "),
            span: self.datamodel_span(span, &ts.datamodel),
        })?;
        let schema = catalog.get(dataset);
        let resolve = |name: &str| super::datamodel::resolve_field(schema, name);
        let filter = super::datamodel::constrain(schema, child, self.static_expr(&ts.filter, span, t)?, span)?;
        let filter = Pred::compile(&filter, &resolve);
        let by = ts.by.iter().map(|f| (f.clone(), resolve(f))).collect();
        let aggs = ts.aggregations.iter().map(|a| plan_agg(a, &resolve, span)).collect::<Result<Vec<_>, _>>()?;
        let span_micros = match &ts.span {
            Some(s) => Some(parse_span(s).ok_or_else(|| PlanError::invalid(format!("bad span `{s}`"), span))?),
            None => None,
        };
        Ok(TstatsScan { dataset, filter, by, aggs, fillnull: ts.option("fillnull_value").map(str::to_string), span: span_micros })
    }

    /// An expression whose subsearches must be resolvable before the scan (they may read
    /// lookups, not events).
    fn static_expr(&mut self, e: &SearchExpr, span: Span, t: &mut Tables) -> Result<SearchExpr, PlanError> {
        if !has_subsearch(e) {
            return Ok(e.clone());
        }
        let mut dynamic = Vec::new();
        let resolved = resolve_static(self, e, span, t, &mut dynamic)?;
        if !dynamic.is_empty() {
            return Err(PlanError::Unsupported {
                message: "a subsearch that reads events, inside the search that feeds the scan".into(),
                span,
            });
        }
        Ok(resolved)
    }

    /// Plans a subsearch pipeline into the query's stages.
    pub(crate) fn plan_sub_stage(&mut self, p: &Pipeline, t: &mut Tables) -> Result<StageId, PlanError> {
        let stage = self.plan_pipeline(p, t)?;
        Ok(t.add_stage(stage))
    }

    /// The span of `word` inside `within` in the text being planned (else `within`).
    fn word_span(&self, within: Span, word: &str) -> Span {
        self.text
            .get(within.start..within.end.min(self.text.len()))
            .and_then(|t| t.find(word))
            .map(|i| Span::new(within.start + i, within.start + i + word.len()))
            .unwrap_or(within)
    }

    /// The `datamodel=NAME` (or `datamodel:NAME`) term of a tstats command, for the caret of an
    /// error about that data model; the name alone may also appear earlier (`values(Web.url)`).
    fn datamodel_span(&self, within: Span, name: &str) -> Span {
        let Some(text) = self.text.get(within.start..within.end.min(self.text.len())) else { return within };
        let lower = text.to_ascii_lowercase();
        for (i, _) in lower.match_indices("datamodel") {
            let rest = &text[i + "datamodel".len()..];
            let after_sep = rest.trim_start().strip_prefix(['=', ':']).map(str::trim_start);
            if let Some(value) = after_sep.filter(|v| v.starts_with(name)) {
                let end = text.len() - value.len() + name.len();
                return Span::new(within.start + i, within.start + end);
            }
        }
        self.word_span(within, name)
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

impl PlanPipeline for Planner<'_> {
    fn plan_pipeline(&mut self, p: &Pipeline, t: &mut Tables) -> Result<Stage, PlanError> {
        Planner::plan_pipeline(self, p, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The caret of an unavailable data model covers the `datamodel=NAME` term, even when the
    /// name also appears earlier in the command.
    #[test]
    fn unavailable_data_model_points_at_its_term() {
        let catalog = vigil_normalize::Normalizer::builtin().expect("mappings").catalog().clone();
        let content = ContentSet::default();
        let text = "| tstats count values(Web.url) as url from datamodel = Web where Web.status=200 by Web.dest";
        let Err(e) = Planner::new(&catalog, &content).plan("t", text) else { panic!("Web is not built") };
        let span = e.error.span();
        assert_eq!(&e.text[span.start..span.end], "datamodel = Web");
        // Network_Resolution.DNS is built since issue 22; Email is not.
        let text = "| tstats count from datamodel:Email.All_Email by All_Email.src_user";
        let Err(e) = Planner::new(&catalog, &content).plan("t", text) else { panic!("Email is not built") };
        let span = e.error.span();
        assert_eq!(&e.text[span.start..span.end], "datamodel:Email.All_Email");
    }
}
