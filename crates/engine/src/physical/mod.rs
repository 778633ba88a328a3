//! The physical plan: how each query is finished after the scan.
//!
//! [`choose`] picks one [`Strategy`] per query from its logical plan and what the scan
//! found, and says why; each strategy is in its own file. [`schedule`] runs the queries'
//! finishing on a pool of workers and hands their outputs on in query order.
//!
//! Adding a strategy: a variant here, its file, an arm in [`choose`] (before the ones it
//! should win over) and in [`finish_with`], and its line in `explain`.

mod chunked;
mod event_chunks;
mod output;
mod runner;
mod schedule;
mod semi_join_first;
mod staged;
mod streamed_join;
mod whole_table;

pub use output::QueryOutput;

use crate::error::ExecError;
use crate::expr::value::EvalContext;
use crate::ops::Op;
use crate::plan::semijoin::SemiJoin;
use crate::plan::{EventScan, Query, Scan, Source, Stage};
use crate::scan::{LoggedScan, ScanAcc, MAX_COLLECTED_EVENTS};
use crate::store::symbols::Symbols;
use chunked::{ChunkJob, GroupShape};
use output::{Budgets, StoredOutput, Turn};
use runner::Runner;

/// How a query is finished after the scan.
pub(crate) enum Strategy<'q> {
    /// One aggregating scan, then row-by-row operators only: its groups become rows a chunk
    /// at a time, in key order, and each chunk goes through the operators on its own.
    Chunked(GroupShape<'q>),
    /// One aggregating scan, then row-by-row operators, `stats` and `eventstats`: chunks
    /// flow through stages whose intermediate groups are sorted runs on disk.
    Staged(GroupShape<'q>),
    /// An inner join right after the root's tstats scan (through operators that keep its
    /// join fields): the subsearch runs first and only the scan's groups whose key it has
    /// become rows.
    SemiJoinFirst { scan: usize, semi: SemiJoin<'q> },
    /// `scan | <row ops> | join | <row ops>`: the outer rows go to a store while their join
    /// keys are counted, then stream through the join a chunk at a time.
    StreamedJoin { at: usize },
    /// One raw-event scan that keeps its matching events, then row-by-row operators only:
    /// the events are decoded a chunk at a time, newest first, and each chunk goes through
    /// the operators on its own (a Sigma rule's matches are whole events).
    EventChunks,
    /// The root stage's operators over its whole result table.
    WholeTable,
}

impl Strategy<'_> {
    /// The strategy's name, as EXPLAIN prints it.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Strategy::Chunked(_) => "chunked",
            Strategy::Staged(_) => "staged",
            Strategy::SemiJoinFirst { .. } => "semi-join-first",
            Strategy::StreamedJoin { .. } => "streamed-join",
            Strategy::EventChunks => "event-chunks",
            Strategy::WholeTable => "whole-table",
        }
    }
}

/// A query's strategy and why it was chosen.
pub(crate) struct Choice<'q> {
    pub strategy: Strategy<'q>,
    pub reason: String,
}

/// Chooses how `q` finishes, from its plan alone (the scan defers the scans that
/// semi-join-first filters, see `plan::semijoin::of_root`, so the choice is known before it).
pub(crate) fn choose(q: &Query) -> Choice<'_> {
    // First: the scan logged the rows of such a scan instead of building its groups.
    if let Some((scan, semi)) = crate::plan::semijoin::of_root(q) {
        let reason = format!(
            "an inner join filters the root's tstats scan: scan {scan} logs its rows; {}",
            match q.stage(semi.join.sub).source {
                Source::Inputlookup { .. } => "the subsearch reads a lookup, and only the rows it has keys of become groups".to_string(),
                Source::Scan(j) => format!(
                    "when it kept more rows than scan {j} of the subsearch has groups, only the rows the subsearch has keys of become groups; \
                     otherwise all do, and the join builds the subsearch's groups for their keys"
                ),
            }
        );
        return Choice { strategy: Strategy::SemiJoinFirst { scan, semi }, reason };
    }
    if let Some(shape) = group_shape(q) {
        return if staged::stageable(&q.root.ops) {
            Choice {
                strategy: Strategy::Staged(shape),
                reason: "one aggregating scan, then row-by-row operators with stats/eventstats".into(),
            }
        } else {
            Choice {
                strategy: Strategy::Chunked(shape),
                reason: "one aggregating scan with by-fields, then row-by-row operators only".into(),
            }
        };
    }
    if event_chunks::chunkable(q) {
        let reason = "one raw-event scan, then row-by-row operators only".into();
        return Choice { strategy: Strategy::EventChunks, reason };
    }
    without_semi_join(q)
}

fn without_semi_join(q: &Query) -> Choice<'_> {
    if let Some(at) = streamed_join::streamable(&q.root).filter(|_| root_aggregates(q)) {
        return Choice {
            strategy: Strategy::StreamedJoin { at },
            reason: "a join between row-by-row operators over an aggregating scan".into(),
        };
    }
    let reason = match q.root.ops.iter().find(|op| !op.is_row_wise()) {
        Some(op) => format!("`{}` needs the whole table", op_name(op)),
        None => "the rows come from raw events, a lookup or several scans".into(),
    };
    Choice { strategy: Strategy::WholeTable, reason }
}

