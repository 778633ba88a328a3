//! Chunked finishing through `stats` and `eventstats`.
//!
//! "Unusually Long Command Line" groups every process by its command line, then runs
//! `eventstats ... by dest | stats ... by dest user process_name process`: whole-table
//! operators over a table with one row per distinct command line. Here such a query never
//! holds that table. Its source is a set of group runs on disk, read in key order a chunk at
//! a time; row-by-row operators run on each chunk; `stats` feeds its groups chunk by chunk
//! (spilling them past a budget) and its result becomes the next source, again runs on
//! disk; `eventstats` reads its input twice, once to aggregate and once to annotate, which
//! re-reading the runs allows. Rows come out in the order the whole-table evaluation gives.

use super::chunked::ChunkJob;
use super::output::{QueryOutput, CHUNK_ROWS};
use crate::error::ExecError;
use crate::ops::stats::{too_many_groups, StatsOp};
use crate::ops::{apply_all, Op, RowEnv};
use crate::store::agg::AggSpec;
use crate::store::groups::{group_row, Groups};
use crate::store::spill::{Run, SpillFile};
use crate::store::symbols::Symbols;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use vigil_model::Record;

/// Bytes of groups and texts a `stats` here holds before spilling them.
const STATS_BUDGET: usize = 16 << 20;

/// Whether `ops` can run this way: row-by-row operators, `stats` and `eventstats` only, with
/// at least one of the latter (otherwise `chunked::finish_in_chunks` does it more cheaply).
pub(crate) fn stageable(ops: &[Op]) -> bool {
    ops.iter().all(|op| op.is_row_wise() || matches!(op, Op::Stats(_) | Op::Eventstats(_)))
        && ops.iter().any(|op| matches!(op, Op::Stats(_) | Op::Eventstats(_)))
}

/// Where chunks of rows come from; every source can be read more than once.
enum Source<'q> {
    /// Groups on disk, read in key order.
    Runs { runs: Vec<Run>, by_names: Vec<String>, aggs: &'q [AggSpec] },
    /// A few rows (a `stats` without by-fields).
    Rows(Vec<Record>),
    /// Another source's rows through row-by-row operators, annotated by an eventstats
    /// summary.
    Annotated { base: Box<Source<'q>>, ops: &'q [Op], eventstats: &'q StatsOp, summary: Vec<Record>, index: HashMap<Vec<String>, usize> },
}

type ChunkFn<'f> = dyn FnMut(Vec<Record>, &mut RowEnv) -> Result<(), ExecError> + 'f;

impl Source<'_> {
    fn for_each_chunk(&self, runner: &mut RowEnv, f: &mut ChunkFn) -> Result<(), ExecError> {
        match self {
            Source::Rows(rows) => f(rows.clone(), runner),
            Source::Runs { runs, by_names, aggs } => {
                let mut chunk = Vec::with_capacity(CHUNK_ROWS);
                let mut failed = None;
                crate::store::spill::merge(runs, Vec::new(), aggs, |key, states| {
                    if failed.is_some() {
                        return Ok(());
                    }
                    chunk.push(group_row(by_names, key.texts()?.into_iter().map(str::to_string), states, aggs));
                    if chunk.len() == CHUNK_ROWS {
                        if let Err(e) = f(std::mem::take(&mut chunk), runner) {
                            failed = Some(e);
                        }
                    }
                    Ok(())
                })
                .map_err(read_error)?;
                match failed {
                    Some(e) => Err(e),
                    None if chunk.is_empty() => Ok(()),
                    None => f(chunk, runner),
                }
            }
            Source::Annotated { base, ops, eventstats, summary, index } => base.for_each_chunk(runner, &mut |chunk, runner| {
                let mut rows = apply_all(ops, chunk, runner)?;
                for row in &mut rows {
                    eventstats.annotate(row, summary, index);
                }
                f(rows, runner)
            }),
        }
    }
}

fn read_error(e: std::io::Error) -> ExecError {
    ExecError(format!("groups spilled to disk: {e}"))
}

/// Aggregates the rows of `source` through `ops` with `stats`, spilling past the budget.
fn aggregate(
    source: &Source,
    ops: &[Op],
    stats: &StatsOp,
    file: &Arc<SpillFile>,
    runner: &mut RowEnv,
) -> Result<(Groups, Symbols), ExecError> {
    let ctx = runner.ctx;
    let mut groups = Groups::default();
    let mut symbols = Symbols::default();
    let mut parts = Vec::new();
    source.for_each_chunk(runner, &mut |chunk, runner| {
        for row in apply_all(ops, chunk, runner)? {
            stats.add(&mut groups, &mut symbols, &row, ctx, &mut parts);
        }
        if groups.bytes() + symbols.heap_bytes() > STATS_BUDGET {
            groups.spill(&symbols, file).map_err(read_error)?;
            symbols = Symbols::default();
        }
        Ok(())
    })?;
    if groups.overflow {
        return Err(too_many_groups(&stats.by));
    }
    Ok((groups, symbols))
}

