//! The worker scheduler: every query's finishing runs on a pool of workers (the heaviest first
//! when there are several), and the outputs are handed on in query order.

use super::finish_with;
use super::output::{Budgets, QueryOutput, StoredOutput, Turn};
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
    /// the other workers. Once a query's turn has come (every earlier query's outputs are on
    /// their way: at its start, when its rows would go to disk, or at its end), its outputs go
    /// straight out through a short channel that holds its worker back while the output is
    /// busy; a worker never waits for a turn. The others' finished rows wait for their
    /// turn in memory, each query's up to its share of what the rows already waiting leave of a
    /// quarter of the budget, and on disk past it; when the rows waiting in memory pass that
    /// quarter, workers pause until the output catches up.
    pub fn finish_each(&self, state: ScanState, ctx: &EvalContext, emit: &mut dyn FnMut(QueryOutput)) {
        let workers = rayon::current_num_threads().max(1);
        // A quarter of the budget for subsearch rows: several queries finish at once.
        let budgets = Budgets { store: self.memory.budget / 64, rows: self.memory.budget / 4, in_memory: self.memory.budget / 16 };
        let waiting_cap = self.memory.budget / 4;
        // With a fixed small share, the output of a Sigma rule matching a few thousand events
        // went to disk while the output was busy with the one before it.
        let budgets_now = |waiting: usize| Budgets { store: budgets.store.max(waiting_cap.saturating_sub(waiting) / workers), ..budgets };
        let mut state = self.flatten(state);
        let shared = SharedGroups::take(&self.owners, &mut state.accs);
        let logs = std::mem::take(&mut state.logs);
        let logs = logs.as_slice();
        let symbols = &state.symbols;
        if workers == 1 {
            // One worker takes the queries in query order, so each one's turn has come when it
            // starts: it runs on this thread and hands its outputs on itself. A worker thread
            // and the channel to it cost two thread switches per query (~6,000 futex waits
            // for all ESCU) and gave nothing to run beside.
            for (i, (q, mut accs)) in self.queries.iter().zip(state.accs).enumerate() {
                shared.fill(i, &mut accs);
                let mut turn = InlineTurn { output: &mut *emit };
                let out = finish_with(q, accs, symbols, ctx, budgets_now(0), &mut turn, self.logged_scan(i, logs, symbols));
                if !out.is_handed_on() {
                    out.replay(emit);
                }
            }
            return;
        }
        let queue = std::sync::Mutex::new(finishing_order(self.queries.iter().zip(state.accs).collect(), workers).into_iter());
        let progress = Progress::default();
        // Two chunks in flight: a worker handing on directly waits for the output beyond that.
        let (send, receive) = std::sync::mpsc::sync_channel::<Handed>(2);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let send = send.clone();
                let (queue, progress, shared) = (&queue, &progress, &shared);
                let logged_of = |i: usize| self.logged_scan(i, logs, symbols);
                scope.spawn(move || loop {
                    let Some((i, heavy, (q, mut accs))) = queue.lock().ok().and_then(|mut q| q.next()) else { return };
                    let Some(budgets) = progress.wait_for_room(i, heavy, waiting_cap, budgets_now) else { return };
                    shared.fill(i, &mut accs);
                    let mut to_output = |o: QueryOutput| {
                        let _ = send.send(Handed::Chunk(i, o));
                    };
                    let mut turn = WorkerTurn { i, progress, output: &mut to_output, come: false };
                    let out = finish_with(q, accs, symbols, ctx, budgets, &mut turn, logged_of(i));
                    let message = if out.is_handed_on() {
                        Handed::Done(i)
                    } else if let Some(output) = turn.output() {
                        out.replay(output);
                        Handed::Done(i)
                    } else {
                        progress.add_waiting(out.memory_bytes());
                        Handed::Stored(i, out)
                    };
                    if send.send(message).is_err() {
                        return;
                    }
                    progress.sent(i);
                });
            }
            drop(send);
            hand_on(receive, &progress, emit);
        });
    }
}

/// Query `i`'s turn, as a worker sees it: once every earlier query's outputs are sent, its
/// own go to the output as they are made.
struct WorkerTurn<'a> {
    i: usize,
    progress: &'a Progress,
    output: &'a mut dyn FnMut(QueryOutput),
    come: bool,
}

impl Turn for WorkerTurn<'_> {
    fn output(&mut self) -> Option<&mut dyn FnMut(QueryOutput)> {
        self.come = self.come || self.progress.is_turn(self.i);
        self.come.then_some(&mut *self.output)
    }
}

/// The turn of a query finished on the output's own thread: always come.
struct InlineTurn<'a> {
    output: &'a mut dyn FnMut(QueryOutput),
}

impl Turn for InlineTurn<'_> {
    fn output(&mut self) -> Option<&mut dyn FnMut(QueryOutput)> {
        Some(&mut *self.output)
    }
}

