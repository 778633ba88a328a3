//! The logical plan: SPL text -> macro expansion -> AST -> a [`Query`] of scans and stages of
//! table operators.
//!
//! Every data-reading leaf of a search (its leading tstats or raw search, and those of
//! subsearches) becomes a [`Scan`] that the scan feeds in the single pass over the input.
//! Everything after a leaf is a [`Stage`]: a list of [`Op`]s run over the leaf's result
//! table. Subsearch stages live in the query's stage table and are named by [`StageId`].
//! This layer also decides what runs inside the scan (`push_down`, `keyfilter`), which
//! inner joins can filter their scan (`semijoin`), all from one field-lineage analysis
//! (`lineage`).

mod command;
mod datamodel;
mod event_conditions;
pub(crate) mod keyfilter;
mod keyrow;
pub(crate) mod lineage;
mod planner;
mod push_down;
pub(crate) mod semijoin;
mod sigma;
mod sigma_evals;
mod subsearch;

pub use event_conditions::EventConditions;
pub use planner::Planner;

use crate::error::PlanError;
use crate::expr::field::FieldRef;
use crate::expr::predicate::Pred;
use crate::ops::lookup::LookupData;
use crate::ops::stats::StatsOp;
use crate::ops::{Op, StageId};
use crate::store::agg::AggSpec;
use std::sync::Arc;
use vigil_model::{Micros, Record};

/// A planned search, ready to be fed events and rows.
#[derive(Debug)]
pub struct Query {
    /// Detection name, or `search` for an ad-hoc search.
    pub name: String,
    /// The macro-expanded search text (spans in errors refer to it).
    pub text: String,
    pub(crate) root: Stage,
    pub(crate) scans: Vec<Scan>,
    /// Subsearch stages (of joins and event subsearches), by [`StageId`].
    pub(crate) stages: Vec<Stage>,
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

    /// A subsearch stage.
    pub(crate) fn stage(&self, id: StageId) -> &Stage {
        &self.stages[id.0]
    }
}

/// What planning a query builds besides its root stage: its scans and subsearch stages.
#[derive(Default)]
pub(crate) struct Tables {
    pub scans: Vec<Scan>,
    pub stages: Vec<Stage>,
}

impl Tables {
    pub fn add_stage(&mut self, stage: Stage) -> StageId {
        self.stages.push(stage);
        StageId(self.stages.len() - 1)
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

#[derive(Debug)]
pub(crate) enum Source {
    /// Rows produced by scan number N.
    Scan(usize),
    Inputlookup {
        table: Arc<LookupData>,
        filter: Option<Pred>,
    },
}

impl Source {
    /// The rows of an `inputlookup` source (none for a scan).
    pub(crate) fn inputlookup_rows(&self) -> Vec<Record> {
        match self {
            Source::Scan(_) => Vec::new(),
            Source::Inputlookup { table, filter } => {
                let rows = table.records();
                match filter {
                    Some(p) => rows.into_iter().filter(|r| p.eval(r)).collect(),
                    None => rows,
                }
            }
        }
    }
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
    pub stats: Option<StatsOp>,
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
