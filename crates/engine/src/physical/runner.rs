//! Running a query's stages over its scan results: the root stage and join subsearches,
//! with scans turned into rows only when a stage reads them, and then as few as the stage
//! can use (chunked row-by-row operators, semi-join keys, `join max=N`).

use super::output::CHUNK_ROWS;
use crate::error::ExecError;
use crate::expr::value::EvalContext;
use crate::ops::join_keys::{row_key, KeySet};
use crate::ops::{apply_all, Env, Op, StageId};
use crate::plan::semijoin::trace_subsearch;
use crate::plan::{EventScan, Query, Scan, Source, Stage};
use crate::scan::{scan_rows, ScanAcc};
use crate::store::agg::AggSpec;
use crate::store::groups::Groups;
use crate::store::row_store::{RowSink, RowStore};
use crate::store::symbols::Symbols;
use hashbrown::HashMap;
use vigil_model::Record;

/// Runs a query's stages (the root and subsearches) over its scan results.
pub(crate) struct Runner<'a> {
    /// Scans already turned into rows (by a semi-join, see `semi_join_first`).
    scans: Vec<Option<Vec<Record>>>,
    /// Scans not yet turned into rows: built when a stage reads them, and then only with the
    /// groups a join can use when a join reads them (see `run_join_subsearch`).
    lazy: Vec<Option<(&'a Scan, ScanAcc)>>,
    symbols: &'a Symbols,
    ctx: &'a EvalContext,
    stages: &'a [Stage],
    /// Results of join subsearches run ahead of their join (see `semi_join_first`).
    precomputed: Vec<(StageId, RowStore)>,
    /// Bytes of rows a subsearch run ahead keeps in memory before the rest go to disk.
    row_budget: usize,
}

impl<'a> Runner<'a> {
    /// A runner over query `q`'s scan results (`accs`, one per scan; `None` for a scan
    /// already used), whose key texts are in `symbols`.
    pub fn new(q: &'a Query, accs: Vec<Option<ScanAcc>>, symbols: &'a Symbols, ctx: &'a EvalContext, row_budget: usize) -> Runner<'a> {
        Runner {
            scans: q.scans.iter().map(|_| None).collect(),
            lazy: q.scans.iter().zip(accs).map(|(scan, acc)| acc.map(|acc| (scan, acc))).collect(),
            symbols,
            ctx,
            stages: &q.stages,
            precomputed: Vec::new(),
            row_budget,
        }
    }

    /// Sets the rows of scan `i` (built ahead, see `semi_join_first`).
    pub fn set_scan_rows(&mut self, i: usize, rows: Vec<Record>) {
        if let Some(slot) = self.scans.get_mut(i) {
            *slot = Some(rows);
        }
    }

    /// Keeps the rows of a join subsearch run ahead of its join.
    pub fn set_precomputed(&mut self, stage: StageId, rows: RowStore) {
        self.precomputed.push((stage, rows));
    }

    fn stage(&self, id: StageId) -> Result<&'a Stage, ExecError> {
        let stages = self.stages;
        stages.get(id.0).ok_or_else(|| ExecError(format!("internal: no stage {}", id.0)))
    }

    /// The rows of scan `i`, built now if it was left for later.
    fn scan(&mut self, i: usize) -> Result<Vec<Record>, ExecError> {
        if let Some(rows) = self.scans.get_mut(i).and_then(Option::take) {
            return Ok(rows);
        }
        match self.lazy.get_mut(i).and_then(Option::take) {
            Some((scan, acc)) => scan_rows(scan, acc, self.symbols),
            None => Ok(Vec::new()),
        }
    }

    pub fn run(&mut self, stage: &Stage) -> Result<Vec<Record>, ExecError> {
        let rows = match &stage.source {
            Source::Scan(i) => {
                // Leading row-by-row operators run over the groups a chunk at a time, so only
                // the rows they let through are ever held (a subsearch over every registry
                // write, filtered by `where`, held them all before).
                let lead = stage.ops.iter().take_while(|op| op.is_row_wise()).count();
                let lazy_groups = matches!(self.lazy.get(*i), Some(Some((_, ScanAcc::Groups(_)))));
                if lead > 0 && lazy_groups && self.scans.get(*i).is_some_and(Option::is_none) {
                    if let Some(Some((scan, ScanAcc::Groups(g)))) = self.lazy.get_mut(*i).map(Option::take) {
                        let mut rows = Vec::new();
                        self.groups_through(scan, g, |_| true, &stage.ops[..lead], None, &mut rows)?;
                        return self.run_ops_from(stage, rows, lead);
                    }
                }
                self.scan(*i)?
            }
            Source::Inputlookup { .. } => stage.source.inputlookup_rows(),
        };
        self.run_ops_from(stage, rows, 0)
    }