/// What a worker sends the output: a chunk of a query handed on directly, the end of such a
/// query, or a query's stored output.
enum Handed {
    Chunk(usize, QueryOutput),
    Done(usize),
    Stored(usize, StoredOutput),
}

/// How far the output is, shared by the workers and the output, with a wake-up for workers
/// paused on it.
#[derive(Default)]
struct Progress {
    state: std::sync::Mutex<Counts>,
    wake: std::sync::Condvar,
}

#[derive(Default)]
struct Counts {
    /// The index of the next query to hand on.
    next: usize,
    /// Bytes of finished rows waiting in memory.
    waiting: usize,
    /// Queries whose outputs are all sent: every one below `sent`, and those in `sent_later`.
    sent: usize,
    sent_later: std::collections::BTreeSet<usize>,
}

impl Progress {
    /// Pauses query `i` while the rows waiting in memory pass `cap`, unless it is a heavy one
    /// (taken out of order) or the next to hand on: whatever the output waits for is being
    /// finished by a worker that is not paused. Then gives its budgets.
    fn wait_for_room(&self, i: usize, heavy: bool, cap: usize, budgets: impl Fn(usize) -> Budgets) -> Option<Budgets> {
        let mut state = self.state.lock().ok()?;
        while !heavy && i > state.next && state.waiting > cap {
            state = self.wake.wait(state).ok()?;
        }
        Some(budgets(state.waiting))
    }

    /// Whether every query before `i` has sent all of its outputs (so that `i`'s own arrive
    /// after them).
    fn is_turn(&self, i: usize) -> bool {
        self.state.lock().is_ok_and(|state| state.sent == i)
    }

    fn add_waiting(&self, bytes: usize) {
        if let Ok(mut state) = self.state.lock() {
            state.waiting += bytes;
        }
    }

    fn sent(&self, i: usize) {
        if let Ok(mut state) = self.state.lock() {
            state.sent_later.insert(i);
            while state.sent_later.first() == Some(&state.sent) {
                state.sent_later.pop_first();
                state.sent += 1;
            }
        }
    }

    /// Records that queries up to `next` were handed on, freeing `bytes` of waiting rows.
    fn handed(&self, next: usize, bytes: usize) {
        if let Ok(mut state) = self.state.lock() {
            state.next = next;
            state.waiting = state.waiting.saturating_sub(bytes);
        }
        self.wake.notify_all();
    }
}

/// Hands on what the workers send, in query order: stored outputs wait for their turn; a
/// query sent directly comes after every earlier query's outputs (see `Progress::is_turn`), so
/// those are handed on first.
fn hand_on(receive: std::sync::mpsc::Receiver<Handed>, progress: &Progress, emit: &mut dyn FnMut(QueryOutput)) {
    let mut waiting = std::collections::BTreeMap::new();
    let mut next = 0usize;
    // Hands on the stored outputs due before query `upto`.
    let hand_on_stored = |waiting: &mut std::collections::BTreeMap<usize, StoredOutput>,
                          next: &mut usize,
                          upto: usize,
                          emit: &mut dyn FnMut(QueryOutput)| {
        while *next < upto {
            let Some(stored) = waiting.remove(next) else { return };
            let bytes = stored.memory_bytes();
            stored.replay(emit);
            *next += 1;
            progress.handed(*next, bytes);
        }
    };
    for message in receive {
        match message {
            Handed::Stored(i, stored) => {
                waiting.insert(i, stored);
            }
            Handed::Chunk(i, output) => {
                hand_on_stored(&mut waiting, &mut next, i, emit);
                emit(output);
            }
            Handed::Done(i) => {
                hand_on_stored(&mut waiting, &mut next, i, emit);
                next = i + 1;
                progress.handed(next, 0);
            }
        }
        hand_on_stored(&mut waiting, &mut next, usize::MAX, emit);
    }
}

/// The order queries finish in: with several workers, the [`HEAVY_FIRST`] with the most groups
/// first (they would otherwise finish last, alone, while the other workers wait), then the rest
/// in query order. One worker takes them in query order, so no output waits for its turn.
/// Each comes with its index and whether it is one of the heavy ones.
fn finishing_order(work: Vec<Work<'_>>, workers: usize) -> Vec<(usize, bool, Work<'_>)> {
    let groups = |accs: &[ScanAcc]| accs.iter().map(|a| if let ScanAcc::Groups(g) = a { g.total() } else { 0 }).sum::<usize>();
    let mut by_size: Vec<(usize, usize)> = work.iter().enumerate().map(|(i, (_, accs))| (groups(accs), i)).collect();
    by_size.sort_unstable_by(|a, b| b.cmp(a));
    let heavy: Vec<usize> =
        by_size.iter().take(if workers > 1 { HEAVY_FIRST } else { 0 }).filter(|(n, _)| *n > 0).map(|&(_, i)| i).collect();
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
