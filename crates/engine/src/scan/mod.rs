//! The scan: one pass over the input feeds every query's scans.
//!
//! [`Engine`] routes each dataset row and raw event to the scans that want it (a value index
//! over their predicates finds the candidates), and each worker thread accumulates into its
//! own [`ScanState`]; states merge at the end, so reading scales with threads without locks
//! on the hot path. A state is a value: it can be written to bytes, read back in another
//! process and merged there (see `codec`). Finishing (after the scan) is `physical`'s.

mod codec;
mod cost;
mod deferred;
mod row_log;
mod rows;
mod shared;
mod state;

pub use codec::FORMAT_VERSION;
pub use cost::ScanCost;
pub(crate) use deferred::{may_overflow, too_many_tstats_groups, Admit, LoggedScan};
pub(crate) use rows::scan_rows;
pub(crate) use shared::SharedGroups;
use state::MemoryAccount;
pub(crate) use state::ScanAcc;
pub use state::ScanState;

use crate::expr::event_names::IndexedEvent;
use crate::expr::field::{FieldRef, FoldedRow};
use crate::expr::prefilter::ScanIndex;
use crate::expr::value::EvalContext;
use crate::ops::RowEnv;
use crate::plan::keyfilter::KeyFilter;
use crate::plan::{EventScan, Query, Scan, Source, TstatsScan};
use crate::store::groups::{for_each_key, key_count, Groups, KeyPart, MAX_GROUPS};
use crate::store::symbols::Symbols;
use rows::{column_part, event_record, feed_row_agg, projected_event_record};
use std::time::Instant;
use vigil_model::{Catalog, DatasetRow, Event, Record};

/// Planned queries and the dispatch tables that route rows and events to their scans.
#[derive(Debug)]
pub struct Engine {
    pub(crate) queries: Vec<Query>,
    /// dataset id -> (query, scan) pairs reading it.
    by_dataset: Vec<Vec<(usize, usize)>>,
    /// dataset id -> which of its columns some tstats scan reads (`None`: any may be).
    columns_read: Vec<Option<Vec<bool>>>,
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
    /// when they are created (0: none; see `plan::keyfilter`).
    key_filters: Vec<Vec<Option<KeyFilter>>>,
    /// Per query and scan: the identical earlier scan whose groups it reads (see `shared`).
    pub(crate) owners: shared::Owners,
    /// Scans that log their rows instead of building groups (see `deferred`).
    pub(crate) deferred: deferred::DeferredScans,
    /// The memory budget of all scan states together, and what they hold.
    pub(crate) memory: MemoryAccount,
    /// Whether scan states count and time what each query costs ([`Engine::scan_costs`]).
    profile: bool,
    /// What the states this engine writes are stamped with (see `codec`), made once: a
    /// cluster worker encodes a state per window and partition.
    pub(crate) fingerprint: std::sync::OnceLock<u64>,
}

/// Default for [`Engine::set_memory_budget`].
pub const DEFAULT_MEMORY_BUDGET: usize = 32 << 20;

/// Limit on raw events a single search may collect, so `search *` over a huge input fails
/// clearly instead of exhausting memory.
pub const MAX_COLLECTED_EVENTS: usize = 2_000_000;