    /// Runs `stage`'s operators from the `from`-th on.
    fn run_ops_from(&mut self, stage: &Stage, mut rows: Vec<Record>, from: usize) -> Result<Vec<Record>, ExecError> {
        for op in stage.ops.iter().skip(from) {
            rows = crate::ops::apply(op, rows, self)?;
        }
        Ok(rows)
    }

    /// The rows of a scan's groups whose key texts pass `keep`, through row-by-row `ops`, a
    /// chunk of groups at a time, into `out`. With `cap` = (fields, N), at most N rows per
    /// value of those fields are kept (rows without them are dropped): what a `join max=N`
    /// can use of its subsearch.
    fn groups_through(
        &mut self,
        scan: &Scan,
        groups: Groups,
        keep: impl Fn(&[&str]) -> bool,
        ops: &[Op],
        cap: Option<(&[String], usize)>,
        out: &mut dyn RowSink,
    ) -> Result<(), ExecError> {
        let mut seen: HashMap<Vec<String>, usize> = HashMap::new();
        let mut capped = |rows: Vec<Record>, out: &mut dyn RowSink| match cap {
            None => rows.into_iter().for_each(|r| out.put(r)),
            Some((fields, max)) => rows
                .into_iter()
                .filter(|r| {
                    let Some(key) = row_key(fields, r) else { return false };
                    let n = seen.entry(key).or_insert(0);
                    *n += 1;
                    *n <= max
                })
                .for_each(|r| out.put(r)),
        };
        let (by_names, aggs): (Vec<String>, &[AggSpec]) = match scan {
            Scan::Tstats(t) => (t.by.iter().map(|(n, _)| n.clone()).collect(), &t.aggs),
            Scan::Events(EventScan { stats: Some(st), .. }) => (st.by.clone(), &st.aggs),
            Scan::Events(_) => (Vec::new(), &[]),
        };
        let symbols = self.symbols;
        if by_names.is_empty() {
            // Without by-fields an empty input still yields one row (see `scan_rows`).
            let rows = scan_rows(scan, ScanAcc::Groups(groups), symbols)?;
            capped(apply_all(ops, rows, self)?, out);
            return Ok(());
        }
        let mut chunk = Vec::with_capacity(CHUNK_ROWS);
        let mut failed = None;
        groups.for_each_row(symbols, &by_names, aggs, keep, |row| {
            if failed.is_some() {
                return;
            }
            chunk.push(row);
            if chunk.len() == CHUNK_ROWS {
                match apply_all(ops, std::mem::take(&mut chunk), self) {
                    Ok(rows) => capped(rows, out),
                    Err(e) => failed = Some(e),
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        capped(apply_all(ops, chunk, self)?, out);
        Ok(())
    }

    /// Runs a join subsearch ahead of its join (see `semi_join_first`): its rows, kept in memory up
    /// to the row budget and on disk past it when the subsearch works row by row throughout,
    /// and the join keys they have on `fields`.
    pub fn run_stage_stored(&mut self, stage: &Stage, fields: &[String]) -> Result<(RowStore, KeySet), ExecError> {
        if let (Source::Scan(i), true) = (&stage.source, stage.ops.iter().all(Op::is_row_wise)) {
            if let Some(stored) = self.scan_through_stored(*i, &stage.ops, fields)? {
                return Ok(stored);
            }
        }
        let rows = self.run(stage)?;
        let keys = KeySet::new(fields, &rows);
        Ok((RowStore::with_rows(rows, self.row_budget), keys))
    }

    /// The rows of scan `i`'s groups through the row-by-row `ops`, a chunk at a time, kept in
    /// memory up to the row budget and on disk past it, with their join keys on `fields`;
    /// `None` when the scan is not a table of groups still to be built.
    pub fn scan_through_stored(&mut self, i: usize, ops: &[Op], fields: &[String]) -> Result<Option<(RowStore, KeySet)>, ExecError> {
        if !self.scans.get(i).is_some_and(Option::is_none) || !matches!(self.lazy.get(i), Some(Some((_, ScanAcc::Groups(_))))) {
            return Ok(None);
        }
        let Some(Some((scan, ScanAcc::Groups(g)))) = self.lazy.get_mut(i).map(Option::take) else { return Ok(None) };
        let mut sink = Keyed { store: RowStore::new(self.row_budget), keys: KeySet::default(), fields };
        self.groups_through(scan, g, |_| true, ops, None, &mut sink)?;
        Ok(Some((sink.store, sink.keys)))
    }

    /// [`Runner::scan_through_stored`] for rows already built (consumed a chunk at a time).
    pub fn rows_through_stored(&mut self, rows: Vec<Record>, ops: &[Op], fields: &[String]) -> Result<(RowStore, KeySet), ExecError> {
        let mut sink = Keyed { store: RowStore::new(self.row_budget), keys: KeySet::default(), fields };
        let mut rows = rows.into_iter();
        loop {
            let chunk: Vec<Record> = rows.by_ref().take(CHUNK_ROWS).collect();
            if chunk.is_empty() {
                return Ok((sink.store, sink.keys));
            }
            apply_all(ops, chunk, self)?.into_iter().for_each(|row| sink.put(row));
        }
    }

    /// Runs a join's subsearch for the rows it will be joined with. A subsearch that is a
    /// tstats scan plus renames and filters only builds the groups whose join-field texts
    /// some outer row has: the others could never match, and were most of the work when the
    /// subsearch reads a whole data model (every network connection, say).
    /// With `max` > 0 (`join max=N`), when the subsearch works row by row throughout, only its
    /// first `max` rows per join key are kept: the join uses no others.
    fn join_subsearch(&mut self, sub: StageId, fields: &[String], outer: &[Record], max: usize) -> Result<Vec<Record>, ExecError> {
        self.run_join_subsearch_for(sub, fields, &KeySet::new(fields, outer), max)
    }

    /// [`Runner::join_subsearch`] for outer rows with these join keys.
    pub fn run_join_subsearch_for(&mut self, sub: StageId, fields: &[String], keys: &KeySet, max: usize) -> Result<Vec<Record>, ExecError> {
        let sub = self.stage(sub)?;
        let Source::Scan(j) = sub.source else { return self.run(sub) };
        let traced = match self.lazy.get(j) {
            Some(Some((Scan::Tstats(t), ScanAcc::Groups(g)))) if !t.by.is_empty() && !g.overflow => {
                let by: Vec<String> = t.by.iter().map(|(n, _)| n.clone()).collect();
                let aggs: Vec<String> = t.aggs.iter().map(|a| a.name.clone()).collect();
                trace_subsearch(&sub.ops, &by, &aggs, fields).map(|columns| (by, columns))
            }
            _ => None,
        };
        let Some((_, columns)) = traced else { return self.run(sub) };
        let Some(Some((scan, ScanAcc::Groups(g)))) = self.lazy.get_mut(j).map(Option::take) else {
            return self.run(sub);
        };
        let lead = sub.ops.iter().take_while(|op| op.is_row_wise()).count();
        let cap = (max > 0 && lead == sub.ops.len()).then_some((fields, max));
        let mut rows = Vec::new();
        self.groups_through(scan, g, |key| keys.admits(&columns, key), &sub.ops[..lead], cap, &mut rows)?;
        self.run_ops_from(sub, rows, lead)
    }
}

/// Rows kept in a store, with their join keys on `fields` counted.
struct Keyed<'k> {
    store: RowStore,
    keys: KeySet,
    fields: &'k [String],
}

impl RowSink for Keyed<'_> {
    fn put(&mut self, row: Record) {
        self.keys.insert(self.fields, &row);
        self.store.put(row);
    }
}

impl Env for Runner<'_> {
    fn ctx(&self) -> &EvalContext {
        self.ctx
    }

    fn take_precomputed(&mut self, stage: StageId) -> Option<RowStore> {
        let i = self.precomputed.iter().position(|(s, _)| *s == stage)?;
        Some(self.precomputed.swap_remove(i).1)
    }

    fn run_join_subsearch(&mut self, stage: StageId, fields: &[String], outer: &[Record], max: usize) -> Result<Vec<Record>, ExecError> {
        self.join_subsearch(stage, fields, outer, max)
    }

    fn run_stage(&mut self, stage: StageId) -> Result<Vec<Record>, ExecError> {
        let stage = self.stage(stage)?;
        self.run(stage)
    }
}
