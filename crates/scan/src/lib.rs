//! The scan driver: inputs in, engine results out. Reading files in parallel (a large file in
//! pieces), normalizing every event and feeding it to a [`Consumer`], then finishing the
//! engine's queries. The CLI, and later a server or a distributed worker, call this; they
//! parse arguments and print, nothing more.
//!
//! ```text
//! Driver::new(threads) --scan(consumer, normalizer, Inputs { paths, read options })--> Scanned { state, report }
//!                      --finish(engine, state, ctx, delivery)--> outputs, counts
//!                      --run(...)  = scan + finish, optionally inside a time window
//! ```
//!
//! Parallelism is owned here: [`Driver::new`] sets the process's worker threads (rayon's global
//! pool, configured once, by the first driver). The scan's workers are its threads; the
//! engine's finishing workers are as many (the engine sizes them with
//! `rayon::current_num_threads()`). A pool of the driver's own, entered with `install`, was
//! tried: a one-thread all-ESCU run then peaked 10 MB higher (see docs/performance.md).
//!
//! Order: inputs are discovered in a fixed order (sorted directory walks), a large file is cut
//! into pieces in file order, and states and reports merge in that order, so a run gives the
//! same output whatever the thread count (first()/list() and skip examples depend on it).

mod consumer;
pub mod correlation;
pub mod fields;
pub mod schedule;
mod window;

pub use consumer::{Consumer, ReadOnly};
pub use window::{Dropped, Windowed, WindowedState};

use rayon::prelude::*;
use std::path::{Path, PathBuf};
use vigil_engine::{Engine, EvalContext, QueryOutput, ScanCost, ScanState};
use vigil_normalize::{EnrichBuffers, Normalizer, Rows};
use vigil_read::{Piece, ReadOptions, ReadReport};
use vigil_time::Window;

/// Files at least twice this size are read in pieces of about this size, when there is more
/// than one thread. Large enough that a piece's fixed costs (a consumer state, its merge, the
/// line count) do not show; small enough that a few large files keep every thread busy.
pub const DEFAULT_PIECE_BYTES: u64 = 32 << 20;

/// What a scan reads: files and directories (walked recursively, in sorted order), with
/// these read options. (Other sources of events, such as a socket or a queue, come here.)
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub paths: &'a [PathBuf],
    pub read: &'a ReadOptions,
}

/// Told how far a scan has gone (the CLI draws a progress bar from it).
pub trait Progress: Sync {
    /// The scan starts over `total` bytes of input.
    fn start(&self, total: u64);
    /// `bytes` more of the input were read.
    fn advance(&self, bytes: u64);
    /// The scan is over.
    fn finish(&self);
}

/// Runs scans and finishes queries on the process's worker threads.
pub struct Driver {
    threads: usize,
    piece_bytes: u64,
    progress: Option<Box<dyn Progress + Send>>,
}

/// What one pass over the inputs produced, besides the consumer's state.
pub struct Scanned<S> {
    pub state: S,
    pub report: ReadReport,
    /// Paths given that could not be used (missing, unreadable directories).
    pub input_errors: Vec<String>,
}

/// What a hunt or search produced.
pub struct RunOutput {
    /// Per query, in order. A streamed query's rows were handed to the sink and are not kept.
    pub outputs: Vec<QueryOutput>,
    /// Result rows per query (streamed or not).
    pub counts: Vec<usize>,
    pub report: ReadReport,
    pub input_errors: Vec<String>,
    /// Wall time of the scan and of the work after it (for `--verbose`).
    pub phases: Phases,
    /// Events a time window dropped; `None` without a window.
    pub dropped: Option<window::Dropped>,
    /// What the scan cost each query, most costly first, when the engine profiles the scan
    /// (`Engine::set_scan_profile`); empty otherwise.
    pub scan_costs: Vec<(String, ScanCost)>,
}

/// Wall time of a run's two phases.
#[derive(Clone, Copy, Debug, Default)]
pub struct Phases {
    pub scan: std::time::Duration,
    pub after_scan: std::time::Duration,
}

/// Where each query's results go as it finishes.
pub enum Delivery<'a> {
    /// Kept in [`RunOutput::outputs`].
    Collect,
    /// Handed to the sink in query order and then dropped, so memory holds a few queries'
    /// results at a time, not every query's.
    Stream(&'a mut dyn FnMut(&QueryOutput)),
}

