//! Execution: one pass feeds every query's scans; then each query's operators run over the
//! scan results.
//!
//! Each worker thread owns a [`ScanState`]; states merge at the end, so reading scales with
//! threads without locks on the hot path.

use crate::agg::{AggInput, AggState};
use crate::error::ExecError;
use crate::eval::EvalContext;
use crate::ops::stats::{for_each_key, key_count, Groups, KeyPart};
pub(crate) use crate::runner::Runner;
use crate::spill::SpillFile;
use crate::rowstore::RowStore;
use crate::stream::StoredOutput;
use crate::symbols::{Symbols, Translation};
use crate::plan::{EventScan, Query, Scan, Source, Stage};
use crate::predicate::{FieldRef, FoldCache, FoldedRow};
use crate::prefilter::{ScanIndex, Scratch};
use vigil_model::value::format_num;
use vigil_model::{Catalog, DatasetRow, Event, Micros, Record, Value};

/// The result of one query.
#[derive(Debug)]
pub struct QueryOutput {
    pub name: String,
    pub result: Result<Vec<Record>, ExecError>,
    /// Time spent after the scan: building result rows and running the operators.
    pub finish_time: std::time::Duration,
    /// More rows of this query follow in further outputs (a query finished in chunks, see
    /// `stream`); the last output of a query has `partial: false`.
    pub partial: bool,
}

impl QueryOutput {
    /// Adds the next output of the same query (a further chunk of its rows, or its error).
    pub fn absorb(&mut self, next: QueryOutput) {
        match (&mut self.result, next.result) {
            (Ok(rows), Ok(more)) => rows.extend(more),
            (_, Err(e)) => self.result = Err(e),
            (Err(_), Ok(_)) => {}
        }
        self.finish_time = next.finish_time;
        self.partial = next.partial;
    }
}

/// Queries with the most groups, started first.
const HEAVY_FIRST: usize = 8;

/// Planned queries and the dispatch tables that route rows and events to their scans.
#[derive(Debug)]
pub struct Engine {
    queries: Vec<Query>,
    /// dataset id -> (query, scan) pairs reading it.
    by_dataset: Vec<Vec<(usize, usize)>>,
    /// (query, scan) pairs reading raw events.
    event_scans: Vec<(usize, usize)>,
    /// dataset id -> value index over its scans' predicates (positions in `by_dataset`).
    indexes: Vec<ScanIndex>,
    /// Value index over the raw-event scans' predicates (positions in `event_scans`).
    event_index: ScanIndex,
    /// Context for operators run during the scan. They use neither the clock nor the time
    /// zone (see `plan::push_down`), so any value works.
    scan_ctx: EvalContext,
    /// Per query and scan: how many leading operators of the query filter its groups by key
    /// when they are created (0: none; see `keyfilter`).
    key_filters: Vec<Vec<Option<crate::keyfilter::KeyFilter>>>,
    /// Bytes of groups and key texts all scan states together may hold; past it, the state
    /// that notices spills its groups to disk.
    memory_budget: usize,
    /// Bytes the live scan states last reported (each adds the change since its last check).
    memory_used: std::sync::atomic::AtomicUsize,
}

/// Default for [`Engine::set_memory_budget`].
pub const DEFAULT_MEMORY_BUDGET: usize = 32 << 20;

/// Rows between two checks of a scan state's memory.
const BUDGET_CHECK_EVERY: u32 = 1024;

/// Per-thread accumulation for every scan of every query.
#[derive(Debug)]
pub struct ScanState {
    accs: Vec<Vec<ScanAcc>>,
    /// Texts of every group key of this thread, shared by all queries.
    symbols: Symbols,
    /// The current row's column texts as symbol ids (`u32::MAX`: not interned yet), so a
    /// column many queries group by is hashed once per row.
    col_ids: Vec<u32>,
    /// Whether any row or event reached this state (an untouched state merges for free).
    touched: bool,
    /// Where groups go past the memory budget (created on first use).
    spill_file: Option<std::sync::Arc<SpillFile>>,
    /// Rows since the memory was last checked; whether spilling failed (then memory grows).
    since_check: u32,
    /// Bytes this state last added to [`Engine::memory_used`].
    reported: usize,
    spill_failed: bool,
    /// Scratch for the prefilter, reused across rows.
    scratch: Scratch,
    fold: std::cell::RefCell<FoldCache>,
}

