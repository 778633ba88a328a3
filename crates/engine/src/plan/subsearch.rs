//! Subsearches inside search expressions, at plan time.
//!
//! A subsearch that reads no events (a lookup) is run once here and spliced into the outer
//! expression as Splunk's `format` would (see `ops::subsearch`). One that reads events is
//! planned into the query's stages and resolved after the scan (`Op::DynamicSearch`).

use super::{Source, Stage, Tables};
use crate::error::{ExecError, PlanError};
use crate::expr::value::EvalContext;
use crate::ops::subsearch::format_rows;
use crate::ops::{Env, StageId};
use crate::store::row_store::RowStore;
use vigil_model::Record;
use vigil_spl::ast::{Pipeline, SearchExpr, Span};

/// Plans a subsearch's pipeline into the query's tables (the planner, `planner.rs`, which in
/// turn resolves the subsearches of that pipeline here).
pub(crate) trait PlanPipeline {
    fn plan_pipeline(&mut self, p: &Pipeline, t: &mut Tables) -> Result<Stage, PlanError>;
}

/// Replaces every subsearch that needs no scan by its formatted results. Subsearches that read
/// events are planned into `t` and their stages listed in `dynamic` (in traversal order); they
/// stay in the expression.
pub(crate) fn resolve_static(
    planner: &mut dyn PlanPipeline,
    e: &SearchExpr,
    span: Span,
    t: &mut Tables,
    dynamic: &mut Vec<StageId>,
) -> Result<SearchExpr, PlanError> {
    Ok(match e {
        SearchExpr::Subsearch(p) => {
            let (scans_before, stages_before) = (t.scans.len(), t.stages.len());
            let stage = planner.plan_pipeline(p, t)?;
            if t.scans.len() == scans_before {
                let ctx = EvalContext { now: vigil_time::now_micros(), tz: vigil_time::Tz::utc() };
                let rows = StaticEnv { stages: &t.stages, ctx: &ctx }
                    .run(&stage)
                    .map_err(|err| PlanError::invalid(format!("subsearch failed: {err}"), span))?;
                // Nothing refers to the stages it planned any more.
                t.stages.truncate(stages_before);
                format_rows(&rows)
            } else {
                dynamic.push(t.add_stage(stage));
                e.clone()
            }
        }
        SearchExpr::And(items) => {
            SearchExpr::And(items.iter().map(|i| resolve_static(planner, i, span, t, dynamic)).collect::<Result<_, _>>()?)
        }
        SearchExpr::Or(items) => {
            SearchExpr::Or(items.iter().map(|i| resolve_static(planner, i, span, t, dynamic)).collect::<Result<_, _>>()?)
        }
        SearchExpr::Not(inner) => SearchExpr::Not(Box::new(resolve_static(planner, inner, span, t, dynamic)?)),
        other => other.clone(),
    })
}

/// Runs stages that read no events (lookups only), at plan time.
struct StaticEnv<'a> {
    stages: &'a [Stage],
    ctx: &'a EvalContext,
}

impl StaticEnv<'_> {
    fn run(&mut self, stage: &Stage) -> Result<Vec<Record>, ExecError> {
        let mut rows = match &stage.source {
            // A stage of a static subsearch reads no scan.
            Source::Scan(_) => Vec::new(),
            Source::Inputlookup { .. } => stage.source.inputlookup_rows(),
        };
        for op in &stage.ops {
            rows = crate::ops::apply(op, rows, self)?;
        }
        Ok(rows)
    }
}

impl Env for StaticEnv<'_> {
    fn ctx(&self) -> &EvalContext {
        self.ctx
    }

    fn take_precomputed(&mut self, _: StageId) -> Option<RowStore> {
        None
    }

    fn run_join_subsearch(&mut self, stage: StageId, _: &[String], _: &[Record], _: usize) -> Result<Vec<Record>, ExecError> {
        self.run_stage(stage)
    }

    fn run_stage(&mut self, stage: StageId) -> Result<Vec<Record>, ExecError> {
        let stages = self.stages;
        match stages.get(stage.0) {
            Some(s) => self.run(s),
            None => Err(ExecError(format!("internal: no stage {}", stage.0))),
        }
    }
}
