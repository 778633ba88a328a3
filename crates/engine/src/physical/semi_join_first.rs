//! Semi-join first: an inner join's subsearch runs before the root's tstats scan becomes
//! rows, and only the groups whose join-field texts it has are built.
//!
//! Many hunting detections group every process (`tstats ... by process_guid ...`) and then
//! keep only those an inner `join` with a selective subsearch matches; building a row for
//! every group only to drop it at the join dominated the time after the scan. Which joins
//! qualify is the plan's (`plan::semijoin`); the join itself still runs unchanged, on the
//! subsearch rows computed here, so the result is the same. The scan itself only logged its
//! rows (`scan::deferred`): its groups are built here, for the admitted keys only.

use super::output::Budgets;
use super::runner::Runner;
use super::{streamed_join, whole_table};
use crate::error::ExecError;
use crate::expr::value::EvalContext;
use crate::plan::semijoin::SemiJoin;
use crate::plan::{Query, Scan, Source, TstatsScan};
use crate::scan::{may_overflow, too_many_tstats_groups, Admit, LoggedScan, ScanAcc};
use crate::store::row_store::RowStore;
use crate::store::symbols::Symbols;
use vigil_model::Record;

/// Finishes `q`, whose root stage reads scan `si` (logged, when the scan deferred it),
/// filtered by the join `semi`.
pub(super) fn run(
    q: &Query,
    accs: Vec<ScanAcc>,
    (si, logged): (usize, Option<LoggedScan>),
    semi: &SemiJoin,
    symbols: &Symbols,
    ctx: &EvalContext,
    budgets: Budgets,
) -> Result<RowStore, ExecError> {
    let first = subsearch_first(q, &accs, semi, logged.as_ref());
    let mut accs: Vec<Option<ScanAcc>> = accs.into_iter().map(Some).collect();
    let forward = accs.get_mut(si).and_then(Option::take);
    let mut runner = Runner::new(q, accs, symbols, ctx, budgets.rows);
    let Some(Scan::Tstats(t)) = q.scans.get(si) else { return whole_table::run(&mut runner, q, budgets.store) };
    let names: Vec<String> = t.by.iter().map(|(n, _)| n.clone()).collect();
    let rows = match (logged, first) {
        // Few rows: all of them become groups, and the join builds only the subsearch's
        // groups that their keys can match (see `Runner::run_join_subsearch_for`).
        (Some(logged), false) => from_log(q, t, &logged, &names, Admit::ALL)?,
        (Some(logged), true) => {
            let sub = runner.run_stage_stored(q.stage(semi.join.sub), &semi.join.fields);
            let keys = sub.as_ref().ok().map(|(_, keys)| keys);
            let test = |key: &[&str]| keys.is_some_and(|k| k.admits(&semi.columns, key));
            let rows = from_log(q, t, &logged, &names, Admit { test: &test, reads: Some(&semi.columns) })?;
            // Without them the join reports the subsearch's error when it runs it again.
            if let Ok((sub_rows, _)) = sub {
                runner.set_precomputed(semi.join.sub, sub_rows);
            }
            rows
        }
        (None, _) => {
            let Some(ScanAcc::Groups(g)) = forward else { return whole_table::run(&mut runner, q, budgets.store) };
            match runner.run_stage_stored(q.stage(semi.join.sub), &semi.join.fields) {
                Ok((sub_rows, keys)) => {
                    runner.set_precomputed(semi.join.sub, sub_rows);
                    g.finish_where(symbols, &names, &t.aggs, |key| keys.admits(&semi.columns, key))?
                }
                Err(_) => Vec::new(),
            }
        }
    };
    // A join between row-by-row operators streams its outer rows, as without the semi-join:
    // held whole, "Windows MSIExec With Network Connections" grew with the input (every
    // msiexec process joined with its connections, then projected, side by side).
    if let Some(join) = streamed_join::streamable_join(&q.root) {
        return streamed_join::run_over_rows(&mut runner, &q.root, join, rows, budgets.store);
    }
    runner.set_scan_rows(si, rows);
    whole_table::run(&mut runner, q, budgets.store)
}

/// Whether the subsearch runs before the logged scan's groups are built: when the scan kept
/// more rows than the subsearch's scan has groups, or the subsearch reads a lookup.
fn subsearch_first(q: &Query, accs: &[ScanAcc], semi: &SemiJoin, logged: Option<&LoggedScan>) -> bool {
    let Some(logged) = logged else { return true };
    match q.stage(semi.join.sub).source {
        Source::Scan(j) => match accs.get(j) {
            Some(ScanAcc::Groups(g)) => logged.kept() > g.total() as u64,
            _ => true,
        },
        Source::Inputlookup { .. } => true,
    }
}

/// The rows of the groups of logged scan `t` whose keys `admit` takes, sorted by key; the
/// scan's error if all of its groups (admitted or not) would have been too many.
fn from_log(q: &Query, t: &TstatsScan, logged: &LoggedScan, names: &[String], admit: Admit) -> Result<Vec<Record>, ExecError> {
    let ops = &q.root.ops;
    let built = logged.build(t, ops, admit)?;
    // The scan failed past MAX_GROUPS groups, admitted or not: count them all when the
    // rows could make that many keys (rare: each row stands for one key, or a few).
    let overflow = built.groups.overflow || (may_overflow(built.keys) && logged.build(t, ops, Admit::ALL)?.groups.overflow);
    if overflow {
        return Err(too_many_tstats_groups());
    }
    built.groups.finish(&built.symbols, names, &t.aggs)
}
