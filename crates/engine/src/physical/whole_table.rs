//! Whole table: the root stage's operators over its entire result table (what any query can
//! do; the other strategies exist to avoid holding that table).

use super::runner::Runner;
use crate::error::ExecError;
use crate::plan::Query;
use crate::store::row_store::RowStore;

/// Runs `q`'s root stage into a store that keeps about `store_budget` bytes in memory.
pub(super) fn run(runner: &mut Runner, q: &Query, store_budget: usize) -> Result<RowStore, ExecError> {
    runner.run(&q.root).map(|rows| RowStore::with_rows(rows, store_budget))
}
