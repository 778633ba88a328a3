//! Running a query's stages over its scan results: the root stage and join subsearches,
//! with scans turned into rows only when a stage reads them, and then as few as the stage
//! can use (chunked row-by-row operators, semi-join keys, `join max=N`).

use crate::error::ExecError;
use crate::eval::EvalContext;
use crate::exec::{scan_rows, ScanAcc};
use crate::ops::stats::Groups;
use crate::ops::Op;
use crate::plan::{EventScan, Scan, Source, Stage};
use crate::rowstore::{RowSink, RowStore};
use crate::semijoin::KeySet;
use crate::symbols::Symbols;
use hashbrown::HashMap;
use vigil_model::Record;

/// Runs stages (the root and join subsearches) over scan results.
pub(crate) struct Runner<'a> {
    pub(crate) scans: Vec<Option<Vec<Record>>>,
    /// Scans not yet turned into rows: built when a stage reads them, and then only with the
    /// groups a join can use when a join reads them (see `run_join_subsearch`).
    pub(crate) lazy: Vec<Option<(&'a Scan, ScanAcc)>>,
    pub(crate) symbols: Option<&'a Symbols>,
    pub ctx: &'a EvalContext,
    /// Results of join subsearches run ahead of their join (see `semijoin`), by stage.
    pub(crate) precomputed: Vec<(*const Stage, RowStore)>,
    /// Bytes of rows a subsearch run ahead keeps in memory before the rest go to disk.
    pub(crate) row_budget: usize,
}

