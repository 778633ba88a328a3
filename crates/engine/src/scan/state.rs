//! A scan state: what one worker accumulated for every scan of every query, with its memory
//! accounting, spilling and merging.

use super::cost::ScanCosts;
use super::row_log::RowLog;
use crate::expr::event_names::NameIndex;
use crate::expr::field::FoldCache;
use crate::expr::prefilter::Scratch;
use crate::plan::{EventScan, Query, Scan};
use crate::store::event_rows::EventRows;
use crate::store::groups::{Groups, KeyPart};
use crate::store::spill::SpillFile;
use crate::store::symbols::{Symbols, Translation};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Rows between two checks of a scan state's memory.
pub(super) const BUDGET_CHECK_EVERY: u32 = 1024;

/// The memory all scan states of one engine share: the budget, and the bytes the live states
/// last reported (each adds the change since its last check).
#[derive(Debug, Default)]
pub(crate) struct MemoryAccount {
    /// Bytes of groups and key texts all scan states together may hold; past it, the state
    /// that notices spills its groups to disk.
    pub(crate) budget: usize,
    used: AtomicUsize,
}

impl MemoryAccount {
    pub(super) fn new(budget: usize) -> MemoryAccount {
        MemoryAccount { budget, used: AtomicUsize::new(0) }
    }

    /// Takes `bytes` off the total (never below zero); returns the new total.
    fn release(&self, bytes: usize) -> usize {
        let update = self.used.fetch_update(Relaxed, Relaxed, |used| Some(used.saturating_sub(bytes)));
        update.unwrap_or_default().saturating_sub(bytes)
    }
}

/// Per-thread accumulation for every scan of every query.
#[derive(Debug)]
pub struct ScanState {
    pub(crate) accs: Vec<Vec<ScanAcc>>,
    /// Per dataset: the rows its deferred scans kept (see `row_log`).
    pub(crate) logs: Vec<RowLog>,
    /// Per dataset: the queries charged with its log's spilled bytes (see `deferred`).
    pub(super) log_readers: std::sync::Arc<Vec<Vec<usize>>>,
    /// Texts of every group key of this thread, shared by all queries.
    pub(crate) symbols: Symbols,
    /// The current row's column texts as symbol ids (`u32::MAX`: not interned yet), so a
    /// column many queries group by is hashed once per row.
    pub(super) col_ids: Vec<u32>,
    /// Whether any row or event reached this state (an untouched state merges for free).
    pub(super) touched: bool,
    /// Where groups go past the memory budget (created on first use).
    pub(super) spill_file: Option<std::sync::Arc<SpillFile>>,
    /// Rows since the memory was last checked; whether spilling failed (then memory grows).
    pub(super) since_check: u32,
    /// Bytes this state last added to [`Engine::memory_used`].
    pub(super) reported: usize,
    pub(super) spill_failed: bool,
    /// Scratch for the prefilter, reused across rows.
    pub(super) scratch: Scratch,
    pub(super) fold: std::cell::RefCell<FoldCache>,
    /// The current raw event's field names, indexed on its first lookup by name.
    pub(super) names: NameIndex,
    /// A row's group-key parts, reused across rows and queries.
    pub(super) key_parts: Vec<KeyPart>,
    /// (position, projected name) of the fields an event scan copies, reused across events.
    pub(super) picked: Vec<(usize, usize)>,
    /// The positions in the input this state covers, `first..=last` (see
    /// [`Engine::new_state_at`]): merging puts the earlier position's contents first.
    pub(super) first: u64,
    pub(super) last: u64,
    /// States merged in that do not follow this one directly (a gap of positions between),
    /// ordered by position; they join when the gap is filled, or at the end.
    pub(super) later: Vec<ScanState>,
    /// What each query cost (when the engine profiles the scan).
    pub(super) costs: ScanCosts,
}

#[derive(Debug)]
pub(crate) enum ScanAcc {
    Groups(Groups),
    /// Matching events (after the scan's row operators) with their event time, for ordering.
    Events(EventRows),
}

impl ScanState {
    /// Every [`BUDGET_CHECK_EVERY`] rows: reports the state's memory, and spills every group
    /// table of it when all states together are over the budget.
    pub(super) fn check_memory(&mut self, memory: &MemoryAccount) {
        self.since_check += 1;
        if self.since_check < BUDGET_CHECK_EVERY {
            return;
        }
        self.since_check = 0;
        if self.spill_failed {
            return;
        }
        let total = self.report_memory(memory);
        if total <= memory.budget {
            return;
        }
        if let Err(e) = self.spill() {
            // Results stay correct in memory; only the bound is lost.
            crate::store::spill::spill_warning(&e);
            self.spill_failed = true;
        }
        self.report_memory(memory);
    }