/// Whether the root stage reads a scan that builds groups.
fn root_aggregates(q: &Query) -> bool {
    let Source::Scan(i) = q.root.source else { return false };
    matches!(q.scans.get(i), Some(Scan::Tstats(_) | Scan::Events(EventScan { stats: Some(_), .. })))
}

/// How the groups of a query's only scan become rows, when the query can finish chunk by
/// chunk: one aggregating scan with by-fields, then only row-by-row operators (or stages).
/// Whether `stage` reads scan 0 and then only works row by row (so chunks can flow through
/// it independently and in key order), or in stages (see [`staged`]).
fn chunkable_stage(stage: &Stage) -> bool {
    matches!(stage.source, Source::Scan(0)) && (stage.ops.iter().all(Op::is_row_wise) || staged::stageable(&stage.ops))
}

fn group_shape(q: &Query) -> Option<GroupShape<'_>> {
    if q.scans.len() != 1 || !chunkable_stage(&q.root) {
        return None;
    }
    let (by_names, aggs) = match &q.scans[0] {
        Scan::Tstats(t) => (t.by.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(), t.aggs.as_slice()),
        Scan::Events(EventScan { stats: Some(st), .. }) => (st.by.clone(), st.aggs.as_slice()),
        Scan::Events(_) => return None,
    };
    // Without by-fields an empty input still yields one row (see `scan_rows`).
    (!by_names.is_empty()).then_some(GroupShape { by_names, aggs })
}

/// The error a scan ended in, if any: too many groups, or too many raw events.
fn scan_error(q: &Query, accs: &[ScanAcc]) -> Option<ExecError> {
    // Which scan overflowed decides the message: stats run in the scan names its fields.
    let overflow = q.scans.iter().zip(accs).find_map(|(scan, a)| match (scan, a) {
        (Scan::Events(EventScan { stats: Some(st), .. }), ScanAcc::Groups(g)) if g.overflow => {
            Some(crate::ops::stats::too_many_groups(&st.by))
        }
        (_, ScanAcc::Groups(g)) if g.overflow => Some(crate::scan::too_many_tstats_groups()),
        _ => None,
    });
    let hit_limit = accs.iter().any(|a| matches!(a, ScanAcc::Events(v) if v.len() >= MAX_COLLECTED_EVENTS));
    overflow.or_else(|| {
        hit_limit.then(|| {
            ExecError(format!("the search matched more than {MAX_COLLECTED_EVENTS} raw events; narrow it (or aggregate with tstats)"))
        })
    })
}

/// Finishes query `q` from its scan results into a stored output; a query finished in chunks
/// hands them to the output instead once its `turn` has come (see `output::store_outputs`).
pub(crate) fn finish_with(
    q: &Query,
    accs: Vec<ScanAcc>,
    symbols: &Symbols,
    ctx: &EvalContext,
    budgets: Budgets,
    turn: &mut dyn Turn,
    logged: Option<LoggedScan>,
) -> StoredOutput {
    let started = std::time::Instant::now();
    if let Some(e) = scan_error(q, &accs) {
        return StoredOutput::new(q.name.clone(), Err(e), started.elapsed());
    }
    let strategy = choose(q).strategy;
    let accs = match (strategy, <[ScanAcc; 1]>::try_from(accs)) {
        (Strategy::Chunked(shape), Ok([ScanAcc::Groups(groups)])) => {
            let job = ChunkJob { name: &q.name, groups, shape, symbols, ops: &q.root.ops, ctx, in_memory: budgets.in_memory };
            return output::store_outputs(&q.name, budgets.store, turn, |emit| chunked::finish_in_chunks(job, emit));
        }
        (Strategy::Staged(shape), Ok([ScanAcc::Groups(groups)])) => {
            let job = ChunkJob { name: &q.name, groups, shape, symbols, ops: &q.root.ops, ctx, in_memory: budgets.in_memory };
            return output::store_outputs(&q.name, budgets.store, turn, |emit| staged::finish_staged(job, emit));
        }
        (Strategy::EventChunks, Ok([ScanAcc::Events(events)])) => {
            let ops = &q.root.ops;
            return output::store_outputs(&q.name, budgets.store, turn, |emit| event_chunks::finish(&q.name, events, ops, ctx, emit));
        }
        (Strategy::SemiJoinFirst { scan, semi }, accs) => {
            let accs = accs.map_or_else(|accs| accs, Vec::from);
            let result = semi_join_first::run(q, accs, (scan, logged), &semi, symbols, ctx, budgets);
            return StoredOutput::new(q.name.clone(), result, started.elapsed());
        }
        (Strategy::StreamedJoin { at }, accs) => {
            let mut runner =
                Runner::new(q, accs.map_or_else(|accs| accs, Vec::from).into_iter().map(Some).collect(), symbols, ctx, budgets.rows);
            let result = streamed_join::run(&mut runner, &q.root, at, budgets.store)
                .transpose()
                .unwrap_or_else(|| whole_table::run(&mut runner, q, budgets.store));
            return StoredOutput::new(q.name.clone(), result, started.elapsed());
        }
        (_, accs) => accs.map_or_else(|accs| accs, Vec::from),
    };
    let mut runner = Runner::new(q, accs.into_iter().map(Some).collect(), symbols, ctx, budgets.rows);
    StoredOutput::new(q.name.clone(), whole_table::run(&mut runner, q, budgets.store), started.elapsed())
}

/// An operator's SPL command name.
pub(crate) fn op_name(op: &Op) -> &'static str {
    op.command_name()
}