#[derive(Debug)]
pub(crate) enum ScanAcc {
    Groups(Groups),
    /// Matching events (after the scan's row operators) with their event time, for ordering.
    Events(Vec<(Micros, Record)>),
}

/// Limit on raw events a single search may collect, so `search *` over a huge input fails
/// clearly instead of exhausting memory.
pub const MAX_COLLECTED_EVENTS: usize = 2_000_000;

impl Engine {
    pub fn new(queries: Vec<Query>, catalog: &Catalog) -> Engine {
        let mut by_dataset = vec![Vec::new(); catalog.datasets.len()];
        let mut event_scans = Vec::new();
        for (qi, q) in queries.iter().enumerate() {
            for (si, s) in q.scans.iter().enumerate() {
                match s {
                    Scan::Tstats(t) => by_dataset[t.dataset].push((qi, si)),
                    Scan::Events(_) => event_scans.push((qi, si)),
                }
            }
        }
        let indexes = by_dataset
            .iter()
            .map(|targets| {
                ScanIndex::new(targets.iter().filter_map(|&(qi, si): &(usize, usize)| match &queries[qi].scans[si] {
                    Scan::Tstats(t) => Some(&t.filter),
                    Scan::Events(_) => None,
                }))
            })
            .collect();
        let event_index = ScanIndex::new(event_scans.iter().filter_map(|&(qi, si)| match &queries[qi].scans[si] {
            Scan::Events(e) => Some(&e.pred),
            Scan::Tstats(_) => None,
        }));
        let scan_ctx = EvalContext { now: 0, tz: vigil_time::Tz::utc() };
        let key_filters = queries
            .iter()
            .map(|q| {
                q.scans
                    .iter()
                    .enumerate()
                    .map(|(si, s)| match (s, &q.root.source) {
                        (Scan::Tstats(t), Source::Scan(root)) if *root == si && !t.by.is_empty() => {
                            let by: Vec<String> = t.by.iter().map(|(n, _)| n.clone()).collect();
                            let aggs: Vec<String> = t.aggs.iter().map(|a| a.name.clone()).collect();
                            crate::keyfilter::KeyFilter::plan(&q.root, &by, &aggs, &scan_ctx)
                        }
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        Engine {
            key_filters,
            queries,
            by_dataset,
            event_scans,
            indexes,
            event_index,
            scan_ctx,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            memory_used: Default::default(),
        }
    }

    /// Sets how many bytes of groups and key texts the scan states (one per worker thread)
    /// may hold together; past it, groups are written to a temporary file and merged at the
    /// end.
    pub fn set_memory_budget(&mut self, bytes: usize) {
        self.memory_budget = bytes;
    }

    pub fn queries(&self) -> &[Query] {
        &self.queries
    }

    /// Whether any query reads this dataset (the normalizer can skip it otherwise).
    pub fn wants_dataset(&self, id: usize) -> bool {
        self.by_dataset.get(id).is_some_and(|v| !v.is_empty())
    }

    pub fn wants_events(&self) -> bool {
        !self.event_scans.is_empty()
    }

    pub fn new_state(&self) -> ScanState {
        ScanState {
            accs: self
                .queries
                .iter()
                .map(|q| {
                    q.scans
                        .iter()
                        .map(|s| match s {
                            Scan::Tstats(_) => ScanAcc::Groups(Groups::default()),
                            Scan::Events(e) if e.stats.is_some() => ScanAcc::Groups(Groups::default()),
                            Scan::Events(_) => ScanAcc::Events(Vec::new()),
                        })
                        .collect()
                })
                .collect(),
            symbols: Symbols::default(),
            col_ids: Vec::new(),
            touched: false,
            spill_file: None,
            since_check: 0,
            reported: 0,
            spill_failed: false,
            scratch: Scratch::default(),
            fold: Default::default(),
        }
    }

    /// Feeds one dataset row to every tstats scan on its dataset.
    pub fn on_row(&self, state: &mut ScanState, row: &DatasetRow) {
        let (Some(targets), Some(index)) = (self.by_dataset.get(row.dataset), self.indexes.get(row.dataset)) else {
            return;
        };
        let mut scratch = std::mem::take(&mut state.scratch);
        index.candidates(row, &mut scratch);
        if scratch.candidates.is_empty() {
            state.scratch = scratch;
            return;
        }
        state.touched = true;
        state.col_ids.clear();
        state.col_ids.resize(row.values.len(), u32::MAX);
        state.fold.get_mut().reset(row.values.len());
        let fold = std::mem::take(&mut state.fold);
        let folded = FoldedRow { row, cache: &fold };
        for &(qi, si) in scratch.candidates.iter().filter_map(|&k| targets.get(k)) {
            let Scan::Tstats(scan) = &self.queries[qi].scans[si] else { continue };
            if !scan.filter.eval(&folded) {
                continue;
            }
            // tstats reports _time in whole seconds.
            let secs = row.time.div_euclid(1_000_000);
            // Key parts are symbol ids: no allocation unless a text or a group is new.
            let mut parts = Vec::with_capacity(scan.by.len());
            let mut dropped = false;
            for (_, f) in &scan.by {
                let part = match f {
                    FieldRef::Column(i) => column_part(row, *i, &mut state.col_ids, &mut state.symbols),
                    FieldRef::Time => {
                        let t = match scan.span {
                            Some(span) => row.time.div_euclid(span) * span / 1_000_000,
                            None => secs,
                        };
                        let mut buf = [0u8; vigil_model::value::DECIMAL_LEN + 1];
                        Some(KeyPart::One(state.symbols.intern(vigil_model::value::decimal_i64(t, &mut buf))))
                    }
                    _ => None,
                };
                match part.or_else(|| scan.fillnull.as_deref().map(|f| KeyPart::One(state.symbols.intern(f)))) {
                    Some(p) => parts.push(p),
                    None => {
                        // A null by-field without fillnull_value drops the row, as in Splunk.
                        dropped = true;
                        break;
                    }
                }
            }
            if dropped {
                continue;
            }
            let ScanAcc::Groups(groups) = &mut state.accs[qi][si] else { continue };
            if key_count(&parts) > crate::ops::stats::MAX_GROUPS {
                groups.overflow = true;
                continue;
            }
            let filter = self.key_filters[qi][si].as_ref();
            let symbols = &state.symbols;
            let ops = &self.queries[qi].root.ops;
            for_each_key(&parts, |key| {
                let states = match filter {
                    None => Some(groups.entry(key, &scan.aggs)),
                    Some(f) => groups.entry_if(key, &scan.aggs, |key| {
                        f.admits(ops, |i| key.get(i).map_or("", |&id| symbols.text(id)), &self.scan_ctx)
                    }),
                };
                for (st, spec) in states.into_iter().flatten().zip(&scan.aggs) {
                    feed_row_agg(st, spec, row, secs);
                }
            });
        }
        state.scratch = scratch;
        state.fold = fold;
        self.check_memory(state);
    }

    /// Every [`BUDGET_CHECK_EVERY`] rows: reports the state's memory, and spills every group
    /// table of it when all states together are over the budget.
    fn check_memory(&self, state: &mut ScanState) {
        state.since_check += 1;
        if state.since_check < BUDGET_CHECK_EVERY {
            return;
        }
        state.since_check = 0;
        if state.spill_failed {
            return;
        }
        let total = self.report_memory(state);
        if total <= self.memory_budget {
            return;
        }
        if let Err(e) = self.spill(state) {
            // Results stay correct in memory; only the bound is lost.
            crate::spill::spill_warning(&e);
            state.spill_failed = true;
        }
        self.report_memory(state);
    }

    /// Updates this state's share of [`Engine::memory_used`]; returns the new total.
    fn report_memory(&self, state: &mut ScanState) -> usize {
        use std::sync::atomic::Ordering::Relaxed;
        let groups: usize = state.accs.iter().flatten().map(|a| if let ScanAcc::Groups(g) = a { g.bytes() } else { 0 }).sum();
        let mine = groups + state.symbols.heap_bytes();
        let before = std::mem::replace(&mut state.reported, mine);
        if mine >= before {
            self.memory_used.fetch_add(mine - before, Relaxed) + (mine - before)
        } else {
            self.release_memory(before - mine)
        }
    }

    /// Takes `bytes` off [`Engine::memory_used`] (never below zero); returns the new total.
    fn release_memory(&self, bytes: usize) -> usize {
        use std::sync::atomic::Ordering::Relaxed;
        let update = self.memory_used.fetch_update(Relaxed, Relaxed, |used| Some(used.saturating_sub(bytes)));
        update.unwrap_or_default().saturating_sub(bytes)
    }

    /// Writes every group table of `state` to its spill file and drops the key texts.
    fn spill(&self, state: &mut ScanState) -> std::io::Result<()> {
        let file = match &state.spill_file {
            Some(f) => f.clone(),
            None => state.spill_file.insert(SpillFile::new()?).clone(),
        };
        for acc in state.accs.iter_mut().flatten() {
            if let ScanAcc::Groups(g) = acc {
                g.spill(&state.symbols, &file)?;
            }
        }
        // No group refers to the texts any more.
        state.symbols = Symbols::default();
        Ok(())
    }

    /// Feeds one raw event to every raw-event scan.
    pub fn on_event(&self, state: &mut ScanState, ev: &Event) {
        let mut scratch = std::mem::take(&mut state.scratch);
        self.event_index.candidates(ev, &mut scratch);
        state.touched |= !scratch.candidates.is_empty();
        for &(qi, si) in scratch.candidates.iter().filter_map(|&k| self.event_scans.get(k)) {
            let Scan::Events(scan) = &self.queries[qi].scans[si] else { continue };
            if !scan.pred.eval(ev) {
                continue;
            }
            let mut rows = vec![event_record(ev, scan.needs_raw, scan.projection.as_deref())];
            if !scan.prefix.is_empty() {
                // Row-by-row operators need no scan results and no clock (see push_down).
                let mut runner = Runner::new(Vec::new(), &self.scan_ctx);
                for op in &scan.prefix {
                    rows = match crate::ops::apply(op, rows, &mut runner) {
                        Ok(r) => r,
                        Err(_) => Vec::new(),
                    };
                    if rows.is_empty() {
                        break;
                    }
                }
            }
            match (&mut state.accs[qi][si], &scan.stats) {
                (ScanAcc::Groups(groups), Some(stats)) => {
                    for row in &rows {
                        stats.add(groups, &mut state.symbols, row, &self.scan_ctx);
                    }
                }
                (ScanAcc::Events(v), _) => {
                    let room = MAX_COLLECTED_EVENTS.saturating_sub(v.len());
                    let t = ev.time.unwrap_or(0);
                    v.extend(rows.into_iter().take(room).map(|r| (t, r)));
                }
                _ => {}
            }
        }
        state.scratch = scratch;
        self.check_memory(state);
    }

    /// Combines another thread's state into `into`.
    pub fn merge(&self, into: &mut ScanState, other: ScanState) {
        if !other.touched {
            return;
        }
        // The other state's share moves into this one's at the check below.
        self.release_memory(other.reported);
        into.since_check = BUDGET_CHECK_EVERY;
        if other.spill_file.is_some() && into.touched && !into.spill_failed {
            // Runs merge in input order: this state's groups in memory came before the other
            // state's runs, so they go to disk first (first()/list() depend on it).
            if let Err(e) = self.spill(into) {
                crate::spill::spill_warning(&e);
                into.spill_failed = true;
            }
        }
        let mut other = other;
        let other_file = other.spill_file.take();
        self.merge_accs(into, other);
        // `spill_file` also says "some groups are on disk", which the next merge relies on.
        if into.spill_file.is_none() {
            into.spill_file = other_file;
        }
        self.check_memory(into);
    }

    fn merge_accs(&self, into: &mut ScanState, mut other: ScanState) {
        if !into.touched {
            // The scratch buffers stay; everything accumulated moves.
            std::mem::swap(&mut into.accs, &mut other.accs);
            std::mem::swap(&mut into.symbols, &mut other.symbols);
            into.touched = true;
            return;
        }
        let mut tr = Translation::new(&other.symbols);
        for (qi, (mine, theirs)) in into.accs.iter_mut().zip(other.accs).enumerate() {
            for (si, (m, t)) in mine.iter_mut().zip(theirs).enumerate() {
                match (m, t) {
                    (ScanAcc::Groups(g), ScanAcc::Groups(o)) => match &self.queries[qi].scans[si] {
                        Scan::Tstats(scan) => g.merge(o, &mut tr, &mut into.symbols, &scan.aggs),
                        Scan::Events(EventScan { stats: Some(stats), .. }) => {
                            g.merge(o, &mut tr, &mut into.symbols, &stats.aggs)
                        }
                        _ => {}
                    },
                    (ScanAcc::Events(e), ScanAcc::Events(o)) => e.extend(o),
                    _ => {}
                }
            }
        }
    }

    /// Runs every query's operators over its scan results.
    pub fn finish(&self, state: ScanState, ctx: &EvalContext) -> Vec<QueryOutput> {
        let mut out: Vec<QueryOutput> = Vec::with_capacity(self.queries.len());
        let mut open = false;
        self.finish_each(state, ctx, &mut |o| {
            // Chunks of one query become one output.
            match out.last_mut() {
                Some(last) if open => last.absorb(o),
                _ => out.push(o),
            }
            open = out.last().is_some_and(|l| l.partial);
        });
        out
    }

    /// Runs every query's operators over its scan results, handing each output to `emit` in
    /// query order. One worker per thread takes the next query as soon as it is free (the
    /// heaviest first, see [`finishing_order`]), so a heavy query holds up the output but not
    /// the other workers. Finished rows wait for their turn in memory up to a share of the
    /// budget each and on disk past it; when the rows waiting in memory pass a quarter of the
    /// budget, workers pause until the output catches up.
    pub fn finish_each(&self, state: ScanState, ctx: &EvalContext, emit: &mut dyn FnMut(QueryOutput)) {
        let workers = rayon::current_num_threads().max(1);
        let store_budget = self.memory_budget / 64;
        let waiting_cap = self.memory_budget / 4;
        let symbols = &state.symbols;
        let queue = std::sync::Mutex::new(finishing_order(self.queries.iter().zip(state.accs).collect()).into_iter());
        // The index of the next output to hand on and the bytes of the outputs waiting in
        // memory, with a wake-up for workers paused on them.
        let handed = (std::sync::Mutex::new((0usize, 0usize)), std::sync::Condvar::new());
        let (send, receive) = std::sync::mpsc::channel::<(usize, StoredOutput)>();
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let send = send.clone();
                let (queue, handed) = (&queue, &handed);
                scope.spawn(move || loop {
                    let Some((i, heavy, (q, accs))) = queue.lock().ok().and_then(|mut q| q.next()) else { return };
                    // Neither the next output due nor a heavy query (taken out of order) is held
                    // back: the other queries are taken in order, so whatever the output waits
                    // for is being finished by a worker that is not paused.
                    if let (false, Ok(mut state)) = (heavy, handed.0.lock()) {
                        while i > state.0 && state.1 > waiting_cap {
                            state = match handed.1.wait(state) {
                                Ok(s) => s,
                                Err(_) => return,
                            };
                        }
                    }
                    let out = self.finish_one(q, accs, symbols, ctx, store_budget);
                    if let Ok(mut state) = handed.0.lock() {
                        state.1 += out.memory_bytes();
                    }
                    if send.send((i, out)).is_err() {
                        return;
                    }
                });
            }
            drop(send);
            let mut waiting = std::collections::BTreeMap::new();
            let mut next = 0usize;
            for (i, finished) in receive {
                waiting.insert(i, finished);
                while let Some(stored) = waiting.remove(&next) {
                    let bytes = stored.memory_bytes();
                    stored.replay(emit);
                    next += 1;
                    if let Ok(mut state) = handed.0.lock() {
                        *state = (next, state.1.saturating_sub(bytes));
                    }
                    handed.1.notify_all();
                }
            }
        });
    }

    /// Finishes one query, in chunks when it can, into a stored output.
    fn finish_one(&self, q: &Query, accs: Vec<ScanAcc>, symbols: &Symbols, ctx: &EvalContext, store_budget: usize) -> StoredOutput {
        let shape = chunkable(q, &accs);
        match (shape, <[ScanAcc; 1]>::try_from(accs)) {
            (Some(shape), Ok([ScanAcc::Groups(groups)])) => {
                let job = crate::stream::ChunkJob { name: &q.name, groups, shape, symbols, ops: &q.root.ops, ctx };
                crate::stream::finish_stored(job, store_budget)
            }
            (_, Ok(one)) => self.finish_query(q, Vec::from(one), symbols, ctx, store_budget),
            (_, Err(accs)) => self.finish_query(q, accs, symbols, ctx, store_budget),
        }
    }

    /// Finishes a query that cannot run chunk by chunk into a store that keeps about
    /// `store_budget` bytes of its rows in memory.
    fn finish_query(&self, q: &Query, accs: Vec<ScanAcc>, symbols: &Symbols, ctx: &EvalContext, store_budget: usize) -> StoredOutput {
        let started = std::time::Instant::now();
        let hit_limit = accs.iter().any(|a| matches!(a, ScanAcc::Events(v) if v.len() >= MAX_COLLECTED_EVENTS));
        // Which scan overflowed decides the message: stats run in the scan names its fields.
        let overflow = q.scans.iter().zip(&accs).find_map(|(scan, a)| match (scan, a) {
            (Scan::Events(EventScan { stats: Some(st), .. }), ScanAcc::Groups(g)) if g.overflow => {
                Some(crate::ops::stats::too_many_groups(&st.by))
            }
            (_, ScanAcc::Groups(g)) if g.overflow => Some(ExecError(format!(
                "tstats: more than {} groups; narrow the search or group by fewer or less distinct fields",
                crate::ops::stats::MAX_GROUPS
            ))),
            _ => None,
        });
        let mut accs: Vec<Option<ScanAcc>> = accs.into_iter().map(Some).collect();
        let mut scan_error = None;
        // A scan an inner join filters is built after the join's subsearch has run, when it
        // is the larger side; otherwise the subsearch's scan is filtered by the outer rows
        // when the join runs (see `Runner::run_join_subsearch`).
        let semi = semi_join_scan(q, &accs).filter(|(si, sj)| {
            let size = |i: usize| match accs.get(i) {
                Some(Some(ScanAcc::Groups(g))) => g.total(),
                _ => 0,
            };
            match sj.join.sub.source {
                Source::Scan(j) => size(*si) > size(j),
                Source::Inputlookup { .. } => true,
            }
        });
        let semi_scan = semi.as_ref().map(|(si, _)| *si);
        let forward = semi_scan.and_then(|si| accs[si].take());
        let mut runner = Runner::new(Vec::new(), ctx);
        // A quarter of the budget: several queries finish at once.
        runner.row_budget = self.memory_budget / 4;
        runner.symbols = Some(symbols);
        runner.scans = q.scans.iter().map(|_| None).collect();
        runner.lazy = q.scans.iter().zip(accs).map(|(scan, acc)| acc.map(|acc| (scan, acc))).collect();
        if let (Some((si, sj)), Some(ScanAcc::Groups(g)), Some(Scan::Tstats(t))) = (semi, forward, semi_scan.map(|i| &q.scans[i])) {
            let rows = match runner.run_stage_stored(&sj.join.sub, &sj.join.fields) {
                Ok((sub_rows, keys)) => {
                    runner.precomputed.push((&*sj.join.sub as *const Stage, sub_rows));
                    let names: Vec<String> = t.by.iter().map(|(n, _)| n.clone()).collect();
                    g.finish_where(symbols, &names, &t.aggs, |key| keys.admits(&sj.columns, key))
                }
                // The join reports the error when it runs the subsearch again.
                Err(_) => Ok(Vec::new()),
            };
            match rows {
                Ok(rows) => runner.scans[si] = Some(rows),
                Err(e) => scan_error = Some(e),
            }
        }
        let result = if let Some(e) = overflow.or(scan_error) {
            Err(e)
        } else if hit_limit {
            Err(ExecError(format!(
                "the search matched more than {MAX_COLLECTED_EVENTS} raw events; narrow it (or aggregate with tstats)"
            )))
        } else {
            // A join between row-by-row operators streams its outer rows (see `joinstream`).
            let streamed = match crate::joinstream::streamable(&q.root).filter(|_| semi_scan.is_none()) {
                Some(at) => crate::joinstream::run(&mut runner, &q.root, at, store_budget),
                None => Ok(None),
            };
            streamed.transpose().unwrap_or_else(|| runner.run_stage(&q.root).map(|rows| RowStore::with_rows(rows, store_budget)))
        };
        StoredOutput::new(q.name.clone(), result, started.elapsed())
    }
}

/// The order queries finish in: the [`HEAVY_FIRST`] with the most groups first (they would
/// otherwise finish last, alone, while the other workers wait), then the rest in query order.
/// Each comes with its index and whether it is one of the heavy ones.
fn finishing_order<'q>(work: Vec<(&'q Query, Vec<ScanAcc>)>) -> Vec<(usize, bool, (&'q Query, Vec<ScanAcc>))> {
    let groups = |accs: &[ScanAcc]| accs.iter().map(|a| if let ScanAcc::Groups(g) = a { g.total() } else { 0 }).sum::<usize>();
    let mut by_size: Vec<(usize, usize)> = work.iter().enumerate().map(|(i, (_, accs))| (groups(accs), i)).collect();
    by_size.sort_unstable_by(|a, b| b.cmp(a));
    let heavy: Vec<usize> = by_size.iter().take(HEAVY_FIRST).filter(|(n, _)| *n > 0).map(|&(_, i)| i).collect();
    let mut slots: Vec<Option<(&Query, Vec<ScanAcc>)>> = work.into_iter().map(Some).collect();
    let mut order: Vec<(usize, bool, (&Query, Vec<ScanAcc>))> = Vec::with_capacity(slots.len());
    for &i in &heavy {
        if let Some(w) = slots[i].take() {
            order.push((i, true, w));
        }
    }
    order.extend(slots.into_iter().enumerate().filter_map(|(i, w)| w.map(|w| (i, false, w))));
    order
}

/// How the groups of a query's only scan become rows, when the query can finish chunk by
/// chunk (see [`crate::stream`]): one aggregating scan with by-fields, not over its group
/// limit, then only row-by-row operators.
fn chunkable<'q>(q: &'q Query, accs: &[ScanAcc]) -> Option<crate::stream::GroupShape<'q>> {
    if q.scans.len() != 1 || !crate::stream::chunkable_stage(&q.root) {
        return None;
    }
    let [ScanAcc::Groups(g)] = accs else { return None };
    if g.overflow {
        return None;
    }
    let (by_names, aggs) = match &q.scans[0] {
        Scan::Tstats(t) => (t.by.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(), t.aggs.as_slice()),
        Scan::Events(EventScan { stats: Some(st), .. }) => (st.by.clone(), st.aggs.as_slice()),
        Scan::Events(_) => return None,
    };
    // Without by-fields an empty input still yields one row (see `scan_rows`).
    (!by_names.is_empty()).then_some(crate::stream::GroupShape { by_names, aggs })
}