impl Engine {
    pub fn new(mut queries: Vec<Query>, catalog: &Catalog) -> Engine {
        let key_filters: Vec<Vec<Option<KeyFilter>>> = queries
            .iter()
            .map(|q| {
                q.scans
                    .iter()
                    .enumerate()
                    .map(|(si, s)| match (s, &q.root.source) {
                        (Scan::Tstats(t), Source::Scan(root)) if *root == si && !t.by.is_empty() => {
                            let by: Vec<String> = t.by.iter().map(|(n, _)| n.clone()).collect();
                            let aggs: Vec<String> = t.aggs.iter().map(|a| a.name.clone()).collect();
                            KeyFilter::plan(&q.root, &by, &aggs)
                        }
                        // The stats of a raw-event scan makes the query's rows as a tstats does.
                        (Scan::Events(e), Source::Scan(root)) if *root == si => {
                            let stats = e.stats.as_ref().filter(|st| !st.by.is_empty())?;
                            let aggs: Vec<String> = stats.aggs.iter().map(|a| a.name.clone()).collect();
                            KeyFilter::plan(&q.root, &stats.by, &aggs)
                        }
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        // Before anything reads the scans' filters (the prefilter's index, shared scans).
        for (q, filters) in queries.iter_mut().zip(&key_filters) {
            for (scan, filter) in q.scans.iter_mut().zip(filters) {
                if let (Scan::Tstats(t), Some(f)) = (scan, filter) {
                    if let Some(pred) = f.scan_filter(&q.root.ops, t) {
                        t.filter = pred;
                    }
                }
            }
        }
        let deferred = deferred::DeferredScans::plan(&queries, catalog.datasets.len(), |q: &Query| {
            crate::plan::semijoin::of_root(q).map(|(si, _)| si)
        });
        let owners = shared::owners(&queries, &key_filters, |qi, si| deferred.is_deferred(qi, si));
        let mut by_dataset = vec![Vec::new(); catalog.datasets.len()];
        let mut event_scans = Vec::new();
        for (qi, q) in queries.iter().enumerate() {
            for (si, s) in q.scans.iter().enumerate() {
                match s {
                    // A scan identical to an earlier one reads its groups (see `shared`).
                    Scan::Tstats(_) if owners[qi][si].is_some() => {}
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
        let columns_read = catalog.datasets.iter().enumerate().map(|(d, schema)| columns_read(&queries, d, schema.fields.len())).collect();
        Engine {
            columns_read,
            key_filters,
            owners,
            deferred,
            queries,
            by_dataset,
            event_scans,
            indexes,
            event_index,
            scan_ctx,
            memory: MemoryAccount::new(DEFAULT_MEMORY_BUDGET),
            profile: false,
            fingerprint: std::sync::OnceLock::new(),
        }
    }

    /// Sets how many bytes of groups and key texts the scan states (one per worker thread)
    /// may hold together; past it, groups are written to a temporary file and merged at the
    /// end.
    pub fn set_memory_budget(&mut self, bytes: usize) {
        self.memory.budget = bytes;
    }

    /// Makes scan states count the rows and events each query is tried on and keeps, and time
    /// a sample of them (a few percent more work; see [`Engine::scan_costs`]).
    pub fn set_scan_profile(&mut self, on: bool) {
        self.profile = on;
    }

    /// What the scan cost each query, most costly first (with [`Engine::set_scan_profile`];
    /// empty otherwise): its name and cost.
    pub fn scan_costs(&self, state: &ScanState) -> Vec<(&str, ScanCost)> {
        let mut costs: Vec<(&str, ScanCost)> = state.costs.costs().map(|(qi, c)| (self.queries[qi].name.as_str(), c)).collect();
        costs.sort_by_key(|(_, c)| std::cmp::Reverse(c.time));
        costs
    }

    /// Combines another state into `into`. The result is the same whatever order states are
    /// merged in, as long as each covers its own positions (see [`Engine::new_state_at`]):
    /// contents combine in position order. States at the same position (threads sharing a
    /// stream) combine in the order they are merged.
    pub fn merge(&self, into: &mut ScanState, other: ScanState) {
        ScanState::merge(into, other, &self.queries, &self.memory);
    }

    /// Merges the states left apart by gaps in their positions, in position order.
    pub(crate) fn flatten(&self, state: ScanState) -> ScanState {
        state.flatten(&self.queries, &self.memory)
    }

    pub fn queries(&self) -> &[Query] {
        &self.queries
    }

    /// Whether any query reads this dataset (the normalizer can skip it otherwise).
    pub fn wants_dataset(&self, id: usize) -> bool {
        self.by_dataset.get(id).is_some_and(|v| !v.is_empty())
    }

    /// Which columns of a dataset's rows some query reads (`None`: any may be); rows need no
    /// value in the others.
    pub fn columns_read(&self, dataset: usize) -> Option<&[bool]> {
        self.columns_read.get(dataset)?.as_deref()
    }

    /// [`Engine::columns_read`] of several engines fed the same rows: the columns some engine
    /// that reads the dataset reads.
    pub fn columns_read_by_any<'a>(engines: impl IntoIterator<Item = &'a Engine>, dataset: usize) -> Option<Vec<bool>> {
        let mut union: Vec<bool> = Vec::new();
        for e in engines.into_iter().filter(|e| e.wants_dataset(dataset)) {
            let read = e.columns_read(dataset)?;
            union.resize(union.len().max(read.len()), false);
            union.iter_mut().zip(read).for_each(|(u, r)| *u |= r);
        }
        Some(union)
    }

    /// Whether some query's rows may show an event's line in its file (the `record` field
    /// of raw-event rows: scans that keep whole events, or read `record`).
    pub fn reads_line_numbers(&self) -> bool {
        self.event_scans.iter().any(|&(qi, si)| match &self.queries[qi].scans[si] {
            Scan::Events(e) => e.projection.as_ref().is_none_or(|fields| fields.iter().any(|f| f == rows::RECORD)),
            Scan::Tstats(_) => false,
        })
    }

    pub fn wants_events(&self) -> bool {
        !self.event_scans.is_empty()
    }

    pub fn new_state(&self) -> ScanState {
        self.new_state_at(0)
    }

    /// A state for the input at `position` (a shard's number, in input order). States at
    /// different positions merge in position order whatever order they are merged in, so
    /// shards scanned apart (and shipped as bytes, see [`Engine::encode_state`]) give the
    /// result one state over the whole input would.
    pub fn new_state_at(&self, position: u64) -> ScanState {
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
                            Scan::Events(_) => ScanAcc::Events(Default::default()),
                        })
                        .collect()
                })
                .collect(),
            logs: self.deferred.new_logs(),
            log_readers: self.deferred.readers.clone(),
            ..ScanState::empty_at(position)
        }
    }

    /// Empties a state of this engine in place for the input at `position`: the same as
    /// [`Engine::new_state_at`] (results, encoded bytes), but keeping its tables' and buffers'
    /// allocations of usual size, so a worker that opens a state per window does not allocate
    /// and fault in fresh memory for each.
    pub fn reuse_state_at(&self, state: &mut ScanState, position: u64) {
        if state.accs.len() != self.queries.len() {
            // Not one of this engine's states: start over with the right scans.
            state.forget_memory(&self.memory);
            *state = self.new_state_at(position);
            return;
        }
        state.clear_for_reuse(position, &self.memory);
    }

    /// Drops a state without merging it, giving back its share of the memory budget (a state
    /// merged into another gives it back there).
    pub fn discard_state(&self, mut state: ScanState) {
        state.forget_memory(&self.memory);
    }

    /// Feeds one dataset row to every tstats scan on its dataset.
    pub fn on_row(&self, state: &mut ScanState, row: &DatasetRow) {
        let (Some(targets), Some(index)) = (self.by_dataset.get(row.dataset), self.indexes.get(row.dataset)) else {
            return;
        };
        index.candidates(row, &mut state.scratch);
        if state.scratch.candidates.is_empty() {
            return;
        }
        // Only the list is taken out while the scans borrow the state: the whole scratch
        // (memos, tables) would be a default one made and dropped per row.
        let candidates = std::mem::take(&mut state.scratch.candidates);
        state.touched = true;
        state.col_ids.clear();
        state.col_ids.resize(row.values.len(), u32::MAX);
        state.fold.get_mut().reset(row.values.len());
        let fold = std::mem::take(&mut state.fold);
        let folded = FoldedRow { row, cache: &fold };
        let timed = self.profile && state.costs.sample();
        // The deferred scans that kept the row (see `deferred`).
        let mut logged = 0u64;
        for &(qi, si) in candidates.iter().filter_map(|&k| targets.get(k)) {
            let started = timed.then(Instant::now);
            let passed = match self.deferred.bit(qi, si) {
                Some(bit) => {
                    let kept = matches!(&self.queries[qi].scans[si], Scan::Tstats(t) if t.filter.eval(&folded));
                    logged |= u64::from(kept) << bit;
                    kept
                }
                None => self.feed_row(state, qi, si, row, &folded),
            };
            if self.profile {
                state.costs.record(qi, passed, started);
            }
        }
        if logged != 0 {
            if let (Some(log), Some(columns)) = (state.logs.get_mut(row.dataset), self.deferred.columns.get(row.dataset)) {
                let (col_ids, symbols) = (&mut state.col_ids, &mut state.symbols);
                log.push(columns.iter().map(|&c| column_part(row, c, col_ids, symbols)), row.time, logged);
            }
        }
        state.scratch.candidates = candidates;
        state.fold = fold;
        state.check_memory(&self.memory);
    }

    /// Feeds a row to tstats scan `si` of query `qi`: whether its filter kept the row.
    fn feed_row(&self, state: &mut ScanState, qi: usize, si: usize, row: &DatasetRow, folded: &FoldedRow) -> bool {
        let Scan::Tstats(scan) = &self.queries[qi].scans[si] else { return false };
        if !scan.filter.eval(folded) {
            return false;
        }
        // tstats reports _time in whole seconds.
        let secs = row.time.div_euclid(1_000_000);
        // Key parts are symbol ids: no allocation unless a text or a group is new.
        let mut parts = std::mem::take(&mut state.key_parts);
        if key_parts(scan, row, secs, state, &mut parts) {
            self.add_to_group(state, qi, si, row, secs, &parts);
        }
        state.key_parts = parts;
        true
    }

    /// Adds a kept row to its group (one per key of `parts`) of tstats scan `si` of query `qi`.
    fn add_to_group(&self, state: &mut ScanState, qi: usize, si: usize, row: &DatasetRow, secs: i64, parts: &[KeyPart]) {
        let Scan::Tstats(scan) = &self.queries[qi].scans[si] else { return };
        let ScanAcc::Groups(groups) = &mut state.accs[qi][si] else { return };
        if key_count(parts) > MAX_GROUPS {
            groups.overflow = true;
            return;
        }
        let filter = self.key_filters[qi][si].as_ref();
        let symbols = &state.symbols;
        for_each_key(parts, |key| {
            let states = match filter {
                None => Some(groups.entry(key, &scan.aggs)),
                Some(f) => groups.entry_if(key, &scan.aggs, f.decides(), |key| self.admits_key(f, qi, key, symbols)),
            };
            let grown: usize = states.into_iter().flatten().zip(&scan.aggs).map(|(st, spec)| feed_row_agg(st, spec, row, secs)).sum();
            groups.grew(grown);
        });
    }

    /// Whether key filter `f` of query `qi` admits a new group key of symbol ids.
    fn admits_key(&self, f: &KeyFilter, qi: usize, key: &[u32], symbols: &Symbols) -> bool {
        f.admits(&self.queries[qi].root.ops, |i| key.get(i).map_or("", |&id| symbols.text(id)), &self.scan_ctx)
    }

    /// Feeds one raw event to every raw-event scan.
    pub fn on_event(&self, state: &mut ScanState, ev: &Event) {
        self.event_index.candidates(ev, &mut state.scratch);
        let candidates = std::mem::take(&mut state.scratch.candidates);
        state.touched |= !candidates.is_empty();
        let timed = self.profile && !candidates.is_empty() && state.costs.sample();
        state.names.reset();
        for &(qi, si) in candidates.iter().filter_map(|&k| self.event_scans.get(k)) {
            let started = timed.then(Instant::now);
            let passed = self.feed_event(state, qi, si, ev);
            if self.profile {
                state.costs.record(qi, passed, started);
            }
        }
        state.scratch.candidates = candidates;
        state.check_memory(&self.memory);
    }

    /// Feeds an event to raw-event scan `si` of query `qi`: whether its predicate kept it.
    fn feed_event(&self, state: &mut ScanState, qi: usize, si: usize, ev: &Event) -> bool {
        let Scan::Events(scan) = &self.queries[qi].scans[si] else { return false };
        if !scan.pred.eval(&IndexedEvent { ev, names: &state.names }) {
            return false;
        }
        let mut record = match scan.projection.as_deref() {
            Some(only) => projected_event_record(ev, &state.names, scan.needs_raw, only, &mut state.picked),
            None => event_record(ev, scan.needs_raw, None),
        };
        // Row-by-row operators need no scan results and no clock (see push_down). Those that
        // work on the one row in place run so (most do), without a vector of rows.
        let mut done = 0;
        for op in &scan.prefix {
            match crate::ops::apply_row(op, &mut record, &self.scan_ctx) {
                Some(true) => done += 1,
                // No row left: nothing to keep.
                Some(false) => return true,
                None => break,
            }
        }
        if done == scan.prefix.len() {
            self.keep_rows(state, qi, si, scan, ev, std::slice::from_ref(&record));
            return true;
        }
        let mut rows = vec![record];
        let mut env = RowEnv { ctx: &self.scan_ctx };
        for op in &scan.prefix[done..] {
            rows = crate::ops::apply(op, rows, &mut env).unwrap_or_default();
            if rows.is_empty() {
                break;
            }
        }
        self.keep_rows(state, qi, si, scan, ev, &rows);
        true
    }

    /// Adds the rows a kept event made to raw-event scan `si` of query `qi`: to its groups, or
    /// to its events.
    fn keep_rows(&self, state: &mut ScanState, qi: usize, si: usize, scan: &EventScan, ev: &Event, rows: &[Record]) {
        match (&mut state.accs[qi][si], &scan.stats) {
            (ScanAcc::Groups(groups), Some(stats)) => {
                let filter = self.key_filters[qi][si].as_ref();
                let admits = |key: &[u32], symbols: &Symbols| filter.is_some_and(|f| self.admits_key(f, qi, key, symbols));
                let admission = filter.map(|f| (f.decides(), &admits as &dyn Fn(&[u32], &Symbols) -> bool));
                for row in rows {
                    stats.add_if(groups, &mut state.symbols, row, &self.scan_ctx, &mut state.key_parts, admission);
                }
            }
            (ScanAcc::Events(v), _) => {
                let room = MAX_COLLECTED_EVENTS.saturating_sub(v.len());
                let t = ev.time.unwrap_or(0);
                rows.iter().take(room).for_each(|r| v.push(t, r));
            }
            _ => {}
        }
    }
}

impl Engine {
    /// Query `qi`'s deferred scan over the logs of a finished state, if it has one.
    pub(crate) fn logged_scan<'a>(&'a self, qi: usize, logs: &'a [row_log::RowLog], symbols: &'a Symbols) -> Option<LoggedScan<'a>> {
        let d = self.deferred.by_query.get(qi).copied().flatten()?;
        Some(LoggedScan {
            log: logs.get(d.dataset)?,
            symbols,
            bit: d.bit,
            columns: self.deferred.columns.get(d.dataset)?,
            key_filter: self.key_filters.get(qi).and_then(|k| k.get(d.scan)).and_then(Option::as_ref),
            ctx: &self.scan_ctx,
        })
    }
}

