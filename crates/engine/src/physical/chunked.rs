//! Chunked finishing: a query whose result table comes from one aggregating scan and whose
//! operators all work row by row runs a few thousand groups at a time, and hands each chunk
//! of result rows on at once. Its memory is then a chunk, however many groups the scan made
//! (hunting detections that list every process with its command line have as many rows as
//! the input has distinct command lines).

use super::output::{QueryOutput, CHUNK_ROWS};
use crate::error::ExecError;
use crate::expr::value::EvalContext;
use crate::ops::{apply_all, Op, RowEnv};
use crate::store::agg::AggSpec;
use crate::store::groups::Groups;
use crate::store::symbols::Symbols;
use std::time::Instant;
use vigil_model::Record;

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

/// Finishes a query chunk by chunk, emitting partial outputs and then a final one.
pub(crate) fn finish_in_chunks(job: ChunkJob, emit: &mut dyn FnMut(QueryOutput)) {
    let ChunkJob { name, groups, shape, symbols, ops, ctx, .. } = job;
    let started = Instant::now();
    let mut env = RowEnv { ctx };
    let mut pending: Vec<Record> = Vec::with_capacity(CHUNK_ROWS);
    let mut failed: Option<ExecError> = None;
    let read = groups.for_each_row(
        symbols,
        &shape.by_names,
        shape.aggs,
        |_| true,
        |row| {
            if failed.is_some() {
                return;
            }
            pending.push(row);
            if pending.len() < CHUNK_ROWS {
                return;
            }
            match apply_all(ops, std::mem::take(&mut pending), &mut env) {
                Ok(rows) => emit(QueryOutput { name: name.to_string(), result: Ok(rows), finish_time: started.elapsed(), partial: true }),
                Err(e) => failed = Some(e),
            }
        },
    );
    let result = match (read, failed) {
        (Err(e), _) | (_, Some(e)) => Err(e),
        (Ok(()), None) => apply_all(ops, pending, &mut env),
    };
    emit(QueryOutput { name: name.to_string(), result, finish_time: started.elapsed(), partial: false });
}