impl Driver {
    /// A driver with `threads` worker threads (default: one per core). The threads are the
    /// process's: once a driver has set them, later drivers keep them ([`Driver::threads`]
    /// says how many there are).
    pub fn new(threads: Option<usize>) -> Result<Driver, String> {
        let mut builder = rayon::ThreadPoolBuilder::new();
        if let Some(n) = threads {
            builder = builder.num_threads(n.max(1));
        }
        // Fails only when the threads were started already (by an earlier driver).
        let _ = builder.build_global();
        Ok(Driver { threads: rayon::current_num_threads(), piece_bytes: DEFAULT_PIECE_BYTES, progress: None })
    }

    /// Reports the progress of every scan to `progress`.
    pub fn with_progress(mut self, progress: Box<dyn Progress + Send>) -> Driver {
        self.progress = Some(progress);
        self
    }

    /// Sets the size of the pieces large files are read in (`u64::MAX`: whole files only).
    pub fn with_piece_bytes(mut self, bytes: u64) -> Driver {
        self.piece_bytes = bytes;
        self
    }

    /// Worker threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Reads every input once, in parallel, normalizing each event and handing it to
    /// `consumer`.
    pub fn scan<C: Consumer>(&self, consumer: &C, normalizer: &Normalizer, inputs: Inputs) -> Scanned<C::State> {
        let (files, errors) = vigil_read::discover(inputs.paths);
        let opts = inputs.read;
        let input_errors = errors.iter().map(|e| e.to_string()).collect();
        // Numbering the pieces of a large text file first costs a pass over it; without it,
        // events carry line numbers counted from their piece's start, and only the report's
        // examples are corrected afterwards.
        let numbered = consumer.needs_line_numbers();
        let (state, report) = {
            let mut pieces = self.pieces(&files, &[], numbered);
            let total: u64 = pieces.iter().map(|p| p.bytes).sum();
            if let Some(p) = &self.progress {
                p.start(total);
            }
            let (mut state, mut report, inexact) = self.read_pieces(consumer, normalizer, &pieces, opts, numbered);
            if !inexact.is_empty() {
                // A record spanning lines crossed a piece boundary: read those files whole.
                drop(state);
                pieces = self.pieces(&files, &inexact, numbered);
                (state, report, _) = self.read_pieces(consumer, normalizer, &pieces, opts, numbered);
            }
            if let Some(p) = &self.progress {
                p.finish();
            }
            (state, report)
        };
        Scanned { state, report, input_errors }
    }

    /// The pieces to read, in input order: files past two pieces' size are split (not those
    /// in `whole`), the others are read whole; the pieces of a text file are `numbered` (their
    /// lines counted, so that each starts at its line in the file) when asked.
    fn pieces(&self, files: &[PathBuf], whole: &[PathBuf], numbered: bool) -> Vec<Piece> {
        let split = self.threads() > 1 && self.piece_bytes < u64::MAX / 2;
        let mut pieces: Vec<Piece> = files
            .par_iter()
            .map(|f| match split && !whole.contains(f) {
                true => vigil_read::split_file(f, self.piece_bytes),
                false => vec![Piece::whole(f)],
            })
            .flatten_iter()
            .collect();
        if numbered && pieces.iter().any(Piece::is_part) {
            let lines: Vec<u64> = pieces.par_iter().map(Piece::count_lines).collect();
            vigil_read::number_pieces(&mut pieces, &lines);
        }
        pieces
    }