/// Which columns of dataset `d` (of `width` columns) the tstats scans of `queries` read: in
/// their filters, by-fields and aggregates; `None` when a filter may read columns it does not
/// tell.
fn columns_read(queries: &[Query], d: usize, width: usize) -> Option<Vec<bool>> {
    let mut read = vec![false; width];
    let mut mark = |f: &FieldRef| {
        if let FieldRef::Column(c) = f {
            if let Some(slot) = read.get_mut(*c) {
                *slot = true;
            }
        }
    };
    for q in queries {
        for s in &q.scans {
            let Scan::Tstats(t) = s else { continue };
            if t.dataset != d {
                continue;
            }
            if !t.filter.for_each_field_ref(&mut mark) {
                return None;
            }
            t.by.iter().for_each(|(_, f)| mark(f));
            for a in &t.aggs {
                if let crate::store::agg::AggInput::Field(f) = &a.input {
                    mark(f);
                }
            }
        }
    }
    Some(read)
}

/// Fills `parts` with the row's group-key parts for `scan`'s by-fields; false when a by-field
/// is null without fillnull_value, which drops the row, as in Splunk.
fn key_parts(scan: &TstatsScan, row: &DatasetRow, secs: i64, state: &mut ScanState, parts: &mut Vec<KeyPart>) -> bool {
    parts.clear();
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
            None => return false,
        }
    }
    true
}
