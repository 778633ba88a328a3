//! Semi-join first: an inner join's subsearch runs before the root's tstats scan becomes
//! rows, and only the groups whose join-field texts it has are built.
//!
//! Many hunting detections group every process (`tstats ... by process_guid ...`) and then
//! keep only those an inner `join` with a selective subsearch matches; building a row for
//! every group only to drop it at the join dominated the time after the scan. Which joins
//! qualify is the plan's (`plan::semijoin`); the join itself still runs unchanged, on the
//! subsearch rows computed here, so the result is the same.

use super::output::Budgets;
use super::runner::Runner;
use super::whole_table;
use crate::error::ExecError;
use crate::expr::value::EvalContext;
use crate::plan::semijoin::SemiJoin;
use crate::plan::{Query, Scan};
use crate::scan::ScanAcc;
use crate::store::row_store::RowStore;
use crate::store::symbols::Symbols;

/// Finishes `q`, whose root stage reads scan `si`, filtered by the join `semi`.
pub(super) fn run(
    q: &Query,
    accs: Vec<ScanAcc>,
    si: usize,
    semi: &SemiJoin,
    symbols: &Symbols,
    ctx: &EvalContext,
    budgets: Budgets,
) -> Result<RowStore, ExecError> {
    let mut accs: Vec<Option<ScanAcc>> = accs.into_iter().map(Some).collect();
    let forward = accs.get_mut(si).and_then(Option::take);
    let mut runner = Runner::new(q, accs, symbols, ctx, budgets.rows);
    if let (Some(ScanAcc::Groups(g)), Some(Scan::Tstats(t))) = (forward, q.scans.get(si)) {
        let rows = match runner.run_stage_stored(q.stage(semi.join.sub), &semi.join.fields) {
            Ok((sub_rows, keys)) => {
                runner.set_precomputed(semi.join.sub, sub_rows);
                let names: Vec<String> = t.by.iter().map(|(n, _)| n.clone()).collect();
                g.finish_where(symbols, &names, &t.aggs, |key| keys.admits(&semi.columns, key))
            }
            // The join reports the error when it runs the subsearch again.
            Err(_) => Ok(Vec::new()),
        };
        runner.set_scan_rows(si, rows?);
    }
    whole_table::run(&mut runner, q, budgets.store)
}
