//! A scan state: what one worker accumulated for every scan of every query, with its memory
//! accounting, spilling and merging.

use super::{Engine, BUDGET_CHECK_EVERY};
use crate::expr::predicate::FoldCache;
use crate::expr::prefilter::Scratch;
use crate::plan::{EventScan, Scan};
use crate::store::event_rows::EventRows;
use crate::store::groups::Groups;
use crate::store::spill::SpillFile;
use crate::store::symbols::{Symbols, Translation};

/// Per-thread accumulation for every scan of every query.
#[derive(Debug)]
pub struct ScanState {
    pub(crate) accs: Vec<Vec<ScanAcc>>,
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
    /// The positions in the input this state covers, `first..=last` (see
    /// [`Engine::new_state_at`]): merging puts the earlier position's contents first.
    pub(super) first: u64,
    pub(super) last: u64,
    /// States merged in that do not follow this one directly (a gap of positions between),
    /// ordered by position; they join when the gap is filled, or at the end.
    pub(super) later: Vec<ScanState>,
}

#[derive(Debug)]
pub(crate) enum ScanAcc {
    Groups(Groups),
    /// Matching events (after the scan's row operators) with their event time, for ordering.
    Events(EventRows),
}

impl Engine {
    /// Every [`BUDGET_CHECK_EVERY`] rows: reports the state's memory, and spills every group
    /// table of it when all states together are over the budget.
    pub(super) fn check_memory(&self, state: &mut ScanState) {
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
            crate::store::spill::spill_warning(&e);
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
    pub(super) fn release_memory(&self, bytes: usize) -> usize {
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

    /// Combines another state into `into`. The result is the same whatever order states are
    /// merged in, as long as each covers its own positions (see [`Engine::new_state_at`]):
    /// contents combine in position order. States at the same position (threads sharing a
    /// stream) combine in the order they are merged.
    pub fn merge(&self, into: &mut ScanState, other: ScanState) {
        let follows = other.first >= into.first && other.first <= into.last.saturating_add(1);
        if into.later.is_empty() && other.later.is_empty() && follows {
            return self.merge_ordered(into, other);
        }
        let mut head = std::mem::replace(into, self.new_state());
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
                Some(cur) if s.first <= cur.last.saturating_add(1) => self.merge_ordered(cur, s),
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
    pub(crate) fn flatten(&self, mut state: ScanState) -> ScanState {
        for s in std::mem::take(&mut state.later) {
            self.merge_ordered(&mut state, s);
        }
        state
    }

    /// Combines `other`, whose contents come after those of `into`, into `into`.
    fn merge_ordered(&self, into: &mut ScanState, other: ScanState) {
        into.first = into.first.min(other.first);
        into.last = into.last.max(other.last);
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
                crate::store::spill::spill_warning(&e);
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
                        Scan::Events(EventScan { stats: Some(stats), .. }) => g.merge(o, &mut tr, &mut into.symbols, &stats.aggs),
                        _ => {}
                    },
                    (ScanAcc::Events(e), ScanAcc::Events(o)) => e.extend(o),
                    _ => {}
                }
            }
        }
    }
}
