//! Event chunks: a query whose result table is one raw-event scan's matching events (a Sigma
//! rule, a plain SPL search) and whose operators all work row by row decodes its held events
//! a chunk at a time, newest first, and hands each chunk on through the operators at once.
//! Its memory is then a chunk of events rather than all of them as records, which, with one
//! query per finishing worker, was most of a Sigma run's peak.

use super::output::QueryOutput;
use crate::error::ExecError;
use crate::expr::value::EvalContext;
use crate::ops::{apply_all, Op, RowEnv};
use crate::plan::{EventScan, Query, Scan, Source};
use crate::store::event_rows::EventRows;
use std::time::Instant;

/// Events decoded at a time: a whole Windows event as a record takes a few KB.
const EVENT_CHUNK_ROWS: usize = 512;

/// Whether `q` reads one raw-event scan that keeps events (no stats in the scan), then works
/// row by row only.
pub(super) fn chunkable(q: &Query) -> bool {
    q.scans.len() == 1
        && matches!(q.scans[0], Scan::Events(EventScan { stats: None, .. }))
        && matches!(q.root.source, Source::Scan(0))
        && q.root.ops.iter().all(Op::is_row_wise)
}

/// Finishes a query chunk by chunk over its held events, emitting partial outputs and then a
/// final one.
pub(super) fn finish(name: &str, events: EventRows, ops: &[Op], ctx: &EvalContext, emit: &mut dyn FnMut(QueryOutput)) {
    let started = Instant::now();
    let mut env = RowEnv { ctx };
    let mut failed: Option<ExecError> = None;
    // Damage cannot happen (the rows were built in this process); were it to, the rows
    // before it were handed on, as the whole-table path keeps them.
    // Room in each record for the fields the evals assign (a Sigma rule's metadata).
    let spare = ops.iter().map(|op| if let Op::Eval(assignments) = op { assignments.len() } else { 0 }).sum();
    let _damaged = !events.for_each_chunk_newest_first(EVENT_CHUNK_ROWS, spare, |chunk| {
        if failed.is_some() {
            return;
        }
        match apply_all(ops, chunk, &mut env) {
            Ok(rows) => emit(QueryOutput { name: name.to_string(), result: Ok(rows), finish_time: started.elapsed(), partial: true }),
            Err(e) => failed = Some(e),
        }
    });
    let result = failed.map_or(Ok(Vec::new()), Err);
    emit(QueryOutput { name: name.to_string(), result, finish_time: started.elapsed(), partial: false });
}