/// Whether a table is small enough to finish whole in memory. A table partly on disk never
/// is, however little of it is left in memory: finishing it whole built every group's row at
/// once (over 4 GB of events, two such queries side by side took 300 MB).
fn finishes_in_memory(groups: &Groups, symbols: &Symbols, in_memory: usize) -> bool {
    !groups.has_spilled() && groups.bytes() + symbols.heap_bytes() <= in_memory
}

/// Finishes a query whose operators are row-by-row ones, `stats` and `eventstats` (see
/// [`stageable`]), emitting partial outputs and then a final one.
pub(crate) fn finish_staged(job: ChunkJob, emit: &mut dyn FnMut(QueryOutput)) {
    let ChunkJob { name, groups, shape, symbols, ops, ctx, in_memory } = job;
    let started = Instant::now();
    let mut runner = RowEnv { ctx };
    let small = finishes_in_memory(&groups, symbols, in_memory);
    let run = || -> Result<Vec<Record>, ExecError> {
        let file = if small { None } else { SpillFile::new().ok() };
        let Some(file) = file else {
            // A table small for the budget, or no temporary file to be had: the whole table
            // in memory, as without stages (same rows; nothing written to disk).
            let rows = groups.finish(symbols, &shape.by_names, shape.aggs)?;
            return apply_all(ops, rows, &mut runner);
        };
        let runs = groups.into_runs(symbols, &file, shape.aggs).map_err(read_error)?;
        let mut source = Source::Runs { runs, by_names: shape.by_names, aggs: shape.aggs };
        let mut pos = 0;
        loop {
            let end = pos + ops[pos..].iter().take_while(|op| op.is_row_wise()).count();
            let segment = &ops[pos..end];
            source = match ops.get(end) {
                None => {
                    source.for_each_chunk(&mut runner, &mut |chunk, runner| {
                        let rows = apply_all(segment, chunk, runner)?;
                        if !rows.is_empty() {
                            emit(QueryOutput { name: name.to_string(), result: Ok(rows), finish_time: started.elapsed(), partial: true });
                        }
                        Ok(())
                    })?;
                    return Ok(Vec::new());
                }
                Some(Op::Stats(stats)) => {
                    let (groups, symbols) = aggregate(&source, segment, stats, &file, &mut runner)?;
                    if stats.by.is_empty() {
                        Source::Rows(stats.finish(groups, &symbols)?)
                    } else {
                        let runs = groups.into_runs(&symbols, &file, &stats.aggs).map_err(read_error)?;
                        Source::Runs { runs, by_names: stats.by.clone(), aggs: &stats.aggs }
                    }
                }
                Some(Op::Eventstats(eventstats)) => {
                    let (groups, symbols) = aggregate(&source, segment, eventstats, &file, &mut runner)?;
                    let summary = eventstats.finish(groups, &symbols)?;
                    let index = eventstats.summary_index(&summary);
                    Source::Annotated { base: Box::new(source), ops: segment, eventstats, summary, index }
                }
                Some(_) => return Err(ExecError("internal: an operator that cannot run in stages".into())),
            };
            pos = end + 1;
        }
    };
    let result = run();
    emit(QueryOutput { name: name.to_string(), result, finish_time: started.elapsed(), partial: false });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::agg::{AggFunc, AggInput};

    #[test]
    fn a_table_partly_on_disk_is_not_finished_in_memory() {
        let aggs = [AggSpec { func: AggFunc::Count, input: AggInput::Rows, name: "count".into() }];
        let mut symbols = Symbols::default();
        let mut groups = Groups::default();
        let key = [symbols.intern("host1")];
        groups.entry(&key, &aggs);
        assert!(finishes_in_memory(&groups, &symbols, 64 << 20));
        assert!(!finishes_in_memory(&groups, &symbols, 0), "over the budget");
        let file = SpillFile::new().expect("temporary file");
        groups.spill(&symbols, &file).expect("spills");
        assert_eq!(groups.bytes(), 0, "nothing left in memory");
        assert!(!finishes_in_memory(&groups, &symbols, 64 << 20));
    }
}
