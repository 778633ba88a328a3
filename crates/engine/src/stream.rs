//! Chunked finishing: a query whose result table comes from one aggregating scan and whose
//! operators all work row by row runs a few thousand groups at a time, and hands each chunk
//! of result rows on at once. Its memory is then a chunk, however many groups the scan made
//! (hunting detections that list every process with its command line have as many rows as
//! the input has distinct command lines).

use crate::agg::AggSpec;
use crate::error::ExecError;
use crate::eval::EvalContext;
use crate::exec::{QueryOutput, Runner};
use crate::ops::stats::Groups;
use crate::ops::Op;
use crate::plan::{Source, Stage};
use crate::rowstore::{RowSink, RowStore};
use crate::symbols::Symbols;
use std::time::Instant;
use vigil_model::Record;

/// Group rows per chunk.
pub(crate) const CHUNK_ROWS: usize = 4096;

/// Whether `stage` reads scan 0 and then only works row by row (so chunks can flow through
/// it independently and in key order), or in stages (see [`crate::pipeline`]).
pub(crate) fn chunkable_stage(stage: &Stage) -> bool {
    matches!(stage.source, Source::Scan(0))
        && (stage.ops.iter().all(Op::is_row_wise) || crate::pipeline::stageable(&stage.ops))
}

/// What one aggregating scan's groups become rows with.
pub(crate) struct GroupShape<'a> {
    pub by_names: Vec<String>,
    pub aggs: &'a [AggSpec],
}

/// A query to finish in chunks: its name, its scan's groups and how they become rows, the
/// operators after the scan.
pub(crate) struct ChunkJob<'a> {
    pub name: &'a str,
    pub groups: Groups,
    pub shape: GroupShape<'a>,
    pub symbols: &'a Symbols,
    pub ops: &'a [Op],
    pub ctx: &'a EvalContext,
    /// Group tables up to this many bytes are finished in memory rather than through
    /// temporary files (a staged finish writes every group to disk first).
    pub in_memory: usize,
}

/// Finishes a query chunk by chunk, emitting partial outputs and then a final one; a query
/// with `stats`/`eventstats` in its tail goes through [`crate::pipeline`].
pub(crate) fn finish_in_chunks(job: ChunkJob, emit: &mut dyn FnMut(QueryOutput)) {
    if crate::pipeline::stageable(job.ops) {
        return crate::pipeline::finish_staged(job, emit);
    }
    let ChunkJob { name, groups, shape, symbols, ops, ctx, .. } = job;
    let started = Instant::now();
    let mut runner = Runner::new(Vec::new(), ctx);
    let mut pending: Vec<Record> = Vec::with_capacity(CHUNK_ROWS);
    let mut failed: Option<ExecError> = None;
    let read = groups.for_each_row(symbols, &shape.by_names, shape.aggs, |_| true, |row| {
        if failed.is_some() {
            return;
        }
        pending.push(row);
        if pending.len() < CHUNK_ROWS {
            return;
        }
        match apply_all(ops, std::mem::take(&mut pending), &mut runner) {
            Ok(rows) => emit(QueryOutput {
                name: name.to_string(),
                result: Ok(rows),
                finish_time: started.elapsed(),
                partial: true,
            }),
            Err(e) => failed = Some(e),
        }
    });
    let result = match (read, failed) {
        (Err(e), _) | (_, Some(e)) => Err(e),
        (Ok(()), None) => apply_all(ops, pending, &mut runner),
    };
    emit(QueryOutput { name: name.to_string(), result, finish_time: started.elapsed(), partial: false });
}

/// A chunked query's output, finished alongside other queries and kept (in memory up to a
/// budget, on disk past it) until its turn to be handed on comes.
pub(crate) struct StoredOutput {
    name: String,
    rows: RowStore,
    error: Option<ExecError>,
    finish_time: std::time::Duration,
}

/// Finishes a query chunk by chunk into a [`StoredOutput`] that keeps about `budget` bytes
/// of rows in memory.
pub(crate) fn finish_stored(job: ChunkJob, budget: usize) -> StoredOutput {
    let name = job.name.to_string();
    let mut rows = RowStore::new(budget);
    let mut error = None;
    let mut finish_time = std::time::Duration::ZERO;
    finish_in_chunks(job, &mut |o| {
        finish_time = o.finish_time;
        match o.result {
            Ok(chunk) => chunk.into_iter().for_each(|r| rows.put(r)),
            Err(e) => error = Some(e),
        }
    });
    StoredOutput { name, rows, error, finish_time }
}

impl StoredOutput {
    /// Estimated heap bytes of the rows it holds in memory.
    pub fn memory_bytes(&self) -> usize {
        self.rows.memory_bytes()
    }

    pub fn new(name: String, result: Result<RowStore, ExecError>, finish_time: std::time::Duration) -> StoredOutput {
        let (rows, error) = match result {
            Ok(rows) => (rows, None),
            Err(e) => (RowStore::new(0), Some(e)),
        };
        StoredOutput { name, rows, error, finish_time }
    }

    /// Hands the rows on as partial outputs of [`CHUNK_ROWS`] rows, then the final output
    /// (empty, or the query's error), as [`finish_in_chunks`] would have.
    pub fn replay(self, emit: &mut dyn FnMut(QueryOutput)) {
        let StoredOutput { name, rows, error, finish_time } = self;
        let output = |result, partial| QueryOutput { name: name.clone(), result, finish_time, partial };
        let read = rows.for_each_chunk(CHUNK_ROWS, |chunk| emit(output(Ok(chunk), true)));
        let result = match (read, error) {
            (Err(e), _) | (_, Some(e)) => Err(e),
            (Ok(()), None) => Ok(Vec::new()),
        };
        emit(output(result, false));
    }
}

pub(crate) fn apply_all(ops: &[Op], mut rows: Vec<Record>, runner: &mut Runner) -> Result<Vec<Record>, ExecError> {
    for op in ops {
        rows = crate::ops::apply(op, rows, runner)?;
    }
    Ok(rows)
}