impl<'a> Runner<'a> {
    pub fn new(scans: Vec<Option<Vec<Record>>>, ctx: &'a EvalContext) -> Runner<'a> {
        Runner { scans, lazy: Vec::new(), symbols: None, ctx, precomputed: Vec::new(), row_budget: usize::MAX }
    }

    /// The rows of `stage` if it ran ahead of time.
    pub fn take_precomputed(&mut self, stage: &Stage) -> Option<RowStore> {
        let i = self.precomputed.iter().position(|(s, _)| std::ptr::eq(*s, stage))?;
        Some(self.precomputed.swap_remove(i).1)
    }

    /// The rows of scan `i`, built now if it was left for later.
    fn scan(&mut self, i: usize) -> Result<Vec<Record>, ExecError> {
        if let Some(rows) = self.scans.get_mut(i).and_then(Option::take) {
            return Ok(rows);
        }
        match (self.lazy.get_mut(i).and_then(Option::take), self.symbols) {
            (Some((scan, acc)), Some(symbols)) => scan_rows(scan, acc, symbols),
            _ => Ok(Vec::new()),
        }
    }

    pub fn run_stage(&mut self, stage: &Stage) -> Result<Vec<Record>, ExecError> {
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
            Source::Inputlookup { table, filter } => {
                let rows = table.records();
                match filter {
                    Some(p) => rows.into_iter().filter(|r| p.eval(r)).collect(),
                    None => rows,
                }
            }
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
                    let Some(key) = crate::semijoin::row_key(fields, r) else { return false };
                    let n = seen.entry(key).or_insert(0);
                    *n += 1;
                    *n <= max
                })
                .for_each(|r| out.put(r)),
        };
        let (by_names, aggs): (Vec<String>, &[crate::agg::AggSpec]) = match scan {
            Scan::Tstats(t) => (t.by.iter().map(|(n, _)| n.clone()).collect(), &t.aggs),
            Scan::Events(EventScan { stats: Some(st), .. }) => (st.by.clone(), &st.aggs),
            Scan::Events(_) => (Vec::new(), &[]),
        };
        let Some(symbols) = self.symbols else { return Ok(()) };
        if by_names.is_empty() {
            // Without by-fields an empty input still yields one row (see `scan_rows`).
            let rows = scan_rows(scan, ScanAcc::Groups(groups), symbols)?;
            capped(crate::stream::apply_all(ops, rows, self)?, out);
            return Ok(());
        }
        let mut chunk = Vec::with_capacity(crate::stream::CHUNK_ROWS);
        let mut failed = None;
        groups.for_each_row(symbols, &by_names, aggs, keep, |row| {
            if failed.is_some() {
                return;
            }
            chunk.push(row);
            if chunk.len() == crate::stream::CHUNK_ROWS {
                match crate::stream::apply_all(ops, std::mem::take(&mut chunk), self) {
                    Ok(rows) => capped(rows, out),
                    Err(e) => failed = Some(e),
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        capped(crate::stream::apply_all(ops, chunk, self)?, out);
        Ok(())
    }

    /// Runs a join subsearch ahead of its join (see `semijoin`): its rows, kept in memory up
    /// to the row budget and on disk past it when the subsearch works row by row throughout,
    /// and the join keys they have on `fields`.
    pub fn run_stage_stored(&mut self, stage: &Stage, fields: &[String]) -> Result<(RowStore, KeySet), ExecError> {
        if let (Source::Scan(i), true) = (&stage.source, stage.ops.iter().all(Op::is_row_wise)) {
            if let Some(stored) = self.scan_through_stored(*i, &stage.ops, fields)? {
                return Ok(stored);
            }
        }
        let rows = self.run_stage(stage)?;
        let keys = KeySet::new(fields, &rows);
        Ok((RowStore::with_rows(rows, self.row_budget), keys))
    }

    /// The rows of scan `i`'s groups through the row-by-row `ops`, a chunk at a time, kept in
    /// memory up to the row budget and on disk past it, with their join keys on `fields`;
    /// `None` when the scan is not a table of groups still to be built.
    pub fn scan_through_stored(&mut self, i: usize, ops: &[Op], fields: &[String]) -> Result<Option<(RowStore, KeySet)>, ExecError> {
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
        if !self.scans.get(i).is_some_and(Option::is_none) || !matches!(self.lazy.get(i), Some(Some((_, ScanAcc::Groups(_))))) {
            return Ok(None);
        }
        let Some(Some((scan, ScanAcc::Groups(g)))) = self.lazy.get_mut(i).map(Option::take) else { return Ok(None) };
        let mut sink = Keyed { store: RowStore::new(self.row_budget), keys: KeySet::default(), fields };
        self.groups_through(scan, g, |_| true, ops, None, &mut sink)?;
        Ok(Some((sink.store, sink.keys)))
    }

    /// Runs a join's subsearch for the rows it will be joined with. A subsearch that is a
    /// tstats scan plus renames and filters only builds the groups whose join-field texts
    /// some outer row has: the others could never match, and were most of the work when the
    /// subsearch reads a whole data model (every network connection, say).
    /// With `max` > 0 (`join max=N`), when the subsearch works row by row throughout, only its
    /// first `max` rows per join key are kept: the join uses no others.
    pub fn run_join_subsearch(&mut self, sub: &Stage, fields: &[String], outer: &[Record], max: usize) -> Result<Vec<Record>, ExecError> {
        self.run_join_subsearch_for(sub, fields, &KeySet::new(fields, outer), max)
    }

    /// [`Runner::run_join_subsearch`] for outer rows with these join keys.
    pub fn run_join_subsearch_for(&mut self, sub: &Stage, fields: &[String], keys: &KeySet, max: usize) -> Result<Vec<Record>, ExecError> {
        let Source::Scan(j) = sub.source else { return self.run_stage(sub) };
        let traced = match (self.lazy.get(j), self.symbols) {
            (Some(Some((Scan::Tstats(t), ScanAcc::Groups(g)))), Some(_)) if !t.by.is_empty() && !g.overflow => {
                let by: Vec<String> = t.by.iter().map(|(n, _)| n.clone()).collect();
                let aggs: Vec<String> = t.aggs.iter().map(|a| a.name.clone()).collect();
                crate::semijoin::trace_subsearch(&sub.ops, &by, &aggs, fields).map(|columns| (by, columns))
            }
            _ => None,
        };
        let Some((_, columns)) = traced else { return self.run_stage(sub) };
        let Some(Some((scan, ScanAcc::Groups(g)))) = self.lazy.get_mut(j).map(Option::take) else {
            return self.run_stage(sub);
        };
        let lead = sub.ops.iter().take_while(|op| op.is_row_wise()).count();
        let cap = (max > 0 && lead == sub.ops.len()).then_some((fields, max));
        let mut rows = Vec::new();
        self.groups_through(scan, g, |key| keys.admits(&columns, key), &sub.ops[..lead], cap, &mut rows)?;
        self.run_ops_from(sub, rows, lead)
    }
}
