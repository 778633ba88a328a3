//! The pipeline from files to results: discover -> read (parallel) -> normalize -> consume.
//!
//! [`scan`] is the one pass over the input; what happens to each event and its dataset rows
//! is up to a [`Consumer`] (the engine for `hunt`/`search`, per-window engines for
//! `backtest`), so every command shares the same reading, parallelism and skip accounting.

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::io::IsTerminal;
use std::path::PathBuf;
use vigil_engine::{Engine, EvalContext, QueryOutput, ScanState};
use vigil_model::{DatasetRow, Event};
use vigil_normalize::Normalizer;
use vigil_read::{ReadOptions, ReadReport};

/// Receives every event (and its normalized rows) of one pass, with per-thread state.
pub trait Consumer: Sync {
    type State: Send;
    fn new_state(&self) -> Self::State;
    /// Whether rows of this dataset are needed (rows nobody reads are not built).
    fn wants_dataset(&self, _dataset: usize) -> bool {
        true
    }
    fn consume(&self, state: &mut Self::State, event: &Event, rows: &[DatasetRow]);
    fn merge(&self, into: &mut Self::State, other: Self::State);
}

/// What one pass over the inputs produced, besides the consumer's state.
pub struct Scanned<S> {
    pub state: S,
    pub report: ReadReport,
    /// Paths given that could not be used (missing, unreadable directories).
    pub input_errors: Vec<String>,
}

/// Reads every input once, in parallel by file, normalizing each event and handing it to
/// `consumer`.
pub fn scan<C: Consumer>(consumer: &C, normalizer: &Normalizer, paths: &[PathBuf], opts: &ReadOptions) -> Scanned<C::State> {
    let (files, errors) = vigil_read::discover(paths);
    let input_errors = errors.iter().map(|e| e.to_string()).collect();
    let total_bytes: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let progress = progress_bar(total_bytes);

    let (state, report) = files
        .par_iter()
        .fold(
            || (consumer.new_state(), ReadReport::default(), Vec::<DatasetRow>::new(), Event::default()),
            |(mut state, mut report, mut rows, mut enriched), file| {
                let r = vigil_read::read_file(file, opts, &mut |ev| {
                    // The add-ons' search-time fields, before any search or mapping sees the event.
                    let ev: &Event = if normalizer.enrich(ev, &mut enriched) { &enriched } else { ev };
                    rows.clear();
                    normalizer.normalize_filtered(ev, &|d| consumer.wants_dataset(d), &mut rows);
                    consumer.consume(&mut state, ev, &rows);
                });
                if let Ok(meta) = std::fs::metadata(file) {
                    progress.inc(meta.len());
                }
                report.merge(r);
                (state, report, rows, enriched)
            },
        )
        .map(|(state, report, _, _)| (state, report))
        .reduce(
            || (consumer.new_state(), ReadReport::default()),
            |(mut a, mut ra), (b, rb)| {
                consumer.merge(&mut a, b);
                ra.merge(rb);
                (a, ra)
            },
        );
    progress.finish_and_clear();
    Scanned { state, report, input_errors }
}

/// The engine as a consumer: every event and row goes to every query.
impl Consumer for Engine {
    type State = ScanState;

    fn new_state(&self) -> ScanState {
        Engine::new_state(self)
    }

    fn wants_dataset(&self, dataset: usize) -> bool {
        Engine::wants_dataset(self, dataset)
    }

    fn consume(&self, state: &mut ScanState, event: &Event, rows: &[DatasetRow]) {
        if Engine::wants_events(self) {
            self.on_event(state, event);
        }
        for row in rows {
            self.on_row(state, row);
        }
    }

    fn merge(&self, into: &mut ScanState, other: ScanState) {
        Engine::merge(self, into, other)
    }
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

/// Runs the queries' operators after the scan and delivers their results. A query finished
/// in chunks arrives as several outputs; it ends up as one output and one count.
pub fn finish(engine: &Engine, state: ScanState, ctx: &EvalContext, mut delivery: Delivery) -> (Vec<QueryOutput>, Vec<usize>) {
    let mut outputs: Vec<QueryOutput> = Vec::with_capacity(engine.queries().len());
    let mut counts = Vec::with_capacity(engine.queries().len());
    let mut open = false;
    engine.finish_each(state, ctx, &mut |mut o| {
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
    });
    (outputs, counts)
}

/// One pass feeding all queries of `engine`, then their operators.
pub fn run(
    engine: &Engine,
    normalizer: &Normalizer,
    paths: &[PathBuf],
    opts: &ReadOptions,
    ctx: &EvalContext,
    delivery: Delivery,
) -> RunOutput {
    let started = std::time::Instant::now();
    let scanned = scan(engine, normalizer, paths, opts);
    let scan_time = started.elapsed();
    let (outputs, counts) = finish(engine, scanned.state, ctx, delivery);
    let phases = Phases { scan: scan_time, after_scan: started.elapsed() - scan_time };
    RunOutput { outputs, counts, report: scanned.report, input_errors: scanned.input_errors, phases }
}

fn progress_bar(total: u64) -> ProgressBar {
    // A bar only helps a person watching; never write one into a pipe or a CI log.
    if !std::io::stderr().is_terminal() || total < 64 * 1024 * 1024 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})") {
        bar.set_style(style);
    }
    bar
}