/// The root stage's tstats scan that an inner join right after it can filter (see
/// [`crate::semijoin`]), with how.
fn semi_join_scan<'q>(q: &'q Query, accs: &[Option<ScanAcc>]) -> Option<(usize, crate::semijoin::SemiJoin<'q>)> {
    let Source::Scan(si) = q.root.source else { return None };
    let (Scan::Tstats(t), Some(Some(ScanAcc::Groups(g)))) = (q.scans.get(si)?, accs.get(si)) else { return None };
    if g.overflow {
        return None;
    }
    let by: Vec<String> = t.by.iter().map(|(n, _)| n.clone()).collect();
    let aggs: Vec<String> = t.aggs.iter().map(|a| a.name.clone()).collect();
    crate::semijoin::find(&q.root, &by, &aggs).map(|sj| (si, sj))
}

/// A dataset column as a key part, interning its text once per row.
fn column_part(row: &DatasetRow, i: usize, cache: &mut [u32], symbols: &mut Symbols) -> Option<KeyPart> {
    match row.values.get(i)? {
        Value::Multi(items) if items.is_empty() => None,
        Value::Multi(items) => Some(KeyPart::Many(items.iter().map(|s| symbols.intern(s)).collect())),
        Value::Null => None,
        v => {
            let slot = cache.get_mut(i)?;
            if *slot == u32::MAX {
                *slot = match v {
                    Value::Num(n) => symbols.intern(&format_num(*n)),
                    Value::Str(s) => symbols.intern(s),
                    _ => return None,
                };
            }
            Some(KeyPart::One(*slot))
        }
    }
}