    /// Updates this state's share of the shared total; returns the new total.
    fn report_memory(&mut self, memory: &MemoryAccount) -> usize {
        let groups: usize = self.accs.iter().flatten().map(|a| if let ScanAcc::Groups(g) = a { g.bytes() } else { 0 }).sum();
        let logs: usize = self.logs.iter().map(RowLog::bytes).sum();
        let mine = groups + logs + self.symbols.heap_bytes();
        let before = std::mem::replace(&mut self.reported, mine);
        if mine >= before {
            memory.used.fetch_add(mine - before, Relaxed) + (mine - before)
        } else {
            memory.release(before - mine)
        }
    }

    /// Writes every group table to the state's spill file and drops the key texts.
    fn spill(&mut self) -> std::io::Result<()> {
        let file = match &self.spill_file {
            Some(f) => f.clone(),
            None => self.spill_file.insert(SpillFile::new()?).clone(),
        };
        let ranks = crate::store::symbols::text_ranks(&self.symbols);
        for (qi, accs) in self.accs.iter_mut().enumerate() {
            for acc in accs {
                if let ScanAcc::Groups(g) = acc {
                    let written = g.spill_ranked(&self.symbols, &ranks, &file)?;
                    self.costs.spilled(qi, written);
                }
            }
        }
        for (dataset, log) in self.logs.iter_mut().enumerate() {
            let written = log.spill(&self.symbols, &file)?;
            let readers = self.log_readers.get(dataset).map_or(&[][..], Vec::as_slice);
            // The log serves all of them: each is charged its share.
            for &qi in readers {
                self.costs.spilled(qi, written / readers.len() as u64);
            }
        }
        // No group refers to the texts any more.
        self.symbols = Symbols::default();
        Ok(())
    }

    /// A state at `position` with no scans (the engine's `new_state_at` adds them), or for
    /// the moment a state's contents are moved out.
    pub(super) fn empty_at(position: u64) -> ScanState {
        ScanState {
            accs: Vec::new(),
            logs: Vec::new(),
            log_readers: Default::default(),
            symbols: Symbols::default(),
            col_ids: Vec::new(),
            touched: false,
            spill_file: None,
            since_check: 0,
            reported: 0,
            spill_failed: false,
            scratch: Scratch::default(),
            fold: Default::default(),
            names: NameIndex::default(),
            key_parts: Vec::new(),
            picked: Vec::new(),
            first: position,
            last: position,
            later: Vec::new(),
            costs: ScanCosts::default(),
        }
    }

    /// Empties the state in place for the input at `position`, as `Engine::new_state_at`
    /// makes it, keeping the allocations of usual size (see the `clear_for_reuse` of groups,
    /// symbols and event rows); its share of the memory account is given back.
    pub(super) fn clear_for_reuse(&mut self, position: u64, memory: &MemoryAccount) {
        self.forget_memory(memory);
        for acc in self.accs.iter_mut().flatten() {
            match acc {
                ScanAcc::Groups(g) => g.clear_for_reuse(),
                ScanAcc::Events(e) => e.clear_for_reuse(),
            }
        }
        self.logs.iter_mut().for_each(RowLog::clear_for_reuse);
        self.symbols.clear_for_reuse();
        self.touched = false;
        self.spill_file = None;
        self.since_check = 0;
        self.spill_failed = false;
        self.first = position;
        self.last = position;
        self.later.clear();
        self.costs = ScanCosts::default();
    }

    /// Gives back this state's share of the memory account (the state is dropped or reused;
    /// left counted, a long-running worker's dropped states would push all later ones to
    /// spill).
    pub(super) fn forget_memory(&mut self, memory: &MemoryAccount) {
        memory.release(std::mem::take(&mut self.reported));
    }