    /// Reads the pieces into one state; also returns the files whose pieces were not exact.
    /// The report's examples of pieces read un`numbered` get the line numbers of the file.
    fn read_pieces<C: Consumer>(
        &self,
        consumer: &C,
        normalizer: &Normalizer,
        pieces: &[Piece],
        opts: &ReadOptions,
        numbered: bool,
    ) -> (C::State, ReadReport, Vec<PathBuf>) {
        // The rows and columns the consumer reads, worked out once per mapping.
        let needs = normalizer.row_needs(&|d| consumer.wants_dataset(d), &|d| consumer.dataset_columns(d));
        let no_rows = normalizer.row_needs(&|_| false, &|_| None);
        // Per piece: its position, report and lines.
        type Reads = Vec<(usize, ReadReport, u64)>;
        // One thread reads every piece into one state: split, its pieces would be read into
        // states of their own that then cost a merge (re-interning every group, and spilling
        // the first state before the second's runs join it) for no parallelism.
        let min_len = if self.threads == 1 { pieces.len().max(1) } else { 1 };
        let (state, mut reads, inexact) = pieces
            .par_iter()
            .enumerate()
            .with_min_len(min_len)
            .fold(
                || (consumer.new_state(), Reads::new(), Vec::<PathBuf>::new(), Rows::default(), EnrichBuffers::default()),
                |(mut state, mut reads, mut inexact, mut rows, mut enrich), (i, piece)| {
                    let read = vigil_read::read_piece_mut(piece, opts, &mut |ev| {
                        // The add-ons' search-time fields, before any search or mapping sees the
                        // event: added to the reader's event and removed after.
                        let needs = if consumer.skips_rows() { &no_rows } else { &needs };
                        normalizer.with_enriched_rows(ev, &mut enrich, needs, &mut rows, |ev, rows| {
                            consumer.consume(&mut state, ev, rows);
                        })
                    });
                    if let Some(p) = &self.progress {
                        p.advance(piece.bytes);
                    }
                    if !read.exact {
                        push_once(&mut inexact, &piece.path);
                    }
                    reads.push((i, read.report, read.lines));
                    (state, reads, inexact, rows, enrich)
                },
            )
            .map(|(state, reads, inexact, _, _)| (state, reads, inexact))
            .reduce(
                || (consumer.new_state(), Reads::new(), Vec::new()),
                |(mut a, mut ra, mut ia), (b, rb, ib)| {
                    consumer.merge(&mut a, b);
                    ra.extend(rb);
                    for p in ib {
                        push_once(&mut ia, &p);
                    }
                    (a, ra, ia)
                },
            );
        reads.sort_unstable_by_key(|(i, _, _)| *i);
        let mut report = ReadReport::default();
        let mut lines_before: std::collections::HashMap<&Path, u64> = std::collections::HashMap::new();
        for (i, mut piece_report, lines) in reads {
            let piece = &pieces[i];
            if !numbered && piece.is_part() {
                let before = lines_before.entry(&piece.path).or_default();
                piece_report.shift_lines(&piece.path.to_string_lossy(), *before);
                *before += lines;
            }
            report.merge(piece_report);
        }
        (state, report, inexact)
    }

    /// Runs the queries' operators after the scan and delivers their results. A query
    /// finished in chunks arrives as several outputs; it ends up as one output and one count.
    pub fn finish(&self, engine: &Engine, state: ScanState, ctx: &EvalContext, mut delivery: Delivery) -> (Vec<QueryOutput>, Vec<usize>) {
        let mut outputs: Vec<QueryOutput> = Vec::with_capacity(engine.queries().len());
        let mut counts = Vec::with_capacity(engine.queries().len());
        let mut open = false;
        let mut take = |mut o: QueryOutput| {
            let n = o.result.as_ref().map_or(0, Vec::len);
            if let Delivery::Stream(sink) = &mut delivery {
                sink(&o);
                if let Ok(rows) = &mut o.result {
                    *rows = Vec::new();
                }
            }
            match (open, outputs.last_mut(), counts.last_mut()) {
                (true, Some(last), Some(count)) => {
                    *count += n;
                    last.absorb(o);
                }
                _ => {
                    counts.push(n);
                    outputs.push(o);
                }
            }
            open = outputs.last().is_some_and(|l| l.partial);
        };
        engine.finish_each(state, ctx, &mut take);
        (outputs, counts)
    }

    /// One pass feeding all queries of `engine` (only events inside `window`, when given),
    /// then their operators.
    pub fn run(
        &self,
        engine: &Engine,
        window: Option<Window>,
        normalizer: &Normalizer,
        inputs: Inputs,
        ctx: &EvalContext,
        delivery: Delivery,
    ) -> RunOutput {
        let started = std::time::Instant::now();
        let (state, report, input_errors, dropped) = match window {
            None => {
                let s = self.scan(engine, normalizer, inputs);
                (s.state, s.report, s.input_errors, None)
            }
            Some(window) => {
                let s = self.scan(&Windowed { inner: engine, window }, normalizer, inputs);
                (s.state.inner, s.report, s.input_errors, Some(s.state.dropped))
            }
        };
        let scan_time = started.elapsed();
        let scan_costs = engine.scan_costs(&state).into_iter().map(|(name, cost)| (name.to_string(), cost)).collect();
        let (outputs, counts) = self.finish(engine, state, ctx, delivery);
        let phases = Phases { scan: scan_time, after_scan: started.elapsed() - scan_time };
        RunOutput { outputs, counts, report, input_errors, phases, dropped, scan_costs }
    }
}

fn push_once(list: &mut Vec<PathBuf>, path: &Path) {
    if !list.iter().any(|p| p == path) {
        list.push(path.to_path_buf());
    }
}