fn feed_row_agg(st: &mut AggState, spec: &crate::agg::AggSpec, row: &DatasetRow, secs: i64) {
    let time: Micros = row.time;
    match &spec.input {
        AggInput::Rows => st.add_row(),
        AggInput::Field(FieldRef::Time) => st.add(spec.func, &secs.to_string(), time),
        AggInput::Field(FieldRef::Column(i)) => match row.values.get(*i) {
            Some(Value::Str(s)) => st.add(spec.func, s, time),
            Some(Value::Multi(items)) => items.iter().for_each(|s| st.add(spec.func, s, time)),
            Some(Value::Num(n)) => st.add(spec.func, &format_num(*n), time),
            _ => {}
        },
        _ => {}
    }
}

/// A raw event as a result row: Splunk's default fields, then the extracted ones.
fn event_record(ev: &Event, with_raw: bool, only: Option<&[String]>) -> Record {
    let wanted = |name: &str| only.is_none_or(|fields| fields.binary_search_by(|f| f.as_str().cmp(name)).is_ok());
    let mut r = Record::with_capacity(ev.fields.len() + 6);
    if let Some(t) = ev.time {
        r.push_new("_time".into(), Value::Num(t as f64 / 1e6));
    }
    if with_raw {
        r.push_new("_raw".into(), Value::Str(ev.raw.clone()));
    }
    for (name, value) in [("host", &ev.host), ("source", &ev.source), ("sourcetype", &ev.sourcetype)] {
        if wanted(name) {
            r.push_new(name.into(), Value::Str(value.clone()));
        }
    }
    if wanted("index") {
        r.push_new("index".into(), Value::str(ev.index_name()));
    }
    for (k, v) in &ev.fields {
        if matches!(k.as_str(), "_time" | "_raw" | "host" | "source" | "sourcetype" | "index") || !wanted(k) {
            continue;
        }
        match r.get(k) {
            None => r.push_new(k.clone(), Value::Str(v.clone())),
            // A repeated name makes a multivalue field.
            Some(existing) => {
                let mut items: Vec<String> = existing.items().into_iter().map(|s| s.into_owned()).collect();
                items.push(v.clone());
                r.set(k.clone(), Value::Multi(items));
            }
        }
    }
    r
}

pub(crate) fn scan_rows(scan: &Scan, acc: ScanAcc, symbols: &Symbols) -> Result<Vec<Record>, ExecError> {
    Ok(match (scan, acc) {
        (Scan::Tstats(t), ScanAcc::Groups(g)) => {
            let names: Vec<String> = t.by.iter().map(|(n, _)| n.clone()).collect();
            let mut rows = g.finish(symbols, &names, &t.aggs)?;
            if names.is_empty() && rows.is_empty() {
                // `tstats count` over nothing is one row with count 0, as in Splunk.
                rows = Groups::finish_empty(&t.aggs);
            }
            rows
        }
        (Scan::Events(EventScan { stats: Some(stats), .. }), ScanAcc::Groups(g)) => stats.finish(g, symbols)?,
        (_, ScanAcc::Events(mut v)) => {
            // Splunk returns events newest first (stable: ties keep input order).
            v.sort_by(|a, b| b.0.cmp(&a.0));
            v.into_iter().map(|(_, r)| r).collect()
        }
        _ => Vec::new(),
    })
}