    /// Combines another state of the same `queries` into `into` (see `Engine::merge`).
    pub(super) fn merge(into: &mut ScanState, other: ScanState, queries: &[Query], memory: &MemoryAccount) {
        let follows = other.first >= into.first && other.first <= into.last.saturating_add(1);
        if into.later.is_empty() && other.later.is_empty() && follows {
            return into.merge_ordered(other, queries, memory);
        }
        let mut head = std::mem::replace(into, ScanState::empty_at(0));
        let head_later = std::mem::take(&mut head.later);
        let mut segments = vec![head];
        segments.extend(head_later);
        let mut other = other;
        let other_later = std::mem::take(&mut other.later);
        segments.push(other);
        segments.extend(other_later);
        // Stable: at equal positions, `into` stays before `other`.
        segments.sort_by_key(|s| s.first);
        let mut done: Vec<ScanState> = Vec::with_capacity(segments.len());
        for s in segments {
            match done.last_mut() {
                Some(cur) if s.first <= cur.last.saturating_add(1) => cur.merge_ordered(s, queries, memory),
                _ => done.push(s),
            }
        }
        let mut rest = done.into_iter();
        if let Some(first) = rest.next() {
            *into = first;
            into.later = rest.collect();
        }
    }

    /// Merges the states left apart by gaps in their positions, in position order.
    pub(super) fn flatten(mut self, queries: &[Query], memory: &MemoryAccount) -> ScanState {
        for s in std::mem::take(&mut self.later) {
            self.merge_ordered(s, queries, memory);
        }
        self
    }

    /// Combines `other`, whose contents come after those of `into`, into `into`.
    fn merge_ordered(&mut self, other: ScanState, queries: &[Query], memory: &MemoryAccount) {
        let into = self;
        into.first = into.first.min(other.first);
        into.last = into.last.max(other.last);
        if !other.touched {
            return;
        }
        // The other state's share moves into this one's at the check below.
        memory.release(other.reported);
        into.since_check = BUDGET_CHECK_EVERY;
        if other.spill_file.is_some() && into.touched && !into.spill_failed {
            // Runs merge in input order: this state's groups in memory came before the other
            // state's runs, so they go to disk first (first()/list() depend on it).
            if let Err(e) = into.spill() {
                crate::store::spill::spill_warning(&e);
                into.spill_failed = true;
            }
        }
        let mut other = other;
        let other_file = other.spill_file.take();
        into.merge_accs(other, queries);
        // `spill_file` also says "some groups are on disk", which the next merge relies on.
        if into.spill_file.is_none() {
            into.spill_file = other_file;
        }
        into.check_memory(memory);
    }

    fn merge_accs(&mut self, mut other: ScanState, queries: &[Query]) {
        let into = self;
        into.costs.merge(&other.costs);
        if !into.touched {
            // The scratch buffers stay; everything accumulated moves.
            std::mem::swap(&mut into.accs, &mut other.accs);
            std::mem::swap(&mut into.logs, &mut other.logs);
            std::mem::swap(&mut into.symbols, &mut other.symbols);
            into.touched = true;
            return;
        }
        let mut tr = Translation::new(&other.symbols);
        for (qi, (mine, theirs)) in into.accs.iter_mut().zip(other.accs).enumerate() {
            for (si, (m, t)) in mine.iter_mut().zip(theirs).enumerate() {
                match (m, t) {
                    (ScanAcc::Groups(g), ScanAcc::Groups(o)) => match &queries[qi].scans[si] {
                        Scan::Tstats(scan) => g.merge(o, &mut tr, &mut into.symbols, &scan.aggs),
                        Scan::Events(EventScan { stats: Some(stats), .. }) => g.merge(o, &mut tr, &mut into.symbols, &stats.aggs),
                        _ => {}
                    },
                    (ScanAcc::Events(e), ScanAcc::Events(o)) => e.extend(o),
                    _ => {}
                }
            }
        }
        // The other state's rows follow these (see `merge_ordered`).
        for (mine, theirs) in into.logs.iter_mut().zip(other.logs) {
            mine.append(theirs, &mut tr, &mut into.symbols);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_cleared_for_reuse_gives_back_its_memory_share_and_its_position() {
        let memory = MemoryAccount::new(64 << 20);
        let mut st = ScanState::empty_at(3);
        st.symbols.intern("some key");
        st.since_check = BUDGET_CHECK_EVERY - 1;
        st.check_memory(&memory);
        assert!(st.reported > 0);
        assert_eq!(memory.used.load(Relaxed), st.reported);
        st.touched = true;
        st.last = 9;
        st.clear_for_reuse(5, &memory);
        assert_eq!(memory.used.load(Relaxed), 0);
        assert_eq!((st.reported, st.first, st.last, st.touched, st.symbols.len()), (0, 5, 5, false, 0));
    }
}
