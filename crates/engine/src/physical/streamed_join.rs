//! A join between row-by-row operators, with its outer rows streamed through it.
//!
//! `tstats ... | <row ops> | join f [subsearch] | <row ops>` held every outer row, the
//! subsearch rows and every joined row at once: "Windows MSIExec With Network Connections"
//! (every msiexec process joined with a network connection on its process id) took 150 MB at
//! 8 GB of events. Here the outer rows go to a store (memory up to a budget, disk past it)
//! while their join keys are counted; the subsearch is built only for those keys, the result
//! size is checked from the counts, and then the outer rows flow through the join and the
//! operators after it a chunk at a time. The rows and their order are those of the plain run.

use super::output::CHUNK_ROWS;
use super::runner::Runner;
use crate::error::ExecError;
use crate::ops::join::JoinOp;
use crate::ops::join_keys::KeySet;
use crate::ops::{apply_all, Env, Op};
use crate::plan::{Source, Stage};
use crate::store::row_store::{RowSink, RowStore};
use vigil_model::Record;

/// The position of the join in `scan | <row ops> | join | <row ops>`, if `stage` has that
/// shape.
pub(crate) fn streamable(stage: &Stage) -> Option<usize> {
    let Source::Scan(_) = stage.source else { return None };
    let at = stage.ops.iter().position(|op| !op.is_row_wise())?;
    let Op::Join(_) = &stage.ops[at] else { return None };
    stage.ops[at + 1..].iter().all(Op::is_row_wise).then_some(at)
}

/// Runs `stage` (see [`streamable`]; `at` is its join) into a store that keeps about
/// `budget` bytes in memory. `None` when its scan is not a table of groups still to be
/// built, so the plain run should be used.
pub(crate) fn run(runner: &mut Runner, stage: &Stage, at: usize, budget: usize) -> Result<Option<RowStore>, ExecError> {
    let (Source::Scan(i), Some(Op::Join(join))) = (&stage.source, stage.ops.get(at)) else { return Ok(None) };
    let Some((outer, keys)) = runner.scan_through_stored(*i, &stage.ops[..at], &join.fields)? else { return Ok(None) };
    let sub_rows = runner.run_join_subsearch_for(join.sub, &join.fields, &keys, join.max())?;
    stream(runner, join, (outer, &keys), sub_rows, &stage.ops[at + 1..], budget).map(Some)
}

/// The join of a [`streamable`] stage, with its position.
pub(crate) fn streamable_join(stage: &Stage) -> Option<(usize, &JoinOp)> {
    let at = streamable(stage)?;
    match stage.ops.get(at) {
        Some(Op::Join(join)) => Some((at, join)),
        _ => None,
    }
}

/// [`run`] over the rows of `stage`'s scan, built already (by `semi_join_first`, which may
/// have run the join's subsearch too); `at` and `join` as [`streamable_join`] gives them.
pub(crate) fn run_over_rows(
    runner: &mut Runner,
    stage: &Stage,
    (at, join): (usize, &JoinOp),
    rows: Vec<Record>,
    budget: usize,
) -> Result<RowStore, ExecError> {
    let (outer, keys) = runner.rows_through_stored(rows, &stage.ops[..at], &join.fields)?;
    let sub_rows = match runner.take_precomputed(join.sub) {
        Some(store) => join.precomputed_rows(store, || &keys)?,
        None => runner.run_join_subsearch_for(join.sub, &join.fields, &keys, join.max())?,
    };
    stream(runner, join, (outer, &keys), sub_rows, &stage.ops[at + 1..], budget)
}

/// Joins the stored outer rows (with their counted keys) with `sub_rows` a chunk at a time,
/// through the operators after the join (`tail`).
fn stream(
    runner: &mut Runner,
    join: &JoinOp,
    (outer, keys): (RowStore, &KeySet),
    sub_rows: Vec<Record>,
    tail: &[Op],
    budget: usize,
) -> Result<RowStore, ExecError> {
    let index = join.index(sub_rows);
    let total = keys
        .counts()
        .map(|(key, n)| n.saturating_mul(join.rows_for(&index, Some(key))))
        .fold(keys.keyless().saturating_mul(join.rows_for(&index, None)), usize::saturating_add);
    join.check_total(total)?;
    let mut out = RowStore::new(budget);
    let mut failed = None;
    outer.for_each_chunk(CHUNK_ROWS, |chunk| {
        if failed.is_some() {
            return;
        }
        match apply_all(tail, join.join_rows(&index, chunk), &mut *runner) {
            Ok(rows) => rows.into_iter().for_each(|r| out.put(r)),
            Err(e) => failed = Some(e),
        }
    })?;
    failed.map_or(Ok(out), Err)
}
