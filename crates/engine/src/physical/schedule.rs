//! The worker scheduler: every query's finishing runs on a pool of workers, heaviest first,
//! and the outputs are handed on in query order.

use super::finish_with;
use super::output::{Budgets, QueryOutput, StoredOutput};
use crate::expr::value::EvalContext;
use crate::plan::Query;
use crate::scan::{Engine, ScanAcc, ScanState, SharedGroups};

/// A query with its scan results, to finish.
type Work<'q> = (&'q Query, Vec<ScanAcc>);

/// Queries with the most groups, started first.
const HEAVY_FIRST: usize = 8;

impl Engine {
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
        // A quarter of the budget for subsearch rows: several queries finish at once.
        let budgets = Budgets { store: self.memory.budget / 64, rows: self.memory.budget / 4, in_memory: self.memory.budget / 16 };
        let waiting_cap = self.memory.budget / 4;
        let mut state = self.flatten(state);
        let shared = SharedGroups::take(&self.owners, &mut state.accs);
        let symbols = &state.symbols;
        let queue = std::sync::Mutex::new(finishing_order(self.queries.iter().zip(state.accs).collect()).into_iter());
        // The index of the next output to hand on and the bytes of the outputs waiting in
        // memory, with a wake-up for workers paused on them.
        let handed = (std::sync::Mutex::new((0usize, 0usize)), std::sync::Condvar::new());
        let (send, receive) = std::sync::mpsc::channel::<(usize, StoredOutput)>();
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let send = send.clone();
                let (queue, handed, shared) = (&queue, &handed, &shared);
                scope.spawn(move || loop {
                    let Some((i, heavy, (q, mut accs))) = queue.lock().ok().and_then(|mut q| q.next()) else { return };
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
                    shared.fill(i, &mut accs);
                    let out = finish_with(q, accs, symbols, ctx, budgets);
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
}

/// The order queries finish in: the [`HEAVY_FIRST`] with the most groups first (they would
/// otherwise finish last, alone, while the other workers wait), then the rest in query order.
/// Each comes with its index and whether it is one of the heavy ones.
fn finishing_order(work: Vec<Work<'_>>) -> Vec<(usize, bool, Work<'_>)> {
    let groups = |accs: &[ScanAcc]| accs.iter().map(|a| if let ScanAcc::Groups(g) = a { g.total() } else { 0 }).sum::<usize>();
    let mut by_size: Vec<(usize, usize)> = work.iter().enumerate().map(|(i, (_, accs))| (groups(accs), i)).collect();
    by_size.sort_unstable_by(|a, b| b.cmp(a));
    let heavy: Vec<usize> = by_size.iter().take(HEAVY_FIRST).filter(|(n, _)| *n > 0).map(|&(_, i)| i).collect();
    let mut slots: Vec<Option<(&Query, Vec<ScanAcc>)>> = work.into_iter().map(Some).collect();
    let mut order: Vec<(usize, bool, Work)> = Vec::with_capacity(slots.len());
    for &i in &heavy {
        if let Some(w) = slots[i].take() {
            order.push((i, true, w));
        }
    }
    order.extend(slots.into_iter().enumerate().filter_map(|(i, w)| w.map(|w| (i, false, w))));
    order
}
