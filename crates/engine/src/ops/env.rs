//! What operators need from whoever runs them: the evaluation context, and for `join` and a
//! `search` with event subsearches, a way to run the query's other stages (by id).

use crate::error::ExecError;
use crate::expr::value::EvalContext;
use crate::store::row_store::RowStore;
use vigil_model::Record;

/// A subsearch stage of a query: an index into its stage table (`plan::Query::stages`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct StageId(pub usize);

/// The environment an operator runs in.
pub(crate) trait Env {
    fn ctx(&self) -> &EvalContext;

    /// The rows of `stage` if it ran ahead of its join (see `physical::semi_join_first`).
    fn take_precomputed(&mut self, stage: StageId) -> Option<RowStore>;

    /// Runs a join's subsearch for the outer rows it will be joined with (`max`: the join's
    /// matches per row, 0 for all).
    fn run_join_subsearch(&mut self, stage: StageId, fields: &[String], outer: &[Record], max: usize) -> Result<Vec<Record>, ExecError>;

    /// Runs a subsearch stage whole.
    fn run_stage(&mut self, stage: StageId) -> Result<Vec<Record>, ExecError>;
}

/// The environment of operators that see only their own rows: row-by-row operators run
/// during the scan, and key filters. They never run a subsearch.
pub(crate) struct RowEnv<'a> {
    pub ctx: &'a EvalContext,
}

fn no_stages() -> ExecError {
    ExecError("internal: a subsearch cannot run during the scan".into())
}

impl Env for RowEnv<'_> {
    fn ctx(&self) -> &EvalContext {
        self.ctx
    }

    fn take_precomputed(&mut self, _: StageId) -> Option<RowStore> {
        None
    }

    fn run_join_subsearch(&mut self, _: StageId, _: &[String], _: &[Record], _: usize) -> Result<Vec<Record>, ExecError> {
        Err(no_stages())
    }

    fn run_stage(&mut self, _: StageId) -> Result<Vec<Record>, ExecError> {
        Err(no_stages())
    }
}
